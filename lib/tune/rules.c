/* The topology file's tuning rules, turned from names into algorithms once:
 * the topology layer keeps them as it read them, and knows no algorithm. */
#include <stdlib.h>
#include <string.h>

#include "topo/graph.h"
#include "tune/tune.h"

static weft_coll_kind kind_named(const char *coll) {
  for (int k = COLL_ALLREDUCE; k < WEFT_COLL_KINDS; k++)
    if (!strcmp(coll, weft_coll_name((weft_coll_kind)k))) return (weft_coll_kind)k;
  return (weft_coll_kind)0; /* "all" */
}

int weft_tune_rules_resolve(const weft_graph *g, weft_tune_rule **out, int *n) {
  int nr = weft_graph_nrules(g);
  *out = NULL;
  *n = 0;
  if (nr <= 0) return 0;
  weft_tune_rule *r = calloc((size_t)nr, sizeof *r);
  if (!r) return -1;
  for (int i = 0; i < nr; i++) {
    const weft_topo_rule *t = weft_graph_rule(g, i);
    r[i] = (weft_tune_rule){kind_named(t->coll), t->min_size, t->max_size, weft_algo_by_rule_name(t->algo)};
  }
  *out = r;
  *n = nr;
  return 0;
}

weft_algo weft_tune_rule_algo(const weft_tune_rule *rules, int n, weft_coll_kind kind, size_t bytes) {
  if (kind > COLL_REDUCE) return ALGO_NONE;
  for (int i = 0; i < n; i++) {
    const weft_tune_rule *r = &rules[i];
    if ((r->kind == 0 || r->kind == kind) && bytes >= r->min_bytes && bytes <= r->max_bytes)
      return weft_algo_supported(kind, r->algo) ? r->algo : ALGO_NONE;
  }
  return ALGO_NONE;
}
