#include "coll/coll.h"

#include "coll/algo.h"

/* The message algorithms every collective has, for calls whose algorithm
 * has no builder for them. */
static const weft_algo fallback[] = {ALGO_RING, ALGO_PAIRWISE, ALGO_P2P};

int weft_coll_build(weft_sched *s, const weft_call *c, int rank, int nranks) {
  if ((unsigned)c->kind >= WEFT_COLL_KINDS) return -1;
  const weft_algo_info *e = weft_algo_info_of(c->algo);
  weft_call_builder b = e ? e->build[c->kind] : NULL;
  for (size_t i = 0; !b && i < sizeof fallback / sizeof *fallback; i++)
    b = weft_algo_info_of(fallback[i])->build[c->kind];
  s->call_count = c->count;
  return b ? b(s, c, rank, nranks) : -1;
}
