#include "util/ivset.h"

#include <stdlib.h>
#include <string.h>

static int reserve(weft_ivset *s, int n) {
  if (n <= s->cap) return 0;
  int cap = s->cap ? 2 * s->cap : 8;
  while (cap < n) cap *= 2;
  weft_iv *iv = realloc(s->iv, (size_t)cap * sizeof *iv);
  if (!iv) return -1;
  s->iv = iv;
  s->cap = cap;
  return 0;
}

int weft_ivset_add(weft_ivset *s, size_t lo, size_t hi) {
  if (lo >= hi) return 0;
  /* the ranges that touch [lo, hi) are [i, j): they merge into one */
  int i = 0;
  while (i < s->n && s->iv[i].hi < lo) i++;
  int j = i;
  while (j < s->n && s->iv[j].lo <= hi) j++;
  if (i < j) {
    if (s->iv[i].lo < lo) lo = s->iv[i].lo;
    if (s->iv[j - 1].hi > hi) hi = s->iv[j - 1].hi;
  } else if (reserve(s, s->n + 1) != 0) {
    return -1;
  }
  int keep = i < j ? j - i - 1 : -1; /* ranges dropped (-1: one inserted) */
  memmove(s->iv + i + 1, s->iv + j, (size_t)(s->n - j) * sizeof *s->iv);
  s->n -= keep;
  s->iv[i] = (weft_iv){lo, hi};
  return 0;
}

int weft_ivset_remove(weft_ivset *s, size_t lo, size_t hi) {
  if (lo >= hi) return 0;
  for (int i = 0; i < s->n; i++) {
    weft_iv *r = &s->iv[i];
    if (r->hi <= lo || r->lo >= hi) continue;
    if (r->lo < lo && r->hi > hi) { /* split in two */
      if (reserve(s, s->n + 1) != 0) {
        weft_ivset_clear(s);
        return -1;
      }
      r = &s->iv[i];
      memmove(r + 2, r + 1, (size_t)(s->n - i - 1) * sizeof *r);
      s->n++;
      r[1] = (weft_iv){hi, r->hi};
      r->hi = lo;
      return 0;
    }
    if (r->lo < lo) {
      r->hi = lo;
    } else if (r->hi > hi) {
      r->lo = hi;
    } else { /* inside [lo, hi): gone */
      memmove(r, r + 1, (size_t)(s->n - i - 1) * sizeof *r);
      s->n--;
      i--;
    }
  }
  return 0;
}

int weft_ivset_covers(const weft_ivset *s, size_t lo, size_t hi) {
  if (lo >= hi) return 1;
  for (int i = 0; i < s->n; i++)
    if (s->iv[i].lo <= lo && hi <= s->iv[i].hi) return 1;
  return 0;
}

void weft_ivset_clear(weft_ivset *s) { s->n = 0; }

void weft_ivset_free(weft_ivset *s) {
  free(s->iv);
  memset(s, 0, sizeof *s);
}
