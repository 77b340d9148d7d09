#include "exec/stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "device/device.h"
#include "util/log.h"
#include "util/param.h"

static void deadline_in(struct timespec *ts, int ms) {
  clock_gettime(CLOCK_MONOTONIC, ts);
  ts->tv_sec += ms / 1000;
  ts->tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts->tv_nsec >= 1000000000L) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000L;
  }
}

static int stream_ok(weftStream_t s) { return s && s->magic == WEFT_STREAM_MAGIC; }

static struct weftStream *stream_new(void) {
  struct weftStream *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->magic = WEFT_STREAM_MAGIC;
  pthread_mutex_init(&s->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&s->cv, &ca);
  pthread_condattr_destroy(&ca);
  s->timeout_ms = weft_env_timeout_ms();
  return s;
}

static void stream_free(struct weftStream *s) {
  s->magic = 0;
  pthread_mutex_destroy(&s->mu);
  pthread_cond_destroy(&s->cv);
  free(s);
}

WEFT_API weftResult_t weftStreamCreate(weftStream_t *stream) {
  if (!stream) return weft_error_to(NULL, weftInvalidArgument, "weftStreamCreate: stream is NULL");
  struct weftStream *s = stream_new();
  if (!s) return weft_error_to(NULL, weftSystemError, "weftStreamCreate: out of memory");
  *stream = s;
  return weftSuccess;
}

weftResult_t weft_stream_wrap_device(struct weft_dev *dev, void *native, weftStream_t *out, char *err,
                                     size_t errlen) {
  struct weftStream *s = stream_new();
  if (!s) {
    snprintf(err, errlen, "out of memory");
    return weftSystemError;
  }
  weftResult_t r = dev->ops->streamWrap(dev->ctx, native, &s->dev_stream);
  if (r != weftSuccess) {
    char what[96];
    snprintf(what, sizeof what, "device %s cannot wrap native queue %p", dev->name, native);
    weft_dev_failed(dev, r, what, err, errlen);
    stream_free(s);
    return r;
  }
  s->dev = weft_dev_retain(dev);
  *out = s;
  return weftSuccess;
}

uint64_t weft_stream_enqueue(weftStream_t s, int timeout_ms) {
  pthread_mutex_lock(&s->mu);
  uint64_t t = ++s->enqueued;
  if (timeout_ms > s->timeout_ms) s->timeout_ms = timeout_ms;
  pthread_mutex_unlock(&s->mu);
  return t;
}

uint64_t weft_stream_enqueue_turn(weftStream_t s, int timeout_ms, int *turn) {
  pthread_mutex_lock(&s->mu);
  uint64_t t = ++s->enqueued;
  if (timeout_ms > s->timeout_ms) s->timeout_ms = timeout_ms;
  *turn = s->completed + 1 == t;
  pthread_mutex_unlock(&s->mu);
  return t;
}

weftResult_t weft_stream_wait_turn(weftStream_t s, uint64_t ticket, int timeout_ms, const atomic_int *aborted) {
  weftResult_t res = weftSuccess;
  pthread_mutex_lock(&s->mu);
  uint64_t seen = s->completed;
  long waited = 0;
  s->turn_waiters++;
  while (s->completed + 1 < ticket) {
    if (aborted && atomic_load(aborted)) {
      res = weftAborted;
      break;
    }
    if (s->completed != seen) {
      seen = s->completed;
      waited = 0;
    }
    if (waited >= timeout_ms) {
      res = weftTimeout;
      break;
    }
    struct timespec ts;
    deadline_in(&ts, 50);
    pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    waited += 50;
  }
  s->turn_waiters--;
  pthread_mutex_unlock(&s->mu);
  return res;
}

void weft_stream_complete(weftStream_t s, weftResult_t res, const char *msg) {
  pthread_mutex_lock(&s->mu);
  s->completed++;
  if (res != weftSuccess && s->error == weftSuccess) {
    s->error = res;
    snprintf(s->errmsg, sizeof s->errmsg, "%s", msg ? msg : "");
  }
  /* wake only those who can care: ops waiting for their turn, and
   * synchronizers once everything enqueued so far is done */
  if (s->turn_waiters || (s->sync_waiters && s->completed >= s->enqueued)) pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

WEFT_API weftResult_t weftStreamSynchronize(weftStream_t s) {
  if (!stream_ok(s)) return weft_error_to(NULL, weftInvalidArgument, "weftStreamSynchronize: invalid stream");
  weftResult_t res;
  pthread_mutex_lock(&s->mu);
  uint64_t seen = s->completed;
  long waited = 0;
  /* ops fail on their own within their comm's timeout; the margin covers the hand-off */
  s->sync_waiters++;
  while (s->completed < s->enqueued && waited < (long)s->timeout_ms + 5000) {
    struct timespec ts;
    deadline_in(&ts, 20);
    pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    if (s->completed != seen) {
      seen = s->completed;
      waited = 0;
    } else {
      waited += 20;
    }
  }
  s->sync_waiters--;
  int timed_out = s->completed < s->enqueued;
  res = timed_out ? weftTimeout : s->error;
  char msg[sizeof s->errmsg];
  memcpy(msg, s->errmsg, sizeof msg);
  pthread_mutex_unlock(&s->mu);
  if (timed_out) return weft_error_to(NULL, weftTimeout, "weftStreamSynchronize: operations still pending after the timeout");
  if (res != weftSuccess) weft_set_thread_error(msg);
  return res;
}

WEFT_API weftResult_t weftStreamQuery(weftStream_t s) {
  if (!stream_ok(s)) return weft_error_to(NULL, weftInvalidArgument, "weftStreamQuery: invalid stream");
  pthread_mutex_lock(&s->mu);
  weftResult_t res = s->error != weftSuccess ? s->error : s->completed < s->enqueued ? weftInProgress : weftSuccess;
  pthread_mutex_unlock(&s->mu);
  return res;
}

WEFT_API weftResult_t weftStreamDestroy(weftStream_t s) {
  if (!stream_ok(s)) return weft_error_to(NULL, weftInvalidArgument, "weftStreamDestroy: invalid stream");
  weftResult_t res = weftStreamSynchronize(s);
  if (res == weftTimeout) return res; /* ops still reference it: keep it alive */
  if (s->dev) {
    /* the wrap goes; the native queue stays the application's */
    if (s->dev->ops->streamDestroy(s->dev->ctx, s->dev_stream) != weftSuccess && res == weftSuccess)
      res = weft_error_to(NULL, weftUnhandledDeviceError, "weftStreamDestroy: device %s: %s", s->dev->name,
                          s->dev->ops->lastError(s->dev->ctx));
    weft_dev_close(s->dev);
  }
  stream_free(s);
  return res;
}
