/* Hierarchical allreduce over groups of ranks (nodes or sites), of any and
 * unequal sizes:
 *   1. inside each group, every chunk is reduced at its owner;
 *   2. the owners of a chunk, one per group, allreduce it over the slow
 *      links (a ring among them), so every local rank drives inter-group
 *      traffic in parallel and each byte crosses the slow level once;
 *   3. inside each group, the owners send the finished chunks to the others.
 * The vector is cut into K = (largest group size) chunks, times P pieces
 * of about c->pipe_bytes each so that the phases pipeline (a chunk crosses
 * the slow links while the next one is reduced locally); in a group of s
 * ranks, local rank i owns the chunks j with j % s == i.
 * Between sites (c->wan), step 2 is wan.c: shards summed at their owner
 * (encoded when c->codec is on), finished shards sent (encoded once).
 * Every rank ends with the bits computed in step 2, so results are
 * identical everywhere. */
#include <string.h>

#include "coll/hier.h"
#include "coll/algo.h"
#include "util/call.h"

static int ring_sub(weft_sched *s, const void *call, int r, int n) {
  return weft_ring_allreduce(s, (const weft_call *)call, r, n);
}


int weft_hier_slow_pair(const weft_groups *gr, int a, int b) {
  int ga = gr->group_of[a], gb = gr->group_of[b];
  if (ga == gb) return 0;
  int x = hier_size(gr, ga), y = hier_size(gr, gb);
  while (y) {
    int t = x % y;
    x = y;
    y = t;
  }
  return (gr->index_in[a] - gr->index_in[b]) % x == 0;
}

/* Number of chunks: K, times the pipeline depth for large messages. */
static int hier_nchunks(const weft_call *c, int k) {
  size_t bytes = c->count * weft_dtype_size(c->dt);
  if (!c->pipe_bytes || bytes <= c->pipe_bytes * (size_t)k) return k;
  size_t p = (bytes + c->pipe_bytes * (size_t)k - 1) / (c->pipe_bytes * (size_t)k);
  return k * (int)(p > 64 ? 64 : p);
}

int weft_hier_allreduce(weft_sched *s, const weft_call *c, int rank, int n) {
  const weft_groups *gr = c->groups;
  if (!hier_usable(gr, n)) return weft_ring_allreduce(s, c, rank, n);
  size_t es = weft_dtype_size(c->dt);
  const char *sb = c->sendbuf;
  char *rb = c->recvbuf;
  hier_layout l = hier_layout_of(gr, rank);
  weftRedOp_t op = c->op == weftAvg ? weftSum : c->op;
  l.k = hier_nchunks(c, l.k); /* from here on: the number of chunks */

  /* sent[j]: my contribution of chunk j has left (phase 3 may overwrite it);
   * done[j]: chunk j is final in rb. */
  int *sent = weft_sched_alloc(s, sizeof(int) * 2 * (size_t)l.k), *done = sent ? sent + l.k : NULL;
  int *map = weft_sched_alloc(s, sizeof(int) * (size_t)gr->ngroups * (size_t)l.k);
  weft_call *sub = weft_sched_alloc(s, sizeof(weft_call) * (size_t)l.k);
  size_t maxlen = (c->count + (size_t)l.k - 1) / (size_t)l.k;
  /* contributions of the other local ranks to the chunks I own, plus a copy
   * of mine when reducing in place */
  size_t owned = ((size_t)l.k + (size_t)l.s - 1) / (size_t)l.s;
  char *scratch = weft_sched_alloc(s, owned * (size_t)l.s * maxlen * es);
  const char **parts = weft_sched_alloc(s, sizeof(char *) * (size_t)l.s);
  int *got = weft_sched_alloc(s, sizeof(int) * (size_t)l.s);
  if (!sent || !map || !sub || !scratch || !parts || !got) return -1;

  /* 1. intra-group reduce of each chunk at its owner */
  for (int j = 0; j < l.k; j++) {
    size_t off, len;
    weft_split(c->count, l.k, j, &off, &len);
    int owner = j % l.s;
    sent[j] = done[j] = NODEP;
    if (owner != l.me) {
      sent[j] = weft_sched_send(s, l.members[owner], sb + off * es, len * es, c->tag, NODEP, NODEP);
      continue;
    }
    char *slot = scratch + (size_t)(j / l.s) * (size_t)l.s * maxlen * es;
    for (int i = 0; i < l.s; i++) {
      parts[i] = slot + (size_t)i * maxlen * es;
      got[i] = NODEP;
      if (i != l.me) got[i] = weft_sched_recv(s, l.members[i], (char *)parts[i], len * es, c->tag, NODEP, NODEP);
    }
    /* my own part: read in place from sendbuf unless rb aliases it and an
     * earlier reduce would overwrite it before it is read */
    parts[l.me] = sb + off * es;
    if (sb == rb && l.me >= 2) got[l.me] = weft_sched_copy(s, slot + (size_t)l.me * maxlen * es, sb + off * es, len * es, NODEP, NODEP),
                                parts[l.me] = slot + (size_t)l.me * maxlen * es;
    int acc = NODEP;
    if (l.s == 1) {
      acc = weft_sched_copy(s, rb + off * es, sb + off * es, len * es, NODEP, NODEP);
    } else {
      acc = weft_sched_reduce(s, rb + off * es, parts[0], parts[1], len, c->dt, op, got[0], got[1], NODEP);
      for (int i = 2; i < l.s; i++)
        acc = weft_sched_reduce(s, rb + off * es, rb + off * es, parts[i], len, c->dt, op, acc, got[i], NODEP);
    }
    done[j] = acc;
  }

  /* 2. owners of chunk j, one per group in group order, allreduce it: a ring
   * between nodes; between sites wan.c, whose first stage is added for every
   * chunk before any second stage (see there) */
  wan_state **ws = c->wan ? weft_sched_alloc(s, sizeof(wan_state *) * (size_t)l.k) : NULL;
  if (c->wan && !ws) return -1;
  for (int stage = 0; stage < (c->wan ? 2 : 1); stage++)
    for (int j = 0; j < l.k; j++) {
      if (j % l.s != l.me) continue;
      size_t off, len;
      weft_split(c->count, l.k, j, &off, &len);
      int *m = map + (size_t)j * (size_t)gr->ngroups;
      if (stage == 1) {
        done[j] = weft_sched_sub(s, weft_wan_gather_stage, ws[j], m, l.g, gr->ngroups, done[j]);
        if (c->op == weftAvg) done[j] = weft_sched_avg(s, rb + off * es, len, c->dt, n, done[j]);
        continue;
      }
      for (int g = 0; g < gr->ngroups; g++) m[g] = hier_owner(gr, g, j);
      weft_call *sc = &sub[j];
      *sc = *c;
      sc->sendbuf = sc->recvbuf = rb + off * es;
      sc->count = len;
      sc->op = op;
      sc->groups = NULL;
      sc->ef = c->ef ? c->ef + off : NULL;
      if (c->wan) {
        if (!(ws[j] = weft_wan_state_new(s, sc, l.g, gr->ngroups))) return -1;
        done[j] = weft_sched_sub(s, weft_wan_reduce_stage, ws[j], m, l.g, gr->ngroups, done[j]);
        continue;
      }
      done[j] = weft_sched_sub(s, ring_sub, sc, m, l.g, gr->ngroups, done[j]);
      if (c->op == weftAvg) done[j] = weft_sched_avg(s, rb + off * es, len, c->dt, n, done[j]);
    }

  /* 3. owners hand the finished chunks to the rest of the group */
  for (int j = 0; j < l.k; j++) {
    size_t off, len;
    weft_split(c->count, l.k, j, &off, &len);
    int owner = j % l.s;
    if (owner == l.me) {
      for (int i = 0; i < l.s; i++)
        if (i != l.me) weft_sched_send(s, l.members[i], rb + off * es, len * es, c->tag, done[j], NODEP);
    } else {
      weft_sched_recv(s, l.members[owner], rb + off * es, len * es, c->tag, sent[j], NODEP);
    }
  }
  return s->oom ? -1 : 0;
}

/* Hierarchical allreduce (coll/hier.c) over the slow level of the layout. */
static void allreduce_cost(const weft_cost_model *m, double s, weft_cost_acc *a) {
  weft_edges *e = &a->e;
  const weft_groups *g = weft_cost_slow_level(m);
  int k = 0;
  for (int q = 0; q < g->ngroups; q++)
    if (g->start[q + 1] - g->start[q] > k) k = g->start[q + 1] - g->start[q];
  double chunk = s / k;
  int mg = g->ngroups, min_size = m->n;
  int coded = g == m->sites && m->wan_ratio > 0 && m->wan_ratio < 1;
  double t0 = a->time, phase_t[3] = {0, 0, 0};
  /* 1. to the chunk owners; 3. back from them */
  for (int phase = 0; phase < 2; phase++) {
    double before = a->time;
    e->n = 0;
    for (int q = 0; q < mg; q++) {
      int sz = g->start[q + 1] - g->start[q];
      if (sz < min_size) min_size = sz;
      const int *mem = g->members + g->start[q];
      for (int j = 0; j < k; j++)
        for (int i = 0; i < sz; i++)
          if (i != j % sz) weft_edges_add(e, phase ? mem[j % sz] : mem[i], phase ? mem[i] : mem[j % sz], chunk);
    }
    weft_cost_step(m, e, 1, a);
    phase_t[phase ? 2 : 0] = a->time - before;
    if (phase == 0) {
      /* 2. every chunk's owners run a ring across the groups, all at once;
       * with a codec they exchange encoded pieces directly (wan.c) */
      before = a->time;
      weft_edges x = {0};
      for (int j = 0; j < k; j++)
        for (int q = 0; q < mg; q++)
          for (int q2 = 0; q2 < mg; q2++) {
            if (q2 == q || (!coded && q2 != (q + 1) % mg)) continue;
            int a = g->members[g->start[q] + j % (g->start[q + 1] - g->start[q])];
            int b = g->members[g->start[q2] + j % (g->start[q2 + 1] - g->start[q2])];
            weft_edges_add(&x, a, b, chunk / mg * (coded ? m->wan_ratio : 1));
          }
      weft_cost_step(m, &x, coded ? 2.0 : 2.0 * (mg - 1), a);
      weft_edges_free(&x);
      /* each owner encodes and decodes about twice its chunk */
      if (coded && m->codec_bw > 0) a->time += 2 * chunk / m->codec_bw;
      phase_t[1] = a->time - before;
    }
  }
  /* pipelined: the slowest phase, plus the others' share of one piece */
  double total = a->time - t0;
  if (m->pipe_bytes && s > (double)m->pipe_bytes * k) {
    double pieces = s / ((double)m->pipe_bytes * k), slow = phase_t[0];
    if (pieces > 64) pieces = 64;
    for (int i = 1; i < 3; i++)
      if (phase_t[i] > slow) slow = phase_t[i];
    a->time = t0 + slow + (total - slow) / pieces;
  }
  /* reductions: s-1 contributions per owned chunk, then the ring's share */
  a->time += ((double)(k + min_size - 1) / min_size * chunk * (min_size - 1) + s / min_size * (mg - 1) / mg) /
             m->reduce_bw;
}

/* Cost: the three phases over the slow level (allreduce here, the others in
 * hier_move.c), or none where the groups make no hierarchy. */
int weft_hier_cost(const weft_cost_model *m, weft_coll_kind kind, double s, weft_cost_acc *a) {
  if (!hier_usable(weft_cost_slow_level(m), m->n)) return -1;
  switch (kind) {
    case COLL_ALLREDUCE: allreduce_cost(m, s, a); return 0;
    case COLL_BROADCAST:
    case COLL_ALLGATHER:
    case COLL_REDUCESCATTER: weft_hier_move_cost(m, kind, s, a); return 0;
    default: return -1;
  }
}
