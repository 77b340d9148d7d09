/* Structural equality of two graphs (for dump round trips). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "topo/graph_impl.h"

static int differ(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int differ(char *why, size_t len, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  if (why && len) vsnprintf(why, len, fmt, ap);
  va_end(ap);
  return 0;
}

static int same_defaults(const weft_topo_defaults *a, const weft_topo_defaults *b) {
  return weft_link_equal(&a->node_link, &b->node_link) && weft_link_equal(&a->site_link, &b->site_link) &&
         weft_link_equal(&a->wan_link, &b->wan_link) && weft_device_equal(&a->device, &b->device);
}

static int same_rule(const weft_topo_rule *a, const weft_topo_rule *b) {
  return !strcmp(a->coll, b->coll) && !strcmp(a->algo, b->algo) && a->min_size == b->min_size &&
         a->max_size == b->max_size;
}

int weft_graph_equal(const weft_graph *a, const weft_graph *b, char *why, size_t len) {
  if (a->nranks != b->nranks || a->nnodes != b->nnodes || a->nsites != b->nsites)
    return differ(why, len, "sizes differ: %d/%d/%d vs %d/%d/%d ranks/nodes/sites", a->nranks, a->nnodes, a->nsites,
                  b->nranks, b->nnodes, b->nsites);
  for (int r = 0; r < a->nranks; r++)
    if (a->rank_node[r] != b->rank_node[r] || a->rank_site[r] != b->rank_site[r])
      return differ(why, len, "rank %d: node/site %d/%d vs %d/%d", r, a->rank_node[r], a->rank_site[r],
                    b->rank_node[r], b->rank_site[r]);
  for (int s = 0; s < a->nsites; s++) {
    const weft_gsite *x = &a->sites[s], *y = &b->sites[s];
    if (strcmp(x->name, y->name)) return differ(why, len, "site %d: name '%s' vs '%s'", s, x->name, y->name);
    if (!weft_device_equal(&x->dev, &y->dev)) return differ(why, len, "site '%s': devices differ", x->name);
    if (!weft_link_equal(&x->link, &y->link)) return differ(why, len, "site '%s': links differ", x->name);
    if (!weft_link_equal(&x->node_link, &y->node_link))
      return differ(why, len, "site '%s': node links differ", x->name);
  }
  for (int n = 0; n < a->nnodes; n++) {
    const weft_gnode *x = &a->nodes[n], *y = &b->nodes[n];
    if (strcmp(x->name, y->name)) return differ(why, len, "node %d: name '%s' vs '%s'", n, x->name, y->name);
    if (x->site != y->site) return differ(why, len, "node '%s': site %d vs %d", x->name, x->site, y->site);
    if (!weft_device_equal(&x->dev, &y->dev)) return differ(why, len, "node '%s': devices differ", x->name);
    if (!weft_link_equal(&x->link, &y->link)) return differ(why, len, "node '%s': links differ", x->name);
    if (!weft_link_equal(&x->node_link, &y->node_link))
      return differ(why, len, "node '%s': node links differ", x->name);
  }
  if (!same_defaults(&a->defaults, &b->defaults)) return differ(why, len, "defaults differ");
  for (int i = 0; i < a->nsites; i++)
    for (int j = 0; j < a->nsites; j++) {
      size_t k = (size_t)i * (size_t)a->nsites + (size_t)j;
      if (i != j && !weft_link_equal(&a->wan[k], &b->wan[k]))
        return differ(why, len, "wan link %s -> %s differs", a->sites[i].name, a->sites[j].name);
    }
  if (a->nrules != b->nrules) return differ(why, len, "%d vs %d tuning rules", a->nrules, b->nrules);
  for (int i = 0; i < a->nrules; i++)
    if (!same_rule(&a->rules[i], &b->rules[i])) return differ(why, len, "tuning rule %d differs", i);
  if (why && len) why[0] = '\0';
  return 1;
}
