/* weft-topo explain: for each message size, the chosen algorithm, the
 * predicted time and the bottleneck link (DESIGN.md section 6). The cost
 * model lives in lib/tune; this is the hook weft-topo calls. */
#ifndef WEFT_TOPO_EXPLAIN_H
#define WEFT_TOPO_EXPLAIN_H

#include <stdio.h>

#include "topo/graph.h"

/* Writes the explanation for collective coll ("allreduce", ...; NULL =
 * allreduce) on g to out. Returns 0, or -1 after writing why to out. */
int weft_topo_explain(const weft_graph *g, const char *coll, FILE *out);
/* The same predictions as CSV, every algorithm at every size:
 * bytes,algorithm,predicted_s,bottleneck,chosen (chosen: 1 for the pick). */
int weft_topo_explain_csv(const weft_graph *g, const char *coll, FILE *out);

#endif
