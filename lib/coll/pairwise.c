/* All-to-all by pairwise exchange, and point-to-point calls. Large blocks go
 * in chunks so that a transfer shows progress (the timeout counts time
 * without progress) and several chunks can be in flight. */
#include "coll/coll.h"
#include "coll/algo.h"
#include "util/call.h"

void weft_sched_chunked(weft_sched *s, weft_step_kind kind, int peer, const char *buf, size_t bytes, const weft_call *c) {
  size_t ch = c->chunk_bytes ? c->chunk_bytes : bytes;
  size_t off = 0;
  do {
    size_t k = bytes - off < ch ? bytes - off : ch;
    if (kind == ST_SEND) weft_sched_send(s, peer, buf + off, k, c->tag, NODEP, NODEP);
    else weft_sched_recv(s, peer, (char *)buf + off, k, c->tag, NODEP, NODEP);
    off += k;
  } while (off < bytes);
}

int weft_pairwise_alltoall(weft_sched *s, const weft_call *c, int r, int n) {
  size_t blk = c->count * weft_dtype_size(c->dt);
  const char *sb = c->sendbuf;
  char *rb = c->recvbuf;
  weft_sched_copy(s, rb + (size_t)r * blk, sb + (size_t)r * blk, blk, NODEP, NODEP);
  /* step i: send to r+i, receive from r-i, so every link carries one block */
  for (int i = 1; i < n; i++) {
    int to = (r + i) % n, from = (r - i + n) % n;
    weft_sched_chunked(s, ST_SEND, to, sb + (size_t)to * blk, blk, c);
    weft_sched_chunked(s, ST_RECV, from, rb + (size_t)from * blk, blk, c);
  }
  return s->oom ? -1 : 0;
}

int weft_p2p_build(weft_sched *s, const weft_call *c, int r, int n) {
  (void)r;
  (void)n;
  size_t bytes = c->count * weft_dtype_size(c->dt);
  if (c->kind == COLL_SEND) weft_sched_chunked(s, ST_SEND, c->root, c->sendbuf, bytes, c);
  else weft_sched_chunked(s, ST_RECV, c->root, c->recvbuf, bytes, c);
  return s->oom ? -1 : 0;
}

/* Cost: n-1 steps, each rank sending one block to rank + k. */
int weft_pairwise_cost(const weft_cost_model *m, weft_coll_kind kind, double s, weft_cost_acc *a) {
  int n = m->n;
  if (kind != COLL_ALLTOALL) return -1;
  for (int k = 1; k < n; k++) {
    a->e.n = 0;
    for (int r = 0; r < n; r++) weft_edges_add(&a->e, r, (r + k) % n, s);
    weft_cost_step(m, &a->e, 1, a);
  }
  return 0;
}
