#include "tune/tune.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "topo/graph.h"
#include "tune/graph_model.h"
#include "util/log.h"
#include "util/param.h"

int weft_tune_bucket(size_t bytes) {
  int b = 0;
  while (b < WEFT_TUNE_BUCKETS - 1 && ((size_t)1 << b) < bytes) b++;
  return b;
}

void weft_tune_settings_env(weft_tuner *t) {
  t->direct_threshold = weft_env_size("WEFT_DIRECT_THRESHOLD", 64 << 10);
  t->tree_threshold = weft_env_size("WEFT_TREE_THRESHOLD", 64 << 10);
  t->rooted_threshold = weft_env_size("WEFT_TREE_THRESHOLD_ROOTED", 256 << 10);
  t->chunk_bytes = weft_env_size("WEFT_CHUNK_SIZE", 0);
  t->spin_us = (double)weft_env_int("WEFT_SPIN_US", 50, 0, 1000000);
  t->stripe_min = weft_env_size("WEFT_STRIPE_MIN", 256 << 10);
  if (t->stripe_min < 4096) t->stripe_min = 4096;
}

void weft_tune_inherit(weft_tuner *t, const weft_tuner *parent) {
  t->direct_threshold = parent->direct_threshold;
  t->tree_threshold = parent->tree_threshold;
  t->rooted_threshold = parent->rooted_threshold;
  t->chunk_bytes = parent->chunk_bytes;
  t->spin_us = parent->spin_us;
  t->stripe_min = parent->stripe_min;
  t->wan_streams = parent->wan_streams;
}

/* More ranks of the comm on this rank's node than CPUs this process may run on. */
static int oversubscribed(const weft_tune_inputs *in) {
  const weft_groups *g = in->nodes;
  int mine = g->group_of[in->rank], local = g->start[mine + 1] - g->start[mine];
  cpu_set_t set;
  long cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : sysconf(_SC_NPROCESSORS_ONLN);
  return cpus > 0 && local > cpus;
}

/* The cost model's decision tables: every collective on the raw model, and
 * the allreduces a WAN codec would compress with the codec's ratio and cost. */
static void weft_tune_tables(weft_tuner *t) {
  weft_cost_model raw = t->model;
  raw.wan_ratio = 1;
  raw.codec_bw = 0;
  for (int k = COLL_ALLREDUCE; k <= COLL_REDUCE; k++)
    for (int b = 0; b < WEFT_TUNE_BUCKETS; b++)
      t->table[k][b] = (uint8_t)weft_cost_choose(&raw, (weft_coll_kind)k, (size_t)1 << b, NULL);
  for (int b = 0; b < WEFT_TUNE_BUCKETS; b++) {
    int id = t->codec.is_auto ? t->codec.table[b] : t->codec.id;
    weft_cost_model coded = raw;
    if (id) {
      coded.wan_ratio = weft_codec_ratio((weft_codec_id)id, &t->codec.params, weftFloat);
      coded.codec_bw = weft_codec_throughput((weft_codec_id)id);
    }
    t->coded[b] = (uint8_t)weft_cost_choose(&coded, COLL_ALLREDUCE, (size_t)1 << b, NULL);
  }
}

int weft_tune_init(weft_tuner *t, const weft_tune_inputs *in) {
  if (!t->ef.ready) {
    pthread_mutex_init(&t->ef.mu, NULL);
    t->ef.ready = 1;
  }
  t->env = (weft_algo_env){.nranks = in->nranks};
  t->nodes = in->nodes;
  t->sites = in->sites;
  /* a waiting rank spins 5 us before it starts yielding, unless ranks
   * outnumber CPUs: then the peer it waits for may need this very CPU */
  t->oversubscribed = oversubscribed(in);
  t->yield_after_us = t->oversubscribed ? 0 : 5;
  weft_cost_model *m = &t->model;
  weft_graph_cost_model(in->graph, in->nodes, in->sites, m);
  t->use_model = in->nodes->ngroups > 1;
  if (weft_tune_rules_resolve(in->graph, &t->rules, &t->nrules) != 0) return -1;
  for (int i = 0; i < t->nrules; i++)
    if (t->rules[i].algo == ALGO_NONE)
      weft_log_to(in->log, weftLogWarn, "topology file, line %d: no algorithm is named '%s'; the rule forces nothing",
                weft_graph_rule(in->graph, i)->line, weft_graph_rule(in->graph, i)->algo);
  weft_codec_policy_init(t, in);
  if (weft_tune_devices_init(t, in) != 0) return -1;
  if (!t->use_model) return 0;
  weft_tune_tables(t);
  return 0;
}


void weft_tune_segment(weft_tuner *t, size_t max_bytes, int ranks, size_t box_max_bytes) {
  t->env.seg_max_bytes = max_bytes;
  t->env.seg_ranks = max_bytes ? ranks : 0;
  t->env.box_max_bytes = box_max_bytes;
}

size_t weft_tune_box_max(const weft_tuner *t) { return t->forced == ALGO_P2P ? 0 : t->env.box_max_bytes; }

void weft_tune_free(weft_tuner *t) {
  free(t->rules);
  t->rules = NULL;
  free(t->dev.e);
  t->dev.e = NULL;
  t->nrules = 0;
  for (int i = 0; i < t->ef.n; i++) free(t->ef.e[i].resid);
  t->ef.n = 0;
  if (t->ef.ready) pthread_mutex_destroy(&t->ef.mu);
  t->ef.ready = 0;
}

/* The algorithm by message size alone, over messages. */
static weft_algo by_size(const weft_tuner *t, weft_coll_kind kind, size_t bytes) {
  int n = t->env.nranks;
  switch (kind) {
    case COLL_ALLTOALL: return ALGO_PAIRWISE;
    case COLL_SEND: /* small ones through the node segment's boxes, when it has them */
    case COLL_RECV: return weft_algo_eligible(ALGO_BOX, &t->env, kind, bytes) ? ALGO_BOX : ALGO_P2P;
    case COLL_ALLGATHER:
    case COLL_REDUCESCATTER: return ALGO_RING;
    case COLL_ALLREDUCE:
      /* direct: 1 step, (n-1)x the bytes; tree: 2*log2(n) steps; ring:
       * 2*(n-1) steps but bandwidth-optimal. Latency dominates small messages. */
      if (n > 1 && bytes * (size_t)(n - 1) <= t->direct_threshold) return ALGO_DIRECT;
      if (n > 2 && bytes <= t->tree_threshold) return ALGO_TREE;
      return ALGO_RING;
    case COLL_BROADCAST:
    case COLL_REDUCE: return bytes <= t->rooted_threshold ? ALGO_TREE : ALGO_RING;
    case COLL_GATHER:
    case COLL_SCATTER: return ALGO_DIRECT;
    case COLL_BARRIER: return ALGO_DISSEM;
    /* the v-variants: blocks of any size, on the ring and pairwise only */
    case COLL_ALLGATHERV:
    case COLL_REDUCESCATTERV: return ALGO_RING;
    case COLL_ALLTOALLV: return ALGO_PAIRWISE;
  }
  return ALGO_RING;
}

void weft_tune(const weft_tuner *t, weft_call *c) {
  size_t bytes = c->count * weft_dtype_size(c->dt);
  /* all ranks on this host: small calls go through the node segment */
  c->algo = weft_algo_eligible(ALGO_SLOTS, &t->env, c->kind, bytes) ? ALGO_SLOTS : by_size(t, c->kind, bytes);
  if (t->use_model && c->kind <= COLL_REDUCE) {
    /* an allreduce the WAN codec would compress: the table that counts it */
    int coded = c->kind == COLL_ALLREDUCE && weft_codec_for(t, c);
    weft_algo a = (weft_algo)(coded ? t->coded : t->table[c->kind])[weft_tune_bucket(bytes)];
    if (a != ALGO_NONE) c->algo = a;
  }
  weft_algo ruled = weft_tune_rule_algo(t->rules, t->nrules, c->kind, bytes); /* the topology file's */
  if (ruled != ALGO_NONE) c->algo = ruled;
  weft_algo forced = (weft_algo)t->forced;
  if (forced != ALGO_NONE) {
    if (weft_algo_supported(c->kind, forced)) c->algo = forced;
    /* all-to-all has one message algorithm: any other forced one keeps it on messages */
    if (forced != ALGO_SLOTS && c->kind == COLL_ALLTOALL) c->algo = ALGO_PAIRWISE;
  }
  /* one named by a rule or WEFT_ALGO that cannot take this call (slots
   * without room in the segment, rhd's blocks without a power of two ranks) */
  if (!weft_algo_eligible(c->algo, &t->env, c->kind, bytes) || !weft_algo_supported(c->kind, c->algo))
    c->algo = by_size(t, c->kind, bytes);
  /* the slow level: sites when there are several, else nodes */
  c->groups = t->sites->ngroups > 1 ? t->sites : t->nodes;
  weft_codec_choose(t, c);
  /* inside one node a ring step is two memory copies and a reduction:
   * chunks of 256 KiB keep a step's working set in a core's cache */
  size_t dflt = c->algo == ALGO_TREE ? (64 << 10) : t->nodes->ngroups == 1 ? (256 << 10) : (512 << 10);
  c->chunk_bytes = t->chunk_bytes ? t->chunk_bytes : dflt;
  if (c->chunk_bytes < 64) c->chunk_bytes = 64;
  c->pieces = weft_tune_pieces(t, c);
  c->dev_reduce = t->dev_reduce && c->algo != ALGO_SLOTS &&
                  (c->kind == COLL_ALLREDUCE || c->kind == COLL_REDUCE || c->kind == COLL_REDUCESCATTER);
}
