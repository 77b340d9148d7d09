#include "exec/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>

#include "coll/algo.h"
#include "exec/stream.h"
#include "reduce/reduce.h"
#include "util/log.h"
#include "util/param.h"
#include "util/trace.h"
#include "util/clock.h"
#include "util/spin.h"
#include "util/ticks.h"
#include "codec/codec.h"

/* Ops are recycled per engine: a training loop issues the same calls over
 * and over, and reusing their arrays keeps malloc off the small-message path.
 * The first OP_POOL_PLANS pooled ops keep their plans (schedule and scratch,
 * which for a large call is as large as the message); the others keep only
 * small arrays. A call queued on a stream is built when it runs
 * (build_at_run), so queued ops hold no scratch of their own: memory stays
 * at a few warm plans however many calls wait, and the caller never blocks
 * on building one. */
#define OP_POOL_MAX 8
#define OP_POOL_PLANS 3

/* Clears what a previous call left in op; its schedule (plan) stays, and
 * `first` is written by the launch before anything reads it. Field by field:
 * this runs on every blocking call. */
static void op_clear(weft_op *op, weft_engine *e) {
  op->next = NULL;
  op->engine = e;
  op->comm = e->v.comm;
  op->sig = 0;
  op->stream = NULL;
  op->ticket = 0;
  op->ncalls = 0;
  op->claimed = 0;
  op->resume = 0;
  op->begun = 0;
  op->build_at_run = 0;
  op->warm_slot = -1;
  op->done = 0;
  op->result = weftSuccess;
}

/* A zeroed op with an empty schedule, or NULL. */
static weft_op *op_alloc(void) {
  weft_op *op = calloc(1, sizeof *op);
  if (op) weft_sched_init(&op->sched);
  return op;
}

weft_op *weft_engine_op_new(weft_engine *e) {
  weft_op *op = NULL;
  pthread_mutex_lock(&e->mu);
  if (e->pool) {
    op = e->pool;
    e->pool = op->next;
    e->npool--;
  }
  pthread_mutex_unlock(&e->mu);
  if (!op && !(op = op_alloc())) return NULL;
  op_clear(op, e);
  return op;
}

/* Gives back an engine taken by weft_engine_claim, waking the thread if ops were
 * queued meanwhile. Without a full fence the load may miss an op queued at
 * that very moment; weft_engine_submit signals the thread for every op, and the
 * thread, finding the engine claimed, looks again every millisecond, so such
 * an op waits at most that long. */
static void release(weft_engine *e) {
  atomic_store_explicit(&e->busy, 0, memory_order_release);
  if (atomic_load_explicit(&e->nqueued, memory_order_relaxed) > 0) {
    pthread_mutex_lock(&e->mu);
    pthread_cond_signal(&e->work_cv);
    pthread_mutex_unlock(&e->mu);
  }
}

weft_op *weft_engine_claim(weft_engine *e, int own) {
  int idle = 0;
  if (atomic_load(&e->nqueued) > 0 || !atomic_compare_exchange_strong(&e->busy, &idle, 1)) return NULL;
  weft_op *op = NULL;
  if (own) {
    if (!e->own) e->own = op_alloc();
    if ((op = e->own)) op_clear(op, e);
  } else {
    op = weft_engine_op_new(e);
  }
  if (!op) {
    release(e);
    return NULL;
  }
  op->claimed = 1;
  return op;
}

/* With e->mu held: keeps a reset op for reuse; returns 0 if the pool is full
 * (the caller then frees it with op_destroy, outside the lock). */
static int pool_put_locked(weft_engine *e, weft_op *op) {
  if (e->npool >= OP_POOL_MAX || e->stop) return 0;
  if (e->npool >= OP_POOL_PLANS) {
    weft_sched_drop_scratch(&op->sched);
    weft_plan_cache_forget(&op->plan);
  }
  op->next = e->pool;
  e->pool = op;
  e->npool++;
  return 1;
}

const size_t *weft_engine_op_keep_vec(weft_op *op, const size_t *vec, size_t len) {
  if (op->nvecs == op->vecs_cap) {
    int cap = op->vecs_cap ? 2 * op->vecs_cap : 4;
    size_t **m = realloc(op->vecs, sizeof *m * (size_t)cap);
    if (!m) return NULL;
    op->vecs = m;
    op->vecs_cap = cap;
  }
  size_t *v = malloc(sizeof *v * (len ? len : 1));
  if (!v) return NULL;
  memcpy(v, vec, sizeof *v * len);
  return op->vecs[op->nvecs++] = v;
}

/* Its calls are over: their counts go (the kept plan no longer reads them). */
static void drop_vecs(weft_op *op) {
  for (int i = 0; i < op->nvecs; i++) free(op->vecs[i]);
  op->nvecs = 0;
}

static void op_destroy(weft_op *op) {
  drop_vecs(op);
  free(op->vecs);
  weft_devstage_free(&op->dev);
  weft_sched_free(&op->sched);
  weft_run_mem_free(&op->mem);
  free(op);
}

void weft_engine_op_free(weft_op *op) {
  if (!op) return;
  weft_engine *e = op->engine;
  weft_devstage_end(&op->dev, op->result != weftSuccess); /* a queue it still holds goes on */
  weft_plan_cache_park(&op->plan, &op->sched, op->result == weftSuccess);
  drop_vecs(op);
  if (op->claimed) release(e); /* give the engine back */
  if (op == e->own) return;
  pthread_mutex_lock(&e->mu);
  int kept = pool_put_locked(e, op);
  pthread_mutex_unlock(&e->mu);
  if (!kept) op_destroy(op);
}

static void op_desc(const weft_op *op, char *buf, size_t len) {
  const weft_call *c = &op->first;
  int reducing = c->kind == COLL_ALLREDUCE || c->kind == COLL_REDUCE || c->kind == COLL_REDUCESCATTER;
  if (op->ncalls == 1)
    snprintf(buf, len, "%s(count %zu, %s%s%s, %s)", weft_coll_name(c->kind), c->count, weft_dtype_name(c->dt),
             reducing ? ", " : "", reducing ? weft_op_name(c->op) : "", weft_algo_name(c->algo));
  else
    snprintf(buf, len, "group of %d calls", op->ncalls);
}

/* weftSuccess if the comm may run an op, else why not. */
static weftResult_t comm_usable(const weft_exec_view *v, char *why, size_t len) {
  weftResult_t sticky = atomic_load(v->async_error);
  if (sticky != weftSuccess) {
    snprintf(why, len, "communicator already failed (%s)", weftGetErrorString(sticky));
    return sticky;
  }
  if (atomic_load(v->aborted)) {
    snprintf(why, len, "aborted by weftCommAbort");
    return weftAborted;
  }
  return weftSuccess;
}

/* A slots call stopped part-way on its caller's thread (st) becomes the
 * op's run, as if the executor had stopped there: the schedule (one slots
 * step) is built or taken from the plans, and the run goes on from st. */
static weftResult_t slots_to_run(weft_op *op, const weft_slots_state *st, char *why, size_t len) {
  const weft_exec_view *v = &op->engine->v;
  if (weft_engine_plan_call(op, v->rank, v->nranks) != 0) {
    snprintf(why, len, "out of memory building its schedule");
    return weftSystemError;
  }
  if (op->sched.nsteps != 1 || op->sched.steps[0].kind != ST_SLOTS) {
    snprintf(why, len, "internal error: the node-segment call's schedule is not one slots step");
    return weftInternalError;
  }
  weftResult_t r = weft_run_begin(&op->run, v, &op->sched, &op->mem, op->sig, why, len);
  if (r != weftSuccess) return r;
  op->run.slots = *st;
  op->begun = 1;
  return weftInProgress;
}

/* A call the tuner sent to the node segment, with a budget (a stream call
 * on its caller's thread): runs without a schedule, as a blocking one does
 * (launch.c run_slots): no plan lookup, no executor. A peer later than the
 * budget gets the op its schedule, the slots call part-done in its run. */
static weftResult_t run_slots_until(weft_op *op, double budget_us, char *why, size_t len) {
  const weft_exec_view *v = &op->engine->v;
  weft_slots_state st = {0};
  weft_step_slots a = weft_slots_of_call(&op->first);
  weftResult_t res = weft_slots_run_until(v->comm, &a, &st, weft_now_us() + budget_us, why, len);
  return res == weftInProgress ? slots_to_run(op, &st, why, len) : res;
}

/* Runs op on the current thread; the caller holds the engine's busy flag.
 * On failure `why` says what happened (exec_op adds which op it was).
 * budget_us >= 0: a run that has not ended by then stops with
 * weftInProgress, to go on from op->run (op->resume). */
static weftResult_t run_op_body(weft_op *op, int after_pending, double budget_us, char *why, size_t len) {
  const weft_exec_view *v = &op->engine->v;
  why[0] = 0;
  /* after_pending: the op before it on its stream ran on this engine and is
   * finished right after this one starts its device work (engine_main), or
   * the caller took its ticket on its turn (weft_engine_run_inline) */
  if (op->stream && !after_pending) {
    weftResult_t r = weft_stream_wait_turn(op->stream, op->ticket, v->timeout_ms, v->aborted);
    if (r != weftSuccess) {
      snprintf(why, len, "gave up waiting for earlier operations on its stream");
      return r;
    }
  }
  weftResult_t usable = comm_usable(v, why, len);
  if (usable != weftSuccess) return usable;
  if (budget_us >= 0 && op->ncalls == 1 && op->first.algo == ALGO_SLOTS && !op->dev.ncalls)
    return run_slots_until(op, budget_us, why, len);
  if (op->build_at_run && weft_engine_plan_call(op, v->rank, v->nranks) != 0) {
    snprintf(why, len, "out of memory building its schedule");
    return weftSystemError;
  }
  if (op->dev.ncalls || op->dev.prior) return weft_devstage_run(op, why, len);
  if (budget_us < 0) return weft_run_sched(v, &op->sched, &op->mem, op->sig, why, len);
  /* opening links waits for the peers' calls (comm/link.c): not on a
   * caller's thread that must return within its budget; the op goes to the
   * progress thread whole (not begun: no resume) */
  if (weft_run_needs_links(v, &op->sched, &op->mem)) return weftInProgress;
  op->begun = 1;
  weftResult_t r = weft_run_begin(&op->run, v, &op->sched, &op->mem, op->sig, why, len);
  return r == weftSuccess ? weft_run_continue(&op->run, budget_us, why, len) : r;
}

void weft_engine_trace_op(const weft_op *op, double start_us, weftResult_t res) {
  weft_trace *t = op->engine->v.trace;
  const weft_call *c = &op->first;
  char args[256];
  size_t bytes = c->count * weft_dtype_size(c->dt);
  if (op->ncalls > 1)
    snprintf(args, sizeof args, "\"calls\":%d,\"result\":\"%s\"", op->ncalls, weftGetErrorString(res));
  else
    snprintf(args, sizeof args,
             "\"algorithm\":\"%s\",\"codec\":\"%s\",\"count\":%zu,\"dtype\":\"%s\",\"bytes\":%zu,"
             "\"result\":\"%s\"",
             weft_algo_name(c->algo), c->codec ? weft_codec_name((weft_codec_id)c->codec) : "none", c->count,
             weft_dtype_name(c->dt), bytes, weftGetErrorString(res));
  weft_trace_span(t, WEFT_LANE_CALLS, op->ncalls > 1 ? "group" : weft_coll_name(c->kind), "call", start_us,
                  weft_trace_now_us() - start_us, args);
}

/* Adds to a counter that only the engine's holder writes (ops run one at a
 * time, under the busy flag, whose hand-overs order them), so no locked
 * read-modify-write: on the small-call path that barrier waited for the
 * call's own stores to shared memory to leave the core, ~0.1 µs a call. */
static void holder_add(_Atomic uint64_t *x, uint64_t v) {
  atomic_store_explicit(x, atomic_load_explicit(x, memory_order_relaxed) + v, memory_order_relaxed);
}

void weft_engine_count_op(const weft_op *op, uint64_t start_ticks, weftResult_t res) {
  weft_comm_stats *x = op->engine->v.stats;
  if (!x) return;
  holder_add(res == weftSuccess ? &x->calls : &x->failed, 1);
  int a = op->ncalls > 1 ? ALGO_P2P : op->first.algo;
  if (res == weftSuccess && a >= 0 && a < WEFT_STATS_ALGOS) holder_add(&x->by_algo[a], 1);
  holder_add(&x->call_ticks, weft_ticks() - start_ticks);
}

/* run_op_body, or the rest of a run stopped part-way, counted
 * (weftCommGetStats) and on the calls lane of WEFT_TRACE's timeline when
 * tracing, once it ended: from when it started, on whichever thread. */
static weftResult_t run_op(weft_op *op, int after_pending, double budget_us, char *why, size_t len) {
  weftResult_t res;
  if (op->resume) {
    res = weft_run_continue(&op->run, -1, why, len);
  } else {
    op->start_ticks = weft_ticks();
    op->start_us = op->engine->v.trace ? weft_trace_now_us() : 0;
    op->begun = 0;
    res = run_op_body(op, after_pending, budget_us, why, len);
  }
  op->resume = res == weftInProgress && op->begun; /* else it starts over where it goes */
  if (res == weftInProgress) return res;
  if (op->engine->v.trace) weft_engine_trace_op(op, op->start_us, res);
  weft_engine_count_op(op, op->start_ticks, res);
  return res;
}

/* "<what op was>: <why>" into err. */
static void op_error(const weft_op *op, const char *why, char *err, size_t errlen) {
  char desc[128];
  op_desc(op, desc, sizeof desc);
  snprintf(err, errlen, "%s: %s", desc, why);
}

static weftResult_t exec_op(weft_op *op, int after_pending, char *err, size_t errlen) {
  char why[WEFT_ERRMSG_LEN];
  weftResult_t r = run_op(op, after_pending, -1, why, sizeof why);
  err[0] = 0;
  if (r != weftSuccess) op_error(op, why, err, errlen);
  return r;
}

/* Records the outcome; a failed op breaks the comm so peers learn at once. */
static void finish_op(weft_op *op, weftResult_t res, const char *err) {
  weft_engine *e = op->engine;
  char msg[WEFT_ERRMSG_LEN];
  if (res != weftSuccess) { /* the message names the failure's origin (comm/fault.h) */
    weft_comm_fail_op(e->v.comm, res, err, msg, sizeof msg);
    weft_error_to(e->v.log, res, "%s", msg);
    err = msg;
  }
  int detached = op->stream != NULL; /* else the waiter frees op once done is set */
  if (detached) weft_stream_complete(op->stream, res, err);
  pthread_mutex_lock(&e->mu);
  op->result = res;
  op->done = 1;
  int left = atomic_fetch_sub(&e->nqueued, 1) - 1;
  if (e->nwaiters || (e->nfull && left == 0)) pthread_cond_broadcast(&e->done_cv);
  pthread_mutex_unlock(&e->mu);
  if (detached) weft_engine_op_free(op); /* nobody waits on a stream op */
}

static void warm_keep(weft_op *op);

/* Finishes an op whose last device work was left unwaited (devstage.h). */
static void settle_op(weft_op *op) {
  char why[WEFT_ERRMSG_LEN], err[WEFT_ERRMSG_LEN] = "";
  weftResult_t res = weft_devstage_settle(op, why, sizeof why);
  if (res != weftSuccess) op_error(op, why, err, sizeof err);
  finish_op(op, res, err);
}

/* One op at a time. An op on a weft stream with device buffers may end
 * with its copies out or unmaps queued but not waited for (pending): the
 * next op's first wait on the same in-order device stream covers them, so
 * in a run of such ops each costs one round trip through the device, not
 * two. A pending op is finished (in order) after the next op ran, or at
 * once when there is none; the engine stays busy until then. */
static void *engine_main(void *arg) {
  weft_engine *e = arg;
  char err[WEFT_ERRMSG_LEN];
  weft_op *pending = NULL;
  pthread_mutex_lock(&e->mu);
  for (;;) {
    while (!e->stop && !e->head && !pending) pthread_cond_wait(&e->work_cv, &e->mu);
    if (!e->head && !pending) break; /* stopping and nothing left */
    if (!e->head) {
      pthread_mutex_unlock(&e->mu);
      settle_op(pending);
      pending = NULL;
      pthread_mutex_lock(&e->mu);
      atomic_store(&e->busy, 0);
      continue;
    }
    int idle = 0;
    if (!pending && !atomic_compare_exchange_strong(&e->busy, &idle, 1)) {
      /* a caller runs a claimed op; it signals when done (see release) */
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      ts.tv_nsec += 1000 * 1000;
      if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
      pthread_cond_timedwait(&e->work_cv, &e->mu, &ts);
      continue;
    }
    weft_op *op = e->head;
    e->head = op->next;
    if (!e->head) e->tail = NULL;
    pthread_mutex_unlock(&e->mu);
    /* only the next op of the pending one's stream runs before it is
     * finished: any other may wait for its turn behind it */
    int follows = pending && op->stream == pending->stream && op->ticket == pending->ticket + 1;
    if (pending && !follows) {
      settle_op(pending);
      pending = NULL;
    }
    op->dev.may_defer = op->stream != NULL;
    weftResult_t res = exec_op(op, follows, err, sizeof err);
    /* built or taken from the warm plans when it ran (here or on its caller's thread) */
    if (res == weftSuccess && op->warm_slot != -1) warm_keep(op);
    if (pending) settle_op(pending);
    pending = res == weftSuccess && op->dev.tail ? op : NULL;
    if (!pending) finish_op(op, res, err);
    pthread_mutex_lock(&e->mu);
    if (!pending) atomic_store(&e->busy, 0);
  }
  pthread_mutex_unlock(&e->mu);
  return NULL;
}

#define WARM_PLANS ((int)(sizeof((weft_engine *)0)->warm / sizeof((weft_engine *)0)->warm[0]))

/* op and warm plan slot i trade schedules, plan keys and run bookkeeping. */
static void warm_swap(weft_op *op, struct weft_warm_plan *w) {
  weft_sched s = op->sched;
  weft_plan_cache p = op->plan;
  weft_run_mem m = op->mem;
  op->sched = w->sched, op->plan = w->plan, op->mem = w->mem;
  w->sched = s, w->plan = p, w->mem = m;
}

/* Progress thread, a stream op that ran well: its plan becomes a warm one
 * (back into the slot it came from, else over the oldest). */
static void warm_keep(weft_op *op) {
  weft_engine *e = op->engine;
  int i = op->warm_slot >= 0 ? op->warm_slot : e->warm_next++ % WARM_PLANS;
  warm_swap(op, &e->warm[i]);
  op->warm_slot = -1;
}

int weft_engine_plan_call(weft_op *op, int rank, int nranks) {
  const weft_call *c = &op->first;
  weft_plan_key key = weft_plan_key_of(c);
  int at_run = op->build_at_run;
  op->build_at_run = 0;
  if (weft_plan_cache_has_call(&op->plan, &key)) {
    weft_sched_rearm(&op->sched, c->tag);
    return 0;
  }
  for (int i = 0; at_run && i < WARM_PLANS; i++) /* on the progress thread: the warm plans */
    if (weft_plan_cache_has_call(&op->engine->warm[i].plan, &key)) {
      warm_swap(op, &op->engine->warm[i]);
      op->warm_slot = i;
      weft_sched_rearm(&op->sched, c->tag);
      return 0;
    }
  if (at_run) op->warm_slot = -2; /* built here: kept warm once it ran well */
  weft_plan_cache_forget(&op->plan);
  weft_sched_reset(&op->sched);
  if (weft_coll_build(&op->sched, c, rank, nranks) != 0 || op->sched.oom) return -1;
  weft_plan_cache_set_call(&op->plan, &key);
  return 0;
}

weftResult_t weft_engine_start(const weft_exec_view *v, weft_engine **out) {
  *out = NULL;
  weft_engine *e = calloc(1, sizeof *e);
  if (!e) return weftSystemError;
  e->v = *v;
  weft_devstage_pool_init(&e->devpool);
  for (size_t i = 0; i < sizeof e->warm / sizeof e->warm[0]; i++) weft_sched_init(&e->warm[i].sched);
  pthread_mutex_init(&e->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&e->work_cv, &ca);
  pthread_cond_init(&e->done_cv, &ca);
  pthread_condattr_destroy(&ca);
  /* queued ops hold no scratch (build_at_run): the bound only keeps a
   * runaway producer from queueing without end */
  e->max_queued = (int)weft_env_int("WEFT_MAX_QUEUED", 1024, 1, 1 << 16);
  if (e->max_queued < 1) e->max_queued = 1;
  /* long enough for a small call whose peers are there (a few us), short
   * against the compute a stream call is meant to overlap (ms). With more
   * ranks than CPUs a peer is often descheduled for a while: handing the
   * call over then adds a thread that competes for the CPU the peer needs,
   * so the caller keeps it longer (yielding as it waits) */
  e->inline_us = (double)weft_env_int("WEFT_STREAM_INLINE_US", v->oversubscribed ? 1000 : 50, 0, 1000000);
  int rc = pthread_create(&e->thread, NULL, engine_main, e);
  if (rc != 0) {
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->work_cv);
    pthread_cond_destroy(&e->done_cv);
    free(e);
    return weftSystemError;
  }
  *out = e;
  return weftSuccess;
}

void weft_engine_stop(weft_engine *e) {
  if (!e) return;
  pthread_mutex_lock(&e->mu);
  e->stop = 1;
  pthread_cond_broadcast(&e->work_cv);
  pthread_mutex_unlock(&e->mu);
  pthread_join(e->thread, NULL);
  if (e->own) op_destroy(e->own);
  while (e->pool) {
    weft_op *op = e->pool;
    e->pool = op->next;
    op_destroy(op);
  }
  weft_devstage_pool_free(&e->devpool);
  for (size_t i = 0; i < sizeof e->warm / sizeof e->warm[0]; i++) {
    weft_sched_free(&e->warm[i].sched);
    weft_run_mem_free(&e->warm[i].mem);
  }
  pthread_mutex_destroy(&e->mu);
  pthread_cond_destroy(&e->work_cv);
  pthread_cond_destroy(&e->done_cv);
  free(e);
}

void weft_engine_submit(weft_op *op) {
  weft_engine *e = op->engine;
  pthread_mutex_lock(&e->mu);
  /* backpressure: a caller that queues faster than the ops run waits, once
   * the queue is full, until it is empty, not for one op: one wake-up per
   * max_queued ops rather than two context switches per op, and a stream
   * caller finds the engine idle again and runs its next small calls
   * itself (launch_on_stream). Each op is bounded by the timeout; abort
   * ends the wait. */
  if (atomic_load(&e->nqueued) >= e->max_queued)
    while (atomic_load(&e->nqueued) > 0 && !e->stop && !atomic_load(e->v.aborted)) {
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      ts.tv_nsec += 100 * 1000 * 1000;
      if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
      e->nfull++;
      pthread_cond_timedwait(&e->done_cv, &e->mu, &ts);
      e->nfull--;
    }
  atomic_fetch_add(&e->nqueued, 1);
  op->next = NULL;
  if (e->tail) e->tail->next = op;
  else e->head = op;
  e->tail = op;
  /* always: a caller may hold the engine now and give it back without seeing
   * this op (see release); the thread then retries every millisecond */
  pthread_cond_signal(&e->work_cv);
  pthread_mutex_unlock(&e->mu);
}

weftResult_t weft_engine_wait(weft_op *op) {
  weft_engine *e = op->engine;
  pthread_mutex_lock(&e->mu);
  /* the op itself is bounded by the comm timeout and the abort flag */
  e->nwaiters++;
  while (!op->done) pthread_cond_wait(&e->done_cv, &e->mu);
  e->nwaiters--;
  pthread_mutex_unlock(&e->mu);
  weftResult_t res = op->result;
  weft_engine_op_free(op);
  return res;
}

weftResult_t weft_engine_run_blocking(weft_op *op) {
  if (!op->claimed) {
    weft_engine_submit(op);
    return weft_engine_wait(op);
  }
  char why[WEFT_ERRMSG_LEN];
  return weft_engine_claimed_done(op, run_op(op, 0, -1, why, sizeof why), why);
}

int weft_engine_wait_idle(weft_engine *e, double budget_us) {
  if (atomic_load(&e->nqueued) != 1) return 0; /* idle already, or more than one op to wait for */
  double t0 = weft_now_us(), now = t0;
  while (now - t0 < budget_us) {
    if (atomic_load(&e->nqueued) == 0 && atomic_load(&e->busy) == 0) return 1;
    if (now - t0 >= e->v.yield_after_us) sched_yield(); /* the thread that runs it may need this CPU */
    else weft_spin_pause();
    now = weft_now_us();
  }
  return 0;
}

void weft_engine_hand_over(weft_op *op) {
  weft_engine *e = op->engine;
  pthread_mutex_lock(&e->mu);
  /* queued before the engine is given back: a blocking call that finds it
   * idle still sees an op ahead of it (weft_engine_claim) and queues */
  atomic_fetch_add(&e->nqueued, 1);
  op->next = NULL;
  if (e->tail) e->tail->next = op;
  else e->head = op;
  e->tail = op;
  op->claimed = 0;
  atomic_store(&e->busy, 0);
  pthread_cond_signal(&e->work_cv);
  pthread_mutex_unlock(&e->mu);
}

void weft_engine_run_inline(weft_op *op) {
  char why[WEFT_ERRMSG_LEN];
  /* its turn on the stream came with its ticket: no wait for it */
  weftResult_t res = run_op(op, 1, op->engine->inline_us, why, sizeof why);
  if (res == weftInProgress) {
    weft_engine_hand_over(op);
    return;
  }
  char err[WEFT_ERRMSG_LEN] = "", msg[WEFT_ERRMSG_LEN];
  if (res != weftSuccess) { /* as finish_op: the comm fails, the stream keeps the message */
    op_error(op, why, err, sizeof err);
    weft_comm_fail_op(op->comm, res, err, msg, sizeof msg);
    weft_error_to(op->engine->v.log, res, "%s", msg);
    snprintf(err, sizeof err, "%s", msg);
  }
  if (res == weftSuccess && op->warm_slot != -1) warm_keep(op); /* still holding the engine */
  weft_stream_complete(op->stream, res, err);
  op->result = res;
  weft_engine_op_free(op); /* gives the engine back */
}

weftResult_t weft_engine_claimed_done(weft_op *op, weftResult_t res, const char *why) {
  if (res != weftSuccess) { /* nobody else sees this op: no completion to signal */
    char err[WEFT_ERRMSG_LEN], msg[WEFT_ERRMSG_LEN];
    op_error(op, why, err, sizeof err);
    weft_comm_fail_op(op->comm, res, err, msg, sizeof msg);
    weft_error_to(op->engine->v.log, res, "%s", msg);
  }
  op->result = res;
  weft_engine_op_free(op);
  return res;
}
