/* Private header of the "opencl" device backend (lib/device/opencl).
 *
 * The backend speaks OpenCL 1.2 through the ICD loader. Its files:
 *   ocl_init.c     open the device (spec "P:D", the user's queue, or the
 *                  first GPU/any device), properties, finalize
 *   ocl_error.c    error names, the last error, logging
 *   ocl_mem.c      memKind, copies, map/unmap, pinned host memory
 *   ocl_svm.c      fine-grained shared virtual memory (OpenCL 2.0)
 *   ocl_stream.c   streams (queues), events, holds
 *   ocl_reduce.c   the reduce kernels: program built once, kernels cached
 *   ocl_kernels.c  the OpenCL C source of the reduce kernels
 *   ocl_table.c    the ops table, weft_device_opencl
 */
#ifndef WEFT_DEVICE_OCL_H
#define WEFT_DEVICE_OCL_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <pthread.h>
#include <stddef.h>

#include "weft.h"
#include "weft_device.h"

#define WEFT_OCL_ERRLEN 512

/* A hostAlloc block: a CL_MEM_ALLOC_HOST_PTR buffer kept mapped. */
typedef struct weft_ocl_pinned {
  struct weft_ocl_pinned *next;
  cl_mem mem;
  void *host;
  size_t bytes;
} weft_ocl_pinned;

typedef struct {
  cl_platform_id platform;
  cl_device_id device;
  cl_context context;
  cl_command_queue queue; /* weft's own: hostAlloc maps, nothing else */
  int hostUnified;
  int hasFp64;     /* cl_khr_fp64 */
  int fp32Denorm;  /* CL_FP_DENORM in CL_DEVICE_SINGLE_FP_CONFIG */
  int platformIndex, deviceIndex;
  weftDeviceLogFn_t log;
  void *logUser;

  /* memKind's safe read of a candidate handle's first word */
  pthread_mutex_t probeMu;
  int probePipe[2];
  void *dispatch; /* ICD dispatch table of our platform's objects */

  pthread_mutex_t pinnedMu;
  weft_ocl_pinned *pinned;

  /* fine-grained SVM: memAlloc hands it out when the spec says "svm" */
  int svmAlloc;
  pthread_mutex_t svmMu;
  weft_ocl_pinned *svm; /* the SVM buffers memAlloc made (host = the pointer) */

  /* reduce: program built on first use, kernels by [dtype][op] */
  pthread_mutex_t kernelMu; /* build, and clSetKernelArg..enqueue */
  cl_program program;
  int programFailed;
  cl_kernel kernels[weftNumTypes][4];

  pthread_mutex_t errMu;
  char lastError[WEFT_OCL_ERRLEN];
} weft_ocl_ctx;

/* A stream: the user's queue (retained) or one weft made. */
typedef struct {
  cl_command_queue queue;
  int outOfOrder; /* a barrier follows each command to keep weft's order */
} weft_ocl_stream;

/* ---- ocl_error.c ---- */
const char *weft__ocl_err_name(cl_int err);
/* Records "what: CL_NAME (code)" as the last error; returns weftUnhandledDeviceError. */
weftResult_t weft__ocl_fail(weft_ocl_ctx *c, const char *what, cl_int err);
/* Records a formatted message; returns res. */
weftResult_t weft__ocl_error(weft_ocl_ctx *c, weftResult_t res, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void weft__ocl_log(weft_ocl_ctx *c, weftLogLevel_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* lastError; with ctx NULL: why this thread's last init failed. */
const char *weft__ocl_last_error(void *ctx);
void weft__ocl_set_init_error(const char *msg);
/* Waits for ev with WEFT_TIMEOUT, polling; never blocks forever. */
weftResult_t weft__ocl_wait(weft_ocl_ctx *c, cl_event ev, const char *what);

/* ---- ocl_init.c ---- */
weftResult_t weft__ocl_init(const weftDeviceInitArgs_t *args, void **ctx);
weftResult_t weft__ocl_properties(void *ctx, weftDeviceProperties_t *props);
weftResult_t weft__ocl_finalize(void *ctx);

/* ---- ocl_mem.c ---- */
weftResult_t weft__ocl_mem_kind(void *ctx, const void *buffer, weftMemKind_t *kind);
weftResult_t weft__ocl_copy_to_host(void *ctx, void *stream, void *host, const void *buffer, size_t offset,
                                    size_t bytes);
weftResult_t weft__ocl_copy_from_host(void *ctx, void *stream, void *buffer, size_t offset, const void *host,
                                      size_t bytes);
weftResult_t weft__ocl_copy_device(void *ctx, void *stream, void *dst, size_t dstOffset, const void *src,
                                   size_t srcOffset, size_t bytes);
weftResult_t weft__ocl_map(void *ctx, void *stream, void *buffer, size_t offset, size_t bytes, int write,
                           void **host, void **mapping);
weftResult_t weft__ocl_unmap(void *ctx, void *stream, void *mapping);
weftResult_t weft__ocl_host_alloc(void *ctx, size_t bytes, void **host);
weftResult_t weft__ocl_host_free(void *ctx, void *host);
weftResult_t weft__ocl_mem_alloc(void *ctx, size_t bytes, void **buffer);
weftResult_t weft__ocl_mem_free(void *ctx, void *buffer);
/* Frees every hostAlloc block still held (finalize). */
void weft__ocl_pinned_release_all(weft_ocl_ctx *c);

/* ---- ocl_svm.c ---- */
/* The device has fine-grained buffer SVM (OpenCL 2.0). */
int weft__ocl_svm_fine(weft_ocl_ctx *c);
weftResult_t weft__ocl_svm_alloc(weft_ocl_ctx *c, size_t bytes, void **out);
/* p lies in an SVM buffer memAlloc made. */
int weft__ocl_svm_owned(weft_ocl_ctx *c, const void *p);
/* 1 when p was such a buffer (now freed), else 0. */
int weft__ocl_svm_free(weft_ocl_ctx *c, void *p);
void weft__ocl_svm_release_all(weft_ocl_ctx *c);
weftResult_t weft__ocl_svm_copy(weft_ocl_ctx *c, weft_ocl_stream *s, void *dst, const void *src, size_t bytes);

/* ---- ocl_stream.c ---- */
weftResult_t weft__ocl_stream_wrap(void *ctx, void *nativeQueue, void **stream);
weftResult_t weft__ocl_stream_create(void *ctx, void **stream);
weftResult_t weft__ocl_stream_destroy(void *ctx, void *stream);
weftResult_t weft__ocl_event_record(void *ctx, void *stream, void **event);
weftResult_t weft__ocl_event_query(void *ctx, void *event, int *done);
weftResult_t weft__ocl_event_wait(void *ctx, void *stream, void *event);
weftResult_t weft__ocl_event_destroy(void *ctx, void *event);
weftResult_t weft__ocl_event_sync(void *ctx, void *event, int timeoutMs, int *done);
weftResult_t weft__ocl_hold_enqueue(void *ctx, void *stream, void **hold);
weftResult_t weft__ocl_hold_release(void *ctx, void *hold, int failed);
/* After a command on s: a barrier on out-of-order queues (ordered), then a
 * flush so that the work starts (submitted). map and unmap are only
 * ordered: the event weft records after them flushes, so a call's maps (or
 * unmaps) wake the device's threads once, not once each. */
weftResult_t weft__ocl_ordered(weft_ocl_ctx *c, weft_ocl_stream *s, const char *what);
weftResult_t weft__ocl_submitted(weft_ocl_ctx *c, weft_ocl_stream *s, const char *what);

/* ---- ocl_reduce.c / ocl_kernels.c ---- */
weftResult_t weft__ocl_reduce(void *ctx, void *stream, void *dst, size_t dstOffset, const void *a,
                              size_t aOffset, const void *b, size_t bOffset, size_t count, weftDataType_t dt,
                              weftRedOp_t op);
void weft__ocl_reduce_release(weft_ocl_ctx *c);
extern const char weft__ocl_kernel_source[];

/* ocl_table.c: the backend, as the registry lists it */
extern const weftDevice_t weft_device_opencl;

#endif
