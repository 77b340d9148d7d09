/* Error text and logging of the cuda backend, and the context switch every
 * entry point starts with. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cuda_private.h"

/* lastError hands out a copy: the ctx's text may be rewritten by another
 * thread (holdRelease) while the caller reads it. */
static _Thread_local char error_copy[WEFT_CUDA_ERR_LEN];
static _Thread_local char init_error[WEFT_CUDA_ERR_LEN];

void weft__cuda_describe(const weft__cuda_api_t *cu, CUresult r, char *buf, size_t len) {
  const char *name = NULL, *text = NULL;
  if (cu && cu->GetErrorName(r, &name) != CUDA_SUCCESS) name = NULL;
  if (cu && cu->GetErrorString(r, &text) != CUDA_SUCCESS) text = NULL;
  if (name)
    snprintf(buf, len, "%s (%s)", name, text ? text : "no description");
  else
    snprintf(buf, len, "CUDA error %d", r);
}

static void set_error(weft__cuda_ctx *c, const char *msg) {
  pthread_mutex_lock(&c->mu);
  snprintf(c->lastError, sizeof c->lastError, "%s", msg);
  pthread_mutex_unlock(&c->mu);
  weft__cuda_log(c, weftLogInfo, "%s", msg);
}

weftResult_t weft__cuda_fail(weft__cuda_ctx *c, CUresult r, const char *what) {
  char why[256], msg[WEFT_CUDA_ERR_LEN];
  weft__cuda_describe(c->cu, r, why, sizeof why);
  snprintf(msg, sizeof msg, "cuda: %s: %s", what, why);
  set_error(c, msg);
  return weftUnhandledDeviceError;
}

weftResult_t weft__cuda_error(weft__cuda_ctx *c, weftResult_t res, const char *fmt, ...) {
  char msg[WEFT_CUDA_ERR_LEN];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  set_error(c, msg);
  return res;
}

void weft__cuda_log(weft__cuda_ctx *c, weftLogLevel_t level, const char *fmt, ...) {
  if (!c || !c->log) return;
  char msg[WEFT_CUDA_ERR_LEN];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  c->log(c->logUser, level, msg);
}

weftResult_t weft__cuda_enter(weft__cuda_ctx *c) {
  CUcontext cur = NULL;
  if (c->cu->CtxGetCurrent(&cur) == CUDA_SUCCESS && cur == c->context) return weftSuccess;
  CUresult r = c->cu->CtxSetCurrent(c->context);
  return r == CUDA_SUCCESS ? weftSuccess : weft__cuda_fail(c, r, "cuCtxSetCurrent");
}

void weft__cuda_set_init_error(const char *msg) { snprintf(init_error, sizeof init_error, "%s", msg); }

const char *weft__cuda_init_error(void) { return init_error; }

const char *weft__cuda_last_error(void *ctx) {
  weft__cuda_ctx *c = ctx;
  if (!c) return init_error[0] ? init_error : "cuda: no error";
  pthread_mutex_lock(&c->mu);
  snprintf(error_copy, sizeof error_copy, "%s", c->lastError[0] ? c->lastError : "cuda: no error");
  pthread_mutex_unlock(&c->mu);
  return error_copy;
}
