/* The executor proper: runs one schedule to completion over a
 * communicator's connections (run.c). */
#ifndef WEFT_RUN_H
#define WEFT_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "coll/sched.h"
#include "comm/exec_view.h"
#include "weft.h"

/* The executor's bookkeeping for one schedule (per-peer stream queues, the
 * parts messages are cut into, requests in flight), kept with the op that
 * owns the schedule so a reused schedule runs without allocating. */
typedef struct {
  void *mem;
  size_t cap;
  int nparts;   /* > 0: mem holds the queues and parts of the schedule of */
  uint32_t gen; /* this generation (weft_sched.gen): a rearmed plan reuses them */
  int nstreams; /* the streams those queues cover (all peers') */
} weft_run_mem;

/* Runs s to completion over v's connections. sig: the signature of the
 * schedule's one collective call, else 0, announced in the node segment (see
 * weft_nodeseg_note_call). On failure err describes what happened and which
 * peer was involved. */
weftResult_t weft_run_sched(const weft_exec_view *v, weft_sched *s, weft_run_mem *m, uint64_t sig, char *err,
                            size_t errlen);
/* Frees m's memory. */
void weft_run_mem_free(weft_run_mem *m);

#endif
