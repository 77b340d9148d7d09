/* The builders that turn a call (util/call.h) into a schedule. */
#ifndef WEFT_COLL_H
#define WEFT_COLL_H

#include <stddef.h>
#include <stdint.h>

#include "coll/sched.h"
#include "util/call.h"
#include "weft.h"

/* Appends the schedule of call c to s (scratch memory comes from
 * weft_sched_alloc), with the builder of c->algo for c->kind (coll/algo.h),
 * or the message algorithm of that collective where c->algo has none.
 * Returns 0, or -1 when out of memory. */
int weft_coll_build(weft_sched *s, const weft_call *c, int rank, int nranks);

/* Per-algorithm builders (same contract). */
int weft_ring_allreduce(weft_sched *s, const weft_call *c, int rank, int n);
int weft_ring_allgather(weft_sched *s, const weft_call *c, int rank, int n);
int weft_ring_reducescatter(weft_sched *s, const weft_call *c, int rank, int n);
int weft_ring_broadcast(weft_sched *s, const weft_call *c, int rank, int n);
int weft_ring_reduce(weft_sched *s, const weft_call *c, int rank, int n);
int weft_direct_allreduce(weft_sched *s, const weft_call *c, int rank, int n);
int weft_tree_allreduce(weft_sched *s, const weft_call *c, int rank, int n);
int weft_tree_broadcast(weft_sched *s, const weft_call *c, int rank, int n);
int weft_tree_reduce(weft_sched *s, const weft_call *c, int rank, int n);
int weft_hier_allreduce(weft_sched *s, const weft_call *c, int rank, int n);
/* Allreduce in place among n ranks over slow links, optionally with
 * c->codec on every message (coll/wan.c), in two stages the hierarchical
 * allreduce adds for all its chunks in turn; the state carries one chunk's
 * call and what stage 2 needs of stage 1. Both stages are weft_builders
 * taking the state as their call. */
typedef struct wan_state wan_state;
wan_state *weft_wan_state_new(weft_sched *s, const weft_call *c, int rank, int n);
int weft_wan_reduce_stage(weft_sched *s, const void *state, int rank, int n);
int weft_wan_gather_stage(weft_sched *s, const void *state, int rank, int n);
int weft_rhd_allreduce(weft_sched *s, const weft_call *c, int rank, int n);
int weft_rhd_allgather(weft_sched *s, const weft_call *c, int rank, int n);
int weft_rhd_reducescatter(weft_sched *s, const weft_call *c, int rank, int n);
int weft_hier_broadcast(weft_sched *s, const weft_call *c, int rank, int n);
int weft_hier_allgather(weft_sched *s, const weft_call *c, int rank, int n);
int weft_hier_reducescatter(weft_sched *s, const weft_call *c, int rank, int n);
int weft_pairwise_alltoall(weft_sched *s, const weft_call *c, int rank, int n);
int weft_direct_gather(weft_sched *s, const weft_call *c, int rank, int n);
int weft_direct_scatter(weft_sched *s, const weft_call *c, int rank, int n);
int weft_dissem_barrier(weft_sched *s, const weft_call *c, int rank, int n);
int weft_ring_allgatherv(weft_sched *s, const weft_call *c, int rank, int n);
int weft_ring_reducescatterv(weft_sched *s, const weft_call *c, int rank, int n);
int weft_pairwise_alltoallv(weft_sched *s, const weft_call *c, int rank, int n);
/* Adds the send (kind ST_SEND) or receive (ST_RECV) of bytes at buf to or
 * from peer as messages of at most c->chunk_bytes, with c's tag. */
void weft_sched_chunked(weft_sched *s, weft_step_kind kind, int peer, const char *buf, size_t bytes,
                        const weft_call *c);
int weft_p2p_build(weft_sched *s, const weft_call *c, int rank, int n);
int weft_slots_build(weft_sched *s, const weft_call *c, int rank, int n);
int weft_box_build(weft_sched *s, const weft_call *c, int rank, int n);

/* What a rank publishes in its slot for the slots algorithm: its buffer, or
 * all n blocks of it for reduce-scatter and all-to-all. */
static inline size_t weft_slots_payload(weft_coll_kind k, size_t bytes, int n) {
  return k == COLL_REDUCESCATTER || k == COLL_ALLTOALL ? bytes * (size_t)n : bytes;
}

#endif
