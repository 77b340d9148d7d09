/* A small open-addressing hash map from strings to ints, for name lookups
 * in files and graphs with many thousands of nodes. Keys are not copied:
 * they must outlive the map. */
#ifndef WEFT_TOPO_STRMAP_H
#define WEFT_TOPO_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  const char **keys;
  int *vals;
  size_t cap, n;
} weft_strmap;

void weft_strmap_init(weft_strmap *m);
void weft_strmap_free(weft_strmap *m);
/* Value of key, or -1. */
int weft_strmap_get(const weft_strmap *m, const char *key);
/* Inserts key -> val (val >= 0) unless present. Returns the existing value,
 * -1 when inserted, -2 when out of memory. */
int weft_strmap_put(weft_strmap *m, const char *key, int val);
/* 64-bit FNV-1a hash of a string (also used for synthetic host ids). */
uint64_t weft_str_hash(const char *s);

#endif
