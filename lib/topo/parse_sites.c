/* The sites, nodes and wan sections. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topo/hint.h"
#include "topo/hostlist.h"
#include "topo/parse.h"

static const char *const site_keys[] = {"name", "nodes", "link", "node_link", "device", NULL};
static const char *const node_keys[] = {"name", "link", "node_link", "device", NULL};
static const char *const wan_keys[] = {"between", "bandwidth", "latency", "transport", "codec",
                                       "streams", "oneway",    NULL};

/* Expands the hostlist in scalar n into a new array. */
static int expand(ty_ctx *c, const yaml_node_t *n, const char *key, char ***names, size_t *count) {
  const char *s = NULL;
  *names = NULL;
  *count = 0;
  if (n->type != YAML_SCALAR_NODE)
    return weft_ty_fail(c, n, "'%s' items must be host names or hostlists, got %s (quote hostlists inside [...]: \"gpu[01-16]\")",
                   key, weft_ty_type_name(n));
  if (weft_ty_scalar(c, n, key, &s)) return -1;
  char why[400];
  size_t cap = 0;
  if (weft_hostlist_expand(s, WEFT_HOSTLIST_MAX, names, count, &cap, why, sizeof why)) {
    weft_hostlist_free(*names, *count);
    *names = NULL;
    *count = 0;
    return weft_ty_fail(c, n, "%s", why);
  }
  return 0;
}

static int site_name(ty_ctx *c, const yaml_node_t *n, char *out) {
  if (weft_ty_string(c, n, "name", out, WEFT_SITE_NAME_MAX + 1)) return -1;
  if (!out[0]) return weft_ty_fail(c, n, "site name must not be empty");
  for (const char *p = out; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
      return weft_ty_fail(c, n, "bad site name '%s': use letters, digits, '-', '.' and '_'", out);
  return 0;
}

/* Adds the hosts of one `nodes` item to site i. */
static int site_hosts(ty_ctx *c, const yaml_node_t *item, weft_topo *t, int i) {
  weft_topo_site *s = &t->sites[i];
  char **names;
  size_t n;
  if (expand(c, item, "nodes", &names, &n)) return -1;
  char **grown = realloc(s->nodes, (s->nnodes + n + 1) * sizeof *grown);
  if (!grown) {
    weft_hostlist_free(names, n);
    return weft_ty_fail(c, item, "out of memory");
  }
  s->nodes = grown;
  int rc = 0;
  size_t k = 0;
  for (; k < n && !rc; k++) {
    s->nodes[s->nnodes++] = names[k];
    int prev = weft_strmap_put(&t->site_by_host, names[k], i);
    if (prev == -2)
      rc = weft_ty_fail(c, item, "out of memory");
    else if (prev == i)
      rc = weft_ty_fail(c, item, "node '%s' is listed twice in site '%s'", names[k], s->name);
    else if (prev >= 0)
      rc = weft_ty_fail(c, item, "node '%s' is already in site '%s' (line %d)", names[k], t->sites[prev].name,
                   t->sites[prev].line);
    else if (t->site_by_host.n > WEFT_TOPO_MAX_NODES)
      rc = weft_ty_fail(c, item, "too many nodes in sites (more than %d)", WEFT_TOPO_MAX_NODES);
  }
  for (; k < n; k++) free(names[k]);
  free(names);
  return rc;
}

static int one_site(ty_ctx *c, const yaml_node_t *e, weft_topo *t, int i) {
  weft_topo_site *s = &t->sites[i];
  s->line = weft_ty_line(e);
  if (weft_ty_map(c, e, "site entry", site_keys)) return -1;
  yaml_node_t *v = weft_ty_get(c, e, "name");
  if (!v) return weft_ty_fail(c, e, "site entry is missing 'name'");
  if (site_name(c, v, s->name)) return -1;
  int prev = weft_strmap_put(&t->site_by_name, s->name, i);
  if (prev == -2) return weft_ty_fail(c, v, "out of memory");
  if (prev >= 0) return weft_ty_fail(c, v, "duplicate site name '%s' (first defined at line %d)", s->name, t->sites[prev].line);
  t->nsites = i + 1;
  if ((v = weft_ty_get(c, e, "nodes"))) {
    if (v->type == YAML_SCALAR_NODE && !weft_ty_is_null(v)) {
      if (site_hosts(c, v, t, i)) return -1;
    } else {
      yaml_node_item_t *items;
      size_t n;
      if (weft_ty_list(c, v, "nodes", &items, &n)) return -1;
      for (size_t k = 0; k < n; k++)
        if (site_hosts(c, weft_ty_item(c, items[k]), t, i)) return -1;
    }
  }
  char what[128];
  snprintf(what, sizeof what, "link of site '%s'", s->name);
  if ((v = weft_ty_get(c, e, "link")) && weft_tp_link(c, v, 0, what, &s->link)) return -1;
  snprintf(what, sizeof what, "node_link of site '%s'", s->name);
  if ((v = weft_ty_get(c, e, "node_link")) && weft_tp_link(c, v, 0, what, &s->node_link)) return -1;
  snprintf(what, sizeof what, "device of site '%s'", s->name);
  if ((v = weft_ty_get(c, e, "device")) && weft_tp_device(c, v, what, &s->device)) return -1;
  return 0;
}

int weft_tp_sites(ty_ctx *c, const yaml_node_t *n, weft_topo *t) {
  yaml_node_item_t *items;
  size_t count;
  if (weft_ty_list(c, n, "sites", &items, &count)) return -1;
  if (!count) return 0;
  t->sites = calloc(count, sizeof *t->sites);
  if (!t->sites) return weft_ty_fail(c, n, "out of memory");
  for (size_t i = 0; i < count; i++)
    if (one_site(c, weft_ty_item(c, items[i]), t, (int)i)) return -1;
  return 0;
}

static int one_node_entry(ty_ctx *c, const yaml_node_t *e, weft_topo *t) {
  if (weft_ty_map(c, e, "node entry", node_keys)) return -1;
  yaml_node_t *v = weft_ty_get(c, e, "name");
  if (!v) return weft_ty_fail(c, e, "node entry is missing 'name'");
  weft_topo_node proto;
  memset(&proto, 0, sizeof proto);
  proto.line = weft_ty_line(e);
  const char *label = v->type == YAML_SCALAR_NODE ? (const char *)v->data.scalar.value : "?";
  char what[160];
  yaml_node_t *x;
  snprintf(what, sizeof what, "link of node '%s'", label);
  if ((x = weft_ty_get(c, e, "link")) && weft_tp_link(c, x, 0, what, &proto.link)) return -1;
  snprintf(what, sizeof what, "node_link of node '%s'", label);
  if ((x = weft_ty_get(c, e, "node_link")) && weft_tp_link(c, x, 0, what, &proto.node_link)) return -1;
  snprintf(what, sizeof what, "device of node '%s'", label);
  if ((x = weft_ty_get(c, e, "device")) && weft_tp_device(c, x, what, &proto.device)) return -1;

  char **names;
  size_t n;
  if (expand(c, v, "name", &names, &n)) return -1;
  int rc = 0;
  size_t k = 0;
  if ((size_t)t->nnodes + n > WEFT_TOPO_MAX_NODES) rc = weft_ty_fail(c, v, "too many node entries (more than %d)", WEFT_TOPO_MAX_NODES);
  weft_topo_node *grown = rc ? NULL : realloc(t->nodes, ((size_t)t->nnodes + n + 1) * sizeof *grown);
  if (!rc && !grown) rc = weft_ty_fail(c, v, "out of memory");
  if (!rc) t->nodes = grown;
  for (; k < n && !rc; k++) {
    weft_topo_node *nd = &t->nodes[t->nnodes];
    *nd = proto;
    nd->name = names[k];
    int prev = weft_strmap_put(&t->node_by_host, nd->name, t->nnodes);
    t->nnodes++;
    if (prev == -2)
      rc = weft_ty_fail(c, v, "out of memory");
    else if (prev >= 0)
      rc = weft_ty_fail(c, v, "node '%s' already has an entry in 'nodes' (line %d)", nd->name, t->nodes[prev].line);
  }
  for (; k < n; k++) free(names[k]);
  free(names);
  return rc;
}

int weft_tp_nodes(ty_ctx *c, const yaml_node_t *n, weft_topo *t) {
  yaml_node_item_t *items;
  size_t count;
  if (weft_ty_list(c, n, "nodes", &items, &count)) return -1;
  for (size_t i = 0; i < count; i++)
    if (one_node_entry(c, weft_ty_item(c, items[i]), t)) return -1;
  return 0;
}

static int between_site(ty_ctx *c, const yaml_node_t *n, const weft_topo *t, int *out) {
  const char *s = NULL;
  if (weft_ty_scalar(c, n, "between", &s)) return -1;
  *out = weft_topo_find_site(t, s);
  if (*out >= 0) return 0;
  const char **names = calloc((size_t)t->nsites + 1, sizeof *names);
  if (!names) return weft_ty_fail(c, n, "out of memory");
  for (int i = 0; i < t->nsites; i++) names[i] = t->sites[i].name;
  const char *h = weft_hint(s, names);
  int rc = h ? weft_ty_fail(c, n, "unknown site '%s' in 'between'; did you mean '%s'?", s, h)
             : weft_ty_fail(c, n, "unknown site '%s' in 'between' (sites must be listed under 'sites')", s);
  free(names);
  return rc;
}

static int covers(const weft_topo_wan *w, int a, int b) {
  return (w->a == a && w->b == b) || (!w->oneway && w->a == b && w->b == a);
}

static int one_wan(ty_ctx *c, const yaml_node_t *e, weft_topo *t) {
  if (weft_ty_map(c, e, "wan link", wan_keys)) return -1;
  weft_topo_wan w;
  memset(&w, 0, sizeof w);
  w.line = weft_ty_line(e);
  yaml_node_t *v = weft_ty_get(c, e, "between");
  if (!v) return weft_ty_fail(c, e, "wan link is missing 'between' (e.g. between: [east, west])");
  if (v->type != YAML_SEQUENCE_NODE) return weft_ty_fail(c, v, "'between' must be a list of 2 site names, got %s", weft_ty_type_name(v));
  yaml_node_item_t *items = v->data.sequence.items.start;
  size_t n = (size_t)(v->data.sequence.items.top - items);
  if (n != 2) return weft_ty_fail(c, v, "'between' needs exactly 2 site names, got %zu", n);
  if (between_site(c, weft_ty_item(c, items[0]), t, &w.a) || between_site(c, weft_ty_item(c, items[1]), t, &w.b)) return -1;
  if (w.a == w.b) return weft_ty_fail(c, v, "'between' names site '%s' twice", t->sites[w.a].name);
  if ((v = weft_ty_get(c, e, "oneway")) && weft_ty_bool(c, v, "oneway", &w.oneway)) return -1;
  if (weft_tp_link_fields(c, e, 1, "wan link", &w.link)) return -1;
  for (int i = 0; i < t->nwans; i++) {
    const weft_topo_wan *o = &t->wans[i];
    int ab = covers(o, w.a, w.b), ba = !w.oneway && covers(o, w.b, w.a);
    if (ab || ba)
      return weft_ty_fail(c, e, "WAN link %s -> %s is already defined at line %d", t->sites[ab ? w.a : w.b].name,
                     t->sites[ab ? w.b : w.a].name, o->line);
  }
  t->wans[t->nwans++] = w;
  return 0;
}

int weft_tp_wan(ty_ctx *c, const yaml_node_t *n, weft_topo *t) {
  yaml_node_item_t *items;
  size_t count;
  if (weft_ty_list(c, n, "wan", &items, &count)) return -1;
  if (!count) return 0;
  t->wans = calloc(count, sizeof *t->wans);
  if (!t->wans) return weft_ty_fail(c, n, "out of memory");
  for (size_t i = 0; i < count; i++)
    if (one_wan(c, weft_ty_item(c, items[i]), t)) return -1;
  return 0;
}
