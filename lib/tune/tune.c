#include "tune/tune.h"

#include <sched.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "comm/comm.h"
#include "topo/graph.h"
#include "tune/graph_model.h"
#include "nodeseg/slots.h"
#include "reduce/reduce.h"

weft_algo weft_algo_parse(const char *name) {
  if (!name) return ALGO_NONE;
  if (!strcasecmp(name, "ring")) return ALGO_RING;
  if (!strcasecmp(name, "tree")) return ALGO_TREE;
  if (!strcasecmp(name, "direct")) return ALGO_DIRECT;
  if (!strcasecmp(name, "hier") || !strcasecmp(name, "hierarchical")) return ALGO_HIER;
  if (!strcasecmp(name, "rhd")) return ALGO_RHD;
  if (!strcasecmp(name, "slots")) return ALGO_SLOTS;
  return ALGO_NONE;
}

int weft_algo_supported(weft_coll_kind k, weft_algo a) {
  switch (a) {
    case ALGO_RING: return k <= COLL_REDUCE;
    case ALGO_TREE: return k == COLL_ALLREDUCE || k == COLL_BROADCAST || k == COLL_REDUCE;
    case ALGO_DIRECT: return k == COLL_ALLREDUCE;
    case ALGO_RHD: return k == COLL_ALLREDUCE || k == COLL_ALLGATHER || k == COLL_REDUCESCATTER;
    case ALGO_HIER: return weft_hier_supports(k);
    case ALGO_SLOTS: return k != COLL_SEND && k != COLL_RECV;
    default: return 0;
  }
}

int weft_hier_supports(weft_coll_kind k) {
  return k == COLL_ALLREDUCE || k == COLL_BROADCAST || k == COLL_ALLGATHER || k == COLL_REDUCESCATTER;
}

int weft_tune_bucket(size_t bytes) {
  int b = 0;
  while (b < WEFT_TUNE_BUCKETS - 1 && ((size_t)1 << b) < bytes) b++;
  return b;
}

/* More ranks of the comm on this rank's node than CPUs this process may run on. */
static int oversubscribed(const struct weftComm *comm) {
  const weft_groups *g = &comm->layout.nodes;
  int mine = g->group_of[comm->rank], local = g->start[mine + 1] - g->start[mine];
  cpu_set_t set;
  long cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : sysconf(_SC_NPROCESSORS_ONLN);
  return cpus > 0 && local > cpus;
}

void weft_tune_init(struct weftComm *comm) {
  /* a waiting rank spins 5 us before it starts yielding, unless ranks
   * outnumber CPUs: then the peer it waits for may need this very CPU */
  comm->tune.yield_after_us = oversubscribed(comm) ? 0 : 5;
  weft_cost_model *m = &comm->tune.model;
  weft_graph_cost_model(comm->layout.graph, &comm->layout.nodes, &comm->layout.sites, m);
  comm->tune.use_model = comm->layout.nodes.ngroups > 1;
  comm->tune.has_rules = weft_graph_nrules(comm->layout.graph) > 0;
  weft_codec_policy_init(comm);
  if (!comm->tune.use_model) return;
  static const weft_coll_kind kinds[] = {COLL_ALLREDUCE, COLL_ALLGATHER, COLL_REDUCESCATTER, COLL_BROADCAST,
                                         COLL_REDUCE};
  for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
    for (int b = 0; b < WEFT_TUNE_BUCKETS; b++)
      comm->tune.table[kinds[k]][b] = (uint8_t)weft_cost_choose(m, kinds[k], (size_t)1 << b, NULL);
}

/* The algorithm by message size alone, over messages. */
static weft_algo by_size(const struct weftComm *comm, weft_coll_kind kind, size_t bytes) {
  int n = comm->nranks;
  switch (kind) {
    case COLL_ALLTOALL: return ALGO_PAIRWISE;
    case COLL_SEND:
    case COLL_RECV: return ALGO_P2P;
    case COLL_ALLGATHER:
    case COLL_REDUCESCATTER: return ALGO_RING;
    case COLL_ALLREDUCE:
      /* direct: 1 step, (n-1)x the bytes; tree: 2*log2(n) steps; ring:
       * 2*(n-1) steps but bandwidth-optimal. Latency dominates small messages. */
      if (n > 1 && bytes * (size_t)(n - 1) <= comm->tune.direct_threshold) return ALGO_DIRECT;
      if (n > 2 && bytes <= comm->tune.tree_threshold) return ALGO_TREE;
      return ALGO_RING;
    case COLL_BROADCAST:
    case COLL_REDUCE: return bytes <= comm->tune.rooted_threshold ? ALGO_TREE : ALGO_RING;
  }
  return ALGO_RING;
}

void weft_tune(const struct weftComm *comm, weft_call *c) {
  size_t bytes = c->count * weft_dtype_size(c->dt);
  int n = comm->nranks;
  /* all ranks on this host: small calls go through the node segment */
  c->algo = weft_slots_fit(comm, c->kind, bytes) ? ALGO_SLOTS : by_size(comm, c->kind, bytes);
  if (comm->tune.use_model && c->kind <= COLL_REDUCE) {
    weft_algo a = (weft_algo)comm->tune.table[c->kind][weft_tune_bucket(bytes)];
    if (a != ALGO_NONE) c->algo = a;
  }
  if (comm->tune.has_rules && c->kind <= COLL_REDUCE) { /* tuning rules of the topology file */
    const char *name = weft_graph_forced_algo(comm->layout.graph, weft_coll_name(c->kind), bytes);
    weft_algo a = name ? weft_algo_parse(name) : ALGO_NONE;
    if (a != ALGO_NONE && weft_algo_supported(c->kind, a)) c->algo = a;
  }
  weft_algo forced = (weft_algo)comm->tune.forced;
  if (forced != ALGO_NONE) {
    if (weft_algo_supported(c->kind, forced)) c->algo = forced;
    /* all-to-all has one message algorithm: any other forced one keeps it on messages */
    if (forced != ALGO_SLOTS && c->kind == COLL_ALLTOALL) c->algo = ALGO_PAIRWISE;
  }
  /* slots named by a rule or WEFT_ALGO where the segment cannot take the call */
  if (c->algo == ALGO_SLOTS && !weft_slots_fit(comm, c->kind, bytes)) c->algo = by_size(comm, c->kind, bytes);
  /* recursive doubling/halving of blocks needs a power of two ranks */
  if (c->algo == ALGO_RHD && c->kind != COLL_ALLREDUCE && (n & (n - 1)) != 0) c->algo = ALGO_RING;
  /* the slow level: sites when there are several, else nodes */
  const weft_layout *l = &comm->layout;
  c->groups = l->sites.ngroups > 1 ? &l->sites : &l->nodes;
  weft_codec_choose(comm, c);
  /* inside one node a ring step is two memory copies and a reduction:
   * chunks of 256 KiB keep a step's working set in a core's cache */
  size_t dflt = c->algo == ALGO_TREE ? (64 << 10) : l->nodes.ngroups == 1 ? (256 << 10) : (512 << 10);
  c->chunk_bytes = comm->tune.chunk_bytes ? comm->tune.chunk_bytes : dflt;
  if (c->chunk_bytes < 64) c->chunk_bytes = 64;
}
