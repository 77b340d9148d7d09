/* The cost model and rank groups of a topology graph: what the tuner of a
 * communicator and `weft-topo explain` both use, so they agree. */
#ifndef WEFT_GRAPH_MODEL_H
#define WEFT_GRAPH_MODEL_H

#include "util/call.h"
#include "topo/graph.h"
#include "tune/cost.h"

/* Ints of storage weft_graph_groups needs for n ranks. */
#define WEFT_GRAPH_GROUPS_MEM(n) (2 * (4 * (size_t)(n) + 1))

/* Nodes and sites of the graph as rank groups (mem: WEFT_GRAPH_GROUPS_MEM ints). */
void weft_graph_groups(const weft_graph *g, weft_groups *nodes, weft_groups *sites, int *mem);
/* A model over those groups whose links are the graph's (per pair of ranks). */
void weft_graph_cost_model(const weft_graph *g, const weft_groups *nodes, const weft_groups *sites,
                           weft_cost_model *m);

/* The codec the file gives the links between sites (when they differ, the
 * one that compresses most; "auto" if one says so), "" when none; why: which
 * link. The model above already counts it. */
void weft_graph_wan_codec(const weft_graph *g, char *name, size_t len, char *why, size_t wlen);

#endif
