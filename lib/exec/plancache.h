/* The plan cache of one op: which call (or point-to-point group) the op's
 * schedule was built for, so an identical call rearms that schedule instead
 * of building it again, and the tuning of the last call, so a repeated call
 * is not tuned again. Training loops repeat the same calls; these two caches
 * are what keeps a repeated small call in the sub-microsecond range. */
#ifndef WEFT_PLANCACHE_H
#define WEFT_PLANCACHE_H

#include <stdint.h>
#include <string.h>

#include "coll/coll.h"

#define WEFT_PLAN_GROUP_MAX 8 /* point-to-point calls in a group whose plan is kept */

/* What makes two calls build the same schedule (the tag aside). */
typedef struct {
  uint64_t w[7];
} weft_plan_key;

typedef struct {
  weft_plan_key call;                         /* the one call the plan was built for */
  weft_plan_key group[WEFT_PLAN_GROUP_MAX];   /* or the calls of a point-to-point group */
  int ngroup;                                 /* 0: one call */
  int valid;                                  /* the op's schedule is that plan */
  weft_call tuned;                            /* the last call tuned through this cache */
  int tuned_valid;
} weft_plan_cache;

/* Inline below: they run on every call of the small-message fast path. */

static inline weft_plan_key weft_plan_key_of(const weft_call *c) {
  weft_plan_key k = {{
      (uint64_t)c->kind | (uint64_t)c->dt << 8 | (uint64_t)c->op << 16 | (uint64_t)c->algo << 24 |
          (uint64_t)(uint32_t)c->root << 32,
      c->count,
      (uint64_t)(uintptr_t)c->sendbuf,
      (uint64_t)(uintptr_t)c->recvbuf,
      c->chunk_bytes,
      (uint64_t)(uintptr_t)c->groups ^ (uint64_t)c->codec << 56,
      c->vhash, /* the v-variants: other counts, another plan */
  }};
  return k;
}

static inline int weft_plan_key_eq(const weft_plan_key *a, const weft_plan_key *b) {
  return memcmp(a, b, sizeof *a) == 0;
}

/* Whether the op's schedule is the plan of the call with this key. */
static inline int weft_plan_cache_has_call(const weft_plan_cache *pc, const weft_plan_key *key) {
  return pc->valid && pc->ngroup == 0 && weft_plan_key_eq(&pc->call, key);
}
/* Whether it is the plan of the point-to-point group of n calls with these keys. */
int weft_plan_cache_has_group(const weft_plan_cache *pc, const weft_plan_key *keys, int n);

/* Records that the op's schedule was built for this call. */
static inline void weft_plan_cache_set_call(weft_plan_cache *pc, const weft_plan_key *key) {
  pc->call = *key;
  pc->ngroup = 0;
  pc->valid = 1;
}
/* ... for this group of n point-to-point calls. */
void weft_plan_cache_set_group(weft_plan_cache *pc, const weft_plan_key *keys, int n);

/* The op's schedule is being rebuilt or was dropped: no plan. */
static inline void weft_plan_cache_forget(weft_plan_cache *pc) { pc->valid = 0; }

/* After a run (ok: it succeeded): keeps the plan for the next identical
 * call, or resets s when there is none to keep, the run failed or its
 * scratch is too large to hold on to. */
static inline void weft_plan_cache_park(weft_plan_cache *pc, weft_sched *s, int ok) {
  pc->valid = weft_sched_park(s, pc->valid && ok);
}

/* A call of the same kind, type, op, root and count (and counts) as the last one tuned
 * here takes that tuning (its buffers and tag stay): returns 1. Else 0. */
static inline int weft_plan_cache_tuning(const weft_plan_cache *pc, weft_call *c) {
  const weft_call *t = &pc->tuned;
  if (!pc->tuned_valid || t->kind != c->kind || t->dt != c->dt || t->op != c->op || t->root != c->root ||
      t->count != c->count || t->vhash != c->vhash)
    return 0;
  const void *sb = c->sendbuf;
  void *rb = c->recvbuf;
  const size_t *vec = c->vec;
  uint64_t tag = c->tag;
  *c = *t;
  c->sendbuf = sb;
  c->recvbuf = rb;
  c->vec = vec;
  c->tag = tag;
  return 1;
}

static inline void weft_plan_cache_set_tuning(weft_plan_cache *pc, const weft_call *c) {
  pc->tuned = *c;
  pc->tuned_valid = 1;
}

#endif
