/* Buffers of the opencl backend: what a handle is, copies, map/unmap and
 * pinned host memory.
 *
 * A user buffer is a cl_mem (a buffer object of the backend's context). weft
 * addresses part of it with the byte offset of the copy and map calls; a
 * user who wants a collective on part of a buffer passes a sub-buffer
 * (clCreateSubBuffer; its origin must be a multiple of the device's
 * CL_DEVICE_MEM_BASE_ADDR_ALIGN). A fine-grained SVM pointer is host memory
 * to weft (ocl_svm.c): memKind calls a user's unknown, and those memAlloc
 * made with the "svm" spec host-pinned; both are used in place.
 *
 * memKind keeps no registry of user buffers, and it must not crash on a
 * pointer that is not a cl_mem: the ICD loader dispatches through the
 * object's first word, so calling clGetMemObjectInfo on a host pointer would
 * jump through garbage. It therefore (1) reads the candidate's first word
 * through a pipe, which fails with EFAULT instead of faulting when the
 * memory is not readable, (2) requires that word to be the dispatch table of
 * our platform (cl_khr_icd: every object starts with it), (3) asks
 * clGetMemObjectInfo for the type and context, any error meaning unknown,
 * and (4) requires a buffer of our own context. Host blocks from hostAlloc
 * are recognised from the backend's own list (weftMemHostPinned). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ocl.h"

/* Copies the first pointer-sized word at p, or returns 0 when it is not
 * readable. The raw system call, not write(): the candidate may be a smaller
 * host object (an int), which the kernel reads harmlessly but which a
 * sanitizer's write() interceptor would report as an overflow. */
static int read_first_word(weft_ocl_ctx *c, const void *p, void **word) {
  int ok = 0;
  pthread_mutex_lock(&c->probeMu);
  ssize_t w;
  do w = (ssize_t)syscall(SYS_write, c->probePipe[1], p, sizeof *word);
  while (w < 0 && errno == EINTR);
  if (w == (ssize_t)sizeof *word) {
    ssize_t r;
    do r = read(c->probePipe[0], word, sizeof *word);
    while (r < 0 && errno == EINTR);
    ok = r == (ssize_t)sizeof *word;
  }
  pthread_mutex_unlock(&c->probeMu);
  return ok;
}

static int is_pinned(weft_ocl_ctx *c, const void *p) {
  int found = 0;
  pthread_mutex_lock(&c->pinnedMu);
  for (weft_ocl_pinned *b = c->pinned; b != NULL && !found; b = b->next)
    found = (uintptr_t)p >= (uintptr_t)b->host && (uintptr_t)p < (uintptr_t)b->host + b->bytes;
  pthread_mutex_unlock(&c->pinnedMu);
  return found;
}

weftResult_t weft__ocl_mem_kind(void *ctx, const void *buffer, weftMemKind_t *kind) {
  weft_ocl_ctx *c = ctx;
  if (c == NULL || kind == NULL) return weftInvalidArgument;
  *kind = weftMemUnknown;
  if (buffer == NULL) return weftSuccess;
  if (is_pinned(c, buffer) || weft__ocl_svm_owned(c, buffer)) {
    *kind = weftMemHostPinned;
    return weftSuccess;
  }
  void *word = NULL;
  if (!read_first_word(c, buffer, &word) || word != c->dispatch) return weftSuccess;
  cl_mem mem = (cl_mem)(uintptr_t)buffer;
  cl_mem_object_type type = 0;
  cl_context owner = NULL;
  if (clGetMemObjectInfo(mem, CL_MEM_TYPE, sizeof type, &type, NULL) != CL_SUCCESS ||
      type != CL_MEM_OBJECT_BUFFER)
    return weftSuccess;
  if (clGetMemObjectInfo(mem, CL_MEM_CONTEXT, sizeof owner, &owner, NULL) != CL_SUCCESS || owner != c->context)
    return weftSuccess;
  *kind = c->hostUnified ? weftMemUnified : weftMemDevice;
  return weftSuccess;
}

/* ---- copies -------------------------------------------------------------------------- */

weftResult_t weft__ocl_copy_to_host(void *ctx, void *stream, void *host, const void *buffer, size_t offset,
                                    size_t bytes) {
  weft_ocl_ctx *c = ctx;
  weft_ocl_stream *s = stream;
  if (c == NULL || s == NULL || (bytes > 0 && (host == NULL || buffer == NULL))) return weftInvalidArgument;
  if (bytes == 0) return weftSuccess;
  if (weft__ocl_svm_owned(c, buffer)) return weft__ocl_svm_copy(c, s, host, (const char *)buffer + offset, bytes);
  cl_int err = clEnqueueReadBuffer(s->queue, (cl_mem)(uintptr_t)buffer, CL_FALSE, offset, bytes, host, 0, NULL,
                                   NULL);
  if (err != CL_SUCCESS) return weft__ocl_fail(c, "clEnqueueReadBuffer", err);
  return weft__ocl_submitted(c, s, "clEnqueueReadBuffer");
}

weftResult_t weft__ocl_copy_from_host(void *ctx, void *stream, void *buffer, size_t offset, const void *host,
                                      size_t bytes) {
  weft_ocl_ctx *c = ctx;
  weft_ocl_stream *s = stream;
  if (c == NULL || s == NULL || (bytes > 0 && (host == NULL || buffer == NULL))) return weftInvalidArgument;
  if (bytes == 0) return weftSuccess;
  if (weft__ocl_svm_owned(c, buffer)) return weft__ocl_svm_copy(c, s, (char *)buffer + offset, host, bytes);
  cl_int err = clEnqueueWriteBuffer(s->queue, (cl_mem)buffer, CL_FALSE, offset, bytes, host, 0, NULL, NULL);
  if (err != CL_SUCCESS) return weft__ocl_fail(c, "clEnqueueWriteBuffer", err);
  return weft__ocl_submitted(c, s, "clEnqueueWriteBuffer");
}

weftResult_t weft__ocl_copy_device(void *ctx, void *stream, void *dst, size_t dstOffset, const void *src,
                                   size_t srcOffset, size_t bytes) {
  weft_ocl_ctx *c = ctx;
  weft_ocl_stream *s = stream;
  if (c == NULL || s == NULL || (bytes > 0 && (dst == NULL || src == NULL))) return weftInvalidArgument;
  if (bytes == 0) return weftSuccess;
  int svm_dst = weft__ocl_svm_owned(c, dst), svm_src = weft__ocl_svm_owned(c, src);
  if (svm_dst && svm_src) return weft__ocl_svm_copy(c, s, (char *)dst + dstOffset, (const char *)src + srcOffset, bytes);
  if (svm_dst || svm_src)
    return weft__ocl_error(c, weftInvalidArgument, "copyDevice between an SVM buffer and a cl_mem is not supported");
  cl_int err = clEnqueueCopyBuffer(s->queue, (cl_mem)(uintptr_t)src, (cl_mem)dst, srcOffset, dstOffset, bytes, 0,
                                   NULL, NULL);
  if (err != CL_SUCCESS) return weft__ocl_fail(c, "clEnqueueCopyBuffer", err);
  return weft__ocl_submitted(c, s, "clEnqueueCopyBuffer");
}

/* ---- map ------------------------------------------------------------------------------ */

typedef struct {
  cl_mem mem; /* retained; NULL for an empty mapping */
  void *host;
} weft_ocl_mapping;

/* Maps without blocking, then waits with the WEFT_TIMEOUT limit (a hold on
 * the queue that is never released must not hang the caller): hostAlloc's
 * blocks, which are used at once. On failure an unmap is queued behind the
 * map so that the buffer does not stay mapped. */
static weftResult_t map_and_wait(weft_ocl_ctx *c, cl_command_queue q, cl_mem mem, cl_map_flags flags,
                                 size_t offset, size_t bytes, void **host) {
  cl_event ev = NULL;
  cl_int err;
  void *p = clEnqueueMapBuffer(q, mem, CL_FALSE, flags, offset, bytes, 0, NULL, &ev, &err);
  if (err != CL_SUCCESS) return weft__ocl_fail(c, "clEnqueueMapBuffer", err);
  err = clFlush(q);
  weftResult_t r = err == CL_SUCCESS ? weft__ocl_wait(c, ev, "clEnqueueMapBuffer") : weft__ocl_fail(c, "clFlush", err);
  clReleaseEvent(ev);
  if (r != weftSuccess) {
    clEnqueueUnmapMemObject(q, mem, p, 0, NULL, NULL);
    clFlush(q);
    return r;
  }
  *host = p;
  return weftSuccess;
}

weftResult_t weft__ocl_map(void *ctx, void *stream, void *buffer, size_t offset, size_t bytes, int write,
                           void **host, void **mapping) {
  weft_ocl_ctx *c = ctx;
  weft_ocl_stream *s = stream;
  if (c == NULL || s == NULL || host == NULL || mapping == NULL || buffer == NULL) return weftInvalidArgument;
  *host = *mapping = NULL;
  weft_ocl_mapping *m = calloc(1, sizeof *m);
  if (m == NULL) return weft__ocl_error(c, weftSystemError, "out of memory for a mapping");
  if (bytes > 0) {
    cl_mem mem = (cl_mem)buffer;
    /* The host may read what it writes (in-place reduction): READ|WRITE. */
    cl_map_flags flags = write ? (CL_MAP_READ | CL_MAP_WRITE) : CL_MAP_READ;
    /* queued, not waited for: the caller waits for an event recorded after
     * all the maps of a call (the ABI's contract), one round trip through
     * the device's threads instead of one per buffer */
    cl_int err;
    m->host = clEnqueueMapBuffer(s->queue, mem, CL_FALSE, flags, offset, bytes, 0, NULL, NULL, &err);
    if (err != CL_SUCCESS) {
      free(m);
      return weft__ocl_fail(c, "clEnqueueMapBuffer", err);
    }
    weftResult_t r = weft__ocl_ordered(c, s, "clEnqueueMapBuffer");
    if (r != weftSuccess) {
      clEnqueueUnmapMemObject(s->queue, mem, m->host, 0, NULL, NULL);
      clFlush(s->queue);
      free(m);
      return r;
    }
    clRetainMemObject(mem);
    m->mem = mem;
  }
  *host = m->host;
  *mapping = m;
  return weftSuccess;
}

weftResult_t weft__ocl_unmap(void *ctx, void *stream, void *mapping) {
  weft_ocl_ctx *c = ctx;
  weft_ocl_stream *s = stream;
  weft_ocl_mapping *m = mapping;
  if (c == NULL || s == NULL || m == NULL) return weftInvalidArgument;
  weftResult_t r = weftSuccess;
  if (m->mem != NULL) {
    cl_int err = clEnqueueUnmapMemObject(s->queue, m->mem, m->host, 0, NULL, NULL);
    r = err == CL_SUCCESS ? weft__ocl_ordered(c, s, "clEnqueueUnmapMemObject")
                          : weft__ocl_fail(c, "clEnqueueUnmapMemObject", err);
    clReleaseMemObject(m->mem); /* freed once the unmap has run */
  }
  free(m);
  return r;
}

/* ---- pinned host memory ------------------------------------------------------------------
 * A CL_MEM_ALLOC_HOST_PTR buffer mapped for the block's lifetime: on discrete
 * GPUs this is the documented way to get page-locked memory that
 * clEnqueueRead/WriteBuffer move at full speed; on CPU devices (PoCL) it is
 * ordinary memory and costs nothing more than malloc. */

weftResult_t weft__ocl_host_alloc(void *ctx, size_t bytes, void **host) {
  weft_ocl_ctx *c = ctx;
  if (c == NULL || host == NULL || bytes == 0) return weftInvalidArgument;
  *host = NULL;
  weft_ocl_pinned *b = calloc(1, sizeof *b);
  if (b == NULL) return weft__ocl_error(c, weftSystemError, "out of memory");
  cl_int err;
  b->mem = clCreateBuffer(c->context, CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR, bytes, NULL, &err);
  if (err != CL_SUCCESS) {
    free(b);
    return weft__ocl_fail(c, "clCreateBuffer(CL_MEM_ALLOC_HOST_PTR)", err);
  }
  weftResult_t r = map_and_wait(c, c->queue, b->mem, CL_MAP_READ | CL_MAP_WRITE, 0, bytes, &b->host);
  if (r != weftSuccess) {
    clReleaseMemObject(b->mem);
    free(b);
    return r;
  }
  b->bytes = bytes;
  pthread_mutex_lock(&c->pinnedMu);
  b->next = c->pinned;
  c->pinned = b;
  pthread_mutex_unlock(&c->pinnedMu);
  *host = b->host;
  return weftSuccess;
}

static void release_block(weft_ocl_ctx *c, weft_ocl_pinned *b) {
  clEnqueueUnmapMemObject(c->queue, b->mem, b->host, 0, NULL, NULL);
  clReleaseMemObject(b->mem);
  clFlush(c->queue);
  free(b);
}

weftResult_t weft__ocl_host_free(void *ctx, void *host) {
  weft_ocl_ctx *c = ctx;
  if (c == NULL) return weftInvalidArgument;
  if (host == NULL) return weftSuccess;
  pthread_mutex_lock(&c->pinnedMu);
  weft_ocl_pinned **pp = &c->pinned;
  while (*pp != NULL && (*pp)->host != host) pp = &(*pp)->next;
  weft_ocl_pinned *b = *pp;
  if (b != NULL) *pp = b->next;
  pthread_mutex_unlock(&c->pinnedMu);
  if (b == NULL) return weft__ocl_error(c, weftInvalidArgument, "hostFree: %p was not allocated by hostAlloc", host);
  release_block(c, b);
  return weftSuccess;
}

void weft__ocl_pinned_release_all(weft_ocl_ctx *c) {
  pthread_mutex_lock(&c->pinnedMu);
  weft_ocl_pinned *b = c->pinned;
  c->pinned = NULL;
  pthread_mutex_unlock(&c->pinnedMu);
  while (b != NULL) {
    weft_ocl_pinned *next = b->next;
    release_block(c, b);
    b = next;
  }
}

weftResult_t weft__ocl_mem_alloc(void *ctx, size_t bytes, void **buffer) {
  weft_ocl_ctx *c = ctx;
  if (c == NULL || buffer == NULL) return weftInvalidArgument;
  if (c->svmAlloc) return weft__ocl_svm_alloc(c, bytes, buffer);
  cl_int err;
  cl_mem m = clCreateBuffer(c->context, CL_MEM_READ_WRITE, bytes ? bytes : 1, NULL, &err);
  if (err != CL_SUCCESS) return weft__ocl_fail(c, "clCreateBuffer", err);
  *buffer = m;
  return weftSuccess;
}

weftResult_t weft__ocl_mem_free(void *ctx, void *buffer) {
  weft_ocl_ctx *c = ctx;
  if (c == NULL) return weftInvalidArgument;
  if (buffer == NULL) return weftSuccess;
  if (weft__ocl_svm_free(c, buffer)) return weftSuccess;
  cl_int err = clReleaseMemObject((cl_mem)buffer);
  return err == CL_SUCCESS ? weftSuccess : weft__ocl_fail(c, "clReleaseMemObject", err);
}
