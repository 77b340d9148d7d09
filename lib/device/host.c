/* The host backend: today's behaviour through the device ABI. Buffers are
 * host pointers, copies are memcpy done at once (so every event and hold is
 * complete when made), map hands out the pointer itself. No reduce: weft
 * reduces host bytes with its own kernels (lib/reduce), which this layer may
 * not include. The host has no native queue: streamWrap takes only NULL. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "device/registry.h"

typedef struct {
  char err[256];
} host_ctx;

/* Streams, events, holds and mappings need a non-NULL handle and nothing else. */
static char done_token;

static weftResult_t fail(host_ctx *c, weftResult_t r, const char *msg) {
  snprintf(c->err, sizeof c->err, "%s", msg);
  return r;
}

static weftResult_t host_init(const weftDeviceInitArgs_t *args, void **ctx) {
  *ctx = NULL;
  if (args->abiVersion != WEFT_DEVICE_ABI_VERSION) {
    if (args->log) args->log(args->logUser, weftLogWarn, "the caller speaks another device ABI version");
    return weftInvalidArgument;
  }
  if (args->spec && args->spec[0]) {
    if (args->log) args->log(args->logUser, weftLogWarn, "host takes no spec");
    return weftInvalidArgument;
  }
  /* A native context meant for another backend is ignored, so that one
   * program may pass its context and still run some ranks on host memory. */
  if (args->native && args->log)
    args->log(args->logUser, weftLogInfo, "the native context given is ignored: host memory needs none");
  host_ctx *c = calloc(1, sizeof *c);
  if (!c) return weftSystemError;
  *ctx = c;
  return weftSuccess;
}

static weftResult_t host_properties(void *ctx, weftDeviceProperties_t *p) {
  (void)ctx;
  snprintf(p->vendor, sizeof p->vendor, "weft");
  snprintf(p->model, sizeof p->model, "host memory");
  char name[64] = "";
  gethostname(name, sizeof name - 1);
  snprintf(p->uniqueId, sizeof p->uniqueId, "host:%s", name);
  p->hostUnified = 1;
  p->numaNode = -1;
  return weftSuccess;
}

/* Every address is the host's (NULL too: weft checks NULL itself). */
static weftResult_t host_mem_kind(void *ctx, const void *buffer, weftMemKind_t *kind) {
  (void)ctx;
  (void)buffer;
  *kind = weftMemHost;
  return weftSuccess;
}

static weftResult_t host_stream_wrap(void *ctx, void *native, void **stream) {
  if (native)
    return fail(ctx, weftInvalidArgument,
                "the host device has no native queue: pass NULL (a host stream, as weftStreamCreate makes)");
  *stream = &done_token;
  return weftSuccess;
}

static weftResult_t host_stream_create(void *ctx, void **stream) {
  (void)ctx;
  *stream = &done_token;
  return weftSuccess;
}

static weftResult_t host_nothing(void *ctx, void *object) {
  (void)ctx;
  (void)object;
  return weftSuccess;
}

static weftResult_t host_copy_to_host(void *ctx, void *stream, void *host, const void *buffer, size_t offset,
                                      size_t bytes) {
  (void)ctx;
  (void)stream;
  if (bytes) memmove(host, (const char *)buffer + offset, bytes);
  return weftSuccess;
}

static weftResult_t host_copy_from_host(void *ctx, void *stream, void *buffer, size_t offset, const void *host,
                                        size_t bytes) {
  (void)ctx;
  (void)stream;
  if (bytes) memmove((char *)buffer + offset, host, bytes);
  return weftSuccess;
}

static weftResult_t host_copy_device(void *ctx, void *stream, void *dst, size_t dst_offset, const void *src,
                                     size_t src_offset, size_t bytes) {
  (void)ctx;
  (void)stream;
  if (bytes) memmove((char *)dst + dst_offset, (const char *)src + src_offset, bytes);
  return weftSuccess;
}

static weftResult_t host_event_record(void *ctx, void *stream, void **event) {
  (void)ctx;
  (void)stream;
  *event = &done_token;
  return weftSuccess;
}

static weftResult_t host_event_query(void *ctx, void *event, int *done) {
  (void)ctx;
  (void)event;
  *done = 1;
  return weftSuccess;
}

static weftResult_t host_event_wait(void *ctx, void *stream, void *event) {
  (void)ctx;
  (void)stream;
  (void)event;
  return weftSuccess;
}

static weftResult_t host_hold_enqueue(void *ctx, void *stream, void **hold) {
  (void)ctx;
  (void)stream;
  *hold = &done_token;
  return weftSuccess;
}

static weftResult_t host_hold_release(void *ctx, void *hold, int failed) {
  (void)ctx;
  (void)hold;
  (void)failed;
  return weftSuccess;
}

static const char *host_last_error(void *ctx) { return ctx ? ((host_ctx *)ctx)->err : ""; }

static weftResult_t host_finalize(void *ctx) {
  free(ctx);
  return weftSuccess;
}

static weftResult_t host_alloc(void *ctx, size_t bytes, void **host) {
  size_t rounded = (bytes + 63) / 64 * 64;
  if (rounded < bytes) return fail(ctx, weftInvalidArgument, "hostAlloc: size overflows");
  *host = aligned_alloc(64, rounded ? rounded : 64);
  return *host ? weftSuccess : fail(ctx, weftSystemError, "hostAlloc: out of memory");
}

static weftResult_t host_free(void *ctx, void *host) {
  (void)ctx;
  free(host);
  return weftSuccess;
}

static weftResult_t host_map(void *ctx, void *stream, void *buffer, size_t offset, size_t bytes, int write,
                             void **host, void **mapping) {
  (void)ctx;
  (void)stream;
  (void)bytes;
  (void)write;
  *host = (char *)buffer + offset;
  *mapping = &done_token;
  return weftSuccess;
}

static weftResult_t host_unmap(void *ctx, void *stream, void *mapping) {
  (void)ctx;
  (void)stream;
  (void)mapping;
  return weftSuccess;
}

const weftDevice_t weft_device_host = {
    .abiVersion = WEFT_DEVICE_ABI_VERSION,
    .name = "host",
    .init = host_init,
    .getProperties = host_properties,
    .memKind = host_mem_kind,
    .streamWrap = host_stream_wrap,
    .streamCreate = host_stream_create,
    .streamDestroy = host_nothing,
    .copyToHost = host_copy_to_host,
    .copyFromHost = host_copy_from_host,
    .eventRecord = host_event_record,
    .eventQuery = host_event_query,
    .eventWait = host_event_wait,
    .eventDestroy = host_nothing,
    .holdEnqueue = host_hold_enqueue,
    .holdRelease = host_hold_release,
    .lastError = host_last_error,
    .finalize = host_finalize,
    .hostAlloc = host_alloc,
    .hostFree = host_free,
    .map = host_map,
    .unmap = host_unmap,
    .copyDevice = host_copy_device,
    .reduce = NULL, /* weft reduces host bytes itself (lib/reduce) */
    .memAlloc = host_alloc, /* a host "device buffer" is host memory */
    .memFree = host_free,
};
