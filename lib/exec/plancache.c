#include "exec/plancache.h"

int weft_plan_cache_has_group(const weft_plan_cache *pc, const weft_plan_key *keys, int n) {
  if (!pc->valid || pc->ngroup != n) return 0;
  for (int i = 0; i < n; i++)
    if (!weft_plan_key_eq(&pc->group[i], &keys[i])) return 0;
  return 1;
}

void weft_plan_cache_set_group(weft_plan_cache *pc, const weft_plan_key *keys, int n) {
  if (n < 1 || n > WEFT_PLAN_GROUP_MAX) return;
  memcpy(pc->group, keys, sizeof *keys * (size_t)n);
  pc->ngroup = n;
  pc->valid = 1;
}
