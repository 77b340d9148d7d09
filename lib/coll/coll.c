#include "coll/coll.h"

const char *weft_coll_name(weft_coll_kind k) {
  switch (k) {
    case COLL_ALLREDUCE: return "allreduce";
    case COLL_ALLGATHER: return "allgather";
    case COLL_REDUCESCATTER: return "reducescatter";
    case COLL_BROADCAST: return "broadcast";
    case COLL_REDUCE: return "reduce";
    case COLL_ALLTOALL: return "alltoall";
    case COLL_SEND: return "send";
    case COLL_RECV: return "recv";
  }
  return "?";
}

const char *weft_algo_name(weft_algo a) {
  switch (a) {
    case ALGO_RING: return "ring";
    case ALGO_TREE: return "tree";
    case ALGO_PAIRWISE: return "pairwise";
    case ALGO_P2P: return "p2p";
    case ALGO_DIRECT: return "direct";
    case ALGO_HIER: return "hier";
    case ALGO_RHD: return "rhd";
    case ALGO_SLOTS: return "slots";
    case ALGO_NONE: break;
  }
  return "none";
}

int weft_coll_build(weft_sched *s, const weft_call *c, int rank, int nranks) {
  int tree = c->algo == ALGO_TREE;
  if (c->algo == ALGO_SLOTS)
    return weft_sched_slots(s, c->kind, c->sendbuf, c->recvbuf, c->count, c->dt, c->op, c->root, c->tag) == NODEP ? -1 : 0;
  switch (c->kind) {
    case COLL_ALLREDUCE:
      if (c->algo == ALGO_DIRECT) return weft_direct_allreduce(s, c, rank, nranks);
      if (c->algo == ALGO_HIER) return weft_hier_allreduce(s, c, rank, nranks);
      if (c->algo == ALGO_RHD) return weft_rhd_allreduce(s, c, rank, nranks);
      return tree ? weft_tree_allreduce(s, c, rank, nranks) : weft_ring_allreduce(s, c, rank, nranks);
    case COLL_BROADCAST:
      if (c->algo == ALGO_HIER) return weft_hier_broadcast(s, c, rank, nranks);
      return tree ? weft_tree_broadcast(s, c, rank, nranks) : weft_ring_broadcast(s, c, rank, nranks);
    case COLL_REDUCE:
      return tree ? weft_tree_reduce(s, c, rank, nranks) : weft_ring_reduce(s, c, rank, nranks);
    case COLL_ALLGATHER:
      if (c->algo == ALGO_RHD) return weft_rhd_allgather(s, c, rank, nranks);
      return c->algo == ALGO_HIER ? weft_hier_allgather(s, c, rank, nranks) : weft_ring_allgather(s, c, rank, nranks);
    case COLL_REDUCESCATTER:
      if (c->algo == ALGO_RHD) return weft_rhd_reducescatter(s, c, rank, nranks);
      return c->algo == ALGO_HIER ? weft_hier_reducescatter(s, c, rank, nranks) : weft_ring_reducescatter(s, c, rank, nranks);
    case COLL_ALLTOALL: return weft_pairwise_alltoall(s, c, rank, nranks);
    case COLL_SEND:
    case COLL_RECV: return weft_p2p_build(s, c, rank, nranks);
  }
  return -1;
}
