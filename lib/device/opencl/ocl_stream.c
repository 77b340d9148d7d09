/* Streams, events and holds of the opencl backend.
 *
 * A stream is a cl_command_queue: the user's (streamWrap retains it and
 * releases it on streamDestroy) or an in-order queue weft creates on the
 * backend's context and device. On an out-of-order queue a barrier follows
 * each of weft's commands, so that weft's work keeps its order there too.
 * Every enqueue is followed by clFlush so that the work starts without the
 * host waiting on the queue.
 *
 * An event is a marker (clEnqueueMarkerWithWaitList): it completes when all
 * earlier work of its queue has. eventWait is a barrier waiting on it, so an
 * event of another queue of the same context orders the two queues.
 *
 * A hold is a user event (clCreateUserEvent) and a barrier waiting on it:
 * later commands on the queue do not start until holdRelease sets the user
 * event. holdRelease always sets CL_COMPLETE, failed or not: a negative
 * status would make OpenCL abort the commands waiting on it (and, on many
 * implementations, poison the whole queue), while the contract is that the
 * queue goes on and the error reaches the user through weft. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ocl.h"

weftResult_t weft__ocl_ordered(weft_ocl_ctx *c, weft_ocl_stream *s, const char *what) {
  cl_int err;
  (void)what;
  if (s->outOfOrder && (err = clEnqueueBarrierWithWaitList(s->queue, 0, NULL, NULL)) != CL_SUCCESS)
    return weft__ocl_fail(c, "clEnqueueBarrierWithWaitList", err);
  return weftSuccess;
}

weftResult_t weft__ocl_submitted(weft_ocl_ctx *c, weft_ocl_stream *s, const char *what) {
  cl_int err;
  weftResult_t r = weft__ocl_ordered(c, s, what);
  if (r != weftSuccess) return r;
  if ((err = clFlush(s->queue)) != CL_SUCCESS) {
    char msg[96];
    snprintf(msg, sizeof msg, "clFlush after %s", what);
    return weft__ocl_fail(c, msg, err);
  }
  return weftSuccess;
}

weftResult_t weft__ocl_stream_wrap(void *ctx, void *nativeQueue, void **stream) {
  weft_ocl_ctx *c = ctx;
  if (c == NULL || nativeQueue == NULL || stream == NULL) return weftInvalidArgument;
  *stream = NULL;
  cl_command_queue q = nativeQueue;
  cl_context qctx = NULL;
  cl_command_queue_properties props = 0;
  cl_int err = clGetCommandQueueInfo(q, CL_QUEUE_CONTEXT, sizeof qctx, &qctx, NULL);
  if (err != CL_SUCCESS) return weft__ocl_fail(c, "clGetCommandQueueInfo(CL_QUEUE_CONTEXT) of the queue to wrap", err);
  if (qctx != c->context)
    return weft__ocl_error(c, weftInvalidArgument,
                           "streamWrap: the queue belongs to another cl_context than the backend's");
  err = clGetCommandQueueInfo(q, CL_QUEUE_PROPERTIES, sizeof props, &props, NULL);
  if (err != CL_SUCCESS) return weft__ocl_fail(c, "clGetCommandQueueInfo(CL_QUEUE_PROPERTIES)", err);
  weft_ocl_stream *s = calloc(1, sizeof *s);
  if (s == NULL) return weft__ocl_error(c, weftSystemError, "out of memory");
  if ((err = clRetainCommandQueue(q)) != CL_SUCCESS) {
    free(s);
    return weft__ocl_fail(c, "clRetainCommandQueue", err);
  }
  s->queue = q;
  s->outOfOrder = (props & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE) != 0;
  *stream = s;
  return weftSuccess;
}

weftResult_t weft__ocl_stream_create(void *ctx, void **stream) {
  weft_ocl_ctx *c = ctx;
  if (c == NULL || stream == NULL) return weftInvalidArgument;
  *stream = NULL;
  weft_ocl_stream *s = calloc(1, sizeof *s);
  if (s == NULL) return weft__ocl_error(c, weftSystemError, "out of memory");
  cl_int err;
  s->queue = clCreateCommandQueue(c->context, c->device, 0, &err);
  if (err != CL_SUCCESS) {
    free(s);
    return weft__ocl_fail(c, "clCreateCommandQueue", err);
  }
  *stream = s;
  return weftSuccess;
}

/* Does not wait for the queue's work: OpenCL keeps a released queue alive
 * until its commands have run. */
weftResult_t weft__ocl_stream_destroy(void *ctx, void *stream) {
  weft_ocl_ctx *c = ctx;
  weft_ocl_stream *s = stream;
  if (c == NULL) return weftInvalidArgument;
  if (s == NULL) return weftSuccess;
  cl_int err = clReleaseCommandQueue(s->queue);
  free(s);
  return err == CL_SUCCESS ? weftSuccess : weft__ocl_fail(c, "clReleaseCommandQueue", err);
}

/* ---- events -------------------------------------------------------------------------------- */

weftResult_t weft__ocl_event_record(void *ctx, void *stream, void **event) {
  weft_ocl_ctx *c = ctx;
  weft_ocl_stream *s = stream;
  if (c == NULL || s == NULL || event == NULL) return weftInvalidArgument;
  *event = NULL;
  cl_event ev = NULL;
  cl_int err = clEnqueueMarkerWithWaitList(s->queue, 0, NULL, &ev);
  if (err != CL_SUCCESS) return weft__ocl_fail(c, "clEnqueueMarkerWithWaitList", err);
  if ((err = clFlush(s->queue)) != CL_SUCCESS) {
    clReleaseEvent(ev);
    return weft__ocl_fail(c, "clFlush after clEnqueueMarkerWithWaitList", err);
  }
  *event = ev;
  return weftSuccess;
}

/* A negative status (the marker or work before it failed) is an error. */
weftResult_t weft__ocl_event_query(void *ctx, void *event, int *done) {
  weft_ocl_ctx *c = ctx;
  if (c == NULL || event == NULL || done == NULL) return weftInvalidArgument;
  *done = 0;
  cl_int status = 0;
  cl_int err = clGetEventInfo((cl_event)event, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, NULL);
  if (err != CL_SUCCESS) return weft__ocl_fail(c, "clGetEventInfo(CL_EVENT_COMMAND_EXECUTION_STATUS)", err);
  if (status < 0) return weft__ocl_fail(c, "work before the event", status);
  *done = status == CL_COMPLETE;
  return weftSuccess;
}

weftResult_t weft__ocl_event_wait(void *ctx, void *stream, void *event) {
  weft_ocl_ctx *c = ctx;
  weft_ocl_stream *s = stream;
  if (c == NULL || s == NULL || event == NULL) return weftInvalidArgument;
  cl_event ev = event;
  cl_int err = clEnqueueBarrierWithWaitList(s->queue, 1, &ev, NULL);
  if (err != CL_SUCCESS) return weft__ocl_fail(c, "clEnqueueBarrierWithWaitList(event)", err);
  err = clFlush(s->queue);
  return err == CL_SUCCESS ? weftSuccess : weft__ocl_fail(c, "clFlush after eventWait", err);
}

/* eventSync: a completion callback wakes the waiter, so that the waiting
 * thread leaves the CPU to the device's own threads (a CPU device's work
 * runs on them). The waiter may give up first: the state is freed by
 * whichever of the two is last. */
typedef struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done, refs;
} ocl_sync;

static void sync_put(ocl_sync *w) {
  int last = --w->refs == 0;
  pthread_mutex_unlock(&w->mu);
  if (!last) return;
  pthread_mutex_destroy(&w->mu);
  pthread_cond_destroy(&w->cv);
  free(w);
}

static void CL_CALLBACK sync_done(cl_event ev, cl_int status, void *user) {
  (void)ev;
  (void)status;
  ocl_sync *w = user;
  pthread_mutex_lock(&w->mu);
  w->done = 1;
  pthread_cond_signal(&w->cv);
  sync_put(w);
}

weftResult_t weft__ocl_event_sync(void *ctx, void *event, int timeoutMs, int *done) {
  weft_ocl_ctx *c = ctx;
  if (c == NULL || event == NULL || done == NULL || timeoutMs < 0) return weftInvalidArgument;
  weftResult_t r = weft__ocl_event_query(ctx, event, done);
  if (r != weftSuccess || *done || timeoutMs == 0) return r;
  ocl_sync *w = calloc(1, sizeof *w);
  if (w == NULL) return weft__ocl_error(c, weftSystemError, "out of memory");
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&w->cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&w->mu, NULL);
  w->refs = 2;
  /* a callback on CL_COMPLETE also runs when the event fails (negative status) */
  cl_int err = clSetEventCallback((cl_event)event, CL_COMPLETE, sync_done, w);
  if (err != CL_SUCCESS) {
    pthread_mutex_lock(&w->mu);
    w->refs = 1;
    sync_put(w);
    return weft__ocl_fail(c, "clSetEventCallback", err);
  }
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += timeoutMs / 1000;
  until.tv_nsec += (long)(timeoutMs % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&w->mu);
  while (!w->done && pthread_cond_timedwait(&w->cv, &w->mu, &until) == 0) {
  }
  sync_put(w);
  return weft__ocl_event_query(ctx, event, done); /* the status, a failure included */
}

weftResult_t weft__ocl_event_destroy(void *ctx, void *event) {
  weft_ocl_ctx *c = ctx;
  if (c == NULL) return weftInvalidArgument;
  if (event == NULL) return weftSuccess;
  cl_int err = clReleaseEvent((cl_event)event);
  return err == CL_SUCCESS ? weftSuccess : weft__ocl_fail(c, "clReleaseEvent", err);
}

/* ---- holds ------------------------------------------------------------------------------------ */

weftResult_t weft__ocl_hold_enqueue(void *ctx, void *stream, void **hold) {
  weft_ocl_ctx *c = ctx;
  weft_ocl_stream *s = stream;
  if (c == NULL || s == NULL || hold == NULL) return weftInvalidArgument;
  *hold = NULL;
  cl_int err;
  cl_event gate = clCreateUserEvent(c->context, &err);
  if (err != CL_SUCCESS) return weft__ocl_fail(c, "clCreateUserEvent", err);
  err = clEnqueueBarrierWithWaitList(s->queue, 1, &gate, NULL);
  if (err == CL_SUCCESS) err = clFlush(s->queue);
  if (err != CL_SUCCESS) {
    /* the barrier may be queued: open the gate before dropping it */
    clSetUserEventStatus(gate, CL_COMPLETE);
    clReleaseEvent(gate);
    return weft__ocl_fail(c, "clEnqueueBarrierWithWaitList(hold)", err);
  }
  *hold = gate;
  return weftSuccess;
}

weftResult_t weft__ocl_hold_release(void *ctx, void *hold, int failed) {
  weft_ocl_ctx *c = ctx;
  if (c == NULL || hold == NULL) return weftInvalidArgument;
  (void)failed; /* the queue goes on either way (see the top of the file) */
  cl_event gate = hold;
  cl_int err = clSetUserEventStatus(gate, CL_COMPLETE);
  clReleaseEvent(gate);
  return err == CL_SUCCESS ? weftSuccess : weft__ocl_fail(c, "clSetUserEventStatus(CL_COMPLETE)", err);
}
