/* The slots algorithm: a whole small collective through the node segment
 * (nodeseg/slots_run.h runs it); here, its one-step schedule and when it fits. */
#include "coll/algo.h"
#include "coll/coll.h"

int weft_slots_build(weft_sched *s, const weft_call *c, int rank, int n) {
  (void)rank, (void)n;
  return weft_sched_slots(s, c->kind, c->sendbuf, c->recvbuf, c->count, c->dt, c->op, c->root, c->tag) == NODEP ? -1
                                                                                                                 : 0;
}

/* Every rank on the segment, and what a rank publishes fits a slot; every
 * rank reads (n-1) slots: with many ranks only smaller calls pay off. */
int weft_slots_eligible(const weft_algo_env *env, weft_coll_kind kind, size_t bytes) {
  /* the segment runs the six collectives of slots_run.c only */
  if (!env->seg_max_bytes || kind == COLL_SEND || kind == COLL_RECV || kind > COLL_ALLTOALL) return 0;
  size_t p = weft_slots_payload(kind, bytes, env->seg_ranks);
  return p <= env->seg_max_bytes && p * (size_t)(env->seg_ranks - 1) <= 8 * env->seg_max_bytes;
}
