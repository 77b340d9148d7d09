#include "coll/cost_model.h"

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

void weft_edges_add(weft_edges *e, int src, int dst, double bytes) {
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

void weft_edges_free(weft_edges *e) {
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

void weft_cost_step(const weft_cost_model *m, const weft_edges *e, double repeat, weft_cost_acc *acc) {
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
  acc->per_class[worst_c] += repeat * worst;
}

void weft_cost_ring_steps(const weft_cost_model *m, double steps, double bytes, weft_cost_acc *a) {
  a->e.n = 0;
  for (int r = 0; r < m->n; r++) weft_edges_add(&a->e, r, (r + 1) % m->n, bytes);
  weft_cost_step(m, &a->e, steps, a);
}

void weft_cost_tree_levels(const weft_cost_model *m, double bytes, weft_cost_acc *a) {
  for (int d = 1; d < m->n; d <<= 1) {
    a->e.n = 0;
    for (int r = 0; r + d < m->n; r += 2 * d) weft_edges_add(&a->e, r + d, r, bytes);
    weft_cost_step(m, &a->e, 1, a);
  }
}

int weft_cost_levels(int n) {
  int l = 0;
  while ((1 << l) < n) l++;
  return l;
}
