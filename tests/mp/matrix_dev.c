#include "matrix_dev.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "api/introspect.h"
#include "device/device.h"
#include "time_scale.h"

static int inside(const void *p, size_t pn, const void *q, size_t qn) {
  uintptr_t a = (uintptr_t)p, b = (uintptr_t)q;
  return a >= b && a + pn <= b + qn;
}

/* A device buffer holding the bytes of host h. */
static int twin(weft_dev *d, void *h, size_t bytes, void **out, char *err, size_t errlen) {
  if (d->ops->memAlloc(d->ctx, bytes, out) != weftSuccess) {
    snprintf(err, errlen, "memAlloc(%zu) on %s: %s", bytes, d->name, d->ops->lastError(d->ctx));
    *out = NULL;
    return -1;
  }
  return weft_dev_copy_sync(d, *out, 0, h, bytes, 0, weft_test_ms(30000), err, errlen) == weftSuccess ? 0 : -1;
}

int mx_dev_begin(mx_dev_call *a, weftComm_t comm, const void **s, size_t sbytes, void **r, size_t rbytes, char *err,
                 size_t errlen) {
  memset(a, 0, sizeof *a);
  weft_dev *d = weft_debug_comm_device(comm);
  if (!d || weft_dev_is_host(d)) return 0;
  if (!d->ops->memAlloc) {
    snprintf(err, errlen, "device %s cannot allocate buffers (no memAlloc)", d->name);
    return -1;
  }
  a->dev = d;
  a->hs = *s && sbytes ? (void *)*s : NULL;
  a->hr = *r && rbytes ? *r : NULL;
  a->sbytes = a->hs ? sbytes : 0;
  a->rbytes = a->hr ? rbytes : 0;
  if (a->hs && a->hr && inside(a->hs, a->sbytes, a->hr, a->rbytes)) {
    a->hs = NULL; /* in place: the receive buffer covers both */
    if (twin(d, a->hr, a->rbytes, &a->dr, err, errlen)) return -1;
    *s = a->dr;
    *r = a->dr;
    return 0;
  }
  if (a->hs && a->hr && inside(a->hr, a->rbytes, a->hs, a->sbytes)) {
    a->hr = NULL; /* in place: the send buffer covers both */
    if (twin(d, a->hs, a->sbytes, &a->ds, err, errlen)) return -1;
    *s = a->ds;
    *r = a->ds;
    return 0;
  }
  if (a->hs) {
    if (twin(d, a->hs, a->sbytes, &a->ds, err, errlen)) return -1;
    *s = a->ds;
  }
  if (a->hr) {
    if (twin(d, a->hr, a->rbytes, &a->dr, err, errlen)) return -1;
    *r = a->dr;
  }
  return 0;
}

int mx_dev_end(mx_dev_call *a, char *err, size_t errlen) {
  weft_dev *d = a->dev;
  int bad = 0;
  if (!d) return 0;
  if (a->ds && a->hs)
    bad |= weft_dev_copy_sync(d, a->ds, 0, a->hs, a->sbytes, 1, weft_test_ms(30000), err, errlen) != weftSuccess;
  if (a->dr && a->hr)
    bad |= weft_dev_copy_sync(d, a->dr, 0, a->hr, a->rbytes, 1, weft_test_ms(30000), err, errlen) != weftSuccess;
  if (a->ds) d->ops->memFree(d->ctx, a->ds);
  if (a->dr) d->ops->memFree(d->ctx, a->dr);
  memset(a, 0, sizeof *a);
  return bad ? -1 : 0;
}
