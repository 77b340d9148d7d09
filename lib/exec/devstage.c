#include "exec/devstage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coll/coll.h"
#include "tune/devtable.h"
#include "device/device.h"
#include "exec/devreduce.h"
#include "exec/engine.h"

#define STAGE_ALIGN 64

static size_t align_up(size_t x) { return (x + STAGE_ALIGN - 1) / STAGE_ALIGN * STAGE_ALIGN; }

/* The v-variants' blocks (weft_call.vec): a buffer spans its blocks'
 * furthest end; in place, this rank's block sits at its displacement. */
static void vextents(const weft_call *c, int rank, int n, weft_dev_call *d) {
  size_t es = weft_dtype_size(c->dt);
  const size_t *cnt = c->vec, *dsp = c->vec + n;
  switch (c->kind) {
    case COLL_ALLGATHERV:
      d->in_len = d->in_span = cnt[rank] * es;
      d->out_len = d->out_span = weft_vcall_extent(cnt, dsp, n) * es;
      if (d->inplace) d->in_off = dsp[rank] * es;
      break;
    case COLL_REDUCESCATTERV:
      d->in_len = d->in_span = c->count * es;
      d->out_len = d->out_span = cnt[rank] * es;
      if (d->inplace) d->out_off = dsp[rank] * es;
      break;
    default: /* alltoallv: never in place */
      d->in_len = d->in_span = weft_vcall_extent(cnt, dsp, n) * es;
      d->out_len = d->out_span = weft_vcall_extent(c->vec + 2 * n, c->vec + 3 * n, n) * es;
      break;
  }
}

/* What part of each buffer call c reads and writes on rank of n (bytes),
 * with NCCL's in-place placement when both name one buffer: allgather's
 * contribution at block `rank` of the result, reduce-scatter's result at
 * block `rank` of the input. */
static void extents(const weft_call *c, int rank, int n, weft_dev_call *d) {
  size_t b = c->count * weft_dtype_size(c->dt), nb = b * (size_t)n;
  d->inplace = c->sendbuf == c->recvbuf;
  d->in_off = d->out_off = 0;
  d->in_len = b;
  d->out_len = b;
  switch (c->kind) {
    case COLL_ALLREDUCE: break;
    case COLL_BROADCAST:
      if (rank != c->root) d->in_len = 0;
      break;
    case COLL_REDUCE:
      if (rank != c->root) d->out_len = 0;
      break;
    case COLL_ALLGATHER:
      d->out_len = nb;
      if (d->inplace) d->in_off = (size_t)rank * b;
      break;
    case COLL_REDUCESCATTER:
      d->in_len = nb;
      if (d->inplace) d->out_off = (size_t)rank * b;
      break;
    case COLL_ALLTOALL:
      d->in_len = d->out_len = nb;
      break;
    case COLL_SEND: d->out_len = 0; break;
    case COLL_RECV: d->in_len = 0; break;
    case COLL_BARRIER: d->in_len = d->out_len = 0; break;
    case COLL_GATHER:
      d->out_len = rank == c->root ? nb : 0;
      if (d->inplace && rank == c->root) d->in_off = (size_t)rank * b; /* in place is the root's */
      break;
    case COLL_SCATTER:
      d->in_len = rank == c->root ? nb : 0;
      if (d->inplace && rank == c->root) d->out_off = (size_t)rank * b;
      break;
    case COLL_ALLGATHERV:
    case COLL_REDUCESCATTERV:
    case COLL_ALLTOALLV: break; /* vextents */
  }
  /* the host view spans what the call may touch, read or not (the blocks
   * of gather and scatter on the root only, as reduce's result) */
  int root_blocks = rank == c->root && (c->kind == COLL_GATHER || c->kind == COLL_SCATTER);
  d->in_span = c->kind == COLL_REDUCESCATTER || c->kind == COLL_ALLTOALL || (root_blocks && c->kind == COLL_SCATTER) ? nb : b;
  d->out_span = c->kind == COLL_ALLGATHER || c->kind == COLL_ALLTOALL || (root_blocks && c->kind == COLL_GATHER) ? nb : b;
  /* a non-root's buffers of gather and scatter are never in place */
  if ((c->kind == COLL_GATHER || c->kind == COLL_SCATTER) && rank != c->root) d->inplace = 0;
  if (weft_coll_is_v(c->kind)) vextents(c, rank, n, d);
  if (d->inplace) {
    size_t a = d->in_off + d->in_span, z = d->out_off + d->out_span;
    d->extent = a > z ? a : z;
  } else {
    d->extent = 0;
  }
}

static int kind_reads(weft_coll_kind k) { return k != COLL_RECV && k != COLL_BARRIER; }
static int kind_writes(weft_coll_kind k) { return k != COLL_SEND && k != COLL_BARRIER; }

weftResult_t weft_devstage_add(weft_devstage *ds, weft_dev *dev, const weft_call *c, int rank, int n, char *err,
                               size_t errlen) {
  const void *bufs[2] = {c->sendbuf, c->recvbuf};
  int need[2] = {kind_reads(c->kind), kind_writes(c->kind)};
  int is_host[2] = {0, 0}, is_unified[2] = {0, 0};
  for (int i = 0; i < 2; i++) {
    if (!need[i]) continue;
    /* what the backend does not know as its own is host memory (NCCL's
     * buffers must be device memory; weft also takes host memory, so that
     * host data and device data mix on one comm) */
    weftMemKind_t k = weft_dev_mem_kind(dev, bufs[i]);
    is_host[i] = k == weftMemUnknown || weft_mem_is_host(k);
    is_unified[i] = k == weftMemUnified && weft_dev_maps(dev);
  }
  /* a kernel may not use a mapped buffer: a call reduced on the device stages */
  int dev_reduce = weft_devreduce_eligible(dev, c) && !(is_host[0] && is_host[1]);
  if (dev_reduce) is_unified[0] = is_unified[1] = 0;
  if (ds->ncalls == ds->cap) {
    int cap = ds->cap ? 2 * ds->cap : 4;
    weft_dev_call *m = realloc(ds->calls, (size_t)cap * sizeof *m);
    if (!m) {
      snprintf(err, errlen, "out of memory");
      return weftSystemError;
    }
    ds->calls = m;
    ds->cap = cap;
  }
  weft_dev_call *d = &ds->calls[ds->ncalls++];
  memset(d, 0, sizeof *d);
  d->call = *c;
  extents(c, rank, n, d);
  d->in_host = is_host[0];
  d->out_host = is_host[1];
  d->in_map = is_unified[0];
  d->out_map = is_unified[1];
  if (d->inplace) d->in_map = d->out_map = is_unified[0] || is_unified[1];
  d->dev_reduce = dev_reduce;
  ds->dev = dev;
  return weftSuccess;
}

weftResult_t weft_devstage_mark(weft_devstage *ds, weft_dev *qdev, void *qstream, char *err, size_t errlen) {
  ds->qdev = qdev;
  if (qdev->ops->eventRecord(qdev->ctx, qstream, &ds->prior) != weftSuccess) {
    ds->prior = NULL;
    return weft_dev_failed(qdev, weftUnhandledDeviceError, "marking the work queued before the call", err, errlen);
  }
  if (qdev->ops->holdEnqueue(qdev->ctx, qstream, &ds->hold) != weftSuccess) {
    ds->hold = NULL;
    return weft_dev_failed(qdev, weftUnhandledDeviceError, "holding the work queued after the call", err, errlen);
  }
  return weftSuccess;
}

/* Waits for event ev of d, bounded by the comm's timeout and its abort flag. */
static weftResult_t wait_event(weft_dev *d, void *ev, const weft_exec_view *v, const char *what, char *why,
                               size_t len) {
  return weft_dev_wait(d, ev, v->timeout_ms, v->aborted, what, why, len);
}

/* Makes sure the engine has its device stream and `bytes` of staging. */
static weftResult_t pool_ready(weft_devstage_pool *p, weft_dev *d, size_t bytes, char *why, size_t len) {
  if (!p->dev) p->dev = weft_dev_retain(d);
  if (!p->stream && d->ops->streamCreate(d->ctx, &p->stream) != weftSuccess) {
    p->stream = NULL;
    return weft_dev_failed(d, weftUnhandledDeviceError, "creating weft's device stream", why, len);
  }
  if (bytes <= p->stage_cap) return weftSuccess;
  if (p->stage) {
    if (p->stage_pinned) d->ops->hostFree(d->ctx, p->stage);
    else free(p->stage);
    p->stage = NULL;
    p->stage_cap = 0;
  }
  p->stage_pinned = weft_dev_pins(d) && d->ops->hostAlloc(d->ctx, bytes, &p->stage) == weftSuccess;
  if (!p->stage_pinned) p->stage = aligned_alloc(STAGE_ALIGN, align_up(bytes));
  if (!p->stage) {
    snprintf(why, len, "out of memory for %zu bytes of device staging", bytes);
    return weftSystemError;
  }
  p->stage_cap = bytes;
  return weftSuccess;
}

/* Staging bytes call d needs (none where it maps or uses host memory). */
static size_t stage_need(const weft_dev_call *d) {
  if (d->inplace) return d->in_host || d->in_map ? 0 : align_up(d->extent);
  size_t in = d->in_host || d->in_map ? 0 : align_up(d->in_span);
  size_t out = d->out_host || d->out_map ? 0 : align_up(d->out_span);
  return in + out;
}

/* Queues the mapping of the first `bytes` of buf, or takes a mapping the
 * previous op of the stream kept (p non-NULL: the op may take one) that
 * covers as much with at least the access asked for. *queued is set when a
 * map was queued (the host view is usable once an event recorded after it
 * completes); *covered and *writes say what the mapping is. */
static weftResult_t map_view(weft_dev *d, weft_devstage_pool *p, void *stream, const void *buf, size_t bytes,
                             int write, void **host, void **mapping, size_t *covered, int *writes, int *queued,
                             char *why, size_t len) {
  for (int i = 0; p && i < p->nkept; i++) {
    weft_dev_kept *k = &p->kept[i];
    if (k->buf != buf || k->bytes < bytes || k->write < write) continue;
    *host = k->host;
    *mapping = k->mapping;
    *covered = k->bytes;
    *writes = k->write;
    *k = p->kept[--p->nkept];
    return weftSuccess;
  }
  *queued = 1;
  *covered = bytes;
  *writes = write;
  if (d->ops->map(d->ctx, stream, (void *)buf, 0, bytes, write, host, mapping) != weftSuccess) {
    *mapping = NULL;
    char what[96];
    snprintf(what, sizeof what, "mapping %zu bytes for the host", bytes);
    return weft_dev_failed(d, weftUnhandledDeviceError, what, why, len);
  }
  return weftSuccess;
}

/* Unmaps the mappings kept in p that no op took; 1 if it queued any. */
static int release_kept(weft_devstage_pool *p, void *stream) {
  int queued = p->nkept > 0;
  for (int i = 0; i < p->nkept; i++) p->dev->ops->unmap(p->dev->ctx, stream, p->kept[i].mapping);
  p->nkept = 0;
  p->kept_by = NULL;
  return queued;
}

/* Host views of call d: the buffer itself (host memory), a mapping (unified
 * memory of a device that maps), or staging at *at, with its copy in queued
 * on stream. *copied is set when a copy or a map was queued: the views are
 * usable once an event recorded after them completes. */
/* Calls whose result buffer has gaps between blocks (displacements). */
static int gapped(weft_coll_kind k) { return k == COLL_ALLGATHERV || k == COLL_ALLTOALLV; }

static weftResult_t views_in(weft_dev *d, weft_devstage_pool *p, void *stream, weft_dev_call *dc, char **at,
                             int copy_in, int *copied, char *why, size_t len) {
  const weft_call *c = &dc->call;
  if (dc->inplace) {
    void *buf = (void *)c->recvbuf;
    char *h;
    if (dc->in_host) {
      h = buf;
    } else if (dc->in_map) {
      weftResult_t r = map_view(d, p, stream, buf, dc->extent, 1, (void **)&h, &dc->mout, &dc->mout_bytes,
                                &dc->mout_write, copied, why, len);
      if (r != weftSuccess) return r;
    } else {
      h = *at;
      *at += align_up(dc->extent);
      /* a v-variant's buffer has gaps between its blocks that the call must
       * not change: the whole extent comes over, so that the copy back
       * rewrites them with their own bytes */
      size_t off = gapped(c->kind) ? 0 : dc->in_off, n = gapped(c->kind) ? dc->extent : dc->in_len;
      if (n && copy_in) {
        if (d->ops->copyToHost(d->ctx, stream, h + off, buf, off, n) != weftSuccess)
          return weft_dev_failed(d, weftUnhandledDeviceError, "copying the buffer to the host", why, len);
        *copied = 1;
      }
    }
    dc->hin = h + dc->in_off;
    dc->hout = h + dc->out_off;
    return weftSuccess;
  }
  /* out of place: the send view, then the receive view */
  if (!kind_reads(c->kind)) {
    dc->hin = NULL;
  } else if (dc->in_host) {
    dc->hin = (void *)c->sendbuf;
  } else if (dc->in_map) {
    weftResult_t r = map_view(d, p, stream, c->sendbuf, dc->in_span, 0, &dc->hin, &dc->min, &dc->min_bytes,
                              &dc->min_write, copied, why, len);
    if (r != weftSuccess) return r;
  } else {
    dc->hin = *at;
    *at += align_up(dc->in_span);
    if (dc->in_len && copy_in) {
      if (d->ops->copyToHost(d->ctx, stream, dc->hin, c->sendbuf, 0, dc->in_len) != weftSuccess)
        return weft_dev_failed(d, weftUnhandledDeviceError, "copying sendbuff to the host", why, len);
      *copied = 1;
    }
  }
  if (!kind_writes(c->kind)) {
    dc->hout = NULL;
  } else if (dc->out_host) {
    dc->hout = c->recvbuf;
  } else if (dc->out_map) {
    weftResult_t r = map_view(d, p, stream, c->recvbuf, dc->out_span, 1, &dc->hout, &dc->mout, &dc->mout_bytes,
                              &dc->mout_write, copied, why, len);
    if (r != weftSuccess) return r;
  } else {
    dc->hout = *at;
    *at += align_up(dc->out_span);
    if (gapped(c->kind) && dc->out_len && copy_in) { /* the gaps, as in place above */
      if (d->ops->copyToHost(d->ctx, stream, dc->hout, c->recvbuf, 0, dc->out_len) != weftSuccess)
        return weft_dev_failed(d, weftUnhandledDeviceError, "copying recvbuff to the host", why, len);
      *copied = 1;
    }
  }
  return weftSuccess;
}

/* Queues the copy of call d's results back into its buffer; *copied is set
 * when one was queued. */
static weftResult_t views_out(weft_dev *d, void *stream, weft_dev_call *dc, int *copied, char *why, size_t len) {
  const weft_call *c = &dc->call;
  if (!dc->out_len || dc->out_host || dc->mout) return weftSuccess; /* nothing to copy, or mapped */
  if (d->ops->copyFromHost(d->ctx, stream, c->recvbuf, dc->out_off, dc->hout, dc->out_len) != weftSuccess)
    return weft_dev_failed(d, weftUnhandledDeviceError, "copying the results back to the device", why, len);
  *copied = 1;
  return weftSuccess;
}

static void unmap_all(weft_devstage *ds, void *stream) {
  weft_dev *d = ds->dev;
  for (int i = 0; i < ds->ncalls; i++) {
    weft_dev_call *dc = &ds->calls[i];
    if (dc->min) d->ops->unmap(d->ctx, stream, dc->min);
    if (dc->mout) d->ops->unmap(d->ctx, stream, dc->mout);
    dc->min = dc->mout = NULL;
  }
}

/* Waits for everything queued on the engine's device stream so far. */
static weftResult_t drain(weft_dev *d, void *stream, const weft_exec_view *v, const char *what, char *why,
                          size_t len) {
  void *ev = NULL;
  if (d->ops->eventRecord(d->ctx, stream, &ev) != weftSuccess)
    return weft_dev_failed(d, weftUnhandledDeviceError, what, why, len);
  weftResult_t r = wait_event(d, ev, v, what, why, len);
  d->ops->eventDestroy(d->ctx, ev);
  return r;
}

/* A send or receive to oneself (launch.c has paired and checked them). */
static int is_self(const weft_dev_call *d, int rank) {
  return (d->call.kind == COLL_SEND || d->call.kind == COLL_RECV) && d->call.root == rank;
}

/* Sends to oneself copied into the matching receives from oneself, in call
 * order, between their host views. */
static void pair_self(weft_devstage *ds, weft_sched *s, int rank) {
  int si = 0, ri = 0;
  for (;;) {
    while (si < ds->ncalls && !(is_self(&ds->calls[si], rank) && ds->calls[si].call.kind == COLL_SEND)) si++;
    while (ri < ds->ncalls && !(is_self(&ds->calls[ri], rank) && ds->calls[ri].call.kind == COLL_RECV)) ri++;
    if (si == ds->ncalls || ri == ds->ncalls) return;
    weft_sched_copy(s, ds->calls[ri].hout, ds->calls[si].hin, ds->calls[si].in_len, NODEP, NODEP);
    si++;
    ri++;
  }
}

/* Waits for the op's last device work, or, where the engine allows it and no
 * user queue waits for the results, records an event the engine waits for
 * when it finishes the op (weft_devstage_settle). */
static weftResult_t end_wait(weft_devstage *ds, void *stream, const weft_exec_view *v, const char *what, char *why,
                             size_t len) {
  weft_dev *d = ds->dev;
  if (!ds->may_defer || ds->hold) return drain(d, stream, v, what, why, len);
  if (d->ops->eventRecord(d->ctx, stream, &ds->tail) != weftSuccess) {
    ds->tail = NULL;
    return weft_dev_failed(d, weftUnhandledDeviceError, what, why, len);
  }
  ds->tail_what = what;
  return weftSuccess;
}

/* The pool, when op ds may take the mappings the previous op of its stream
 * kept: an op on a weft stream that the engine may finish later (so the
 * next op of the stream is taken before it completes); never an op on a
 * wrapped queue, whose hold must not let the user's work see a mapping. */
static weft_devstage_pool *may_take(const weft_devstage *ds, weft_devstage_pool *p) {
  return ds->may_defer && !ds->hold && !ds->prior && p->nkept ? p : NULL;
}

/* Moves the op's mappings into the pool for the next op of the stream (those
 * beyond the pool's room are unmapped); 1 if it queued an unmap. */
static int keep_mappings(weft_devstage *ds, weft_devstage_pool *p, void *stream) {
  weft_dev *d = ds->dev;
  int unmapped = 0;
  for (int i = 0; i < ds->ncalls; i++) {
    weft_dev_call *dc = &ds->calls[i];
    void *base_out = dc->inplace && dc->hout ? (char *)dc->hout - dc->out_off : dc->hout;
    weft_dev_kept k[2] = {{dc->call.sendbuf, dc->min_bytes, dc->min_write, dc->hin, dc->min},
                          {dc->call.recvbuf, dc->mout_bytes, dc->mout_write, base_out, dc->mout}};
    for (int j = 0; j < 2; j++) {
      if (!k[j].mapping) continue;
      if (p->nkept < WEFT_DEV_KEPT_MAX) {
        p->kept[p->nkept++] = k[j];
      } else {
        d->ops->unmap(d->ctx, stream, k[j].mapping);
        unmapped = 1;
      }
    }
    dc->min = dc->mout = NULL;
  }
  if (p->nkept) {
    p->kept_by = ds;
    ds->kept = 1;
  }
  return unmapped;
}

/* The end of an op's device work, its copies out queued (copied): the
 * mappings are undone, or kept for the next op of a weft stream (which then
 * maps nothing: no round trip through the device per call), and the last
 * device work is waited for or left to weft_devstage_settle. */
static weftResult_t end_views(weft_op *op, void *stream, weftResult_t r, int copied, int mapped, char *why,
                              size_t len) {
  weft_devstage *ds = &op->dev;
  weft_devstage_pool *p = &op->engine->devpool;
  int keep = r == weftSuccess && ds->may_defer && !ds->hold && !ds->prior && !p->nkept;
  int unmapped = mapped;
  if (keep) unmapped = keep_mappings(ds, p, stream);
  else unmap_all(ds, stream);
  if (r != weftSuccess) return r;
  const weft_exec_view *v = &op->engine->v;
  if (copied) return end_wait(ds, stream, v, "copying the results to the device", why, len);
  if (unmapped) return end_wait(ds, stream, v, "unmapping the buffers", why, len);
  if (ds->kept) ds->tail = WEFT_DEVSTAGE_KEPT;
  return weftSuccess;
}

/* Whether call d's input (output) is staged: copied, not host memory or mapped. */
static int staged_in(const weft_dev_call *dc) {
  return dc->in_len && !dc->in_host && !dc->in_map;
}
static int staged_out(const weft_dev_call *dc) { return dc->out_len && !dc->out_host && !dc->mout; }

/* Builds and runs the schedule of elements [off, off + n) of call dc on its
 * host views (the whole call: 0, count). */
static weftResult_t run_range(weft_op *op, const weft_dev_call *dc, size_t off, size_t n, char *why, size_t len) {
  const weft_exec_view *v = &op->engine->v;
  size_t at = off * weft_dtype_size(dc->call.dt);
  weft_call c = dc->call;
  char *hin = dc->hin ? (char *)dc->hin + at : NULL, *hout = dc->hout ? (char *)dc->hout + at : NULL;
  c.sendbuf = hin ? hin : hout;
  c.recvbuf = hout ? hout : hin;
  c.count = n;
  weft_devstage_pool *p = &op->engine->devpool;
  weft_sched_reset(&p->sched);
  if (weft_coll_build(&p->sched, &c, v->rank, v->nranks) != 0 || p->sched.oom) {
    snprintf(why, len, "out of memory building the schedule of %s", weft_coll_name(c.kind));
    return weftSystemError;
  }
  return weft_devreduce_run(op, &p->sched, &p->mem, why, len);
}

/* One call split into pieces (the tuner's choice from the device table,
 * the same on every rank): each piece's schedule runs after the previous
 * one, on every rank. A staging rank queues the copy in of every piece at
 * once with an event after each, runs piece i as soon as its event
 * completes and queues its copy out right after it: the copies of the
 * other pieces overlap the network. Only for contiguous calls (allreduce,
 * broadcast, reduce), whose pieces are element ranges of both buffers. */
static weftResult_t run_pieces(weft_op *op, void *stream, char *why, size_t len) {
  weft_devstage *ds = &op->dev;
  const weft_exec_view *v = &op->engine->v;
  weft_dev *d = ds->dev;
  weft_dev_call *dc = &ds->calls[0];
  const weft_call *c = &dc->call;
  int np = c->pieces > WEFT_DEV_MAX_PIECES ? WEFT_DEV_MAX_PIECES : c->pieces;
  size_t es = weft_dtype_size(c->dt);
  const void *src = dc->inplace ? c->recvbuf : c->sendbuf; /* where the input is read */
  size_t src_off = dc->inplace ? dc->in_off : 0;
  void *ev[WEFT_DEV_MAX_PIECES] = {NULL};
  char *at = op->engine->devpool.stage;
  int mapped = 0, copied_out = 0, in = staged_in(dc), out = 0;
  weftResult_t r = views_in(d, may_take(ds, &op->engine->devpool), stream, dc, &at, 0, &mapped, why, len);
  if (release_kept(&op->engine->devpool, stream)) mapped = 1; /* waited for with the maps */
  out = staged_out(dc);
  /* every piece's copy in now, an event after each (after the maps: one
   * event covers them when nothing is copied in) */
  for (int i = 0; i < np && r == weftSuccess && (in || (mapped && i == 0)); i++) {
    size_t off, n;
    weft_split(c->count, np, i, &off, &n);
    if (in && d->ops->copyToHost(d->ctx, stream, (char *)dc->hin + off * es, src, src_off + off * es, n * es) !=
                  weftSuccess)
      r = weft_dev_failed(d, weftUnhandledDeviceError, "copying a piece of the buffer to the host", why, len);
    else if (d->ops->eventRecord(d->ctx, stream, &ev[i]) != weftSuccess)
      ev[i] = NULL, r = weft_dev_failed(d, weftUnhandledDeviceError, "marking a piece's copy", why, len);
  }
  for (int i = 0; i < np && r == weftSuccess; i++) {
    size_t off, n;
    weft_split(c->count, np, i, &off, &n);
    if (ev[i]) r = wait_event(d, ev[i], v, "copying a piece of the buffer to the host", why, len);
    if (r == weftSuccess) r = run_range(op, dc, off, n, why, len);
    if (r == weftSuccess && out) {
      if (d->ops->copyFromHost(d->ctx, stream, c->recvbuf, dc->out_off + off * es, (char *)dc->hout + off * es,
                               n * es) != weftSuccess)
        r = weft_dev_failed(d, weftUnhandledDeviceError, "copying a piece of the results to the device", why, len);
      copied_out = 1;
    }
  }
  for (int i = 0; i < np; i++)
    if (ev[i]) d->ops->eventDestroy(d->ctx, ev[i]);
  return end_views(op, stream, r, copied_out, mapped, why, len);
}

/* Host views in, schedule built on them and run, results out. */
static weftResult_t run_calls(weft_op *op, char *why, size_t len) {
  weft_devstage *ds = &op->dev;
  weft_engine *e = op->engine;
  const weft_exec_view *v = &e->v;
  weft_dev *d = ds->dev;
  size_t need = 0;
  int mapped = 0;
  for (int i = 0; i < ds->ncalls; i++) {
    need += stage_need(&ds->calls[i]);
    mapped |= ds->calls[i].in_map || ds->calls[i].out_map;
  }
  weftResult_t r = pool_ready(&e->devpool, d, need ? need : STAGE_ALIGN, why, len);
  if (r != weftSuccess) return r;
  void *stream = e->devpool.stream;
  if (ds->ncalls == 1 && ds->calls[0].call.pieces > 1) return run_pieces(op, stream, why, len);
  char *at = e->devpool.stage;
  int copied = 0;
  weft_devstage_pool *take = may_take(ds, &e->devpool);
  for (int i = 0; i < ds->ncalls && r == weftSuccess; i++)
    r = views_in(d, take, stream, &ds->calls[i], &at, 1, &copied, why, len);
  if (release_kept(&e->devpool, stream)) copied = 1; /* waited for with the maps */
  /* one wait for every copy and map of the op */
  if (r == weftSuccess && copied) r = drain(d, stream, v, "copying or mapping the buffers for the host", why, len);
  weft_sched *s = &e->devpool.sched; /* its scratch stays warm from op to op (devstage.h) */
  if (r == weftSuccess) {
    weft_sched_reset(s);
    for (int i = 0; i < ds->ncalls && r == weftSuccess; i++) {
      if (is_self(&ds->calls[i], v->rank)) continue;
      weft_call c = ds->calls[i].call;
      c.sendbuf = ds->calls[i].hin ? ds->calls[i].hin : ds->calls[i].hout;
      c.recvbuf = ds->calls[i].hout ? ds->calls[i].hout : ds->calls[i].hin;
      if (weft_coll_build(s, &c, v->rank, v->nranks) != 0 || s->oom) {
        snprintf(why, len, "out of memory building the schedule of %s", weft_coll_name(c.kind));
        r = weftSystemError;
      }
    }
    pair_self(ds, s, v->rank);
    if (r == weftSuccess && s->oom) {
      snprintf(why, len, "out of memory building the copies to oneself");
      r = weftSystemError;
    }
  }
  if (r == weftSuccess) r = weft_devreduce_run(op, s, &e->devpool.mem, why, len);
  copied = 0;
  for (int i = 0; i < ds->ncalls && r == weftSuccess; i++) r = views_out(d, stream, &ds->calls[i], &copied, why, len);
  return end_views(op, stream, r, copied, mapped, why, len);
}

weftResult_t weft_devstage_run(weft_op *op, char *why, size_t len) {
  weft_devstage *ds = &op->dev;
  const weft_exec_view *v = &op->engine->v;
  weftResult_t r = weftSuccess;
  if (ds->prior) r = wait_event(ds->qdev, ds->prior, v, "the work queued before the call", why, len);
  if (r == weftSuccess) r = ds->ncalls ? run_calls(op, why, len) : weft_run_sched(v, &op->sched, &op->mem, op->sig, why, len);
  /* the user's queue goes on as soon as the results are in its buffers */
  if (ds->hold) {
    ds->qdev->ops->holdRelease(ds->qdev->ctx, ds->hold, r != weftSuccess);
    ds->hold = NULL;
  }
  return r;
}

char weft_devstage_kept_mark;

/* The op's unwaited device work, then its kept mappings unless the next op
 * took them over (took them or unmapped them before its first wait). */
weftResult_t weft_devstage_settle(weft_op *op, char *why, size_t len) {
  weft_devstage *ds = &op->dev;
  weftResult_t r = weftSuccess;
  if (ds->tail && ds->tail != WEFT_DEVSTAGE_KEPT) {
    r = wait_event(ds->dev, ds->tail, &op->engine->v, ds->tail_what, why, len);
    ds->dev->ops->eventDestroy(ds->dev->ctx, ds->tail);
  }
  ds->tail = NULL;
  weft_devstage_pool *p = &op->engine->devpool;
  if (ds->kept && p->kept_by == ds && release_kept(p, p->stream)) {
    weftResult_t u = drain(p->dev, p->stream, &op->engine->v, "unmapping the buffers", why, len);
    if (r == weftSuccess) r = u;
  }
  ds->kept = 0;
  return r;
}

void weft_devstage_end(weft_devstage *ds, int failed) {
  if (ds->tail && ds->tail != WEFT_DEVSTAGE_KEPT && ds->dev) ds->dev->ops->eventDestroy(ds->dev->ctx, ds->tail);
  ds->tail = NULL;
  ds->kept = 0; /* what it kept is the pool's: the next op or the engine's end releases it */
  ds->may_defer = 0;
  if (ds->qdev) {
    if (ds->hold) ds->qdev->ops->holdRelease(ds->qdev->ctx, ds->hold, failed);
    if (ds->prior) ds->qdev->ops->eventDestroy(ds->qdev->ctx, ds->prior);
  }
  ds->hold = ds->prior = NULL;
  ds->qdev = NULL;
  ds->dev = NULL;
  ds->ncalls = 0;
}

void weft_devstage_free(weft_devstage *ds) {
  weft_devstage_end(ds, 1);
  free(ds->calls);
  ds->calls = NULL;
  ds->cap = 0;
}

void weft_devstage_pool_init(weft_devstage_pool *p) {
  memset(p, 0, sizeof *p);
  weft_sched_init(&p->sched);
}

void weft_devstage_pool_free(weft_devstage_pool *p) {
  weft_sched_free(&p->sched);
  weft_run_mem_free(&p->mem);
  weft_dev *d = p->dev;
  if (!d) return;
  if (p->stream) release_kept(p, p->stream); /* OpenCL-like runtimes run them before the stream goes */
  weft_devreduce_pool_free(p);
  if (p->stage) {
    if (p->stage_pinned) d->ops->hostFree(d->ctx, p->stage);
    else free(p->stage);
  }
  if (p->stream) d->ops->streamDestroy(d->ctx, p->stream);
  weft_dev_close(d);
  memset(p, 0, sizeof *p);
}
