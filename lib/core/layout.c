#include "core/layout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootstrap/bootstrap.h"
#include "core/comm.h"
#include "core/log.h"

void weft_groups_from_keys(weft_groups *g, const uint64_t *key, int n, int *mem) {
  int *group_of = mem, *index_in = mem + n, *members = mem + 2 * n, *start = mem + 3 * n;
  int ng = 0;
  for (int r = 0; r < n; r++) {
    int q = 0;
    while (q < r && key[q] != key[r]) q++;
    group_of[r] = q < r ? group_of[q] : ng++;
  }
  /* counting sort by group keeps rank order inside each group */
  for (int k = 0; k <= ng; k++) start[k] = 0;
  for (int r = 0; r < n; r++) start[group_of[r] + 1]++;
  for (int k = 0; k < ng; k++) start[k + 1] += start[k];
  int *fill = calloc((size_t)ng + 1, sizeof *fill);
  for (int r = 0; r < n; r++) {
    int k = group_of[r], at = start[k] + (fill ? fill[k]++ : 0);
    members[at] = r;
    index_in[r] = at - start[k];
  }
  free(fill);
  g->ngroups = ng;
  g->group_of = group_of;
  g->index_in = index_in;
  g->members = members;
  g->start = start;
}

static uint64_t fnv1a(const char *s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
  return h;
}

weftResult_t weft_layout_build(struct weftComm *c) {
  int n = c->nranks;
  weft_layout *l = &c->layout;
  char err[WEFT_SOCK_ERRLEN];
  char(*names)[64] = calloc((size_t)n, 64);
  uint64_t *keys = calloc((size_t)n, sizeof *keys);
  l->mem = calloc((size_t)2 * (4 * (size_t)n + 1), sizeof(int));
  if (!names || !keys || !l->mem) {
    free(names);
    free(keys);
    return weft_error(NULL, weftSystemError, "out of memory");
  }
  snprintf(names[c->rank], 64, "%s", c->site);
  weftResult_t res = n > 1 ? bootstrap_allgather(c->bootstrap, names, 64, err) : weftSuccess;
  if (res != weftSuccess) {
    weft_error(NULL, res, "%s", err);
  } else {
    for (int r = 0; r < n; r++) keys[r] = c->bootstrap->peers[r].host_id;
    weft_groups_from_keys(&l->nodes, keys, n, l->mem);
    for (int r = 0; r < n; r++) keys[r] = fnv1a(names[r]);
    weft_groups_from_keys(&l->sites, keys, n, l->mem + 4 * n + 1);
    WEFT_INFO(c, "layout: %d ranks on %d nodes in %d sites (this rank: node %d, site '%s')", n, l->nodes.ngroups,
              l->sites.ngroups, l->nodes.group_of[c->rank], c->site[0] ? c->site : "(default)");
  }
  free(names);
  free(keys);
  return res;
}

void weft_layout_free(weft_layout *l) {
  free(l->mem);
  memset(l, 0, sizeof *l);
}
