/* weft-topo explain: for each message size, the chosen algorithm, the
 * predicted time and the bottleneck link (DESIGN.md section 6), from the
 * tuner's cost model, algorithm table and rule resolution. */
#ifndef WEFT_TUNE_EXPLAIN_H
#define WEFT_TUNE_EXPLAIN_H

#include <stdio.h>

#include "topo/graph.h"
#include "tune/devtable.h"

/* Writes the explanation for collective coll ("allreduce", ...; NULL =
 * allreduce) on g to out: the library's tuner, built on g, picks (for fp32
 * sums), so its choice is the one a call makes. codec: the WAN codec as
 * WEFT_CODEC names it (NULL: WEFT_CODEC, else the file's). Returns 0, or -1
 * after writing why to out. */
int weft_topo_explain(const weft_graph *g, const char *coll, const char *codec, FILE *out);
/* The same predictions as CSV, every algorithm at every size:
 * bytes,algorithm,predicted_s,bottleneck,chosen,codec (chosen: 1 for the
 * pick; codec: the one the pick carries between sites, else none). */
int weft_topo_explain_csv(const weft_graph *g, const char *coll, const char *codec, FILE *out);
/* The device block: each rank's device as the tuner sees it (t: one entry
 * per rank of g), the staging pipeline per size for coll and the device
 * reduce decision, with why. Returns 0, or -1 after writing why to out. */
int weft_topo_explain_devices(const weft_graph *g, const weft_devtable *t, const char *coll, FILE *out);

#endif
