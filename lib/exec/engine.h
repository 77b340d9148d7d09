/* Progress engine: runs schedules over the comm's transport, in order, on the
 * comm's progress thread or (for a blocking call on an idle comm) directly
 * on the calling thread. */
#ifndef WEFT_ENGINE_H
#define WEFT_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>

#include "coll/coll.h"
#include "weft.h"

struct weftComm;

typedef struct weft_op {
  struct weft_op *next;
  struct weftComm *comm;
  weft_sched sched;
  weftStream_t stream; /* NULL: someone waits for the op and frees it */
  uint64_t ticket;     /* position on the stream */
  weft_call first;     /* first call of the op, for error messages */
  int ncalls;
  int claimed; /* runs on the caller's thread, which holds the engine */
  int done;
  weftResult_t result;
} weft_op;

typedef struct weft_engine {
  pthread_mutex_t mu;
  pthread_cond_t work_cv; /* the progress thread waits for ops */
  pthread_cond_t done_cv; /* callers wait for their op */
  weft_op *head, *tail;
  _Atomic int busy; /* an op is running: the thread's, or one a caller claimed */
  int nwaiters;     /* callers waiting on done_cv */
  weft_op *pool;    /* finished ops kept for reuse */
  int npool;
  weft_op *own;          /* the op a claiming caller runs (weft_engine_claim) */
  weft_call own_tuned;   /* its last call as tuned (launch reuses the tuning */
  int own_tuned_valid;   /* of a repeated call; the claim guards both) */
  _Atomic int nqueued;   /* ops submitted to the thread and not finished */
  int max_queued; /* WEFT_MAX_QUEUED: submitting more waits (bounded scratch) */
  int stop;
  pthread_t thread;
} weft_engine;

weftResult_t weft_engine_start(struct weftComm *comm);
/* Waits for queued ops to finish (they fail fast once the comm is aborted),
 * then stops the thread. */
void weft_engine_stop(struct weftComm *comm);
weft_op *weft_engine_op_new(struct weftComm *comm);
void weft_engine_op_free(weft_op *op);
/* Queues op on the progress thread. */
void weft_engine_submit(struct weftComm *comm, weft_op *op);
/* Waits for a submitted op with a NULL stream, frees it, returns its result. */
weftResult_t weft_engine_wait(struct weftComm *comm, weft_op *op);
/* The fast path of a blocking launch: if nothing is queued and no op runs,
 * takes the engine for the calling thread without a lock and returns an op
 * to run there: the engine's own one, whose plan is kept from call to call,
 * for a single call (own != 0), else a pooled one. NULL otherwise (use
 * weft_engine_op_new and the queue). weft_engine_run_blocking or weft_engine_op_free gives
 * the engine back. */
weft_op *weft_engine_claim(struct weftComm *comm, int own);
/* Runs op (NULL stream) to completion: on this thread if it was claimed,
 * else through the queue. Frees op. */
weftResult_t weft_engine_run_blocking(struct weftComm *comm, weft_op *op);
/* Ends a claimed op that the caller ran itself with outcome res: a failure
 * is recorded on the comm as "<the op>: <why>" and breaks the comm; frees op
 * (giving the engine back) and returns res. */
weftResult_t weft_engine_claimed_done(struct weftComm *comm, weft_op *op, weftResult_t res, const char *why);

/* Runs one schedule to completion over comm's connections (run.c). On
 * failure err describes what happened and which peer was involved. */
weftResult_t weft_run_sched(struct weftComm *comm, weft_sched *s, char *err, size_t errlen);

#endif
