/* Read access to a built graph. */
#include <stdlib.h>
#include <string.h>

#include "topo/graph_impl.h"

int weft_graph_nranks(const weft_graph *g) { return g->nranks; }
int weft_graph_nnodes(const weft_graph *g) { return g->nnodes; }
int weft_graph_nsites(const weft_graph *g) { return g->nsites; }

static int rank_ok(const weft_graph *g, int r) { return r >= 0 && r < g->nranks; }
static int node_ok(const weft_graph *g, int n) { return n >= 0 && n < g->nnodes; }
static int site_ok(const weft_graph *g, int s) { return s >= 0 && s < g->nsites; }

int weft_graph_site_of_rank(const weft_graph *g, int r) { return rank_ok(g, r) ? g->rank_site[r] : -1; }
int weft_graph_node_of_rank(const weft_graph *g, int r) { return rank_ok(g, r) ? g->rank_node[r] : -1; }
int weft_graph_site_of_node(const weft_graph *g, int n) { return node_ok(g, n) ? g->nodes[n].site : -1; }

const char *weft_graph_site_name(const weft_graph *g, int s) { return site_ok(g, s) ? g->sites[s].name : NULL; }
int weft_graph_find_site(const weft_graph *g, const char *name) { return weft_strmap_get(&g->site_by_name, name); }
const char *weft_graph_node_name(const weft_graph *g, int n) { return node_ok(g, n) ? g->nodes[n].name : NULL; }
uint64_t weft_graph_node_host_id(const weft_graph *g, int n) { return node_ok(g, n) ? g->nodes[n].host_id : 0; }

static int listing(const int *start, const int *list, int k, int ok, const int **out) {
  if (!ok) {
    *out = NULL;
    return 0;
  }
  *out = list + start[k];
  return start[k + 1] - start[k];
}

int weft_graph_node_ranks(const weft_graph *g, int n, const int **out) {
  return listing(g->node_rank_start, g->node_rank_list, n, node_ok(g, n), out);
}
int weft_graph_site_nodes(const weft_graph *g, int s, const int **out) {
  return listing(g->site_node_start, g->site_node_list, s, site_ok(g, s), out);
}
int weft_graph_site_ranks(const weft_graph *g, int s, const int **out) {
  return listing(g->site_rank_start, g->site_rank_list, s, site_ok(g, s), out);
}

const weft_device *weft_graph_rank_device(const weft_graph *g, int r) {
  return rank_ok(g, r) ? &g->nodes[g->rank_node[r]].dev : NULL;
}
const weft_device *weft_graph_node_device(const weft_graph *g, int n) { return node_ok(g, n) ? &g->nodes[n].dev : NULL; }
const weft_device *weft_graph_site_device(const weft_graph *g, int s) { return site_ok(g, s) ? &g->sites[s].dev : NULL; }

const weft_link *weft_graph_node_node_link(const weft_graph *g, int n) {
  return node_ok(g, n) ? &g->nodes[n].node_link : NULL;
}
const weft_link *weft_graph_node_site_link(const weft_graph *g, int n) { return node_ok(g, n) ? &g->nodes[n].link : NULL; }

int weft_graph_site_link(const weft_graph *g, int sa, int sb, weft_link *out) {
  if (!site_ok(g, sa) || !site_ok(g, sb)) return -1;
  if (sa == sb) {
    *out = g->sites[sa].link;
    return WEFT_LINK_SITE;
  }
  *out = g->wan[(size_t)sa * (size_t)g->nsites + (size_t)sb];
  return WEFT_LINK_WAN;
}

int weft_graph_node_link(const weft_graph *g, int na, int nb, weft_link *out) {
  if (!node_ok(g, na) || !node_ok(g, nb)) return -1;
  const weft_gnode *a = &g->nodes[na], *b = &g->nodes[nb];
  if (na == nb) {
    *out = a->node_link;
    return WEFT_LINK_NODE;
  }
  if (a->site != b->site) return weft_graph_site_link(g, a->site, b->site, out);
  /* the slower attachment decides */
  const weft_link *slow = b->link.bw < a->link.bw ? &b->link : &a->link;
  *out = *slow;
  out->lat = a->link.lat > b->link.lat ? a->link.lat : b->link.lat;
  return WEFT_LINK_SITE;
}

int weft_graph_link(const weft_graph *g, int a, int b, weft_link *out) {
  if (!rank_ok(g, a) || !rank_ok(g, b)) return -1;
  if (a == b) {
    *out = g->nodes[g->rank_node[a]].node_link;
    out->lat = 0;
    memcpy(out->transport, "self", 5);
    return WEFT_LINK_SELF;
  }
  return weft_graph_node_link(g, g->rank_node[a], g->rank_node[b], out);
}

int weft_graph_wan_explicit(const weft_graph *g, int sa, int sb) {
  if (!site_ok(g, sa) || !site_ok(g, sb) || sa == sb) return 0;
  return g->wan_set[(size_t)sa * (size_t)g->nsites + (size_t)sb];
}

const weft_topo_defaults *weft_graph_defaults(const weft_graph *g) { return &g->defaults; }

const char *weft_graph_forced_algo(const weft_graph *g, const char *coll, uint64_t bytes) {
  return weft_topo_rules_match(g->rules, g->nrules, coll, bytes);
}
int weft_graph_nrules(const weft_graph *g) { return g->nrules; }
const weft_topo_rule *weft_graph_rule(const weft_graph *g, int i) {
  return i >= 0 && i < g->nrules ? &g->rules[i] : NULL;
}

int weft_graph_set_node_hw(weft_graph *g, int n, const weft_hwinfo *hw) {
  if (!node_ok(g, n)) return -1;
  if (!g->nodes[n].hw && !(g->nodes[n].hw = malloc(sizeof *hw))) return -1;
  *g->nodes[n].hw = *hw;
  return 0;
}
const weft_hwinfo *weft_graph_node_hw(const weft_graph *g, int n) { return node_ok(g, n) ? g->nodes[n].hw : NULL; }

int weft_graph_set_rank_where(weft_graph *g, int rank, const char *line) {
  if (rank < 0 || rank >= g->nranks || !line) return -1;
  if (!g->rank_where && !(g->rank_where = calloc((size_t)g->nranks, sizeof *g->rank_where))) return -1;
  char *copy = strdup(line);
  if (!copy) return -1;
  for (char *p = copy; *p; p++)
    if ((unsigned char)*p < ' ') *p = ' '; /* one line in a dump */
  free(g->rank_where[rank]);
  g->rank_where[rank] = copy;
  return 0;
}
const char *weft_graph_rank_where(const weft_graph *g, int rank) {
  return rank >= 0 && rank < g->nranks && g->rank_where ? g->rank_where[rank] : NULL;
}
