/* What the files of the cuda backend share: the opened device (ctx), the
 * objects handed to weft (streams, events, holds) and the error helpers. */
#ifndef WEFT_CUDA_PRIVATE_H
#define WEFT_CUDA_PRIVATE_H

#include <pthread.h>
#include <stdint.h>

#include "cuda_api.h"
#include "weft_device.h"

#define WEFT_CUDA_ERR_LEN 512

typedef struct weft__cuda_hold_slab weft__cuda_hold_slab;
typedef struct weft__cuda_hold weft__cuda_hold;

typedef struct weft__cuda_ctx {
  const weft__cuda_api_t *cu;
  CUdevice dev;
  int ordinal;
  CUcontext context;
  int ownsPrimary;        /* 1: the primary context was retained (release it) */
  int integrated;         /* CU_DEVICE_ATTRIBUTE_INTEGRATED */
  int managedHostAccess;  /* the host may touch managed memory while the GPU runs */
  int holdByWaitValue;    /* holds by cuStreamWaitValue32 (else a host function) */
  int timeoutMs;          /* longest wait of the backend (WEFT_TIMEOUT) */
  weftDeviceLogFn_t log;
  void *logUser;

  pthread_mutex_t mu;     /* guards what follows */
  char lastError[WEFT_CUDA_ERR_LEN];
  CUevent *eventPool;     /* idle events, reused by eventRecord */
  int eventPoolLen, eventPoolCap;
  weft__cuda_hold_slab *slabs; /* pinned words the stream-wait holds poll */
  weft__cuda_hold *pending;    /* holds not released yet (finalize lets them go) */
  weft__cuda_hold *retired;    /* released words whose stream may not have passed yet */
} weft__cuda_ctx;

/* A stream handed to weft: the user's (wrapped) or one weft made (owned). */
typedef struct {
  CUstream s;
  int owned;
} weft__cuda_stream;

/* The handle weft passes for a buffer is the CUdeviceptr itself. */
static inline CUdeviceptr weft__cuda_ptr(const void *buffer, size_t offset) {
  return (CUdeviceptr)(uintptr_t)buffer + (CUdeviceptr)offset;
}

/* Makes ctx's context current on the calling thread (weft calls from its
 * progress thread and holdRelease from any thread). */
weftResult_t weft__cuda_enter(weft__cuda_ctx *c);
/* Records "what: CUDA_ERROR_NAME (text)" as ctx's last error; returns
 * weftUnhandledDeviceError. */
weftResult_t weft__cuda_fail(weft__cuda_ctx *c, CUresult r, const char *what);
/* Records a message of weft's own as ctx's last error; returns res. */
weftResult_t weft__cuda_error(weft__cuda_ctx *c, weftResult_t res, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void weft__cuda_log(weft__cuda_ctx *c, weftLogLevel_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "CUDA_ERROR_NAME (text)" of r into buf. */
void weft__cuda_describe(const weft__cuda_api_t *cu, CUresult r, char *buf, size_t len);
/* The message of the last failed init on this thread (lastError(NULL)). */
void weft__cuda_set_init_error(const char *msg);
const char *weft__cuda_init_error(void);
const char *weft__cuda_last_error(void *ctx);

/* The ops table (table.c), listed by the device registry. */
extern const weftDevice_t weft_device_cuda;

/* The entry points, one file per concern. */
weftResult_t weft__cuda_init(const weftDeviceInitArgs_t *args, void **ctx);
weftResult_t weft__cuda_finalize(void *ctx);
weftResult_t weft__cuda_get_properties(void *ctx, weftDeviceProperties_t *props);
weftResult_t weft__cuda_mem_kind(void *ctx, const void *buffer, weftMemKind_t *kind);
weftResult_t weft__cuda_host_alloc(void *ctx, size_t bytes, void **host);
weftResult_t weft__cuda_host_free(void *ctx, void *host);
weftResult_t weft__cuda_mem_alloc(void *ctx, size_t bytes, void **buffer);
weftResult_t weft__cuda_mem_free(void *ctx, void *buffer);
weftResult_t weft__cuda_map(void *ctx, void *stream, void *buffer, size_t offset, size_t bytes, int write,
                            void **host, void **mapping);
weftResult_t weft__cuda_unmap(void *ctx, void *stream, void *mapping);
weftResult_t weft__cuda_stream_wrap(void *ctx, void *native, void **stream);
weftResult_t weft__cuda_stream_create(void *ctx, void **stream);
weftResult_t weft__cuda_stream_destroy(void *ctx, void *stream);
weftResult_t weft__cuda_copy_to_host(void *ctx, void *stream, void *host, const void *buffer, size_t offset,
                                     size_t bytes);
weftResult_t weft__cuda_copy_from_host(void *ctx, void *stream, void *buffer, size_t offset, const void *host,
                                       size_t bytes);
weftResult_t weft__cuda_copy_device(void *ctx, void *stream, void *dst, size_t dstOffset, const void *src,
                                    size_t srcOffset, size_t bytes);
weftResult_t weft__cuda_event_record(void *ctx, void *stream, void **event);
weftResult_t weft__cuda_event_query(void *ctx, void *event, int *done);
weftResult_t weft__cuda_event_wait(void *ctx, void *stream, void *event);
weftResult_t weft__cuda_event_destroy(void *ctx, void *event);
/* Creates an event (from the pool) and records it on s. */
weftResult_t weft__cuda_event_mark(weft__cuda_ctx *c, CUstream s, CUevent *ev);
void weft__cuda_event_put(weft__cuda_ctx *c, CUevent ev);
void weft__cuda_events_free(weft__cuda_ctx *c);
weftResult_t weft__cuda_hold_enqueue(void *ctx, void *stream, void **hold);
weftResult_t weft__cuda_hold_release(void *ctx, void *hold, int failed);
/* Lets every outstanding hold go and frees the pinned words (finalize). */
weftResult_t weft__cuda_holds_free(weft__cuda_ctx *c);
weftResult_t weft__cuda_ipc_get(void *ctx, void *buffer, void *handle);
weftResult_t weft__cuda_ipc_open(void *ctx, const void *handle, void **buffer);
weftResult_t weft__cuda_ipc_close(void *ctx, void *buffer);

#endif
