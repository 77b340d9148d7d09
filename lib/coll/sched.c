#include "coll/sched.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void weft_sched_init(weft_sched *s) {
  memset(s, 0, sizeof *s);
  s->base_dep = NODEP;
  s->slots_last = NODEP;
}

/* Scratch buffers larger than this are returned to the allocator at reset
 * instead of being kept for the next call; a parked plan keeps up to
 * SCHED_PLAN_BYTES of scratch (a training loop repeats one large call, and
 * faulting its scratch in again each time costs milliseconds). */
#define SCHED_KEEP_BYTES ((size_t)8 << 20)
#define SCHED_PLAN_BYTES ((size_t)256 << 20)

void weft_sched_reset(weft_sched *s) {
  int kept = 0;
  for (int i = 0; i < s->nkept; i++) {
    if (s->alloc_cap[i] > SCHED_KEEP_BYTES) {
      free(s->allocs[i]);
      continue;
    }
    s->allocs[kept] = s->allocs[i];
    s->alloc_cap[kept++] = s->alloc_cap[i];
  }
  s->nkept = kept;
  s->nallocs = s->nsteps = s->nedges = 0;
  s->gen++;
  s->oom = 0;
  s->peer_map = NULL;
  s->base_dep = NODEP;
  s->slots_last = NODEP;
}

void weft_sched_free(weft_sched *s) {
  for (int i = 0; i < s->nkept; i++) free(s->allocs[i]);
  free(s->allocs);
  free(s->alloc_cap);
  free(s->steps);
  free(s->edges);
  memset(s, 0, sizeof *s);
}

static int grow(void **p, int *cap, int need, size_t elem) {
  if (need <= *cap) return 0;
  int nc = *cap ? *cap * 2 : 64;
  while (nc < need) nc *= 2;
  void *np = realloc(*p, (size_t)nc * elem);
  if (!np) return -1;
  *p = np;
  *cap = nc;
  return 0;
}

void weft_sched_dep(weft_sched *s, int from, int to) {
  if (s->oom || from == NODEP || to == NODEP) return;
  if (grow((void **)&s->edges, &s->ecap, s->nedges + 1, sizeof *s->edges)) {
    s->oom = 1;
    return;
  }
  weft_edge *e = &s->edges[s->nedges];
  e->to = to;
  e->next = s->steps[from].succ;
  s->steps[from].succ = s->nedges++;
  s->steps[to].npending++;
  s->steps[to].npending0++;
}

void weft_sched_drop_scratch(weft_sched *s) {
  if (s->nsteps || s->nkept) weft_sched_reset(s);
}

int weft_sched_park(weft_sched *s, int keep) {
  size_t held = 0;
  for (int i = 0; i < s->nkept; i++) held += s->alloc_cap[i];
  if (keep && held <= SCHED_PLAN_BYTES) return 1;
  weft_sched_reset(s);
  return 0;
}

void weft_sched_rearm(weft_sched *s, uint64_t tag) {
  for (int i = 0; i < s->nsteps; i++) {
    weft_step *st = &s->steps[i];
    st->state = 0;
    st->npending = st->npending0;
    if (!tag) continue;
    if (st->kind == ST_SEND || st->kind == ST_RECV) st->msg.tag = tag;
    else if (st->kind == ST_SLOTS) st->slots.tag = tag;
  }
}

int weft_sched_add(weft_sched *s, const weft_step *st, int d0, int d1, int d2) {
  if (s->oom) return NODEP;
  if (grow((void **)&s->steps, &s->cap, s->nsteps + 1, sizeof *s->steps)) {
    s->oom = 1;
    return NODEP;
  }
  if (d0 == NODEP && d1 == NODEP && d2 == NODEP) d0 = s->base_dep;
  s->gen++;
  int idx = s->nsteps++;
  s->steps[idx] = *st;
  s->steps[idx].npending = s->steps[idx].npending0 = 0;
  s->steps[idx].succ = -1;
  s->steps[idx].state = 0;
  weft_sched_dep(s, d0, idx);
  if (d1 != d0) weft_sched_dep(s, d1, idx);
  if (d2 != d0 && d2 != d1) weft_sched_dep(s, d2, idx);
  return s->oom ? NODEP : idx;
}

/* A builder's peer index as a rank (sub-schedules map them). */
static int32_t map_peer(const weft_sched *s, int peer) { return s->peer_map ? s->peer_map[peer] : peer; }

int weft_sched_send(weft_sched *s, int peer, const void *src, size_t bytes, uint64_t tag, int d0, int d1) {
  weft_step st = {.kind = ST_SEND, .msg = {.peer = map_peer(s, peer), .src = src, .n = bytes, .tag = tag}};
  return weft_sched_add(s, &st, d0, d1, NODEP);
}

int weft_sched_recv(weft_sched *s, int peer, void *dst, size_t bytes, uint64_t tag, int d0, int d1) {
  weft_step st = {.kind = ST_RECV, .msg = {.peer = map_peer(s, peer), .dst = dst, .n = bytes, .tag = tag}};
  return weft_sched_add(s, &st, d0, d1, NODEP);
}

int weft_sched_reduce(weft_sched *s, void *dst, const void *a, const void *b, size_t count,
                 weftDataType_t dt, weftRedOp_t op, int d0, int d1, int d2) {
  weft_step st = {.kind = ST_REDUCE,
                  .reduce = {.dt = (uint8_t)dt, .op = (uint8_t)op, .dst = dst, .a = a, .b = b, .count = count}};
  return weft_sched_add(s, &st, d0, d1, d2);
}

int weft_sched_copy(weft_sched *s, void *dst, const void *src, size_t bytes, int d0, int d1) {
  weft_step st = {.kind = ST_COPY, .copy = {.dst = dst, .src = src, .n = bytes}};
  return weft_sched_add(s, &st, d0, d1, NODEP);
}

int weft_sched_avg(weft_sched *s, void *buf, size_t count, weftDataType_t dt, int nranks, int d0) {
  weft_step st = {.kind = ST_AVG, .avg = {.dt = (uint8_t)dt, .nranks = nranks, .buf = buf, .count = count}};
  return weft_sched_add(s, &st, d0, NODEP, NODEP);
}

/* Large scratch in transparent huge pages: a call's scratch is written for
 * the first time during the call, and on a VM a 4 KiB page costs about
 * 12 µs to fault in (a fresh 64 MiB buffer 220-250 ms, in 2 MiB pages
 * 6-7 ms), which was most of what the first 64 MiB allreduce across the WAN
 * lab took more than the next ones. Where THP is off (or "never") the
 * advice is ignored and nothing changes. *bytes is rounded up to what is
 * allocated. */
#define SCRATCH_HUGE ((size_t)2 << 20)
static void *scratch_new(size_t *bytes) {
  if (*bytes < SCRATCH_HUGE) return aligned_alloc(64, *bytes);
  *bytes = (*bytes + SCRATCH_HUGE - 1) & ~(SCRATCH_HUGE - 1);
  void *p = aligned_alloc(SCRATCH_HUGE, *bytes);
  if (p) madvise(p, *bytes, MADV_HUGEPAGE);
  return p;
}

/* The i-th allocation of a call reuses the i-th buffer kept from earlier
 * calls when it is large enough (calls repeat with the same shapes). */
void *weft_sched_alloc(weft_sched *s, size_t bytes) {
  if (s->oom) return NULL;
  bytes = bytes ? (bytes + 63) & ~(size_t)63 : 64;
  int i = s->nallocs;
  if (i < s->nkept && s->alloc_cap[i] >= bytes) {
    s->nallocs++;
    return s->allocs[i];
  }
  int cap = s->acap;
  if (grow((void **)&s->allocs, &cap, s->nkept + 1, sizeof *s->allocs) ||
      grow((void **)&s->alloc_cap, &s->acap, s->nkept + 1, sizeof *s->alloc_cap)) {
    s->oom = 1;
    return NULL;
  }
  void *p = scratch_new(&bytes);
  if (!p) {
    s->oom = 1;
    return NULL;
  }
  if (i < s->nkept) { /* too small: replace it */
    free(s->allocs[i]);
  } else {
    s->nkept++;
  }
  s->allocs[i] = p;
  s->alloc_cap[i] = bytes;
  s->nallocs++;
  s->fresh_bytes += bytes;
  return p;
}

int weft_sched_encode(weft_sched *s, int codec, const void *params, weftDataType_t dt, const void *src, size_t count,
                 void *dst, size_t cap, size_t *len, float *resid, int d0, int d1) {
  weft_step st = {.kind = ST_ENCODE,
                  .codec = {.codec = (uint8_t)codec, .dt = (uint8_t)dt, .src = src, .dst = dst, .count = count,
                            .cap = cap, .len = len, .resid = resid, .params = params}};
  return weft_sched_add(s, &st, d0, d1, NODEP);
}

int weft_sched_decode(weft_sched *s, int codec, weftDataType_t dt, const void *src, size_t cap, size_t *len, void *dst,
                 size_t count, int d0, int d1) {
  weft_step st = {.kind = ST_DECODE, .codec = {.codec = (uint8_t)codec, .dt = (uint8_t)dt, .src = src, .dst = dst,
                                               .count = count, .cap = cap, .len = len}};
  return weft_sched_add(s, &st, d0, d1, NODEP);
}

int weft_sched_decode_add(weft_sched *s, int codec, weftDataType_t dt, const void *src, size_t cap, size_t *len,
                     void *dst, size_t count, int d0, int d1) {
  int i = weft_sched_decode(s, codec, dt, src, cap, len, dst, count, d0, d1);
  if (i != NODEP) s->steps[i].kind = ST_DECODE_ADD;
  return i;
}

int weft_sched_send_enc(weft_sched *s, int peer, const void *src, size_t cap, size_t *len, uint64_t tag, int d0, int d1) {
  weft_step st = {.kind = ST_SEND,
                  .msg = {.peer = map_peer(s, peer), .src = src, .n = cap, .cap = cap, .len = len, .tag = tag}};
  return weft_sched_add(s, &st, d0, d1, NODEP);
}

int weft_sched_recv_enc(weft_sched *s, int peer, void *dst, size_t cap, size_t *len, uint64_t tag, int d0, int d1) {
  weft_step st = {.kind = ST_RECV,
                  .msg = {.peer = map_peer(s, peer), .dst = dst, .n = cap, .cap = cap, .len = len, .tag = tag}};
  return weft_sched_add(s, &st, d0, d1, NODEP);
}

int weft_sched_nop(weft_sched *s, int d0, int d1) {
  weft_step st = {.kind = ST_COPY, .copy = {.dst = s, .src = s, .n = 0}};
  return weft_sched_add(s, &st, d0, d1, NODEP);
}

int weft_sched_sub(weft_sched *s, weft_builder build, const void *call, const int *map, int r, int n, int after) {
  const int *saved_map = s->peer_map;
  int saved_base = s->base_dep, first = s->nsteps;
  s->peer_map = map;
  s->base_dep = after;
  int rc = build(s, call, r, n);
  s->peer_map = saved_map;
  s->base_dep = saved_base;
  if (rc != 0) s->oom = 1;
  int last = s->nsteps, join = weft_sched_nop(s, after, NODEP);
  for (int i = first; i < last; i++) weft_sched_dep(s, i, join);
  return join;
}

int weft_sched_slots(weft_sched *s, int kind, const void *src, void *dst, size_t count, weftDataType_t dt, weftRedOp_t op,
                int root, uint64_t tag) {
  weft_step st = {.kind = ST_SLOTS, .slots = {.coll = (uint8_t)kind, .dt = (uint8_t)dt, .op = (uint8_t)op, .root = root,
                                              .src = src, .dst = dst, .count = count, .tag = tag}};
  int i = weft_sched_add(s, &st, s->slots_last, NODEP, NODEP);
  if (i != NODEP) s->slots_last = i;
  return i;
}
