/* Small collectives through the node segment (nodeseg/nodeseg.h): every rank
 * writes its contribution into its own slot, then reads the others' slots
 * in place. No messages, no schedule: one cache line per rank for the
 * smallest calls. Used for every collective (not send/recv) when all ranks
 * share one host and what a rank publishes (its buffer; all n blocks of it
 * for reduce-scatter and all-to-all) is at most WEFT_SLOTS_MAX bytes, and
 * (n-1) times that at most 8 x WEFT_SLOTS_MAX (weft_slots_eligible in
 * coll/slots.c, which the tuner asks). */
#ifndef WEFT_SLOTS_RUN_H
#define WEFT_SLOTS_RUN_H

#include <stddef.h>

#include "coll/coll.h"
#include "weft.h"

struct weftComm;

/* Runs one collective (a slots step, or a call whose algo is ALGO_SLOTS) to
 * completion on the calling thread, which must hold the comm's engine.
 * Results are bitwise those of the direct algorithm: contributions are
 * reduced in rank order on every rank. */
weftResult_t weft_slots_run(struct weftComm *comm, const weft_step_slots *c, char *err, size_t errlen);

/* Where a slots call that stopped part-way stands: published (seq), and the
 * ranks before `next` read. Zeroed: not started. */
typedef struct {
  uint32_t seq;
  int started, next;
  const void *first; /* reductions: rank 0's payload */
} weft_slots_state;

/* weft_slots_run that may stop: with until_us > 0 (a weft_now_us time) it
 * returns weftInProgress once that time has passed while a peer has not
 * published yet, leaving st to continue from, on this thread or on another
 * that then holds the engine. until_us 0: runs to the end. */
weftResult_t weft_slots_run_until(struct weftComm *comm, const weft_step_slots *c, weft_slots_state *st,
                                  double until_us, char *err, size_t errlen);

/* The slots payload of a call (a blocking call runs it without a schedule). */
static inline weft_step_slots weft_slots_of_call(const weft_call *c) {
  return (weft_step_slots){.coll = (uint8_t)c->kind, .dt = (uint8_t)c->dt, .op = (uint8_t)c->op, .root = c->root,
                           .src = c->sendbuf, .dst = c->recvbuf, .count = c->count, .tag = c->tag};
}

#endif
