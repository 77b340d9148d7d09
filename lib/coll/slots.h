/* Small collectives through the node segment (core/nodeseg.h): every rank
 * writes its contribution into its own slot, then reads the others' slots
 * in place. No messages, no schedule: one cache line per rank for the
 * smallest calls. Used for allreduce, reduce, broadcast and allgather of at
 * most WEFT_SLOTS_MAX bytes per rank (and (n-1) times that at most 8 x
 * WEFT_SLOTS_MAX) when all ranks share one host. */
#ifndef WEFT_SLOTS_H
#define WEFT_SLOTS_H

#include <stddef.h>

#include "coll/coll.h"
#include "weft.h"

struct weftComm;

/* Whether call kind k of `bytes` per rank can run through comm's segment. */
int weft_slots_fit(const struct weftComm *comm, weft_coll_kind k, size_t bytes);
/* Runs c (algo ALGO_SLOTS) to completion on the calling thread, which must
 * hold the comm's engine. Results are bitwise those of the direct
 * algorithm: contributions are reduced in rank order on every rank. */
weftResult_t weft_slots_run(struct weftComm *comm, const weft_call *c, char *err, size_t errlen);

#endif
