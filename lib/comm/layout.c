#include "comm/layout.h"
#include "coll/algo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootstrap/bootstrap.h"
#include "comm/comm.h"
#include "comm/comm_log.h"
#include "util/param.h"
#include "topo/dump.h"
#include "topo/file.h"
#include "topo/graph.h"
#include "topo/hw.h"
#include "tune/graph_model.h"

static void dump_topology(struct weftComm *c, const char *path) {
  char err[512];
  weft_hwinfo hw;
  if (weft_hw_discover(&hw, err, sizeof err) == 0)
    weft_graph_set_node_hw(c->layout.graph, weft_graph_node_of_rank(c->layout.graph, c->rank), &hw);
  if (weft_topo_dump_path(c->layout.graph, path, err, sizeof err) != 0)
    WEFT_WARN(c, "WEFT_TOPO_DUMP_FILE: %s", err);
  else
    WEFT_INFO(c, "topology written to %s", path);
}

/* What each rank tells the others to build the graph. */
typedef struct {
  char site[64];
  char where[WEFT_DEV_WHERE_LEN]; /* its device and locality (comm/locality.c) */
} rank_card;

weftResult_t weft_layout_build(struct weftComm *c) {
  int n = c->nranks;
  weft_layout *l = &c->layout;
  char err[1024];
  rank_card *cards = calloc((size_t)n, sizeof *cards);
  weft_rank_desc *desc = calloc((size_t)n, sizeof *desc);
  weft_topo *file = NULL;
  l->mem = calloc(WEFT_GRAPH_GROUPS_MEM(n), sizeof(int));
  weftResult_t res = weftSuccess;
  if (!cards || !desc || !l->mem) res = weft_error(NULL, weftSystemError, "out of memory");
  if (res == weftSuccess) {
    snprintf(cards[c->rank].site, sizeof cards->site, "%s", c->site);
    memcpy(cards[c->rank].where, c->dev_where, sizeof cards->where);
    if (n > 1 && (res = weft_bootstrap_allgather(c->bootstrap, cards, sizeof *cards, err)) != weftSuccess)
      weft_error(NULL, res, "%s", err);
  }
  /* every rank reads the file: it must be the same everywhere */
  if (res == weftSuccess && c->topo_file[0] &&
      weft_topo_parse_file(c->topo_file, weft_algo_rule_names(), &file, err, sizeof err) != 0)
    res = weft_error(NULL, weftInvalidArgument, "topology file: %s", err);
  if (res == weftSuccess) {
    for (int r = 0; r < n; r++)
      desc[r] = (weft_rank_desc){c->bootstrap->peers[r].host, c->bootstrap->peers[r].host_id, cards[r].site};
    if (weft_graph_build(desc, n, file, &l->graph, err, sizeof err) != 0)
      res = weft_error(NULL, weftInvalidArgument, "topology: %s", err);
  }
  for (int r = 0; res == weftSuccess && r < n; r++) {
    cards[r].where[sizeof cards->where - 1] = 0;
    if (cards[r].where[0]) weft_graph_set_rank_where(l->graph, r, cards[r].where); /* display only */
  }
  if (res == weftSuccess) {
    weft_graph_groups(l->graph, &l->nodes, &l->sites, l->mem);
    int site = weft_graph_site_of_rank(l->graph, c->rank);
    WEFT_INFO(c, "layout: %d ranks on %d nodes in %d sites%s%s (this rank: node %d, site %s)", n, l->nodes.ngroups,
              l->sites.ngroups, file ? ", topology file " : "", file ? c->topo_file : "", l->nodes.group_of[c->rank],
              weft_graph_site_name(l->graph, site));
    const char *dump = weft_env("WEFT_TOPO_DUMP_FILE");
    if (dump && c->rank == 0) dump_topology(c, dump);
  }
  weft_topo_free(file);
  free(cards);
  free(desc);
  return res;
}

void weft_layout_free(weft_layout *l) {
  weft_graph_free(l->graph);
  free(l->mem);
  memset(l, 0, sizeof *l);
}
