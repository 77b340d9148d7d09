/* "Did you mean ...?" suggestions by edit distance. */
#ifndef WEFT_TOPO_HINT_H
#define WEFT_TOPO_HINT_H

#include <stddef.h>

/* Edit distance (insertions, deletions, substitutions and swaps of two
 * neighbours), case-insensitive, of two strings (capped at 64 characters). */
int weft_edit_distance(const char *a, const char *b);
/* The candidate (NULL-terminated list) closest to word when it is close
 * enough to be a likely typo, else NULL. */
const char *weft_hint(const char *word, const char *const *cands);

#endif
