/* Collective calls and the algorithms that turn them into schedules. */
#ifndef WEFT_COLL_H
#define WEFT_COLL_H

#include <stddef.h>
#include <stdint.h>

#include "coll/sched.h"
#include "weft.h"

typedef enum {
  COLL_ALLREDUCE = 1,
  COLL_ALLGATHER,
  COLL_REDUCESCATTER,
  COLL_BROADCAST,
  COLL_REDUCE,
  COLL_ALLTOALL,
  COLL_SEND,
  COLL_RECV,
} weft_coll_kind;

typedef enum { ALGO_NONE = 0, ALGO_RING, ALGO_TREE, ALGO_PAIRWISE, ALGO_P2P, ALGO_DIRECT, ALGO_HIER, ALGO_RHD,
               ALGO_SLOTS } weft_algo;

/* A partition of the ranks into groups (nodes, sites). Group k holds ranks
 * members[start[k] .. start[k+1]), in rank order; index_in[r] is rank r's
 * position in its group. */
typedef struct {
  int ngroups;
  const int *group_of, *index_in, *start, *members;
} weft_groups;

/* One user call. count is the per-rank count as the API takes it. */
typedef struct {
  weft_coll_kind kind;
  const void *sendbuf;
  void *recvbuf;
  size_t count;
  weftDataType_t dt;
  weftRedOp_t op;
  int root; /* root, or peer for send/recv */
  weft_algo algo;
  size_t chunk_bytes;
  uint64_t tag;
  const weft_groups *groups; /* for ALGO_HIER: the level whose links are slow */
  int codec;                 /* weft_codec_id on links between groups (hier), 0 = none */
  const void *codec_params;  /* weft_codec_params */
  float *ef;                 /* error-feedback residuals, count floats by element, or NULL */
  size_t pipe_bytes;         /* hier: pieces the phases pipeline over (0: no pipelining) */
  int wan;                   /* hier: the groups are sites (inter-group phase: wan.c) */
} weft_call;

const char *weft_coll_name(weft_coll_kind k);
const char *weft_algo_name(weft_algo a);

/* Appends the schedule of call c to s (scratch memory comes from
 * weft_sched_alloc). Returns 0, or -1 when out of memory. */
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
int weft_p2p_build(weft_sched *s, const weft_call *c, int rank, int n);

/* Splits total items into parts nearly equal pieces; piece i is [*off, *off+*len). */
static inline void weft_split(size_t total, int parts, int i, size_t *off, size_t *len) {
  size_t q = total / (size_t)parts, rem = total % (size_t)parts, ui = (size_t)i;
  *off = ui * q + (ui < rem ? ui : rem);
  *len = q + (ui < rem ? 1 : 0);
}

#endif
