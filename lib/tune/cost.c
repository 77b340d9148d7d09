#include "tune/cost.h"

#include "coll/hier.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void weft_cost_defaults(weft_cost_model *m) {
  m->link[WEFT_LC_NODE] = (weft_link_cost){1e-6, 8e9};      /* shared memory */
  m->link[WEFT_LC_SITE] = (weft_link_cost){20e-6, 1.25e9};  /* 10 Gbit/s Ethernet */
  m->link[WEFT_LC_WAN] = (weft_link_cost){10e-3, 0.125e9};  /* 1 Gbit/s, 10 ms */
  m->reduce_bw = 4e9;
  m->link_of = NULL;
  m->link_ctx = NULL;
  m->wan_ratio = 1;
  m->codec_bw = 0;
  m->pipe_bytes = 0;
}

const char *weft_link_class_name(weft_link_class c) {
  static const char *const names[] = {"intra-node", "intra-site", "inter-site"};
  return c < WEFT_LC_N ? names[c] : "?";
}

static int group_of(const weft_groups *g, int r) { return g ? g->group_of[r] : r; }
static int site_of(const weft_cost_model *m, int r) { return m->sites ? m->sites->group_of[r] : 0; }

static weft_link_class class_of(const weft_cost_model *m, int a, int b) {
  if (site_of(m, a) != site_of(m, b)) return WEFT_LC_WAN;
  return group_of(m->nodes, a) == group_of(m->nodes, b) ? WEFT_LC_NODE : WEFT_LC_SITE;
}

/* Directed transfers that run at the same time. */
typedef struct {
  int *src, *dst;
  double *bytes;
  int n, cap, oom;
} edge_set;

static void edge_add(edge_set *e, int src, int dst, double bytes) {
  if (e->oom || src == dst || bytes <= 0) return;
  if (e->n == e->cap) {
    int cap = e->cap ? e->cap * 2 : 64;
    int *s = realloc(e->src, sizeof(int) * (size_t)cap), *d = s ? realloc(e->dst, sizeof(int) * (size_t)cap) : NULL;
    if (s) e->src = s;
    if (d) e->dst = d;
    double *b = d ? realloc(e->bytes, sizeof(double) * (size_t)cap) : NULL;
    if (!b) {
      e->oom = 1;
      return;
    }
    e->bytes = b;
    e->cap = cap;
  }
  e->src[e->n] = src;
  e->dst[e->n] = dst;
  e->bytes[e->n++] = bytes;
}

static void edge_free(edge_set *e) {
  free(e->src);
  free(e->dst);
  free(e->bytes);
  memset(e, 0, sizeof *e);
}

typedef struct {
  unsigned long long key;
  double bytes;
  int a, b; /* one transfer of this key, to look up the link */
} load;

static int load_cmp(const void *a, const void *b) {
  unsigned long long x = ((const load *)a)->key, y = ((const load *)b)->key;
  return x < y ? -1 : x > y;
}

static weft_link_cost link_cost(const weft_cost_model *m, weft_link_class c, int a, int b) {
  weft_link_cost l = m->link[c];
  if (m->link_of && m->link_of(m->link_ctx, a, b, &l) != 0) l = m->link[c];
  if (!(l.bw > 0)) l.bw = m->link[c].bw;
  return l;
}

/* Adds the time of one step made of the transfers in e to *acc. Transfers
 * inside a node are limited per sending rank (its copies); transfers between
 * nodes or sites share the link between the two groups, per direction. */
static void step(const weft_cost_model *m, const edge_set *e, double repeat, weft_cost *acc, double *per_class) {
  if (e->n == 0 || repeat <= 0) return;
  load *l = malloc(sizeof *l * (size_t)e->n);
  if (!l) return;
  for (int i = 0; i < e->n; i++) {
    int a = e->src[i], b = e->dst[i];
    weft_link_class c = class_of(m, a, b);
    unsigned long long ga, gb;
    if (c == WEFT_LC_NODE) ga = (unsigned long long)a, gb = 0;
    else if (c == WEFT_LC_SITE) ga = (unsigned long long)group_of(m->nodes, a), gb = (unsigned long long)group_of(m->nodes, b);
    else ga = (unsigned long long)site_of(m, a), gb = (unsigned long long)site_of(m, b);
    l[i] = (load){(unsigned long long)c << 62 | ga << 31 | gb, e->bytes[i], a, b};
  }
  qsort(l, (size_t)e->n, sizeof *l, load_cmp);
  double worst = 0;
  weft_link_class worst_c = WEFT_LC_NODE;
  for (int i = 0; i < e->n;) {
    double sum = 0;
    int j = i;
    for (; j < e->n && l[j].key == l[i].key; j++) sum += l[j].bytes;
    weft_link_class c = (weft_link_class)(l[i].key >> 62);
    weft_link_cost lc = link_cost(m, c, l[i].a, l[i].b);
    double t = lc.lat + sum / lc.bw;
    if (t > worst) worst = t, worst_c = c;
    i = j;
  }
  free(l);
  acc->time += repeat * worst;
  per_class[worst_c] += repeat * worst;
}

static void finish(weft_cost *c, const double *per_class) {
  c->bottleneck = WEFT_LC_NODE;
  c->bottleneck_time = 0;
  for (int k = 0; k < WEFT_LC_N; k++)
    if (per_class[k] > c->bottleneck_time) c->bottleneck_time = per_class[k], c->bottleneck = (weft_link_class)k;
}

/* n-1 or 2(n-1) steps around the ring r -> r+1, bytes per edge each step. */
static void ring_steps(const weft_cost_model *m, double steps, double bytes, weft_cost *c, double *pc, edge_set *e) {
  e->n = 0;
  for (int r = 0; r < m->n; r++) edge_add(e, r, (r + 1) % m->n, bytes);
  step(m, e, steps, c, pc);
}

/* Binomial tree rooted at 0, one level at a time, full message per edge. */
static void tree_levels(const weft_cost_model *m, double bytes, weft_cost *c, double *pc, edge_set *e) {
  for (int d = 1; d < m->n; d <<= 1) {
    e->n = 0;
    for (int r = 0; r + d < m->n; r += 2 * d) edge_add(e, r + d, r, bytes);
    step(m, e, 1, c, pc);
  }
}

static int levels(int n) {
  int l = 0;
  while ((1 << l) < n) l++;
  return l;
}

static const weft_groups *slow_level(const weft_cost_model *m) {
  return m->sites && m->sites->ngroups > 1 ? m->sites : m->nodes;
}

/* Hierarchical allreduce (coll/hier.c) over the slow level of the layout. */
static void hier_cost(const weft_cost_model *m, double s, weft_cost *c, double *pc, edge_set *e) {
  const weft_groups *g = slow_level(m);
  int k = 0;
  for (int q = 0; q < g->ngroups; q++)
    if (g->start[q + 1] - g->start[q] > k) k = g->start[q + 1] - g->start[q];
  double chunk = s / k;
  int mg = g->ngroups, min_size = m->n;
  int coded = g == m->sites && m->wan_ratio > 0 && m->wan_ratio < 1;
  double t0 = c->time, phase_t[3] = {0, 0, 0};
  /* 1. to the chunk owners; 3. back from them */
  for (int phase = 0; phase < 2; phase++) {
    double before = c->time;
    e->n = 0;
    for (int q = 0; q < mg; q++) {
      int sz = g->start[q + 1] - g->start[q];
      if (sz < min_size) min_size = sz;
      const int *mem = g->members + g->start[q];
      for (int j = 0; j < k; j++)
        for (int i = 0; i < sz; i++)
          if (i != j % sz) edge_add(e, phase ? mem[j % sz] : mem[i], phase ? mem[i] : mem[j % sz], chunk);
    }
    step(m, e, 1, c, pc);
    phase_t[phase ? 2 : 0] = c->time - before;
    if (phase == 0) {
      /* 2. every chunk's owners run a ring across the groups, all at once;
       * with a codec they exchange encoded pieces directly (wan.c) */
      before = c->time;
      edge_set x = {0};
      for (int j = 0; j < k; j++)
        for (int q = 0; q < mg; q++)
          for (int q2 = 0; q2 < mg; q2++) {
            if (q2 == q || (!coded && q2 != (q + 1) % mg)) continue;
            int a = g->members[g->start[q] + j % (g->start[q + 1] - g->start[q])];
            int b = g->members[g->start[q2] + j % (g->start[q2 + 1] - g->start[q2])];
            edge_add(&x, a, b, chunk / mg * (coded ? m->wan_ratio : 1));
          }
      step(m, &x, coded ? 2.0 : 2.0 * (mg - 1), c, pc);
      edge_free(&x);
      /* each owner encodes and decodes about twice its chunk */
      if (coded && m->codec_bw > 0) c->time += 2 * chunk / m->codec_bw;
      phase_t[1] = c->time - before;
    }
  }
  /* pipelined: the slowest phase, plus the others' share of one piece */
  double total = c->time - t0;
  if (m->pipe_bytes && s > (double)m->pipe_bytes * k) {
    double pieces = s / ((double)m->pipe_bytes * k), slow = phase_t[0];
    if (pieces > 64) pieces = 64;
    for (int i = 1; i < 3; i++)
      if (phase_t[i] > slow) slow = phase_t[i];
    c->time = t0 + slow + (total - slow) / pieces;
  }
  /* reductions: s-1 contributions per owned chunk, then the ring's share */
  c->time += ((double)(k + min_size - 1) / min_size * chunk * (min_size - 1) + s / min_size * (mg - 1) / mg) /
             m->reduce_bw;
}

/* Hierarchical broadcast, allgather and reduce-scatter (coll/hier_move.c):
 * the same transfers as the builders, one edge set per phase. */
static void hier_move_cost(const weft_cost_model *m, weft_coll_kind kind, double s, weft_cost *c, double *pc,
                           edge_set *e) {
  const weft_groups *gr = slow_level(m);
  int n = m->n, k = 0, root = 0, rg = gr->group_of[root];
  for (int g = 0; g < gr->ngroups; g++)
    if (hier_size(gr, g) > k) k = hier_size(gr, g);
  for (int phase = 0; phase < 3; phase++) {
    e->n = 0;
    if (kind == COLL_BROADCAST) {
      double chunk = s / k;
      for (int j = 0; j < k; j++) {
        int o = hier_owner(gr, rg, j);
        if (phase == 0) edge_add(e, root, o, chunk);
        for (int g = 0; g < gr->ngroups && phase == 1; g++)
          if (g != rg) edge_add(e, o, hier_owner(gr, g, j), chunk);
        for (int g = 0; g < gr->ngroups && phase == 2; g++)
          for (int i = gr->start[g]; i < gr->start[g + 1]; i++)
            if (gr->members[i] != root) edge_add(e, hier_owner(gr, g, j), gr->members[i], chunk);
      }
    } else if (kind == COLL_ALLGATHER && phase < 2) {
      for (int r = 0; r < n; r++) {
        int g = gr->group_of[r];
        for (int h = 0; h < gr->ngroups && phase == 0; h++)
          if (h != g) edge_add(e, r, hier_owner(gr, h, gr->index_in[r]), s);
        for (int h = 0; h < gr->ngroups && phase == 1; h++) {
          int holder = h == g ? r : hier_owner(gr, h, gr->index_in[r]);
          for (int i = gr->start[h]; i < gr->start[h + 1]; i++) edge_add(e, holder, gr->members[i], s);
        }
      }
    } else if (kind == COLL_REDUCESCATTER && phase < 2) {
      for (int b = 0; b < n; b++)
        for (int g = 0; g < gr->ngroups; g++) {
          int holder = gr->group_of[b] == g ? b : hier_owner(gr, g, b);
          for (int i = gr->start[g]; i < gr->start[g + 1] && phase == 0; i++) edge_add(e, gr->members[i], holder, s);
          if (phase == 1) edge_add(e, holder, b, s);
        }
      if (phase == 0) c->time += (double)n * s / m->reduce_bw;
    }
    step(m, e, 1, c, pc);
  }
}

int weft_cost_predict(const weft_cost_model *m, weft_coll_kind kind, weft_algo algo, size_t bytes, weft_cost *out) {
  int n = m->n;
  double s = (double)bytes, pc[WEFT_LC_N] = {0};
  weft_cost c = {0};
  edge_set e = {0};
  int ok = 0;
  if (n <= 1) {
    *out = c;
    return 0;
  }
  switch (kind) {
    case COLL_ALLREDUCE:
      if (algo == ALGO_RING) {
        ring_steps(m, 2.0 * (n - 1), s / n, &c, pc, &e);
        c.time += s * (n - 1) / n / m->reduce_bw;
        ok = 1;
      } else if (algo == ALGO_TREE) {
        for (int phase = 0; phase < 2; phase++) tree_levels(m, s, &c, pc, &e);
        c.time += levels(n) * s / m->reduce_bw;
        ok = 1;
      } else if (algo == ALGO_DIRECT) {
        for (int a = 0; a < n; a++)
          for (int b = 0; b < n; b++) edge_add(&e, a, b, s);
        step(m, &e, 1, &c, pc);
        c.time += (n - 1) * s / m->reduce_bw;
        ok = 1;
      } else if (algo == ALGO_RHD) {
        int p2 = 1;
        while (p2 * 2 <= n) p2 *= 2;
        int rem = n - p2;
        e.n = 0;
        for (int r = 0; r < 2 * rem; r += 2) edge_add(&e, r, r + 1, s);
        step(m, &e, 2, &c, pc); /* fold and unfold */
        for (int mask = p2 / 2; mask >= 1; mask /= 2) {
          e.n = 0;
          for (int v = 0; v < p2; v++) {
            int a = v < rem ? 2 * v + 1 : v + rem, u = v ^ mask, b = u < rem ? 2 * u + 1 : u + rem;
            edge_add(&e, a, b, s * mask / p2);
          }
          step(m, &e, 2, &c, pc); /* the halving step and its doubling twin */
        }
        c.time += (rem ? s : 0) / m->reduce_bw + s * (p2 - 1) / p2 / m->reduce_bw;
        ok = 1;
      } else if (algo == ALGO_HIER) {
        if (hier_usable(slow_level(m), n)) {
          hier_cost(m, s, &c, pc, &e);
          ok = 1;
        }
      }
      break;
    case COLL_BROADCAST:
    case COLL_REDUCE:
      if (algo == ALGO_TREE) {
        tree_levels(m, s, &c, pc, &e);
        ok = 1;
      } else if (algo == ALGO_HIER && kind == COLL_BROADCAST && hier_usable(slow_level(m), n)) {
        hier_move_cost(m, kind, s, &c, pc, &e);
        ok = 1;
      } else if (algo == ALGO_RING) { /* pipelined chain: the message streams once over the slowest link */
        double chunk = s < (512 << 10) ? s : (512 << 10);
        ring_steps(m, (n - 2) + s / chunk, chunk, &c, pc, &e);
        ok = 1;
      }
      if (kind == COLL_REDUCE) c.time += (algo == ALGO_TREE ? levels(n) : 1) * s / m->reduce_bw;
      break;
    case COLL_ALLGATHER:
    case COLL_REDUCESCATTER:
      if (algo == ALGO_RING) {
        ring_steps(m, n - 1, s, &c, pc, &e);
        if (kind == COLL_REDUCESCATTER) c.time += (n - 1) * s / m->reduce_bw;
        ok = 1;
      } else if (algo == ALGO_HIER && hier_usable(slow_level(m), n)) {
        hier_move_cost(m, kind, s, &c, pc, &e);
        ok = 1;
      } else if (algo == ALGO_RHD && (n & (n - 1)) == 0) { /* 2^k blocks swapped at step k */
        for (int mask = 1; mask < n; mask *= 2) {
          e.n = 0;
          for (int r = 0; r < n; r++) edge_add(&e, r, r ^ mask, s * mask);
          step(m, &e, 1, &c, pc);
        }
        if (kind == COLL_REDUCESCATTER) c.time += (n - 1) * s / m->reduce_bw;
        ok = 1;
      }
      break;
    case COLL_ALLTOALL:
      if (algo == ALGO_PAIRWISE) {
        for (int k = 1; k < n; k++) {
          e.n = 0;
          for (int r = 0; r < n; r++) edge_add(&e, r, (r + k) % n, s);
          step(m, &e, 1, &c, pc);
        }
        ok = 1;
      }
      break;
    default: break;
  }
  edge_free(&e);
  if (!ok) return -1;
  finish(&c, pc);
  *out = c;
  return 0;
}

weft_algo weft_cost_choose(const weft_cost_model *m, weft_coll_kind kind, size_t bytes, weft_cost *out) {
  static const weft_algo candidates[] = {ALGO_DIRECT, ALGO_TREE, ALGO_RHD, ALGO_RING, ALGO_HIER, ALGO_PAIRWISE};
  weft_algo best = ALGO_NONE;
  weft_cost best_c = {INFINITY, WEFT_LC_NODE, 0}, c;
  for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++)
    if (weft_cost_predict(m, kind, candidates[i], bytes, &c) == 0 && c.time < best_c.time) best = candidates[i], best_c = c;
  if (out) *out = best_c;
  return best;
}
