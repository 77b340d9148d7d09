/* Progress engine: runs ops (a schedule each) over a communicator's
 * connections, in order, on the engine's progress thread or (for a blocking
 * call on an idle engine) directly on the calling thread. It sees the
 * communicator only through its exec view (comm/exec_view.h). */
#ifndef WEFT_ENGINE_H
#define WEFT_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>

#include "coll/coll.h"
#include "comm/exec_view.h"
#include "exec/devstage.h"
#include "exec/plancache.h"
#include "exec/run.h"
#include "weft.h"

struct weft_engine;

typedef struct weft_op {
  struct weft_op *next;
  struct weft_engine *engine;
  struct weftComm *comm; /* the engine's communicator (for the launch) */
  weft_sched sched;      /* the op's schedule: its plan */
  weft_plan_cache plan;  /* which call that plan was built for */
  weft_run_mem mem;      /* the executor's bookkeeping for the plan */
  weft_devstage dev;     /* calls on device buffers: built when the op runs */
  uint64_t sig;          /* the signature of its one collective call, else 0 */
  weftStream_t stream;   /* NULL: someone waits for the op and frees it */
  uint64_t ticket;       /* position on the stream */
  weft_call first;       /* first call of the op, for error messages */
  int ncalls;
  int build_at_run; /* its one call (first) is built (or its kept plan rearmed) when
                     * the op runs, on the progress thread: a call queued on a
                     * stream costs its caller no schedule building */
  int warm_slot;    /* the engine's warm plan it runs on (-1: its own), see weft_warm_plan */
  int claimed; /* runs on the caller's thread, which holds the engine */
  int resume;  /* its run stopped part-way on the caller's thread: run goes on from there */
  int begun;   /* its run began (weft_run_begin): an op handed over before that starts over */
  weft_run run; /* the run under way (weft_engine_run_inline hands it over) */
  uint64_t start_ticks; /* when it started running (stats; util/ticks.h) */
  double start_us;
  size_t **vecs; /* copies of its v-calls' counts (weft_call.vec), freed with the op */
  int nvecs, vecs_cap;
  int done;
  weftResult_t result;
} weft_op;

typedef struct weft_engine {
  weft_exec_view v; /* the communicator, as the executor sees it */
  pthread_mutex_t mu;
  pthread_cond_t work_cv; /* the progress thread waits for ops */
  pthread_cond_t done_cv; /* callers wait for their op */
  weft_op *head, *tail;
  _Atomic int busy; /* an op is running: the thread's, or one a caller claimed */
  int nwaiters;     /* callers waiting on done_cv for their op */
  int nfull;        /* callers waiting on done_cv for a full queue to drain */
  weft_op *pool;    /* finished ops kept for reuse */
  int npool;
  weft_op *own;        /* the op a claiming caller runs (weft_engine_claim) */
  _Atomic int nqueued; /* ops submitted to the thread and not finished */
  int max_queued;      /* WEFT_MAX_QUEUED: submitting more waits until the queue is empty */
  double inline_us;    /* WEFT_STREAM_INLINE_US: how long a stream op may run on its caller's thread (0: never) */
  weft_devstage_pool devpool; /* device stream and staging of ops on device buffers */
  /* Plans of calls queued on streams, kept by the progress thread across ops
   * (a stream of large calls runs on these warm schedules and scratch, however
   * many ops are queued); only that thread touches them. */
  struct weft_warm_plan {
    weft_sched sched;
    weft_plan_cache plan;
    weft_run_mem mem;
  } warm[3];
  int warm_next; /* the slot a new plan replaces next */
  int stop;
  pthread_t thread;
} weft_engine;

/* Starts the progress thread of the communicator that v describes. */
weftResult_t weft_engine_start(const weft_exec_view *v, weft_engine **out);
/* Waits for queued ops to finish (they fail fast once the comm is aborted),
 * then stops the thread and frees e (NULL: nothing). */
void weft_engine_stop(weft_engine *e);
weft_op *weft_engine_op_new(weft_engine *e);
/* Puts the schedule of op's one call (op->first) into op: the plan kept
 * from the same call if op has it (rearmed with the call's tag), else
 * built. 0, or -1 when out of memory. */
int weft_engine_plan_call(weft_op *op, int rank, int nranks);
void weft_engine_op_free(weft_op *op);
/* A copy of the len entries of vec that lives as long as op's call records
 * (a call on a stream is built after its caller returned); NULL when out of
 * memory. */
const size_t *weft_engine_op_keep_vec(weft_op *op, const size_t *vec, size_t len);
/* Queues op on the progress thread. */
void weft_engine_submit(weft_op *op);
/* Waits for a submitted op with a NULL stream, frees it, returns its result. */
weftResult_t weft_engine_wait(weft_op *op);
/* The fast path of a blocking launch: if nothing is queued and no op runs,
 * takes the engine for the calling thread without a lock and returns an op
 * to run there: the engine's own one, whose plan is kept from call to call,
 * for a single call (own != 0), else a pooled one. NULL otherwise (use
 * weft_engine_op_new and the queue). weft_engine_run_blocking or
 * weft_engine_op_free gives the engine back. */
weft_op *weft_engine_claim(weft_engine *e, int own);
/* The fast path of a stream launch: op was claimed (weft_engine_claim) and
 * holds the stream's current ticket (nothing before it on the stream is
 * pending). Runs it here for up to the engine's inline_us: an op that ends
 * in that time completes its ticket here (a failure goes to the stream and
 * the comm, as on the progress thread); otherwise the run, as far as it got,
 * goes to the progress thread, which continues it. Never blocks longer. */
void weft_engine_run_inline(weft_op *op);
/* Stream calls up to this many bytes (count x element size) may run on
 * their caller's thread.
 * Measured on 2 ranks (overlap_bench, a call then a synchronize, on a
 * loaded 2-core host): up to 8 KiB as fast as handing over and without its
 * two context switches, 32 KiB 1.3x and 64 KiB-1 MiB 2x slower (a caller
 * that spins for a late peer takes CPU the peer needs), so larger calls keep
 * the queued path, which also keeps their schedule building (and scratch)
 * off a DDP-style caller. */
#define WEFT_INLINE_MAX ((size_t)16 << 10)
/* A stream launch that found the engine busy with one op (one handed
 * over by the last call, typically): waits up to budget_us for the engine
 * to go idle, so the call can start on its caller's thread instead of
 * queueing behind; 1 if it did (claim it then), 0 otherwise. */
int weft_engine_wait_idle(weft_engine *e, double budget_us);
/* Gives a claimed op, not started or stopped part-way, to the progress
 * thread, with the engine: it runs (or goes on) there as the next op. */
void weft_engine_hand_over(weft_op *op);
/* Runs op (NULL stream) to completion: on this thread if it was claimed,
 * else through the queue. Frees op. */
weftResult_t weft_engine_run_blocking(weft_op *op);
/* Ends a claimed op that the caller ran itself with outcome res: a failure
 * is recorded on the comm as "<the op>: <why>" and breaks the comm; frees op
 * (giving the engine back) and returns res. */
weftResult_t weft_engine_claimed_done(weft_op *op, weftResult_t res, const char *why);
/* WEFT_TRACE: op's span on the calls lane, from start_us to now (the
 * engine's view must have a trace). */
void weft_engine_trace_op(const weft_op *op, double start_us, weftResult_t res);
/* weftCommGetStats: op finished with res, having started at start_ticks
 * (weft_ticks). */
void weft_engine_count_op(const weft_op *op, uint64_t start_ticks, weftResult_t res);

#endif
