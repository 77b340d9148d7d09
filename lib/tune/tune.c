#include "tune/tune.h"

#include <string.h>
#include <strings.h>

#include "core/comm.h"
#include "reduce/reduce.h"

weft_algo weft_algo_parse(const char *name) {
  if (!name) return ALGO_NONE;
  if (!strcasecmp(name, "ring")) return ALGO_RING;
  if (!strcasecmp(name, "tree")) return ALGO_TREE;
  if (!strcasecmp(name, "direct")) return ALGO_DIRECT;
  if (!strcasecmp(name, "hier") || !strcasecmp(name, "hierarchical")) return ALGO_HIER;
  return ALGO_NONE;
}

static int supports_tree(weft_coll_kind k) {
  return k == COLL_ALLREDUCE || k == COLL_BROADCAST || k == COLL_REDUCE;
}

void weft_tune(const struct weftComm *comm, weft_call *c) {
  size_t bytes = c->count * weft_dtype_size(c->dt);
  int n = comm->nranks;
  switch (c->kind) {
    case COLL_ALLTOALL: c->algo = ALGO_PAIRWISE; break;
    case COLL_SEND:
    case COLL_RECV: c->algo = ALGO_P2P; break;
    case COLL_ALLGATHER:
    case COLL_REDUCESCATTER: c->algo = ALGO_RING; break;
    case COLL_ALLREDUCE:
      /* direct: 1 step, (n-1)x the bytes; tree: 2*log2(n) steps; ring:
       * 2*(n-1) steps but bandwidth-optimal. Latency dominates small messages. */
      if (n > 1 && bytes * (size_t)(n - 1) <= comm->tune.direct_threshold) c->algo = ALGO_DIRECT;
      else if (n > 2 && bytes <= comm->tune.tree_threshold) c->algo = ALGO_TREE;
      else c->algo = ALGO_RING;
      break;
    case COLL_BROADCAST:
    case COLL_REDUCE:
      c->algo = bytes <= comm->tune.rooted_threshold ? ALGO_TREE : ALGO_RING;
      break;
  }
  weft_algo forced = (weft_algo)comm->tune.forced;
  if (forced != ALGO_NONE) {
    if (forced == ALGO_RING && (c->algo == ALGO_TREE || c->algo == ALGO_DIRECT)) c->algo = ALGO_RING;
    if (forced == ALGO_TREE && supports_tree(c->kind)) c->algo = ALGO_TREE;
    if (forced == ALGO_DIRECT && c->kind == COLL_ALLREDUCE) c->algo = ALGO_DIRECT;
    if (forced == ALGO_HIER && c->kind == COLL_ALLREDUCE) c->algo = ALGO_HIER;
  }
  /* the slow level: sites when there are several, else nodes */
  const weft_layout *l = &comm->layout;
  c->groups = l->sites.ngroups > 1 ? &l->sites : &l->nodes;
  size_t dflt = c->algo == ALGO_TREE ? (64 << 10) : (512 << 10);
  c->chunk_bytes = comm->tune.chunk_bytes ? comm->tune.chunk_bytes : dflt;
  if (c->chunk_bytes < 64) c->chunk_bytes = 64;
}
