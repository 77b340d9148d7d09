/* The executor proper: runs one schedule to completion over a
 * communicator's connections (run.c). */
#ifndef WEFT_RUN_H
#define WEFT_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "coll/sched.h"
#include "comm/exec_view.h"
#include "nodeseg/slots_run.h"
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
  int built;    /* mem holds the layout of generation gen (also with no parts) */
} weft_run_mem;

typedef struct {
  int *idx, *ptr, *next; /* per stream: part indices in order (CSR), cursor */
} weft_run_queue;

/* Lets a caller run the reduce steps elsewhere (a device: exec/devreduce.h).
 * reduce runs step x if it can (*done = 1; else the host kernels run it);
 * any other result than weftSuccess ends the run, err saying why. wrote
 * tells it the host wrote [p, p + n) of memory (p NULL: any memory), after
 * every step that writes except the reduce steps it ran itself. */
typedef struct weft_run_hook {
  weftResult_t (*reduce)(struct weft_run_hook *h, const weft_step_reduce *x, int *done, char *err, size_t errlen);
  void (*wrote)(struct weft_run_hook *h, const void *p, size_t n);
} weft_run_hook;

/* A run in progress: everything the executor needs to go on with it, so a
 * run stopped part-way (weft_run_continue with a budget) can be continued
 * later, also on another thread. Its arrays live in the weft_run_mem. */
typedef struct weft_run {
  const weft_exec_view *v;
  const weft_peer_conn *peers; /* v->peers */
  weft_sched *s;
  weft_run_mem *m;
  int n;
  uint64_t sig;
  int *sbase; /* per peer: its first stream (global numbering, n + 1) */
  weft_run_queue sq, rq;
  int *stack, nstack;
  int *infl, ninfl; /* parts in flight */
  int *box, nbox;   /* box steps ready and not done, in step order (nodeseg/box.h) */
  void **reqs;      /* per part */
  int *pbase;       /* per step: its first part (prefix sums, nsteps + 1) */
  int *pstep;       /* per part: its step */
  int *pstream;     /* per part: its stream among its peer's */
  int *left;        /* per step: parts not yet complete */
  int ndone;
  char *err;
  size_t errlen;
  struct weft_trace *tr; /* WEFT_TRACE, or NULL */
  double *tpart;         /* tracing: per part, when it was posted */
  weft_slots_state slots; /* the node-segment step under way (one at a time: they are chained) */
  weft_run_hook *hook;    /* or NULL */
  int hooked_step;        /* the reduce step the hook ran last, -1 none */
  /* the wait for progress: rounds without any, since when, spun past yield_after_us */
  double idle_since;
  unsigned idle, iter;
  int yielding;
  double links_polled; /* when it last took the links peers opened (weft_comm_link_poll) */
} weft_run;

/* Runs s to completion over v's connections. sig: the signature of the
 * schedule's one collective call, else 0, announced in the node segment (see
 * weft_nodeseg_note_call). On failure err describes what happened and which
 * peer was involved. */
weftResult_t weft_run_sched(const weft_exec_view *v, weft_sched *s, weft_run_mem *m, uint64_t sig, char *err,
                            size_t errlen);
/* weft_run_sched with the reduce steps offered to hook (NULL: none). */
weftResult_t weft_run_sched_hooked(const weft_exec_view *v, weft_sched *s, weft_run_mem *m, uint64_t sig,
                                   weft_run_hook *hook, char *err, size_t errlen);
/* 1 when running s would first open links (comm/link.c), which waits for
 * the peers' calls: a run on a caller's thread with a budget leaves such a
 * schedule to the progress thread. */
int weft_run_needs_links(const weft_exec_view *v, const weft_sched *s, const weft_run_mem *m);
/* weft_run_sched in parts: weft_run_begin sets R up and posts what is
 * ready; weft_run_continue runs it, to the end when budget_us < 0, else
 * until budget_us have passed, then returns weftInProgress with R ready to
 * be continued (by whichever thread holds the engine now; s, m and v must
 * stay where they are). Any other result ends the run (R holds nothing
 * more). */
weftResult_t weft_run_begin(weft_run *R, const weft_exec_view *v, weft_sched *s, weft_run_mem *m, uint64_t sig,
                            char *err, size_t errlen);
weftResult_t weft_run_continue(weft_run *R, double budget_us, char *err, size_t errlen);
/* Frees m's memory. */
void weft_run_mem_free(weft_run_mem *m);

#endif
