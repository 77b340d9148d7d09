/* The box algorithm: a small send or receive through the node segment's
 * point-to-point box with its peer (nodeseg/box.h runs it); here, its
 * one-step schedule and when it fits. */
#include "coll/algo.h"
#include "coll/coll.h"

int weft_box_build(weft_sched *s, const weft_call *c, int rank, int n) {
  (void)rank, (void)n;
  size_t bytes = c->count * weft_dtype_size(c->dt);
  weft_step st = {.kind = c->kind == COLL_SEND ? ST_BOX_SEND : ST_BOX_RECV,
                  .msg = {.peer = c->root, .src = c->sendbuf, .dst = c->recvbuf, .n = bytes, .tag = c->tag}};
  return weft_sched_add(s, &st, NODEP, NODEP, NODEP) == NODEP ? -1 : 0;
}

/* Both ends of a send decide by its size alone (the same on both), so
 * every message between two ranks takes the same way on both. */
int weft_box_eligible(const weft_algo_env *env, weft_coll_kind kind, size_t bytes) {
  return (kind == COLL_SEND || kind == COLL_RECV) && env->box_max_bytes && bytes <= env->box_max_bytes;
}
