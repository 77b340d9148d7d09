/* Algorithm and chunk selection. Inside one node, size and rank-count rules
 * calibrated on shared memory; across nodes and sites, the alpha-beta cost
 * model (cost.h) over the comm's layout, tabulated per power-of-two size at
 * init. WEFT_ALGO / config algo override both. */
#ifndef WEFT_TUNE_H
#define WEFT_TUNE_H

#include "coll/coll.h"

struct weftComm;

/* Sets c->algo and c->chunk_bytes for call c on comm. An override
 * (WEFT_ALGO / config algo) wins when the collective supports it. */
void weft_tune(const struct weftComm *comm, weft_call *c);
/* Builds the cost model of the comm's layout and its decision table
 * (after the layout is known, before the first call). */
void weft_tune_init(struct weftComm *comm);

/* WAN codec (codec_policy.c): resolved at init; per call, the codec of c's
 * links between sites (may switch an allreduce to the hierarchical one). */
void weft_codec_policy_init(struct weftComm *comm);
void weft_codec_choose(const struct weftComm *comm, weft_call *c);
/* Error-feedback residuals (count floats, zero at first) kept with the comm
 * for calls of this shape; NULL when out of memory or shapes. */
float *weft_ef_get(struct weftComm *comm, size_t count, weftDataType_t dt);
void weft_ef_free(struct weftComm *comm);
/* Bucket of a message size in the decision table: ceil(log2(bytes)). */
int weft_tune_bucket(size_t bytes);
/* Whether the library has algorithm a for collective k. */
int weft_algo_supported(weft_coll_kind k, weft_algo a);
/* Collectives with a hierarchical algorithm. */
int weft_hier_supports(weft_coll_kind k);
/* Parses "ring" / "tree" / "direct" / "hier"; ALGO_NONE otherwise. */
weft_algo weft_algo_parse(const char *name);

#endif
