/* A set of byte ranges [lo, hi), kept sorted, disjoint and merged: which
 * parts of a buffer are known to hold something (exec/devreduce.c: the parts
 * of a host view whose device copy is current). */
#ifndef WEFT_IVSET_H
#define WEFT_IVSET_H

#include <stddef.h>

typedef struct {
  size_t lo, hi;
} weft_iv;

typedef struct {
  weft_iv *iv;
  int n, cap;
} weft_ivset;

/* Adds [lo, hi); 0, or -1 out of memory (the set is unchanged). */
int weft_ivset_add(weft_ivset *s, size_t lo, size_t hi);
/* Removes [lo, hi); 0, or -1 out of memory (then the set is emptied: a
 * set that says less than it may is still true). */
int weft_ivset_remove(weft_ivset *s, size_t lo, size_t hi);
/* 1 when [lo, hi) lies within one range of the set. */
int weft_ivset_covers(const weft_ivset *s, size_t lo, size_t hi);
void weft_ivset_clear(weft_ivset *s);
void weft_ivset_free(weft_ivset *s);

#endif
