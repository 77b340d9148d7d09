#include "topo/file.h"

#include <stdlib.h>
#include <string.h>

void weft_topo_free(weft_topo *t) {
  if (!t) return;
  for (int i = 0; i < t->nsites; i++) {
    for (size_t j = 0; j < t->sites[i].nnodes; j++) free(t->sites[i].nodes[j]);
    free(t->sites[i].nodes);
  }
  for (int i = 0; i < t->nnodes; i++) free(t->nodes[i].name);
  free(t->sites);
  free(t->nodes);
  free(t->wans);
  free(t->rules);
  weft_strmap_free(&t->site_by_name);
  weft_strmap_free(&t->site_by_host);
  weft_strmap_free(&t->node_by_host);
  free(t);
}

int weft_topo_find_site(const weft_topo *t, const char *name) { return weft_strmap_get(&t->site_by_name, name); }

int weft_topo_site_of_host(const weft_topo *t, const char *host) { return weft_strmap_get(&t->site_by_host, host); }

const weft_topo_node *weft_topo_node_entry(const weft_topo *t, const char *host) {
  int i = weft_strmap_get(&t->node_by_host, host);
  return i < 0 ? NULL : &t->nodes[i];
}

const weft_topo_wan *weft_topo_wan_entry(const weft_topo *t, int a, int b) {
  for (int i = 0; i < t->nwans; i++) {
    const weft_topo_wan *w = &t->wans[i];
    if ((w->a == a && w->b == b) || (!w->oneway && w->a == b && w->b == a)) return w;
  }
  return NULL;
}

size_t weft_topo_count_hosts(const weft_topo *t) {
  size_t n = t->site_by_host.n;
  for (int i = 0; i < t->nnodes; i++)
    if (weft_strmap_get(&t->site_by_host, t->nodes[i].name) < 0) n++;
  return n;
}

const char *weft_topo_rules_match(const weft_topo_rule *rules, int nrules, const char *coll, uint64_t bytes) {
  for (int i = 0; i < nrules; i++) {
    const weft_topo_rule *r = &rules[i];
    if ((!strcmp(r->coll, "all") || !strcmp(r->coll, coll)) && bytes >= r->min_size && bytes <= r->max_size)
      return r->algo;
  }
  return NULL;
}
