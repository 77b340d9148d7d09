/* Alpha-beta cost model of weft's algorithms over a communicator's layout:
 * the terms every algorithm's cost hook (coll/algo.h) adds up.
 *
 * Links fall in three classes: between ranks of one node, between nodes of
 * one site, and between sites. Each class has a latency alpha (s) and a
 * bandwidth beta (bytes/s). A link between two groups (nodes or sites) is
 * shared by every message that crosses it in the same direction in the same
 * step, which is what makes a flat ring pay more on slow links than the
 * hierarchical algorithm. Host reductions run at `reduce_bw` bytes/s.
 * The tuner (tune/cost.h) asks each algorithm for its predicted time and
 * picks the smallest; `weft-topo explain` prints the figures. */
#ifndef WEFT_COST_MODEL_H
#define WEFT_COST_MODEL_H

#include <stddef.h>

#include "util/call.h"

typedef enum { WEFT_LC_NODE, WEFT_LC_SITE, WEFT_LC_WAN, WEFT_LC_N } weft_link_class;

typedef struct {
  double lat; /* s, one way */
  double bw;  /* bytes/s */
} weft_link_cost;

typedef struct {
  int n;
  const weft_groups *nodes, *sites; /* layout; NULL = every rank alone */
  weft_link_cost link[WEFT_LC_N];   /* per class, unless link_of says more */
  double reduce_bw; /* host reduction throughput, bytes/s of output */
  /* Optional: the cost of the link from rank a to rank b (e.g. from the
   * topology graph, where sites and WAN pairs differ); returns 0 when known. */
  int (*link_of)(const void *ctx, int a, int b, weft_link_cost *out);
  const void *link_ctx;
  /* The hierarchical allreduce over sites: WAN codec (encoded bytes / raw
   * bytes, and encode+decode throughput in bytes/s; ratio 1 = none) and the
   * pipeline piece (its phases overlap; 0 = none). */
  double wan_ratio, codec_bw;
  size_t pipe_bytes;
} weft_cost_model;

typedef struct {
  double time;                /* predicted seconds */
  weft_link_class bottleneck; /* class whose transfers dominate */
  double bottleneck_time;     /* seconds spent on that class */
} weft_cost;

/* Default link costs (used where the topology file says nothing). */
void weft_cost_defaults(weft_cost_model *m);
const char *weft_link_class_name(weft_link_class c);

/* Directed transfers that run at the same time. */
typedef struct {
  int *src, *dst;
  double *bytes;
  int n, cap, oom;
} weft_edges;

void weft_edges_add(weft_edges *e, int src, int dst, double bytes);
void weft_edges_free(weft_edges *e);

/* A prediction in progress: what a cost hook adds to. */
typedef struct {
  double time;                 /* seconds so far */
  double per_class[WEFT_LC_N]; /* of which each link class was the bottleneck */
  weft_edges e;                /* scratch for the hook's steps */
} weft_cost_acc;

/* Adds `repeat` times one step made of the transfers in e. Transfers inside
 * a node are limited per sending rank (its copies); transfers between nodes
 * or sites share the link between the two groups, per direction. */
void weft_cost_step(const weft_cost_model *m, const weft_edges *e, double repeat, weft_cost_acc *a);
/* `steps` steps around the ring r -> r+1, bytes per edge each step. */
void weft_cost_ring_steps(const weft_cost_model *m, double steps, double bytes, weft_cost_acc *a);
/* Binomial tree rooted at 0, one level at a time, full message per edge. */
void weft_cost_tree_levels(const weft_cost_model *m, double bytes, weft_cost_acc *a);
/* ceil(log2(n)). */
int weft_cost_levels(int n);
/* The level the hierarchical algorithms cross: sites when there are several, else nodes. */
static inline const weft_groups *weft_cost_slow_level(const weft_cost_model *m) {
  return m->sites && m->sites->ngroups > 1 ? m->sites : m->nodes;
}

#endif
