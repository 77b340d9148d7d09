/* Algorithm and chunk selection. For now a size- and rank-count rule; the
 * topology-driven cost model replaces it (see DESIGN.md section 6). */
#ifndef WEFT_TUNE_H
#define WEFT_TUNE_H

#include "coll/coll.h"

struct weftComm;

/* Sets c->algo and c->chunk_bytes for call c on comm. An override
 * (WEFT_ALGO / config algo) wins when the collective supports it. */
void weft_tune(const struct weftComm *comm, weft_call *c);
/* Parses "ring" / "tree"; ALGO_NONE otherwise. */
weft_algo weft_algo_parse(const char *name);

#endif
