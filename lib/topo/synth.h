/* A synthetic job on the nodes of a topology file, for weft-topo and tests:
 * the ranks a real job would report if it ran there. */
#ifndef WEFT_TOPO_SYNTH_H
#define WEFT_TOPO_SYNTH_H

#include <stddef.h>

#include "topo/file.h"
#include "topo/graph.h"

/* Nodes: those of the sites in file order, then the node entries that no
 * site lists; a file without nodes gives one node, "localhost". Ranks are
 * placed in blocks, node after node:
 *   nranks = 0, per_node = 0: one rank per node;
 *   nranks = 0, per_node = K: K ranks on every node;
 *   nranks = N, per_node = 0: N spread evenly (the first N % nodes nodes get
 *                             one more);
 *   nranks = N, per_node = K: K per node until N are placed (error when
 *                             N > K x nodes).
 * Host names point into file (valid while it lives), host ids are hashes of
 * the names, site names are NULL (the file decides). Free *out with free(). */
int weft_topo_synth_ranks(const weft_topo *file, int nranks, int per_node, weft_rank_desc **out, int *n, char *err,
                          size_t errlen);

#endif
