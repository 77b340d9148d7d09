/* The communicator's topology: sites -> nodes -> ranks, with a device per
 * rank and a link between every two ranks.
 *
 * Built from plain arrays (no communicator needed): one weft_rank_desc per
 * rank, and optionally a parsed topology file.
 *   - site of a rank: its explicit site name; else the file's site that lists
 *     its hostname; else "site0".
 *   - node: ranks with the same host id share one; all its ranks must end up
 *     in the same site.
 *   - device: defaults.device < site device < node entry device.
 *   - links: same node -> node_link (defaults < site node_link < node
 *     entry node_link); same site -> site link (defaults.site_link < site
 *     link < node entry link; two nodes with different links get the slower
 *     of both: min bandwidth, max latency, other fields from the endpoint
 *     with the lower bandwidth); two sites -> the wan entry for that
 *     direction, else defaults.wan_link.
 * Numbering: sites and nodes are numbered by their lowest rank; every
 * listing is in rank order (the same order as weft_groups_from_keys). */
#ifndef WEFT_TOPO_GRAPH_H
#define WEFT_TOPO_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "topo/file.h"
#include "topo/hw.h"
#include "topo/types.h"

typedef struct weft_graph weft_graph;

typedef struct {
  const char *hostname; /* required */
  uint64_t host_id;     /* ranks with equal host ids share a node */
  const char *site;     /* WEFT_SITE / config siteName; NULL or "" = none */
} weft_rank_desc;

#define WEFT_DEFAULT_SITE "site0"

/* Builds the graph of nranks ranks; file may be NULL (built-in defaults).
 * The graph copies what it needs: file and ranks may be freed afterwards.
 * Returns 0 and *out, or -1 with a message in err. */
int weft_graph_build(const weft_rank_desc *ranks, int nranks, const weft_topo *file, weft_graph **out, char *err,
                     size_t errlen);
void weft_graph_free(weft_graph *g);

int weft_graph_nranks(const weft_graph *g);
int weft_graph_nnodes(const weft_graph *g);
int weft_graph_nsites(const weft_graph *g);
/* 1 with why in msg when some ranks are in sites the file (with sites)
 * does not define, so its links and codec do not reach them; else 0. */
int weft_graph_file_mismatch(const weft_graph *g, const weft_topo *file, char *msg, size_t len);
int weft_graph_site_of_rank(const weft_graph *g, int rank); /* -1 when out of range */
int weft_graph_node_of_rank(const weft_graph *g, int rank);
int weft_graph_site_of_node(const weft_graph *g, int node);

const char *weft_graph_site_name(const weft_graph *g, int site);
int weft_graph_find_site(const weft_graph *g, const char *name); /* -1 when absent */
const char *weft_graph_node_name(const weft_graph *g, int node);
uint64_t weft_graph_node_host_id(const weft_graph *g, int node);

/* Group listings, in rank order. Each returns the count and points *out at
 * an array owned by the graph (NULL and 0 for a bad index). */
int weft_graph_node_ranks(const weft_graph *g, int node, const int **out);
int weft_graph_site_nodes(const weft_graph *g, int site, const int **out);
int weft_graph_site_ranks(const weft_graph *g, int site, const int **out);

/* Devices. */
const weft_device *weft_graph_rank_device(const weft_graph *g, int rank);
const weft_device *weft_graph_node_device(const weft_graph *g, int node);
const weft_device *weft_graph_site_device(const weft_graph *g, int site);

/* The link from rank a to rank b (directional only across sites with
 * oneway wan entries). Writes *out and returns its class, or -1 for bad
 * ranks. a == b gives WEFT_LINK_SELF: the node link with latency 0 and
 * transport "self". */
int weft_graph_link(const weft_graph *g, int a, int b, weft_link *out);
/* Link between two nodes (same node: its node_link) and between two sites
 * (same site: its site link; else the wan link a -> b). Same return. */
int weft_graph_node_link(const weft_graph *g, int na, int nb, weft_link *out);
int weft_graph_site_link(const weft_graph *g, int sa, int sb, weft_link *out);
/* A node's own links: node_link (between its ranks) and link (its
 * attachment to its site). */
const weft_link *weft_graph_node_node_link(const weft_graph *g, int node);
const weft_link *weft_graph_node_site_link(const weft_graph *g, int node);
/* 1 when the wan link sa -> sb comes from a wan entry, 0 when it is the default. */
int weft_graph_wan_explicit(const weft_graph *g, int sa, int sb);
/* The defaults in force (built-in, with the file's `defaults` applied). */
const weft_topo_defaults *weft_graph_defaults(const weft_graph *g);

/* Tuning rules: the algorithm forced for coll ("allreduce", ...) at bytes
 * (the tuner's N), or NULL. */
const char *weft_graph_forced_algo(const weft_graph *g, const char *coll, uint64_t bytes);
int weft_graph_nrules(const weft_graph *g);
const weft_topo_rule *weft_graph_rule(const weft_graph *g, int i);

/* Hardware of a node, as discovered on it (weft_hw_discover); only for
 * dumps and display. */
int weft_graph_set_node_hw(weft_graph *g, int node, const weft_hwinfo *hw);
const weft_hwinfo *weft_graph_node_hw(const weft_graph *g, int node); /* NULL when unknown */

/* Each rank's device and its PCI locality as the rank reported it ("cuda
 * 'H100' id 0000:3b:00.0: PCI 0000:3b:00.0, NUMA node 0, nearest NIC ib0
 * (same PCI switch)"); only for dumps and display. */
int weft_graph_set_rank_where(weft_graph *g, int rank, const char *line);
const char *weft_graph_rank_where(const weft_graph *g, int rank); /* NULL when unknown */

/* 1 when a and b describe the same topology (ranks, sites, nodes, devices,
 * links, rules; not host ids or hardware); else 0 with the first difference
 * in why. */
int weft_graph_equal(const weft_graph *a, const weft_graph *b, char *why, size_t whylen);

#endif
