/* Every call is a full rendezvous: each rank publishes (its data, or only
 * its sequence number where nothing of it is read) and waits for every other
 * rank's publication. That is what makes two slots per rank enough: a rank
 * that starts call k+2 has seen everyone's call k+1, so everyone is done
 * reading its slot of call k, which k+2 overwrites. */
#include "nodeseg/slots_run.h"

#include <string.h>

#include "comm/comm.h"
#include "nodeseg/nodeseg.h"
#include "reduce/reduce.h"

weftResult_t weft_slots_run_until(struct weftComm *comm, const weft_step_slots *c, weft_slots_state *st,
                                  double until_us, char *err, size_t errlen) {
  weft_nodeseg *g = comm->nodeseg;
  weft_coll_kind kind = (weft_coll_kind)c->coll;
  weftDataType_t dt = (weftDataType_t)c->dt;
  int n = g->n, me = g->rank;
  size_t bytes = c->count * weft_dtype_size(dt);
  if (!st->started) {
    st->started = 1;
    st->next = 0;
    st->first = NULL;
    st->seq = ++g->seq;
    weft_nodeseg_note_call(g, c->tag, c->count);
    _Atomic uint32_t *mine = weft_nodeseg_slot(g, me, st->seq);
    if (kind != COLL_BROADCAST || me == c->root)
      memcpy(weft_nodeseg_payload(mine), c->src, weft_slots_payload(kind, bytes, n));
    weft_nodeseg_publish(g, mine, st->seq, c->tag);
  }
  uint32_t seq = st->seq;
  int reduces = kind == COLL_ALLREDUCE || kind == COLL_REDUCESCATTER || (kind == COLL_REDUCE && me == c->root);
  /* reduce-scatter and all-to-all take block `me` of every rank's payload */
  size_t at = kind == COLL_REDUCESCATTER || kind == COLL_ALLTOALL ? (size_t)me * bytes : 0;
  char *rb = c->dst;
  for (int k = st->next; k < n; k++) {
    _Atomic uint32_t *slot = weft_nodeseg_slot(g, k, seq);
    weftResult_t r = k == me ? weftSuccess : weft_nodeseg_wait(comm, k, slot, seq, c->tag, until_us, err, errlen);
    if (r == weftInProgress) st->next = k;
    if (r != weftSuccess) return r;
    const char *x = (const char *)weft_nodeseg_payload(slot) + at;
    if (reduces) { /* rank order, as the direct algorithm: x0 op x1, then op x2 ... */
      if (k == 0) st->first = x;
      else weft_reduce(rb, k == 1 ? st->first : rb, x, c->count, dt, (weftRedOp_t)c->op);
    } else if (kind == COLL_ALLGATHER || kind == COLL_ALLTOALL) {
      memcpy(rb + (size_t)k * bytes, x, bytes);
    } else if (kind == COLL_BROADCAST && k == c->root) {
      memcpy(rb, x, bytes);
    }
  }
  st->started = 0; /* done: the state is free for the next call */
  if (reduces && c->op == weftAvg) weft_avg_finish(rb, c->count, dt, n);
  return weftSuccess;
}

weftResult_t weft_slots_run(struct weftComm *comm, const weft_step_slots *c, char *err, size_t errlen) {
  weft_slots_state st = {0};
  return weft_slots_run_until(comm, c, &st, 0, err, errlen);
}
