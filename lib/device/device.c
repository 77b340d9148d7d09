/* Opening and closing a device through its backend (device.h). */
#include "device/device.h"

#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/param.h"

/* A backend's log lines go to the device's sink; the last WARN is kept as
 * the reason when init fails without a context to ask lastError of. */
static void device_log(void *user, weftLogLevel_t level, const char *message) {
  weft_dev *d = user;
  if (!message) message = "";
  if (level == weftLogWarn) snprintf(d->warned, sizeof d->warned, "%s", message);
  weft_log_to(&d->log, level, "device %s: %s", d->name, message);
}

static void free_device(weft_dev *d) {
  weft_log_sink_fini(&d->log);
  free(d);
}

weftResult_t weft_dev_open(const char *want, void *native, const weft_log_sink *log, weft_dev **out,
                              char *err, size_t errlen) {
  *out = NULL;
  const char *who = want ? "device" : "WEFT_DEVICE";
  if (!want) want = weft_env("WEFT_DEVICE");
  if (!want) want = "host";
  weft_device_choice choice;
  const weftDevice_t *ops;
  weftResult_t r = weft_device_lookup(want, who, &choice, &ops, err, errlen);
  if (r != weftSuccess) return r;
  weft_dev *d = calloc(1, sizeof *d);
  if (!d) {
    snprintf(err, errlen, "out of memory");
    return weftSystemError;
  }
  d->ops = ops;
  d->origin = weft_device_origin(ops);
  memcpy(d->name, choice.name, sizeof d->name);
  memcpy(d->spec, choice.spec, sizeof d->spec);
  weft_log_sink_init(&d->log, log ? log->rank : 0, log ? log->nranks : 0);
  if (log) {
    d->log.level = log->level;
    d->log.cb = log->cb;
    d->log.user = log->user;
  }
  atomic_init(&d->refs, 1);
  /* the backend may keep log and logUser (d) for the device's lifetime */
  weftDeviceInitArgs_t args = {WEFT_DEVICE_ABI_VERSION, device_log, d, d->spec, native};
  void *ctx = NULL;
  r = ops->init(&args, &ctx);
  if (r != weftSuccess) {
    const char *why = ctx ? ops->lastError(ctx) : d->warned;
    snprintf(err, errlen, "device '%s' cannot be opened by backend %s%s%s: %s (%s)", want, d->name,
             d->origin ? " from plugin " : "", d->origin ? d->origin : "", why && why[0] ? why : "no reason given",
             weftGetErrorString(r));
    if (ctx) ops->finalize(ctx);
    free_device(d);
    return r == weftInvalidArgument ? r : weftUnhandledDeviceError;
  }
  d->ctx = ctx;
  memset(&d->props, 0, sizeof d->props);
  r = ops->getProperties(ctx, &d->props);
  if (r != weftSuccess) {
    snprintf(err, errlen, "device '%s': getProperties failed: %s", want, ops->lastError(ctx));
    ops->finalize(ctx);
    free_device(d);
    return weftUnhandledDeviceError;
  }
  /* a backend may fill the strings up to their end */
  d->props.vendor[sizeof d->props.vendor - 1] = 0;
  d->props.model[sizeof d->props.model - 1] = 0;
  d->props.uniqueId[sizeof d->props.uniqueId - 1] = 0;
  *out = d;
  return weftSuccess;
}

weft_dev *weft_dev_retain(weft_dev *d) {
  if (d) atomic_fetch_add(&d->refs, 1);
  return d;
}

void weft_dev_close(weft_dev *d) {
  if (!d || atomic_fetch_sub(&d->refs, 1) != 1) return;
  if (d->ops->finalize(d->ctx) != weftSuccess)
    weft_log_to(&d->log, weftLogWarn, "device %s: finalize failed: %s", d->name, d->ops->lastError(d->ctx));
  free_device(d);
}

void weft_dev_describe(const weft_dev *d, char *buf, size_t len) {
  snprintf(buf, len, "%s%s%s (vendor '%s', model '%s', id '%s'%s)%s%s", d->name, d->spec[0] ? ":" : "", d->spec,
           d->props.vendor, d->props.model, d->props.uniqueId, d->props.hostUnified ? ", host-unified" : "",
           d->origin ? " from plugin " : "", d->origin ? d->origin : "");
}

weftResult_t weft_dev_failed(const weft_dev *d, weftResult_t res, const char *what, char *err, size_t errlen) {
  const char *why = d->ops->lastError(d->ctx);
  snprintf(err, errlen, "%s: %s", what, why && why[0] ? why : weftGetErrorString(res));
  return res;
}

/* The wait of a backend that blocks (eventSync): in slices of at most
 * SYNC_SLICE_MS, so that an abort is seen. */
#define SYNC_SLICE_MS 20
static weftResult_t sync_wait(const weft_dev *d, void *ev, long long t0, int timeout_ms, const atomic_int *abort_flag,
                              const char *what, char *err, size_t errlen) {
  for (;;) {
    long long left = timeout_ms - (weft_now_ms() - t0);
    int slice = left < SYNC_SLICE_MS ? (int)(left > 0 ? left : 0) : SYNC_SLICE_MS;
    int done = 0;
    if (d->ops->eventSync(d->ctx, ev, slice, &done) != weftSuccess)
      return weft_dev_failed(d, weftUnhandledDeviceError, what, err, errlen);
    if (done) return weftSuccess;
    if (abort_flag && atomic_load(abort_flag)) {
      snprintf(err, errlen, "aborted by weftCommAbort while waiting for device %s: %s", d->name, what);
      return weftAborted;
    }
    if (weft_now_ms() - t0 >= timeout_ms) {
      snprintf(err, errlen, "device %s: %s did not complete in %d ms (WEFT_TIMEOUT)", d->name, what, timeout_ms);
      return weftTimeout;
    }
  }
}

weftResult_t weft_dev_wait(const weft_dev *d, void *ev, int timeout_ms, const atomic_int *abort_flag,
                           const char *what, char *err, size_t errlen) {
  long long t0 = weft_now_ms();
  if (d->ops->eventSync) return sync_wait(d, ev, t0, timeout_ms, abort_flag, what, err, errlen);
  for (int pass = 0;; pass++) {
    int done = 0;
    if (d->ops->eventQuery(d->ctx, ev, &done) != weftSuccess)
      return weft_dev_failed(d, weftUnhandledDeviceError, what, err, errlen);
    if (done) return weftSuccess;
    if (abort_flag && atomic_load(abort_flag)) {
      snprintf(err, errlen, "aborted by weftCommAbort while waiting for device %s: %s", d->name, what);
      return weftAborted;
    }
    if (weft_now_ms() - t0 > timeout_ms) {
      snprintf(err, errlen, "device %s: %s did not complete in %d ms (WEFT_TIMEOUT)", d->name, what, timeout_ms);
      return weftTimeout;
    }
    if (pass < 64) {
      sched_yield();
    } else {
      struct timespec ts = {0, 20 * 1000};
      nanosleep(&ts, NULL);
    }
  }
}

weftResult_t weft_dev_copy_sync(weft_dev *d, void *buffer, size_t offset, void *host, size_t bytes, int to_host,
                                int timeout_ms, char *err, size_t errlen) {
  void *s = NULL, *ev = NULL;
  if (d->ops->streamCreate(d->ctx, &s) != weftSuccess)
    return weft_dev_failed(d, weftUnhandledDeviceError, "creating a stream", err, errlen);
  const char *what = to_host ? "a copy to the host" : "a copy to the device";
  weftResult_t r = to_host ? d->ops->copyToHost(d->ctx, s, host, buffer, offset, bytes)
                           : d->ops->copyFromHost(d->ctx, s, buffer, offset, host, bytes);
  if (r == weftSuccess) r = d->ops->eventRecord(d->ctx, s, &ev);
  if (r != weftSuccess) r = weft_dev_failed(d, weftUnhandledDeviceError, what, err, errlen);
  if (r == weftSuccess) r = weft_dev_wait(d, ev, timeout_ms, NULL, what, err, errlen);
  if (ev) d->ops->eventDestroy(d->ctx, ev);
  d->ops->streamDestroy(d->ctx, s);
  return r;
}
