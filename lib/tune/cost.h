/* Alpha-beta cost model of weft's algorithms over a communicator's layout.
 *
 * Links fall in three classes: between ranks of one node, between nodes of
 * one site, and between sites. Each class has a latency alpha (s) and a
 * bandwidth beta (bytes/s). A link between two groups (nodes or sites) is
 * shared by every message that crosses it in the same direction in the same
 * step, which is what makes a flat ring pay more on slow links than the
 * hierarchical algorithm. Host reductions run at `reduce_bw` bytes/s.
 * The model predicts the time of a collective per algorithm; the tuner picks
 * the smallest and `weft-topo explain` prints the figures. */
#ifndef WEFT_COST_H
#define WEFT_COST_H

#include <stddef.h>

#include "coll/coll.h"

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

/* Predicted time of `algo` for `kind` moving `bytes` per rank (the call's
 * count x dtype size). Returns 0 and fills *out, or -1 when the model has no
 * formula for this pair. */
int weft_cost_predict(const weft_cost_model *m, weft_coll_kind kind, weft_algo algo, size_t bytes, weft_cost *out);

/* The cheapest algorithm for kind and bytes among those the library
 * implements for it; *out gets its cost (may be NULL). */
weft_algo weft_cost_choose(const weft_cost_model *m, weft_coll_kind kind, size_t bytes, weft_cost *out);

#endif
