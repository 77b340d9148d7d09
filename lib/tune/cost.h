/* Predictions of the cost model (coll/cost_model.h) for a call, through each
 * algorithm's cost hook (coll/algo.h): what the tuner picks from and
 * `weft-topo explain` prints. */
#ifndef WEFT_COST_H
#define WEFT_COST_H

#include <stddef.h>

#include "coll/cost_model.h"
#include "util/call.h"

/* Predicted time of `algo` for `kind` moving `bytes` per rank (the call's
 * count x dtype size). Returns 0 and fills *out, or -1 when the model has no
 * formula for this pair. */
int weft_cost_predict(const weft_cost_model *m, weft_coll_kind kind, weft_algo algo, size_t bytes, weft_cost *out);

/* The cheapest algorithm for kind and bytes among those the library
 * implements for it; *out gets its cost (may be NULL). */
weft_algo weft_cost_choose(const weft_cost_model *m, weft_coll_kind kind, size_t bytes, weft_cost *out);

#endif
