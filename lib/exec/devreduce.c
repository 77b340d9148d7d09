#include "exec/devreduce.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "device/device.h"
#include "exec/engine.h"
#include "exec/run.h"
#include "reduce/reduce.h"
#include "util/ivset.h"

#define SLOT_ALIGN 256
#define MAX_VIEWS 8 /* parts of calls beyond these count as host memory: copied in, still right */

/* A host view of a device buffer: host[k] stands for byte dev0 + k of buf. */
typedef struct {
  char *host;
  size_t len;
  const void *buf;
  size_t dev0;
  size_t wlo, whi; /* the part the call writes (view offsets): kernels may write it */
  weft_ivset cur;  /* the parts whose device bytes equal the host's */
} view_t;

typedef struct {
  weft_run_hook hook; /* first: the executor's handle */
  weft_dev *dev;
  void *stream;
  const weft_exec_view *v;
  weft_devstage_pool *pool;
  view_t views[MAX_VIEWS];
  int nviews;
  signed char ok[weftNumTypes][weftNumOps]; /* the backend's answer: 0 not asked, 1 yes, -1 no */
} devred_t;

/* Where an operand is on the device. */
typedef struct {
  const void *buf;
  size_t off;
} dev_at;

int weft_devreduce_eligible(const weft_dev *dev, const weft_call *c) {
  return c->dev_reduce && weft_dev_reduces(dev) && dev->ops->memAlloc && dev->ops->memFree;
}

void weft_devreduce_pool_free(weft_devstage_pool *p) {
  if (p->dscratch) p->dev->ops->memFree(p->dev->ctx, p->dscratch);
  p->dscratch = NULL;
  p->dscratch_cap = 0;
}

static view_t *view_of(devred_t *r, const void *p, size_t bytes, size_t *at) {
  for (int i = 0; i < r->nviews; i++) {
    view_t *w = &r->views[i];
    if ((const char *)p >= w->host && (const char *)p + bytes <= w->host + w->len) {
      *at = (size_t)((const char *)p - w->host);
      return w;
    }
  }
  return NULL;
}

static int writable(const view_t *w, size_t at, size_t bytes) { return at >= w->wlo && at + bytes <= w->whi; }

static void drop(view_t *w, size_t lo, size_t hi) { weft_ivset_remove(&w->cur, lo, hi); }

static void wrote(weft_run_hook *h, const void *p, size_t n) {
  devred_t *r = (devred_t *)h;
  for (int i = 0; i < r->nviews; i++) {
    view_t *w = &r->views[i];
    if (!p) {
      weft_ivset_clear(&w->cur);
      continue;
    }
    const char *lo = p, *hi = lo + n;
    if (hi <= w->host || lo >= w->host + w->len) continue;
    size_t a = lo > w->host ? (size_t)(lo - w->host) : 0, b = (size_t)(hi - w->host);
    drop(w, a, b < w->len ? b : w->len);
  }
}

static weftResult_t failed(devred_t *r, const char *what, char *err, size_t len) {
  return weft_dev_failed(r->dev, weftUnhandledDeviceError, what, err, len);
}

/* Device scratch for three operands of `slot` bytes each. */
static weftResult_t scratch_ready(devred_t *r, size_t slot, char *err, size_t len) {
  weft_devstage_pool *p = r->pool;
  if (3 * slot <= p->dscratch_cap) return weftSuccess;
  weft_devreduce_pool_free(p);
  if (r->dev->ops->memAlloc(r->dev->ctx, 3 * slot, &p->dscratch) != weftSuccess) {
    p->dscratch = NULL;
    return failed(r, "allocating device scratch for the reductions", err, len);
  }
  p->dscratch_cap = 3 * slot;
  return weftSuccess;
}

/* Operand p (bytes) on the device: where it is current, else copied in, to
 * its own place where the call writes it, else to scratch slot k. */
static weftResult_t operand_at(devred_t *r, const void *p, size_t bytes, int k, size_t slot, dev_at *out, char *err,
                               size_t len) {
  size_t at = 0;
  view_t *w = view_of(r, p, bytes, &at);
  if (w && weft_ivset_covers(&w->cur, at, at + bytes)) {
    *out = (dev_at){w->buf, w->dev0 + at};
    return weftSuccess;
  }
  int own = w && writable(w, at, bytes);
  *out = own ? (dev_at){w->buf, w->dev0 + at} : (dev_at){r->pool->dscratch, (size_t)k * slot};
  if (r->dev->ops->copyFromHost(r->dev->ctx, r->stream, (void *)out->buf, out->off, p, bytes) != weftSuccess)
    return failed(r, "copying an operand of a reduction to the device", err, len);
  if (own) weft_ivset_add(&w->cur, at, at + bytes); /* out of memory: it is only copied in again */
  return weftSuccess;
}

/* Whether the backend reduces dt with op (asked once per run, count 0, on
 * the scratch, which exists by then). */
static int supported(devred_t *r, int dt, int op) {
  if (dt < 0 || dt >= weftNumTypes || op < 0 || op >= weftNumOps) return 0;
  if (!r->ok[dt][op]) {
    void *s = r->pool->dscratch; /* count 0: enqueues nothing */
    weftResult_t res = r->dev->ops->reduce(r->dev->ctx, r->stream, s, 0, s, 0, s, 0, 0, (weftDataType_t)dt,
                                           (weftRedOp_t)op);
    r->ok[dt][op] = res == weftSuccess ? 1 : -1;
    if (res != weftSuccess)
      weft_log_to(r->v->log, weftLogInfo, "device reduce: %s %s on the host: %s", weft_dtype_name((weftDataType_t)dt),
                  weft_op_name((weftRedOp_t)op), r->dev->ops->lastError(r->dev->ctx));
  }
  return r->ok[dt][op] > 0;
}

/* dst = a op b on the device, dst copied out to the host view, one wait. */
static weftResult_t reduce_step(weft_run_hook *h, const weft_step_reduce *x, int *done, char *err, size_t len) {
  devred_t *r = (devred_t *)h;
  size_t bytes = x->count * weft_dtype_size((weftDataType_t)x->dt);
  if (!bytes) return weftSuccess;
  size_t slot = (bytes + SLOT_ALIGN - 1) / SLOT_ALIGN * SLOT_ALIGN;
  weftResult_t res = scratch_ready(r, slot, err, len);
  if (res != weftSuccess || !supported(r, x->dt, x->op)) return res;
  dev_at a, b, d;
  res = operand_at(r, x->a, bytes, 0, slot, &a, err, len);
  if (res == weftSuccess) res = operand_at(r, x->b, bytes, 1, slot, &b, err, len);
  if (res != weftSuccess) return res;
  size_t at = 0;
  view_t *w = view_of(r, x->dst, bytes, &at);
  int own = w && writable(w, at, bytes);
  d = own ? (dev_at){w->buf, w->dev0 + at} : (dev_at){r->pool->dscratch, 2 * slot};
  const weftDevice_t *ops = r->dev->ops;
  if (ops->reduce(r->dev->ctx, r->stream, (void *)d.buf, d.off, a.buf, a.off, b.buf, b.off, x->count,
                  (weftDataType_t)x->dt, (weftRedOp_t)x->op) != weftSuccess)
    return failed(r, "the device's reduce kernel", err, len);
  if (ops->copyToHost(r->dev->ctx, r->stream, x->dst, d.buf, d.off, bytes) != weftSuccess)
    return failed(r, "copying a reduction's result to the host", err, len);
  void *ev = NULL;
  if (ops->eventRecord(r->dev->ctx, r->stream, &ev) != weftSuccess) return failed(r, "marking a reduction", err, len);
  res = weft_dev_wait(r->dev, ev, r->v->timeout_ms, r->v->aborted, "a reduction on the device", err, len);
  ops->eventDestroy(r->dev->ctx, ev);
  if (res != weftSuccess) return res;
  if (w && own) weft_ivset_add(&w->cur, at, at + bytes);
  else if (w) drop(w, at, at + bytes);
  if (r->v->stats) atomic_fetch_add_explicit(&r->v->stats->device_reduces, 1, memory_order_relaxed);
  *done = 1;
  return weftSuccess;
}

static void add_view(devred_t *r, char *host, size_t len, const void *buf, size_t dev0, size_t wlo, size_t whi,
                     size_t clo, size_t chi) {
  if (!host || !len || r->nviews == MAX_VIEWS) return;
  view_t *w = &r->views[r->nviews++];
  *w = (view_t){host, len, buf, dev0, wlo, whi, {0}};
  weft_ivset_add(&w->cur, clo, chi);
}

/* The views of call dc, its staged buffers only (host memory is the host's;
 * its copies in are done, or, for pieces, done before each piece runs). */
static void call_views(devred_t *r, const weft_dev_call *dc) {
  const weft_call *c = &dc->call;
  if (dc->inplace) {
    if (!dc->in_host)
      add_view(r, (char *)dc->hin - dc->in_off, dc->extent, c->recvbuf, 0, dc->out_off, dc->out_off + dc->out_len,
               dc->in_off, dc->in_off + dc->in_len);
    return;
  }
  if (!dc->in_host) add_view(r, dc->hin, dc->in_span, c->sendbuf, dc->in_off, 0, 0, 0, dc->in_len);
  if (!dc->out_host) add_view(r, dc->hout, dc->out_span, c->recvbuf, dc->out_off, 0, dc->out_len, 0, 0);
}

weftResult_t weft_devreduce_run(weft_op *op, weft_sched *s, weft_run_mem *m, char *why, size_t len) {
  weft_devstage *ds = &op->dev;
  const weft_exec_view *v = &op->engine->v;
  int want = 0, mapped = 0;
  for (int i = 0; i < ds->ncalls; i++) {
    want |= ds->calls[i].dev_reduce;
    mapped |= ds->calls[i].min || ds->calls[i].mout; /* no kernel while a buffer is mapped */
  }
  if (!want || mapped) return weft_run_sched(v, s, m, op->sig, why, len);
  devred_t r;
  memset(&r, 0, sizeof r);
  r.hook.reduce = reduce_step;
  r.hook.wrote = wrote;
  r.dev = ds->dev;
  r.pool = &op->engine->devpool;
  r.stream = r.pool->stream;
  r.v = v;
  for (int i = 0; i < ds->ncalls; i++)
    if (ds->calls[i].dev_reduce) call_views(&r, &ds->calls[i]);
  /* a kernel writing one view of a buffer would change another view's bytes
   * behind its back: calls that share a buffer keep the host kernels */
  int shared = 0;
  for (int i = 0; i < r.nviews; i++)
    for (int j = 0; j < i; j++) shared |= r.views[i].buf == r.views[j].buf;
  weftResult_t res = weft_run_sched_hooked(v, s, m, op->sig, shared ? NULL : &r.hook, why, len);
  for (int i = 0; i < r.nviews; i++) weft_ivset_free(&r.views[i].cur);
  return res;
}
