/* weft-topo explain: for each message size, the algorithm the tuner picks
 * on this topology, its predicted time, the bottleneck link and how the
 * other algorithms compare, from the same cost model the library uses. */
#include "tune/explain.h"

#include <stdlib.h>
#include <string.h>

#include "topo/dump.h"
#include "tune/graph_model.h"
#include "tune/tune.h"
#include "util/param.h"

static const struct {
  const char *name;
  weft_coll_kind kind;
} colls[] = {{"allreduce", COLL_ALLREDUCE},   {"allgather", COLL_ALLGATHER}, {"reducescatter", COLL_REDUCESCATTER},
             {"broadcast", COLL_BROADCAST},   {"reduce", COLL_REDUCE},       {"alltoall", COLL_ALLTOALL}};

static void fmt_time(double t, char *buf, size_t len) {
  if (t < 1e-3) snprintf(buf, len, "%.1f us", t * 1e6);
  else if (t < 1) snprintf(buf, len, "%.2f ms", t * 1e3);
  else snprintf(buf, len, "%.2f s", t);
}

static void fmt_size(double b, char *buf, size_t len) {
  static const char *const unit[] = {"B", "KiB", "MiB", "GiB"};
  int u = 0;
  while (b >= 1024 && u < 3) b /= 1024, u++;
  snprintf(buf, len, "%g %s", b, unit[u]);
}

/* The slowest link of a class in the graph, described. */
static void class_link(const weft_graph *g, weft_link_class cls, char *buf, size_t len) {
  int n = weft_graph_nranks(g), found = 0;
  weft_link worst = {0};
  for (int a = 0; a < n; a++)
    for (int b = 0; b < n; b++) {
      weft_link l;
      int c = weft_graph_link(g, a, b, &l);
      int want = cls == WEFT_LC_NODE ? WEFT_LINK_NODE : cls == WEFT_LC_SITE ? WEFT_LINK_SITE : WEFT_LINK_WAN;
      if (a == b || c != want) continue;
      if (!found || l.bw < worst.bw) worst = l, found = 1;
    }
  if (!found) {
    snprintf(buf, len, "%s", weft_link_class_name(cls));
    return;
  }
  char d[160];
  weft_link_describe(&worst, cls == WEFT_LC_WAN, d, sizeof d);
  snprintf(buf, len, "%s (%s)", weft_link_class_name(cls), d);
}

/* What explain asks the library's own tuner: built as a comm's would be on
 * this graph (rank 0's view: the tables are the same on every rank), so the
 * choice printed is the choice a call makes. */
typedef struct {
  weft_groups nodes, sites;
  int *mem;
  weft_tuner t;
} explain_tuner;

static int tuner_open(explain_tuner *x, const weft_graph *g, const char *codec) {
  int n = weft_graph_nranks(g);
  memset(x, 0, sizeof *x);
  if (!(x->mem = malloc(sizeof(int) * WEFT_GRAPH_GROUPS_MEM(n)))) return -1;
  weft_graph_groups(g, &x->nodes, &x->sites, x->mem);
  weft_tune_settings_env(&x->t);
  if (!codec) codec = weft_env("WEFT_CODEC");
  if (codec) snprintf(x->t.codec.want, sizeof x->t.codec.want, "%s", codec);
  const weft_tune_inputs in = {0, n, &x->nodes, &x->sites, g, NULL, NULL};
  return weft_tune_init(&x->t, &in);
}

static void tuner_close(explain_tuner *x) {
  weft_tune_free(&x->t);
  free(x->mem);
}

/* The tuner's choice for an fp32 sum of bytes, and the model the library
 * predicts it with (the codec's ratio on the WAN when the call carries one). */
static weft_call tuned(const explain_tuner *x, weft_coll_kind kind, size_t bytes, weft_cost_model *m) {
  weft_call c;
  memset(&c, 0, sizeof c);
  c.kind = kind;
  c.dt = weftFloat;
  c.op = weftSum;
  c.count = bytes / sizeof(float);
  weft_tune(&x->t, &c);
  *m = x->t.model;
  int id = c.codec ? c.codec : kind == COLL_ALLREDUCE ? weft_codec_for(&x->t, &c) : 0;
  m->wan_ratio = id ? weft_codec_ratio((weft_codec_id)id, &x->t.codec.params, weftFloat) : 1;
  m->codec_bw = id ? weft_codec_throughput((weft_codec_id)id) : 0;
  return c;
}

static void algo_label(const weft_call *c, char *buf, size_t len) {
  snprintf(buf, len, "%s%s%s", weft_algo_name(c->algo), c->codec ? "/" : "",
           c->codec ? weft_codec_name((weft_codec_id)c->codec) : "");
}

static void explain_one(const weft_graph *g, const explain_tuner *x, const char *name, weft_coll_kind kind,
                        FILE *out) {
  fprintf(out, "\n%s\n  %10s  %-10s %11s  %-44s %s\n", name, "size", "algorithm", "predicted", "bottleneck",
          "others (predicted)");
  for (double b = 8; b <= (double)(1ULL << 30); b *= 4) {
    size_t bytes = (size_t)b;
    weft_cost_model m;
    weft_call c = tuned(x, kind, bytes, &m);
    weft_cost best_c = {0};
    weft_cost_predict(&m, kind, c.algo, bytes, &best_c);
    int by_rule = weft_tune_rule_algo(x->t.rules, x->t.nrules, kind, bytes) == c.algo;
    char sz[32], t[32], link[200], others[256] = "", label[40];
    fmt_size(b, sz, sizeof sz);
    fmt_time(best_c.time, t, sizeof t);
    class_link(g, best_c.bottleneck, link, sizeof link);
    algo_label(&c, label, sizeof label);
    for (int i = 0; i < weft_nalgos; i++) {
      weft_cost oc;
      weft_algo a = weft_algos[i].id;
      if (!weft_algos[i].cost || a == c.algo || weft_cost_predict(&m, kind, a, bytes, &oc) != 0) continue;
      char ot[32];
      fmt_time(oc.time, ot, sizeof ot);
      snprintf(others + strlen(others), sizeof others - strlen(others), "%s%s %s", others[0] ? ", " : "",
               weft_algos[i].name, ot);
    }
    fprintf(out, "  %10s  %-10s %11s  %-44s %s%s\n", sz, label, t, link, others, by_rule ? "  [tuning rule]" : "");
  }
}

static weft_coll_kind kind_of(const char *coll) {
  for (size_t i = 0; i < sizeof colls / sizeof *colls; i++)
    if (!strcmp(coll, colls[i].name)) return colls[i].kind;
  return (weft_coll_kind)0;
}

int weft_topo_explain_csv(const weft_graph *g, const char *coll, const char *codec, FILE *out) {
  weft_coll_kind kind = kind_of(coll ? coll : "allreduce");
  explain_tuner x;
  if (!kind || tuner_open(&x, g, codec) != 0) {
    if (kind) tuner_close(&x);
    fprintf(out, kind ? "explain: out of memory\n" : "explain: unknown collective '%s'\n", coll);
    return -1;
  }
  fprintf(out, "bytes,algorithm,predicted_s,bottleneck,chosen,codec\n");
  for (double b = 8; b <= (double)(1ULL << 30); b *= 4) {
    weft_cost_model m;
    weft_call c = tuned(&x, kind, (size_t)b, &m);
    for (int i = 0; i < weft_nalgos; i++) {
      weft_cost oc;
      weft_algo a = weft_algos[i].id;
      if (!weft_algos[i].cost || weft_cost_predict(&m, kind, a, (size_t)b, &oc) != 0) continue;
      fprintf(out, "%.0f,%s,%.9g,%s,%d,%s\n", b, weft_algos[i].name, oc.time, weft_link_class_name(oc.bottleneck),
              a == c.algo, a == c.algo && c.codec ? weft_codec_name((weft_codec_id)c.codec) : "none");
    }
  }
  tuner_close(&x);
  return 0;
}

int weft_topo_explain(const weft_graph *g, const char *coll, const char *codec, FILE *out) {
  int found = 0;
  explain_tuner x;
  if (tuner_open(&x, g, codec) != 0) {
    tuner_close(&x);
    fprintf(out, "explain: out of memory\n");
    return -1;
  }
  fprintf(out, "# %d ranks on %d nodes in %d sites; times predicted by weft's cost model\n", weft_graph_nranks(g),
          x.nodes.ngroups, x.sites.ngroups);
  if (x.nodes.ngroups == 1)
    fprintf(out, "# (inside one node the library uses its shared-memory size rules, not this model)\n");
  const weft_codec_policy *p = &x.t.codec;
  if ((p->id || p->is_auto) && x.sites.ngroups > 1)
    fprintf(out, "# WAN codec %s (from %s) on the hierarchical allreduce and reduce-scatter of %zu bytes and "
                 "more, where the model picks that algorithm\n",
            p->is_auto ? "auto" : weft_codec_name((weft_codec_id)p->id), p->source, p->min_bytes);
  if (!coll) coll = "allreduce";
  for (size_t i = 0; i < sizeof colls / sizeof *colls; i++)
    if (!strcmp(coll, "all") || !strcmp(coll, colls[i].name)) {
      explain_one(g, &x, colls[i].name, colls[i].kind, out);
      found = 1;
    }
  tuner_close(&x);
  if (!found) fprintf(out, "explain: unknown collective '%s' (allreduce, allgather, reducescatter, broadcast, reduce, "
                           "alltoall or all)\n", coll);
  return found ? 0 : -1;
}

typedef struct {
  const weft_cost_model *m;
  weft_coll_kind kind;
} explain_net;

/* A piece's network time: the algorithm the model picks for its size. */
static double piece_net_time(const void *user, size_t bytes) {
  const explain_net *x = user;
  weft_cost c;
  weft_cost_choose(x->m, x->kind, bytes, &c);
  return c.time;
}

int weft_topo_explain_devices(const weft_graph *g, const weft_devtable *t, const char *coll, FILE *out) {
  int n = weft_graph_nranks(g);
  weft_coll_kind kind = kind_of(coll ? coll : "allreduce");
  int *mem = malloc(sizeof(int) * WEFT_GRAPH_GROUPS_MEM(n));
  if (!kind || !mem || t->n != n) {
    free(mem);
    fprintf(out, "explain: %s\n", mem ? "the device list must name one device per rank" : "unknown collective");
    return -1;
  }
  weft_groups nodes, sites;
  weft_cost_model m;
  weft_graph_groups(g, &nodes, &sites, mem);
  weft_graph_cost_model(g, &nodes, &sites, &m);
  fprintf(out, "\ndevices\n");
  for (int r = 0; r < n; r++) {
    const weft_dev_entry *e = &t->e[r];
    char copy[48] = "-";
    if (e->kind == WEFT_DEVK_UNIFIED) snprintf(copy, sizeof copy, "none (mapped)");
    else if (e->kind == WEFT_DEVK_DISCRETE && e->copy_gbps > 0) snprintf(copy, sizeof copy, "%.1f GB/s", e->copy_gbps);
    else if (e->kind == WEFT_DEVK_DISCRETE) snprintf(copy, sizeof copy, "unknown (assumed)");
    char red[48] = "-";
    if (e->reduce_gbps > 0)
      snprintf(red, sizeof red, "%.1f GB/s%s", e->reduce_gbps, weft_devtable_rank_reduces(t, r) ? " (wins)" : "");
    fprintf(out, "  rank %-4d %-12s %-9s copy %-18s reduce kernel %s\n", r, e->backend, weft_dev_kind_name(e->kind),
            copy, red);
  }
  double gbps = 0;
  int stagers = weft_devtable_stagers(t, &gbps);
  const char *name = coll ? coll : "allreduce";
  if (!stagers) {
    fprintf(out, "  staging: no rank stages (host or mapped memory): %s calls are not split\n", name);
  } else if (kind != COLL_ALLREDUCE && kind != COLL_BROADCAST && kind != COLL_REDUCE) {
    fprintf(out, "  staging: %d rank(s) stage; %s is not split (only allreduce, broadcast and reduce are)\n",
            stagers, name);
  } else {
    fprintf(out, "  staging: %d rank(s) stage, slowest copy %.1f GB/s; %s split into pieces whose copies overlap "
                 "the network\n  %10s  %6s  %11s  %11s\n",
            stagers, gbps, name, "size", "pieces", "unsplit", "split");
    explain_net x = {&m, kind};
    for (double b = 64 << 10; b <= (double)(1ULL << 30); b *= 4) {
      double t1, tp;
      int p = weft_devtable_pieces(t, kind, (size_t)b, piece_net_time, &x, &t1, &tp);
      char sz[32], a[32], z[32];
      fmt_size(b, sz, sizeof sz);
      fmt_time(t1, a, sizeof a);
      fmt_time(tp, z, sizeof z);
      fprintf(out, "  %10s  %6d  %11s  %11s\n", sz, p, a, z);
    }
  }
  char why[256];
  int on_dev = weft_devtable_reduce_on_device(t, why, sizeof why);
  fprintf(out, "  reduce: %s%s\n", on_dev ? "device kernel: " : "", why);
  free(mem);
  return 0;
}
