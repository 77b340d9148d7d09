/* weft-topo explain: for each message size, the chosen algorithm, the
 * predicted time and the bottleneck link (DESIGN.md section 6), from the
 * tuner's cost model, algorithm table and rule resolution. */
#ifndef WEFT_TUNE_EXPLAIN_H
#define WEFT_TUNE_EXPLAIN_H

#include <stdio.h>

#include "topo/graph.h"
#include "tune/devtable.h"

/* Writes the explanation for collective coll ("allreduce", ...; NULL =
 * allreduce) on g to out. Returns 0, or -1 after writing why to out. */
int weft_topo_explain(const weft_graph *g, const char *coll, FILE *out);
/* The same predictions as CSV, every algorithm at every size:
 * bytes,algorithm,predicted_s,bottleneck,chosen (chosen: 1 for the pick). */
int weft_topo_explain_csv(const weft_graph *g, const char *coll, FILE *out);
/* The device block: each rank's device as the tuner sees it (t: one entry
 * per rank of g), the staging pipeline per size for coll and the device
 * reduce decision, with why. Returns 0, or -1 after writing why to out. */
int weft_topo_explain_devices(const weft_graph *g, const weft_devtable *t, const char *coll, FILE *out);

#endif
