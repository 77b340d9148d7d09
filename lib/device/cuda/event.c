/* Events: a point of a stream. The void* weft holds is the CUevent itself.
 * Events are kept in a small pool per device, since weft records one or two
 * per collective and creating them costs a driver call each. */
#include <stdlib.h>

#include "cuda_private.h"

#define EVENT_POOL_MAX 64

weftResult_t weft__cuda_event_mark(weft__cuda_ctx *c, CUstream s, CUevent *ev) {
  CUevent e = NULL;
  pthread_mutex_lock(&c->mu);
  if (c->eventPoolLen > 0) e = c->eventPool[--c->eventPoolLen];
  pthread_mutex_unlock(&c->mu);
  CUresult r;
  if (!e && (r = c->cu->EventCreate(&e, CU_EVENT_DISABLE_TIMING)) != CUDA_SUCCESS)
    return weft__cuda_fail(c, r, "cuEventCreate");
  if ((r = c->cu->EventRecord(e, s)) != CUDA_SUCCESS) {
    weft__cuda_event_put(c, e);
    return weft__cuda_fail(c, r, "cuEventRecord");
  }
  *ev = e;
  return weftSuccess;
}

void weft__cuda_event_put(weft__cuda_ctx *c, CUevent ev) {
  pthread_mutex_lock(&c->mu);
  if (c->eventPoolLen == c->eventPoolCap && c->eventPoolCap < EVENT_POOL_MAX) {
    int cap = c->eventPoolCap ? c->eventPoolCap * 2 : 8;
    CUevent *grown = realloc(c->eventPool, (size_t)cap * sizeof *grown);
    if (grown) {
      c->eventPool = grown;
      c->eventPoolCap = cap;
    }
  }
  int kept = c->eventPoolLen < c->eventPoolCap;
  if (kept) c->eventPool[c->eventPoolLen++] = ev;
  pthread_mutex_unlock(&c->mu);
  if (!kept) c->cu->EventDestroy(ev);
}

void weft__cuda_events_free(weft__cuda_ctx *c) {
  for (int i = 0; i < c->eventPoolLen; i++) c->cu->EventDestroy(c->eventPool[i]);
  free(c->eventPool);
  c->eventPool = NULL;
  c->eventPoolLen = c->eventPoolCap = 0;
}

weftResult_t weft__cuda_event_record(void *ctx, void *stream, void **event) {
  weft__cuda_ctx *c = ctx;
  weft__cuda_stream *s = stream;
  if (!c || !s || !event) return weftInvalidArgument;
  weftResult_t res = weft__cuda_enter(c);
  if (res != weftSuccess) return res;
  CUevent ev;
  if ((res = weft__cuda_event_mark(c, s->s, &ev)) != weftSuccess) return res;
  *event = ev;
  return weftSuccess;
}

weftResult_t weft__cuda_event_query(void *ctx, void *event, int *done) {
  weft__cuda_ctx *c = ctx;
  if (!c || !event || !done) return weftInvalidArgument;
  weftResult_t res = weft__cuda_enter(c);
  if (res != weftSuccess) return res;
  CUresult r = c->cu->EventQuery((CUevent)event);
  if (r == CUDA_SUCCESS || r == CUDA_ERROR_NOT_READY) {
    *done = r == CUDA_SUCCESS;
    return weftSuccess;
  }
  return weft__cuda_fail(c, r, "cuEventQuery");
}

weftResult_t weft__cuda_event_wait(void *ctx, void *stream, void *event) {
  weft__cuda_ctx *c = ctx;
  weft__cuda_stream *s = stream;
  if (!c || !s || !event) return weftInvalidArgument;
  weftResult_t res = weft__cuda_enter(c);
  if (res != weftSuccess) return res;
  CUresult r = c->cu->StreamWaitEvent(s->s, (CUevent)event, 0);
  return r == CUDA_SUCCESS ? weftSuccess : weft__cuda_fail(c, r, "cuStreamWaitEvent");
}

weftResult_t weft__cuda_event_destroy(void *ctx, void *event) {
  weft__cuda_ctx *c = ctx;
  if (!c || !event) return weftInvalidArgument;
  weftResult_t res = weft__cuda_enter(c);
  if (res != weftSuccess) return res;
  /* a pooled event re-recorded later is fine even if this one is pending */
  weft__cuda_event_put(c, (CUevent)event);
  return weftSuccess;
}
