#include "tune/tune.h"

#include <string.h>
#include <strings.h>

#include "core/comm.h"
#include "core/param.h"
#include "reduce/reduce.h"

weft_algo weft_algo_parse(const char *name) {
  if (!name) return ALGO_NONE;
  if (!strcasecmp(name, "ring")) return ALGO_RING;
  if (!strcasecmp(name, "tree")) return ALGO_TREE;
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
      /* a tree needs 2*log2(n) steps against the ring's 2*(n-1): it wins
       * while latency dominates, i.e. for small messages on > 2 ranks */
      c->algo = (n > 2 && bytes <= weft_env_size("WEFT_TREE_THRESHOLD", 64 << 10)) ? ALGO_TREE : ALGO_RING;
      break;
    case COLL_BROADCAST:
    case COLL_REDUCE:
      c->algo = bytes <= weft_env_size("WEFT_TREE_THRESHOLD_ROOTED", 256 << 10) ? ALGO_TREE : ALGO_RING;
      break;
  }
  weft_algo forced = weft_algo_parse(comm->algo_override);
  if (forced != ALGO_NONE) {
    if (forced == ALGO_RING && c->algo == ALGO_TREE) c->algo = ALGO_RING;
    if (forced == ALGO_TREE && supports_tree(c->kind)) c->algo = ALGO_TREE;
  }
  size_t dflt = c->algo == ALGO_TREE ? (64 << 10) : (512 << 10);
  c->chunk_bytes = weft_env_size("WEFT_CHUNK_SIZE", dflt);
  if (c->chunk_bytes < 64) c->chunk_bytes = 64;
}
