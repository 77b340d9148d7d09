#include "topo/synth.h"

#include <stdio.h>
#include <stdlib.h>

#define MAX_RANKS (1 << 24)

int weft_topo_synth_ranks(const weft_topo *t, int nranks, int per_node, weft_rank_desc **out, int *n, char *err,
                          size_t errlen) {
  *out = NULL;
  *n = 0;
  if (nranks < 0 || per_node < 0 || nranks > MAX_RANKS || per_node > MAX_RANKS) {
    snprintf(err, errlen, "bad rank counts (nranks %d, ranks per node %d)", nranks, per_node);
    return -1;
  }
  size_t nhosts = weft_topo_count_hosts(t);
  const char **hosts = malloc((nhosts + 1) * sizeof *hosts);
  if (!hosts) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  size_t h = 0;
  for (int s = 0; s < t->nsites; s++)
    for (size_t k = 0; k < t->sites[s].nnodes; k++) hosts[h++] = t->sites[s].nodes[k];
  for (int i = 0; i < t->nnodes; i++)
    if (weft_topo_site_of_host(t, t->nodes[i].name) < 0) hosts[h++] = t->nodes[i].name;
  if (h == 0) hosts[h++] = "localhost";
  long long total = nranks ? nranks : (long long)h * (per_node ? per_node : 1);
  if (per_node && total > (long long)h * per_node) {
    snprintf(err, errlen, "%d ranks do not fit on %zu nodes with %d ranks per node", nranks, h, per_node);
    free(hosts);
    return -1;
  }
  if (total > MAX_RANKS) {
    snprintf(err, errlen, "too many ranks (%lld)", total);
    free(hosts);
    return -1;
  }
  weft_rank_desc *r = calloc((size_t)total, sizeof *r);
  if (!r) {
    snprintf(err, errlen, "out of memory");
    free(hosts);
    return -1;
  }
  long long placed = 0;
  for (size_t k = 0; k < h && placed < total; k++) {
    long long here = per_node ? per_node : (long long)(total / (long long)h) + ((long long)k < total % (long long)h);
    for (long long j = 0; j < here && placed < total; j++, placed++) {
      r[placed].hostname = hosts[k];
      r[placed].host_id = weft_str_hash(hosts[k]);
      r[placed].site = NULL;
    }
  }
  free(hosts);
  *out = r;
  *n = (int)total;
  return 0;
}
