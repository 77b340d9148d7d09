/* Internal layout of weft_graph (graph.c builds it, graph_*.c read it). */
#ifndef WEFT_TOPO_GRAPH_IMPL_H
#define WEFT_TOPO_GRAPH_IMPL_H

#include "topo/graph.h"
#include "topo/strmap.h"

typedef struct {
  char *name;
  uint64_t host_id;
  int site;
  weft_device dev;
  weft_link link;      /* attachment to its site network */
  weft_link node_link; /* between its ranks */
  weft_hwinfo *hw;     /* NULL = unknown */
} weft_gnode;

typedef struct {
  char *name;
  weft_device dev;
  weft_link link, node_link;
} weft_gsite;

struct weft_graph {
  int nranks, nnodes, nsites;
  int *rank_node, *rank_site;
  weft_gnode *nodes;
  weft_gsite *sites;
  weft_topo_defaults defaults;
  weft_link *wan;         /* [a * nsites + b]: a -> b */
  unsigned char *wan_set; /* 1 where a wan entry gave it */
  weft_topo_rule *rules;
  int nrules;
  /* listings, each as start offsets (count + 1) and members */
  int *node_rank_start, *node_rank_list;
  int *site_rank_start, *site_rank_list;
  int *site_node_start, *site_node_list;
  weft_strmap site_by_name;
  char **rank_where; /* NULL, or per rank: its device and locality as reported (NULL = unknown) */
};

#endif
