#include "tune/cost.h"

#include <math.h>

#include "coll/algo.h"

static weft_cost finish(const weft_cost_acc *a) {
  weft_cost c = {a->time, WEFT_LC_NODE, 0};
  for (int k = 0; k < WEFT_LC_N; k++)
    if (a->per_class[k] > c.bottleneck_time) c.bottleneck_time = a->per_class[k], c.bottleneck = (weft_link_class)k;
  return c;
}

int weft_cost_predict(const weft_cost_model *m, weft_coll_kind kind, weft_algo algo, size_t bytes, weft_cost *out) {
  const weft_algo_info *e = weft_algo_info_of(algo);
  if (m->n <= 1) { /* nothing moves, whatever the algorithm */
    *out = (weft_cost){0};
    return 0;
  }
  if (!e || !e->cost) return -1;
  weft_cost_acc a = {0};
  int rc = e->cost(m, kind, (double)bytes, &a);
  weft_edges_free(&a.e);
  if (rc != 0) return -1;
  *out = finish(&a);
  return 0;
}

weft_algo weft_cost_choose(const weft_cost_model *m, weft_coll_kind kind, size_t bytes, weft_cost *out) {
  weft_algo best = ALGO_NONE;
  weft_cost best_c = {INFINITY, WEFT_LC_NODE, 0}, c;
  for (int i = 0; i < weft_nalgos; i++)
    if (weft_algos[i].cost && weft_cost_predict(m, kind, weft_algos[i].id, bytes, &c) == 0 && c.time < best_c.time)
      best = weft_algos[i].id, best_c = c;
  if (out) *out = best_c;
  return best;
}
