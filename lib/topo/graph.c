/* Building the graph from ranks and an optional file. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topo/graph_impl.h"

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

void weft_graph_free(weft_graph *g) {
  if (!g) return;
  for (int i = 0; i < g->nnodes; i++) {
    free(g->nodes[i].name);
    free(g->nodes[i].hw);
  }
  for (int i = 0; i < g->nsites; i++) free(g->sites[i].name);
  for (int i = 0; g->rank_where && i < g->nranks; i++) free(g->rank_where[i]);
  free(g->rank_where);
  free(g->rank_node);
  free(g->rank_site);
  free(g->nodes);
  free(g->sites);
  free(g->wan);
  free(g->wan_set);
  free(g->rules);
  free(g->node_rank_start);
  free(g->node_rank_list);
  free(g->site_rank_start);
  free(g->site_rank_list);
  free(g->site_node_start);
  free(g->site_node_list);
  weft_strmap_free(&g->site_by_name);
  free(g);
}

/* host id -> node index, open addressing over 2^k slots. */
typedef struct {
  uint64_t *keys;
  int *vals; /* -1 = empty */
  size_t mask;
} idmap;

static int idmap_init(idmap *m, int n) {
  size_t cap = 16;
  while (cap < (size_t)n * 2) cap *= 2;
  m->keys = calloc(cap, sizeof *m->keys);
  m->vals = malloc(cap * sizeof *m->vals);
  m->mask = cap - 1;
  if (!m->keys || !m->vals) return -1;
  for (size_t i = 0; i < cap; i++) m->vals[i] = -1;
  return 0;
}

/* Slot of key: holds it, or is empty. */
static size_t idmap_slot(const idmap *m, uint64_t key) {
  size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & m->mask;
  while (m->vals[i] >= 0 && m->keys[i] != key) i = (i + 1) & m->mask;
  return i;
}

static int valid_site_name(const char *s) {
  if (!*s || strlen(s) > WEFT_SITE_NAME_MAX) return 0;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.' && *s != '_') return 0;
  return 1;
}

/* Start offsets and members of groups (group_of[i] for items 0..n-1), each
 * group's members in item order. */
static int csr(const int *group_of, int n, int ngroups, int **start, int **list) {
  *start = calloc((size_t)ngroups + 1, sizeof **start);
  *list = malloc(((size_t)n + 1) * sizeof **list);
  if (!*start || !*list) return -1;
  for (int i = 0; i < n; i++) (*start)[group_of[i] + 1]++;
  for (int k = 0; k < ngroups; k++) (*start)[k + 1] += (*start)[k];
  int *fill = malloc(((size_t)ngroups + 1) * sizeof *fill);
  if (!fill) return -1;
  memcpy(fill, *start, (size_t)ngroups * sizeof *fill);
  for (int i = 0; i < n; i++) (*list)[fill[group_of[i]]++] = i;
  free(fill);
  return 0;
}

/* Sites and nodes of every rank. */
static int assign(weft_graph *g, const weft_rank_desc *ranks, const weft_topo *file, char *err, size_t errlen) {
  int n = g->nranks;
  idmap ids;
  int rc = idmap_init(&ids, n);
  g->rank_node = malloc((size_t)n * sizeof(int));
  g->rank_site = malloc((size_t)n * sizeof(int));
  g->nodes = calloc((size_t)n, sizeof *g->nodes);
  g->sites = calloc((size_t)n, sizeof *g->sites);
  if (rc || !g->rank_node || !g->rank_site || !g->nodes || !g->sites) rc = fail(err, errlen, "out of memory");
  for (int r = 0; r < n && !rc; r++) {
    const weft_rank_desc *d = &ranks[r];
    if (!d->hostname || !d->hostname[0]) {
      rc = fail(err, errlen, "rank %d has no hostname", r);
      break;
    }
    const char *site = d->site && d->site[0] ? d->site : NULL;
    if (site && !valid_site_name(site)) {
      rc = fail(err, errlen, "rank %d: bad site name '%s' (at most %d letters, digits, '-', '.' and '_')", r, site,
                WEFT_SITE_NAME_MAX);
      break;
    }
    if (!site && file) {
      int fs = weft_topo_site_of_host(file, d->hostname);
      if (fs >= 0) site = file->sites[fs].name;
    }
    if (!site) site = WEFT_DEFAULT_SITE;
    int s = weft_strmap_get(&g->site_by_name, site);
    if (s < 0) {
      s = g->nsites;
      g->sites[s].name = strdup(site);
      if (!g->sites[s].name || weft_strmap_put(&g->site_by_name, g->sites[s].name, s) == -2) {
        free(g->sites[s].name);
        g->sites[s].name = NULL;
        rc = fail(err, errlen, "out of memory");
        break;
      }
      g->nsites++;
    }
    size_t slot = idmap_slot(&ids, d->host_id);
    int nd = ids.vals[slot];
    if (nd < 0) {
      nd = g->nnodes;
      g->nodes[nd].name = strdup(d->hostname);
      if (!g->nodes[nd].name) {
        rc = fail(err, errlen, "out of memory");
        break;
      }
      g->nodes[nd].host_id = d->host_id;
      g->nodes[nd].site = s;
      g->nnodes++;
      ids.keys[slot] = d->host_id;
      ids.vals[slot] = nd;
    } else if (g->nodes[nd].site != s) {
      int first = 0;
      while (g->rank_node[first] != nd) first++;
      rc = fail(err, errlen, "ranks %d and %d share a node (host '%s') but are in sites '%s' and '%s'", first, r,
                g->nodes[nd].name, g->sites[g->nodes[nd].site].name, g->sites[s].name);
      break;
    }
    g->rank_node[r] = nd;
    g->rank_site[r] = s;
  }
  free(ids.keys);
  free(ids.vals);
  return rc;
}

/* Devices and links of sites and nodes, the wan matrix. */
static int attributes(weft_graph *g, const weft_topo *file, char *err, size_t errlen) {
  const weft_topo_defaults *d = &g->defaults;
  for (int s = 0; s < g->nsites; s++) {
    weft_gsite *gs = &g->sites[s];
    gs->link = d->site_link;
    gs->node_link = d->node_link;
    gs->dev = d->device;
    int fs = file ? weft_topo_find_site(file, gs->name) : -1;
    if (fs >= 0) {
      weft_link_apply(&gs->link, &file->sites[fs].link);
      weft_link_apply(&gs->node_link, &file->sites[fs].node_link);
      weft_device_apply(&gs->dev, &file->sites[fs].device, &d->device);
    }
  }
  for (int i = 0; i < g->nnodes; i++) {
    weft_gnode *gn = &g->nodes[i];
    const weft_gsite *gs = &g->sites[gn->site];
    gn->link = gs->link;
    gn->node_link = gs->node_link;
    gn->dev = gs->dev;
    const weft_topo_node *e = file ? weft_topo_node_entry(file, gn->name) : NULL;
    if (e) {
      weft_link_apply(&gn->link, &e->link);
      weft_link_apply(&gn->node_link, &e->node_link);
      weft_device_apply(&gn->dev, &e->device, &d->device);
    }
  }
  size_t ns = (size_t)g->nsites;
  g->wan = malloc(ns * ns * sizeof *g->wan);
  g->wan_set = calloc(ns * ns, 1);
  if (!g->wan || !g->wan_set) return fail(err, errlen, "out of memory");
  for (size_t k = 0; k < ns * ns; k++) g->wan[k] = d->wan_link;
  for (int w = 0; file && w < file->nwans; w++) {
    const weft_topo_wan *fw = &file->wans[w];
    int a = weft_strmap_get(&g->site_by_name, file->sites[fw->a].name);
    int b = weft_strmap_get(&g->site_by_name, file->sites[fw->b].name);
    if (a < 0 || b < 0) continue;
    weft_link l = d->wan_link;
    weft_link_apply(&l, &fw->link);
    g->wan[(size_t)a * ns + (size_t)b] = l;
    g->wan_set[(size_t)a * ns + (size_t)b] = 1;
    if (!fw->oneway) {
      g->wan[(size_t)b * ns + (size_t)a] = l;
      g->wan_set[(size_t)b * ns + (size_t)a] = 1;
    }
  }
  if (file && file->nrules) {
    g->rules = malloc((size_t)file->nrules * sizeof *g->rules);
    if (!g->rules) return fail(err, errlen, "out of memory");
    memcpy(g->rules, file->rules, (size_t)file->nrules * sizeof *g->rules);
    g->nrules = file->nrules;
  }
  return 0;
}

int weft_graph_build(const weft_rank_desc *ranks, int nranks, const weft_topo *file, weft_graph **out, char *err,
                     size_t errlen) {
  *out = NULL;
  if (nranks < 1 || !ranks) return fail(err, errlen, "a graph needs at least one rank (got %d)", nranks);
  weft_graph *g = calloc(1, sizeof *g);
  if (!g) return fail(err, errlen, "out of memory");
  g->nranks = nranks;
  weft_strmap_init(&g->site_by_name);
  if (file)
    g->defaults = file->defaults;
  else
    weft_topo_builtin_defaults(&g->defaults);
  int rc = assign(g, ranks, file, err, errlen);
  if (!rc) rc = attributes(g, file, err, errlen);
  if (!rc) {
    int *node_site = malloc(((size_t)g->nnodes + 1) * sizeof *node_site);
    if (!node_site) rc = fail(err, errlen, "out of memory");
    for (int i = 0; !rc && i < g->nnodes; i++) node_site[i] = g->nodes[i].site;
    if (!rc && (csr(g->rank_node, nranks, g->nnodes, &g->node_rank_start, &g->node_rank_list) ||
                csr(g->rank_site, nranks, g->nsites, &g->site_rank_start, &g->site_rank_list) ||
                csr(node_site, g->nnodes, g->nsites, &g->site_node_start, &g->site_node_list)))
      rc = fail(err, errlen, "out of memory");
    free(node_site);
  }
  if (rc) {
    weft_graph_free(g);
    return -1;
  }
  *out = g;
  return 0;
}
