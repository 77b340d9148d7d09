/* Does a topology file describe the job's sites? A file whose site names
 * match no rank (sites listing other hosts, or ranks naming their sites
 * otherwise through WEFT_SITE) applies nothing of its sites and WAN links,
 * and the job would run on the built-in defaults without a word. */
#include <stdio.h>
#include <string.h>

#include "topo/graph_impl.h"

/* Appends 'name' to a comma-separated list in buf. */
static void list_add(char *buf, size_t len, const char *name) {
  size_t used = strlen(buf);
  if (used + 1 < len) snprintf(buf + used, len - used, "%s'%s'", used ? ", " : "", name);
}

int weft_graph_file_mismatch(const weft_graph *g, const weft_topo *file, char *msg, size_t len) {
  if (!file || file->nsites == 0 || !len) return 0;
  char empty[256] = "", undefined[256] = "";
  for (int i = 0; i < file->nsites; i++)
    if (weft_strmap_get(&g->site_by_name, file->sites[i].name) < 0) list_add(empty, sizeof empty, file->sites[i].name);
  for (int s = 0; s < g->nsites; s++) {
    int defined = 0;
    for (int i = 0; i < file->nsites && !defined; i++) defined = !strcmp(file->sites[i].name, g->sites[s].name);
    if (!defined) list_add(undefined, sizeof undefined, g->sites[s].name);
  }
  if (!undefined[0]) return 0;
  char held[300] = "";
  if (empty[0]) snprintf(held, sizeof held, " (its site(s) %s hold no rank)", empty);
  snprintf(msg, len,
           "the ranks of site(s) %s are in no site of the topology file%s: they get the built-in defaults "
           "(a 10Gbit/s 10ms WAN, no codec), not the file's links or codec. A rank's site is WEFT_SITE or "
           "config.siteName, else the file's site that lists its hostname",
           undefined, held);
  return 1;
}
