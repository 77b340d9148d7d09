/* All-to-all by pairwise exchange, and point-to-point calls. */
#include "coll/coll.h"
#include "reduce/reduce.h"

int pairwise_alltoall(weft_sched *s, const weft_call *c, int r, int n) {
  size_t blk = c->count * weft_dtype_size(c->dt);
  const char *sb = c->sendbuf;
  char *rb = c->recvbuf;
  sched_copy(s, rb + (size_t)r * blk, sb + (size_t)r * blk, blk, NODEP, NODEP);
  /* step i: send to r+i, receive from r-i, so every link carries one message */
  for (int i = 1; i < n; i++) {
    int to = (r + i) % n, from = (r - i + n) % n;
    sched_send(s, to, sb + (size_t)to * blk, blk, c->tag, NODEP, NODEP);
    sched_recv(s, from, rb + (size_t)from * blk, blk, c->tag, NODEP, NODEP);
  }
  return s->oom ? -1 : 0;
}

int p2p_build(weft_sched *s, const weft_call *c, int r, int n) {
  (void)r;
  (void)n;
  size_t bytes = c->count * weft_dtype_size(c->dt);
  if (c->kind == COLL_SEND) sched_send(s, c->root, c->sendbuf, bytes, c->tag, NODEP, NODEP);
  else sched_recv(s, c->root, c->recvbuf, bytes, c->tag, NODEP, NODEP);
  return s->oom ? -1 : 0;
}
