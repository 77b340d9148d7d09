#include "exec/engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/comm.h"
#include "core/log.h"
#include "core/stream.h"

weft_op *engine_op_new(struct weftComm *comm) {
  weft_op *op = calloc(1, sizeof *op);
  if (!op) return NULL;
  op->comm = comm;
  sched_init(&op->sched);
  return op;
}

void engine_op_free(weft_op *op) {
  if (!op) return;
  sched_free(&op->sched);
  free(op);
}

/* Runs op on the current thread; the caller holds the engine's busy flag. */
static weftResult_t exec_op(struct weftComm *comm, weft_op *op, char *err, size_t errlen) {
  err[0] = 0;
  if (op->stream) {
    weftResult_t r = stream_wait_turn(op->stream, op->ticket, comm->timeout_ms, &comm->aborted);
    if (r != weftSuccess) {
      snprintf(err, errlen, "%s: gave up waiting for earlier operations on its stream", op->desc);
      return r;
    }
  }
  weftResult_t sticky = atomic_load(&comm->async_error);
  if (sticky != weftSuccess) {
    snprintf(err, errlen, "%s: communicator already failed (%s)", op->desc, weftGetErrorString(sticky));
    return sticky;
  }
  if (atomic_load(&comm->aborted)) {
    snprintf(err, errlen, "%s: aborted by weftCommAbort", op->desc);
    return weftAborted;
  }
  char why[WEFT_ERRMSG_LEN];
  weftResult_t r = weft_run_sched(comm, &op->sched, why, sizeof why);
  if (r != weftSuccess) snprintf(err, errlen, "%s: %s", op->desc, why);
  return r;
}

/* Records the outcome; a failed op breaks the comm so peers learn at once. */
static void finish_op(struct weftComm *comm, weft_op *op, weftResult_t res, const char *err) {
  if (res != weftSuccess) {
    weft_error(comm, res, "%s", err);
    weft_comm_fail(comm, res);
  }
  int detached = op->stream != NULL; /* else the waiter frees op once done is set */
  if (detached) stream_complete(op->stream, res, err);
  weft_engine *e = comm->engine;
  pthread_mutex_lock(&e->mu);
  op->result = res;
  op->done = 1;
  pthread_cond_broadcast(&e->cv);
  pthread_mutex_unlock(&e->mu);
  if (detached) engine_op_free(op); /* nobody waits on a stream op */
}

static void *engine_main(void *arg) {
  struct weftComm *comm = arg;
  weft_engine *e = comm->engine;
  char err[WEFT_ERRMSG_LEN];
  pthread_mutex_lock(&e->mu);
  for (;;) {
    while (!e->stop && (!e->head || e->busy)) pthread_cond_wait(&e->cv, &e->mu);
    if (!e->head || e->busy) break; /* stopping and nothing left */
    weft_op *op = e->head;
    e->head = op->next;
    if (!e->head) e->tail = NULL;
    e->busy = 1;
    pthread_mutex_unlock(&e->mu);
    weftResult_t res = exec_op(comm, op, err, sizeof err);
    finish_op(comm, op, res, err);
    pthread_mutex_lock(&e->mu);
    e->busy = 0;
    pthread_cond_broadcast(&e->cv);
  }
  pthread_mutex_unlock(&e->mu);
  return NULL;
}

weftResult_t engine_start(struct weftComm *comm) {
  weft_engine *e = calloc(1, sizeof *e);
  if (!e) return weftSystemError;
  pthread_mutex_init(&e->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&e->cv, &ca);
  pthread_condattr_destroy(&ca);
  comm->engine = e;
  int rc = pthread_create(&e->thread, NULL, engine_main, comm);
  if (rc != 0) {
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
    free(e);
    comm->engine = NULL;
    return weftSystemError;
  }
  return weftSuccess;
}

void engine_stop(struct weftComm *comm) {
  weft_engine *e = comm->engine;
  if (!e) return;
  pthread_mutex_lock(&e->mu);
  e->stop = 1;
  pthread_cond_broadcast(&e->cv);
  pthread_mutex_unlock(&e->mu);
  pthread_join(e->thread, NULL);
  pthread_mutex_destroy(&e->mu);
  pthread_cond_destroy(&e->cv);
  free(e);
  comm->engine = NULL;
}

void engine_submit(struct weftComm *comm, weft_op *op) {
  weft_engine *e = comm->engine;
  pthread_mutex_lock(&e->mu);
  op->next = NULL;
  if (e->tail) e->tail->next = op;
  else e->head = op;
  e->tail = op;
  pthread_cond_broadcast(&e->cv);
  pthread_mutex_unlock(&e->mu);
}

weftResult_t engine_wait(struct weftComm *comm, weft_op *op) {
  weft_engine *e = comm->engine;
  pthread_mutex_lock(&e->mu);
  /* the op itself is bounded by the comm timeout and the abort flag */
  while (!op->done) pthread_cond_wait(&e->cv, &e->mu);
  pthread_mutex_unlock(&e->mu);
  weftResult_t res = op->result;
  engine_op_free(op);
  return res;
}

weftResult_t engine_run_blocking(struct weftComm *comm, weft_op *op) {
  weft_engine *e = comm->engine;
  pthread_mutex_lock(&e->mu);
  if (e->busy || e->head || op->stream) {
    pthread_mutex_unlock(&e->mu);
    engine_submit(comm, op);
    return engine_wait(comm, op);
  }
  e->busy = 1; /* idle engine: run here and save a thread hand-off */
  pthread_mutex_unlock(&e->mu);
  char err[WEFT_ERRMSG_LEN];
  weftResult_t res = exec_op(comm, op, err, sizeof err);
  finish_op(comm, op, res, err);
  pthread_mutex_lock(&e->mu);
  e->busy = 0;
  pthread_cond_broadcast(&e->cv);
  pthread_mutex_unlock(&e->mu);
  engine_op_free(op);
  return res;
}
