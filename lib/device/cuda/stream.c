/* Streams and asynchronous copies. A wrapped stream is the application's
 * CUstream (a cudaStream_t is the same handle); NULL wraps the legacy
 * default stream, which orders itself with every blocking stream of the
 * context. Streams weft creates are non-blocking, so that weft's copies
 * never wait for unrelated work on the legacy stream. */
#include <stdlib.h>
#include <time.h>

#include "cuda_private.h"
#include "util/clock.h"

weftResult_t weft__cuda_stream_wrap(void *ctx, void *native, void **stream) {
  weft__cuda_ctx *c = ctx;
  if (!c || !stream) return weftInvalidArgument;
  weft__cuda_stream *s = calloc(1, sizeof *s);
  if (!s) return weft__cuda_error(c, weftSystemError, "cuda: out of memory wrapping a stream");
  s->s = (CUstream)native;
  *stream = s;
  return weftSuccess;
}

weftResult_t weft__cuda_stream_create(void *ctx, void **stream) {
  weft__cuda_ctx *c = ctx;
  if (!c || !stream) return weftInvalidArgument;
  weftResult_t res = weft__cuda_enter(c);
  if (res != weftSuccess) return res;
  weft__cuda_stream *s = calloc(1, sizeof *s);
  if (!s) return weft__cuda_error(c, weftSystemError, "cuda: out of memory creating a stream");
  CUresult r = c->cu->StreamCreate(&s->s, CU_STREAM_NON_BLOCKING);
  if (r != CUDA_SUCCESS) {
    free(s);
    return weft__cuda_fail(c, r, "cuStreamCreate");
  }
  s->owned = 1;
  *stream = s;
  return weftSuccess;
}

weftResult_t weft__cuda_stream_destroy(void *ctx, void *stream) {
  weft__cuda_ctx *c = ctx;
  weft__cuda_stream *s = stream;
  if (!c || !s) return weftInvalidArgument;
  weftResult_t res = weftSuccess;
  if (s->owned && (res = weft__cuda_enter(c)) == weftSuccess) {
    /* the driver lets queued work finish before the stream goes */
    CUresult r = c->cu->StreamDestroy(s->s);
    if (r != CUDA_SUCCESS) res = weft__cuda_fail(c, r, "cuStreamDestroy");
  }
  free(s);
  return res;
}

weftResult_t weft__cuda_copy_to_host(void *ctx, void *stream, void *host, const void *buffer, size_t offset,
                                     size_t bytes) {
  weft__cuda_ctx *c = ctx;
  weft__cuda_stream *s = stream;
  if (!c || !s || (bytes && (!host || !buffer))) return weftInvalidArgument;
  if (!bytes) return weftSuccess;
  weftResult_t res = weft__cuda_enter(c);
  if (res != weftSuccess) return res;
  CUresult r = c->cu->MemcpyDtoHAsync(host, weft__cuda_ptr(buffer, offset), bytes, s->s);
  return r == CUDA_SUCCESS ? weftSuccess : weft__cuda_fail(c, r, "cuMemcpyDtoHAsync");
}

weftResult_t weft__cuda_copy_from_host(void *ctx, void *stream, void *buffer, size_t offset, const void *host,
                                       size_t bytes) {
  weft__cuda_ctx *c = ctx;
  weft__cuda_stream *s = stream;
  if (!c || !s || (bytes && (!host || !buffer))) return weftInvalidArgument;
  if (!bytes) return weftSuccess;
  weftResult_t res = weft__cuda_enter(c);
  if (res != weftSuccess) return res;
  CUresult r = c->cu->MemcpyHtoDAsync(weft__cuda_ptr(buffer, offset), host, bytes, s->s);
  return r == CUDA_SUCCESS ? weftSuccess : weft__cuda_fail(c, r, "cuMemcpyHtoDAsync");
}

weftResult_t weft__cuda_copy_device(void *ctx, void *stream, void *dst, size_t dstOffset, const void *src,
                                    size_t srcOffset, size_t bytes) {
  weft__cuda_ctx *c = ctx;
  weft__cuda_stream *s = stream;
  if (!c || !s || (bytes && (!dst || !src))) return weftInvalidArgument;
  if (!bytes) return weftSuccess;
  weftResult_t res = weft__cuda_enter(c);
  if (res != weftSuccess) return res;
  CUresult r =
      c->cu->MemcpyDtoDAsync(weft__cuda_ptr(dst, dstOffset), weft__cuda_ptr(src, srcOffset), bytes, s->s);
  return r == CUDA_SUCCESS ? weftSuccess : weft__cuda_fail(c, r, "cuMemcpyDtoDAsync");
}
