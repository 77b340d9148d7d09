#include "exec/plancache.h"

#include <string.h>

weft_plan_key weft_plan_key_of(const weft_call *c) {
  weft_plan_key k = {{
      (uint64_t)c->kind | (uint64_t)c->dt << 8 | (uint64_t)c->op << 16 | (uint64_t)c->algo << 24 |
          (uint64_t)(uint32_t)c->root << 32,
      c->count,
      (uint64_t)(uintptr_t)c->sendbuf,
      (uint64_t)(uintptr_t)c->recvbuf,
      c->chunk_bytes,
      (uint64_t)(uintptr_t)c->groups ^ (uint64_t)c->codec << 56,
  }};
  return k;
}

static int same(const weft_plan_key *a, const weft_plan_key *b) { return memcmp(a, b, sizeof *a) == 0; }

int weft_plan_cache_has_call(const weft_plan_cache *pc, const weft_plan_key *key) {
  return pc->valid && pc->ngroup == 0 && same(&pc->call, key);
}

int weft_plan_cache_has_group(const weft_plan_cache *pc, const weft_plan_key *keys, int n) {
  if (!pc->valid || pc->ngroup != n) return 0;
  for (int i = 0; i < n; i++)
    if (!same(&pc->group[i], &keys[i])) return 0;
  return 1;
}

void weft_plan_cache_set_call(weft_plan_cache *pc, const weft_plan_key *key) {
  pc->call = *key;
  pc->ngroup = 0;
  pc->valid = 1;
}

void weft_plan_cache_set_group(weft_plan_cache *pc, const weft_plan_key *keys, int n) {
  if (n < 1 || n > WEFT_PLAN_GROUP_MAX) return;
  memcpy(pc->group, keys, sizeof *keys * (size_t)n);
  pc->ngroup = n;
  pc->valid = 1;
}

void weft_plan_cache_park(weft_plan_cache *pc, weft_sched *s, int ok) {
  pc->valid = weft_sched_park(s, pc->valid && ok);
}

int weft_plan_cache_tuning(const weft_plan_cache *pc, weft_call *c) {
  const weft_call *t = &pc->tuned;
  if (!pc->tuned_valid || t->kind != c->kind || t->dt != c->dt || t->op != c->op || t->root != c->root ||
      t->count != c->count)
    return 0;
  const void *sb = c->sendbuf;
  void *rb = c->recvbuf;
  uint64_t tag = c->tag;
  *c = *t;
  c->sendbuf = sb;
  c->recvbuf = rb;
  c->tag = tag;
  return 1;
}

void weft_plan_cache_set_tuning(weft_plan_cache *pc, const weft_call *c) {
  pc->tuned = *c;
  pc->tuned_valid = 1;
}
