/* What every layer says about one collective call: its kind, the algorithm
 * that runs it, the rank groups of the layout, the call record itself. The
 * algorithms (coll/algo.h) and the tuner (tune/tune.h) build on these. */
#ifndef WEFT_CALL_H
#define WEFT_CALL_H

#include <stddef.h>
#include <stdint.h>

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
  COLL_BARRIER,
  COLL_GATHER,
  COLL_SCATTER,
  COLL_ALLGATHERV, /* the v-variants: per-rank counts in weft_call.vec */
  COLL_REDUCESCATTERV,
  COLL_ALLTOALLV,
} weft_coll_kind;

#define WEFT_COLL_KINDS (COLL_ALLTOALLV + 1) /* arrays indexed by weft_coll_kind */

/* Algorithm ids; what each one is and does is its entry in coll/algo.c. */
typedef enum { ALGO_NONE = 0, ALGO_RING, ALGO_TREE, ALGO_PAIRWISE, ALGO_P2P, ALGO_DIRECT, ALGO_HIER, ALGO_RHD,
               ALGO_SLOTS, ALGO_DISSEM, ALGO_BOX } weft_algo;

/* A partition of the ranks into groups (nodes, sites). Group k holds ranks
 * members[start[k] .. start[k+1]), in rank order; index_in[r] is rank r's
 * position in its group. */
typedef struct {
  int ngroups;
  const int *group_of, *index_in, *start, *members;
} weft_groups;

/* Groups ranks by key (equal keys share a group; groups numbered by their
 * lowest rank, members in rank order). mem holds 4n + 1 ints. */
void weft_groups_from_keys(weft_groups *g, const uint64_t *key, int n, int *mem);

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
  int pieces;                /* > 1: run as that many consecutive element ranges, one after
                              * another, so that staging ranks overlap copies and network */
  int dev_reduce;            /* this rank reduces its staged device buffers with its device's
                              * kernels (exec/devreduce.c; the tuner's WEFT_DEVICE_REDUCE) */
  /* The v-variants' per-rank arrays, in elements, n entries each (the
   * launch copies them into memory its op owns; weft_vcall_* below):
   * allgatherv: counts, displs (where rank i's block lands in recvbuf);
   * reducescatterv: counts, displs (block i's offset in sendbuf: the prefix
   * sums); alltoallv: sendcounts, sdispls, recvcounts, rdispls. count is
   * the elements this rank receives (allgatherv, alltoallv) or reduces
   * (reducescatterv), all blocks together. NULL for the other kinds. */
  const size_t *vec;
  uint64_t vhash; /* hash of vec: plan keys and signatures tell calls with other counts apart */
} weft_call;

static inline int weft_coll_is_v(weft_coll_kind k) {
  return k == COLL_ALLGATHERV || k == COLL_REDUCESCATTERV || k == COLL_ALLTOALLV;
}
/* Entries of a v-call's vec (0 for another kind). */
static inline size_t weft_vcall_len(weft_coll_kind k, int n) {
  return k == COLL_ALLTOALLV ? 4 * (size_t)n : weft_coll_is_v(k) ? 2 * (size_t)n : 0;
}
/* Hash of the len entries of v (FNV-1a over their bytes, folded). */
uint64_t weft_vcall_hash(const size_t *v, size_t len);
/* Largest displs[i] + counts[i] over the n blocks (elements). */
static inline size_t weft_vcall_extent(const size_t *counts, const size_t *displs, int n) {
  size_t e = 0;
  for (int i = 0; i < n; i++)
    if (counts[i] && displs[i] + counts[i] > e) e = displs[i] + counts[i];
  return e;
}

/* "allreduce", "allgather", ...; "?" if invalid. */
const char *weft_coll_name(weft_coll_kind k);
/* Size in bytes of one element; 0 for an invalid type. */
size_t weft_dtype_size(weftDataType_t dt);
/* Short name ("float", "bfloat16", "int32", ...) as nccl-tests prints it; "?" if invalid. */
const char *weft_dtype_name(weftDataType_t dt);

/* Splits total items into parts nearly equal pieces; piece i is [*off, *off+*len). */
static inline void weft_split(size_t total, int parts, int i, size_t *off, size_t *len) {
  size_t q = total / (size_t)parts, rem = total % (size_t)parts, ui = (size_t)i;
  *off = ui * q + (ui < rem ? ui : rem);
  *len = q + (ui < rem ? 1 : 0);
}

#endif
