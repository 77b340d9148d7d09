/* Writing a graph back as a topology file (docs/topology.md, "Dump").
 * The output parses, and building a graph from it with the same ranks
 * gives an equal graph (weft_graph_equal). Host ids and hardware are not
 * part of the format; hardware appears as comments. */
#ifndef WEFT_TOPO_DUMP_H
#define WEFT_TOPO_DUMP_H

#include <stddef.h>
#include <stdio.h>

#include "topo/graph.h"

/* Writes g as YAML to out. Returns 0, or -1 with a message in err. */
int weft_topo_dump(const weft_graph *g, FILE *out, char *err, size_t errlen);
/* Writes g to path atomically (a temporary file renamed over path), so that
 * several ranks may dump to one shared path. For WEFT_TOPO_DUMP_FILE. */
int weft_topo_dump_path(const weft_graph *g, const char *path, char *err, size_t errlen);

/* Helpers shared with weft-topo: "100Gbit/s, 2us, ucx" (and codec/streams
 * for wan links), "cuda nvidia A100 speed 1", rank lists as "0-3,8". */
void weft_link_describe(const weft_link *l, int wan, char *buf, size_t len);
void weft_device_describe(const weft_device *d, char *buf, size_t len);
void weft_ranks_describe(const int *ranks, int n, char *buf, size_t len);

#endif
