/* Gather and scatter, directly between the root and every other rank: the
 * root sends or receives n-1 blocks, each over its own link, so the root's
 * links carry what must cross them and nothing more; a tree would save
 * latency for many ranks and tiny blocks, at the price of forwarding. */
#include "coll/algo.h"
#include "coll/coll.h"
#include "util/call.h"

/* Every rank's block lands at recvbuf + rank * block on the root. */
int weft_direct_gather(weft_sched *s, const weft_call *c, int r, int n) {
  size_t blk = c->count * weft_dtype_size(c->dt);
  const char *sb = c->sendbuf;
  char *rb = c->recvbuf;
  if (r != c->root) {
    weft_sched_chunked(s, ST_SEND, c->root, sb, blk, c);
    return s->oom ? -1 : 0;
  }
  char *own = rb + (size_t)r * blk;
  if (sb != own) weft_sched_copy(s, own, sb, blk, NODEP, NODEP); /* else in place */
  for (int i = 1; i < n; i++) {
    int from = (r + i) % n;
    weft_sched_chunked(s, ST_RECV, from, rb + (size_t)from * blk, blk, c);
  }
  return s->oom ? -1 : 0;
}

/* Block j of the root's sendbuf goes to rank j's recvbuf. */
int weft_direct_scatter(weft_sched *s, const weft_call *c, int r, int n) {
  size_t blk = c->count * weft_dtype_size(c->dt);
  const char *sb = c->sendbuf;
  char *rb = c->recvbuf;
  if (r != c->root) {
    weft_sched_chunked(s, ST_RECV, c->root, rb, blk, c);
    return s->oom ? -1 : 0;
  }
  const char *own = sb + (size_t)r * blk;
  if (rb != own) weft_sched_copy(s, rb, own, blk, NODEP, NODEP); /* else in place */
  for (int i = 1; i < n; i++) {
    int to = (r + i) % n;
    weft_sched_chunked(s, ST_SEND, to, sb + (size_t)to * blk, blk, c);
  }
  return s->oom ? -1 : 0;
}
