/* An open device: a backend's ops table and the context it opened, with the
 * device's properties, for the layers above (the comm opens one at init, a
 * stream made with weftStreamFromNative shares it). Reference counted so
 * that a stream may outlive the comm that opened its device; the device
 * keeps its own copy of the log settings for the same reason. */
#ifndef WEFT_DEVICE_DEVICE_H
#define WEFT_DEVICE_DEVICE_H

#include <stdatomic.h>
#include <stddef.h>

#include "device/registry.h"
#include "util/log.h"
#include "weft_device.h"

typedef struct weft_dev {
  const weftDevice_t *ops;
  void *ctx;
  weftDeviceProperties_t props;
  char name[WEFT_DEVICE_NAME_LEN]; /* backend name */
  char spec[WEFT_DEVICE_SPEC_LEN]; /* what followed "name:", "" if nothing */
  const char *origin;              /* plugin path, NULL for a built-in */
  weft_log_sink log;               /* level, callback and rank of the opener */
  atomic_int refs;
  char warned[256]; /* the backend's last WARN line (the reason when init fails) */
} weft_dev;

/* Opens the device want names ("opencl:0:1", "cuda:1", "host", a plugin's
 * "name[:spec]"; NULL: WEFT_DEVICE, else host) with native as the
 * backend's init args->native. log (may be NULL: the process default) gives
 * the level, callback and rank for the backend's log lines. Errors:
 * weftInvalidUsage (refused WEFT_DEVICE_PLUGIN), weftInvalidArgument (bad
 * syntax, unknown backend, or the backend refused the spec or native),
 * weftUnhandledDeviceError (the backend could not open the device); err
 * says why, with the backend's own reason. */
weftResult_t weft_dev_open(const char *want, void *native, const weft_log_sink *log, weft_dev **out,
                              char *err, size_t errlen);
/* Another reference (a stream that wraps the device's queue). */
weft_dev *weft_dev_retain(weft_dev *d);
/* Drops a reference; the last one finalizes the backend context. NULL: no-op. */
void weft_dev_close(weft_dev *d);
/* "host (vendor 'weft', model 'host memory', id 'node1')" plus " from plugin
 * PATH" for a plugin: what the comm logs at init. */
void weft_dev_describe(const weft_dev *d, char *buf, size_t len);
/* Writes "what: <backend's lastError>" into err and returns res. */
weftResult_t weft_dev_failed(const weft_dev *d, weftResult_t res, const char *what, char *err, size_t errlen);

/* Waits for event ev of d: at most timeout_ms (weftTimeout), until
 * *abort_flag is set (weftAborted; NULL: no flag), or until the backend
 * fails (weftUnhandledDeviceError); err says which, naming `what`. Blocks
 * in the backend's eventSync where it has one (in short slices, to see an
 * abort); else yields, then sleeps in 20 us slices: these waits sit on the
 * call path. */
weftResult_t weft_dev_wait(const weft_dev *d, void *ev, int timeout_ms, const atomic_int *abort_flag,
                           const char *what, char *err, size_t errlen);
/* Copies bytes between host and buffer (from offset) and waits for the copy,
 * at most timeout_ms: for tests and benchmarks, not the data path. */
weftResult_t weft_dev_copy_sync(weft_dev *d, void *buffer, size_t offset, void *host, size_t bytes, int to_host,
                                int timeout_ms, char *err, size_t errlen);

/* ---- small questions the data path asks ------------------------------------ */

/* The device is plain host memory: buffers are host pointers, and nothing
 * needs staging (NULL counts as host). */
static inline int weft_dev_is_host(const weft_dev *d) { return !d || d->ops == &weft_device_host; }
/* The backend maps device memory for the host (hostUnified and map/unmap). */
static inline int weft_dev_maps(const weft_dev *d) {
  return d && d->props.hostUnified && d->ops->map && d->ops->unmap;
}
/* The backend reduces on the device. */
static inline int weft_dev_reduces(const weft_dev *d) { return d && d->ops->reduce; }
/* The backend gives pinned host memory. */
static inline int weft_dev_pins(const weft_dev *d) { return d && d->ops->hostAlloc && d->ops->hostFree; }
/* What buffer is to the device; weftMemUnknown when the call fails. */
static inline weftMemKind_t weft_dev_mem_kind(const weft_dev *d, const void *buffer) {
  weftMemKind_t k = weftMemUnknown;
  if (!d) return weftMemHost;
  if (d->ops->memKind(d->ctx, buffer, &k) != weftSuccess) return weftMemUnknown;
  return k;
}
/* The host addresses this kind of memory as it is (no copy, no map). */
static inline int weft_mem_is_host(weftMemKind_t k) { return k == weftMemHost || k == weftMemHostPinned; }

#endif
