/* Where the ranks of a communicator are: which share a node (host id) and
 * which share a site (WEFT_SITE / config siteName). Hierarchical algorithms
 * use these groups. */
#ifndef WEFT_LAYOUT_H
#define WEFT_LAYOUT_H

#include "coll/coll.h"

struct weftComm;

typedef struct {
  weft_groups nodes; /* ranks grouped by host id */
  weft_groups sites; /* ranks grouped by site name */
  int *mem;          /* backing store of both */
} weft_layout;

/* Exchanges site names over the bootstrap and builds the groups. */
weftResult_t weft_layout_build(struct weftComm *c);
void weft_layout_free(weft_layout *l);

/* Groups ranks by key (equal keys share a group; groups numbered by their
 * lowest rank, members in rank order). mem holds 3n + ngroups + 1 ints
 * (4n + 1 is always enough). */
void weft_groups_from_keys(weft_groups *g, const uint64_t *key, int n, int *mem);

#endif
