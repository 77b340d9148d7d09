#include "topo/strmap.h"

#include <stdlib.h>
#include <string.h>

uint64_t weft_str_hash(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ull;
  }
  return h;
}

void weft_strmap_init(weft_strmap *m) { memset(m, 0, sizeof *m); }

void weft_strmap_free(weft_strmap *m) {
  free(m->keys);
  free(m->vals);
  memset(m, 0, sizeof *m);
}

int weft_strmap_get(const weft_strmap *m, const char *key) {
  if (!m->cap) return -1;
  size_t i = (size_t)weft_str_hash(key) & (m->cap - 1);
  while (m->keys[i]) {
    if (!strcmp(m->keys[i], key)) return m->vals[i];
    i = (i + 1) & (m->cap - 1);
  }
  return -1;
}

static int grow(weft_strmap *m) {
  size_t nc = m->cap ? m->cap * 2 : 64;
  const char **nk = calloc(nc, sizeof *nk);
  int *nv = calloc(nc, sizeof *nv);
  if (!nk || !nv) {
    free(nk);
    free(nv);
    return -1;
  }
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->keys[i]) continue;
    size_t j = (size_t)weft_str_hash(m->keys[i]) & (nc - 1);
    while (nk[j]) j = (j + 1) & (nc - 1);
    nk[j] = m->keys[i];
    nv[j] = m->vals[i];
  }
  free(m->keys);
  free(m->vals);
  m->keys = nk;
  m->vals = nv;
  m->cap = nc;
  return 0;
}

int weft_strmap_put(weft_strmap *m, const char *key, int val) {
  int old = weft_strmap_get(m, key);
  if (old >= 0) return old;
  if ((m->n + 1) * 2 > m->cap && grow(m)) return -2;
  size_t i = (size_t)weft_str_hash(key) & (m->cap - 1);
  while (m->keys[i]) i = (i + 1) & (m->cap - 1);
  m->keys[i] = key;
  m->vals[i] = val;
  m->n++;
  return -1;
}
