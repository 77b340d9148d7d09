/* Hostlists: compact lists of host names.
 *   gpu[01-16]      gpu01 .. gpu16 (zero-padded to the width of the low bound)
 *   n[1-3,7,10-11]  n1 n2 n3 n7 n10 n11
 *   r[1-2]n[1-4]    r1n1 .. r1n4 r2n1 .. r2n4 (the first group varies slowest)
 *   a,b[1-2]        a b1 b2 (commas outside brackets separate expressions)
 * Host names use letters, digits, '-', '.' and '_' (at most 255 characters). */
#ifndef WEFT_TOPO_HOSTLIST_H
#define WEFT_TOPO_HOSTLIST_H

#include <stddef.h>

#define WEFT_HOSTLIST_MAX 65536 /* names one expression may expand to */
#define WEFT_HOSTNAME_MAX 255

/* Appends the names text expands to to the array *names (count *n,
 * capacity *cap; realloc'ed; each name malloc'ed). At most `limit` names
 * in all (including those already in the array). Returns 0, or -1 with a
 * message in err (names appended so far stay in the array). */
int weft_hostlist_expand(const char *text, size_t limit, char ***names, size_t *n, size_t *cap, char *err,
                         size_t errlen);
void weft_hostlist_free(char **names, size_t n);

/* Compresses names, in order, into expressions that expand back to the same
 * sequence: runs of names that differ only in their last number become one
 * bracket group. *out (count *nout) holds malloc'ed strings; free with
 * weft_hostlist_free. Returns 0, or -1 when out of memory. */
int weft_hostlist_compress(const char *const *names, size_t n, char ***out, size_t *nout);

#endif
