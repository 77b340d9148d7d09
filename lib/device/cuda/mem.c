/* What a buffer is, pinned host memory, mapping, and IPC handles.
 *
 * memKind asks the driver (cuPointerGetAttribute MEMORY_TYPE): device
 * memory, pinned/registered host memory, or managed memory, which is
 * "unified" (map is free) only where the host may touch it while the GPU
 * runs (CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS). A pointer the
 * driver does not know (pageable host memory, garbage) is weftMemUnknown.
 * map works for unified and pinned host buffers; plain device memory
 * (cuMemAlloc) cannot be mapped, even on integrated GPUs, so map refuses it
 * and weft copies. */
#include <string.h>

#include "cuda_private.h"

static weftMemKind_t kind_of(weft__cuda_ctx *c, CUdeviceptr ptr) {
  unsigned type = 0, managed = 0;
  if (c->cu->PointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, ptr) != CUDA_SUCCESS)
    return weftMemUnknown;
  if (c->cu->PointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, ptr) != CUDA_SUCCESS) managed = 0;
  if (managed || type == CU_MEMORYTYPE_UNIFIED) return c->managedHostAccess ? weftMemUnified : weftMemDevice;
  switch (type) {
  case CU_MEMORYTYPE_HOST:
    return weftMemHostPinned;
  case CU_MEMORYTYPE_DEVICE:
    return weftMemDevice;
  default:
    return weftMemUnknown; /* CUDA arrays are not linear buffers */
  }
}

weftResult_t weft__cuda_mem_kind(void *ctx, const void *buffer, weftMemKind_t *kind) {
  weft__cuda_ctx *c = ctx;
  if (!c || !kind) return weftInvalidArgument;
  weftResult_t res = weft__cuda_enter(c);
  if (res != weftSuccess) return res;
  *kind = buffer ? kind_of(c, weft__cuda_ptr(buffer, 0)) : weftMemUnknown;
  return weftSuccess;
}

weftResult_t weft__cuda_host_alloc(void *ctx, size_t bytes, void **host) {
  weft__cuda_ctx *c = ctx;
  if (!c || !host) return weftInvalidArgument;
  weftResult_t res = weft__cuda_enter(c);
  if (res != weftSuccess) return res;
  /* portable: pinned for every context, so weft may share it between comms */
  CUresult r = c->cu->MemHostAlloc(host, bytes ? bytes : 1, CU_MEMHOSTALLOC_PORTABLE);
  return r == CUDA_SUCCESS ? weftSuccess : weft__cuda_fail(c, r, "cuMemHostAlloc");
}

weftResult_t weft__cuda_host_free(void *ctx, void *host) {
  weft__cuda_ctx *c = ctx;
  if (!c) return weftInvalidArgument;
  if (!host) return weftSuccess;
  weftResult_t res = weft__cuda_enter(c);
  if (res != weftSuccess) return res;
  CUresult r = c->cu->MemFreeHost(host);
  return r == CUDA_SUCCESS ? weftSuccess : weft__cuda_fail(c, r, "cuMemFreeHost");
}

weftResult_t weft__cuda_map(void *ctx, void *stream, void *buffer, size_t offset, size_t bytes, int write,
                            void **host, void **mapping) {
  weft__cuda_ctx *c = ctx;
  weft__cuda_stream *s = stream;
  (void)bytes;
  (void)write; /* the host reads and writes the same memory: nothing to flush */
  if (!c || !s || !buffer || !host || !mapping) return weftInvalidArgument;
  weftResult_t res = weft__cuda_enter(c);
  if (res != weftSuccess) return res;
  CUdeviceptr ptr = weft__cuda_ptr(buffer, offset);
  void *addr = NULL;
  switch (kind_of(c, weft__cuda_ptr(buffer, 0))) {
  case weftMemUnified:
    addr = (void *)(uintptr_t)ptr; /* managed memory has one address everywhere */
    break;
  case weftMemHostPinned: {
    CUresult r = c->cu->PointerGetAttribute(&addr, CU_POINTER_ATTRIBUTE_HOST_POINTER, ptr);
    if (r != CUDA_SUCCESS) return weft__cuda_fail(c, r, "cuPointerGetAttribute(HOST_POINTER) in map");
    break;
  }
  default:
    return weft__cuda_error(c, weftInvalidUsage,
                            "cuda: map: the buffer is device memory the host cannot address (only managed "
                            "memory with concurrent access, or pinned host memory, maps): copy instead");
  }
  /* the caller waits for an event recorded after the map before it uses
   * the address: nothing to queue */
  *host = addr;
  *mapping = addr;
  return weftSuccess;
}

weftResult_t weft__cuda_unmap(void *ctx, void *stream, void *mapping) {
  (void)stream;
  return ctx && mapping ? weftSuccess : weftInvalidArgument;
}

/* The handle names the whole allocation the buffer starts; pass the
 * pointer cuMemAlloc returned. */
weftResult_t weft__cuda_ipc_get(void *ctx, void *buffer, void *handle) {
  weft__cuda_ctx *c = ctx;
  if (!c || !buffer || !handle) return weftInvalidArgument;
  if (!c->cu->IpcGetMemHandle)
    return weft__cuda_error(c, weftInvalidUsage, "cuda: the driver has no cuIpcGetMemHandle");
  weftResult_t res = weft__cuda_enter(c);
  if (res != weftSuccess) return res;
  CUipcMemHandle h;
  memset(&h, 0, sizeof h);
  CUresult r = c->cu->IpcGetMemHandle(&h, weft__cuda_ptr(buffer, 0));
  if (r != CUDA_SUCCESS) return weft__cuda_fail(c, r, "cuIpcGetMemHandle");
  _Static_assert(sizeof h <= WEFT_DEVICE_IPC_BYTES, "a CUDA IPC handle fits weft's");
  memset(handle, 0, WEFT_DEVICE_IPC_BYTES);
  memcpy(handle, &h, sizeof h);
  return weftSuccess;
}

weftResult_t weft__cuda_ipc_open(void *ctx, const void *handle, void **buffer) {
  weft__cuda_ctx *c = ctx;
  if (!c || !handle || !buffer) return weftInvalidArgument;
  if (!c->cu->IpcOpenMemHandle)
    return weft__cuda_error(c, weftInvalidUsage, "cuda: the driver has no cuIpcOpenMemHandle");
  weftResult_t res = weft__cuda_enter(c);
  if (res != weftSuccess) return res;
  CUipcMemHandle h;
  memcpy(&h, handle, sizeof h);
  CUdeviceptr ptr = 0;
  CUresult r = c->cu->IpcOpenMemHandle(&ptr, h, CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS);
  if (r != CUDA_SUCCESS) return weft__cuda_fail(c, r, "cuIpcOpenMemHandle");
  *buffer = (void *)(uintptr_t)ptr;
  return weftSuccess;
}

weftResult_t weft__cuda_ipc_close(void *ctx, void *buffer) {
  weft__cuda_ctx *c = ctx;
  if (!c || !buffer) return weftInvalidArgument;
  if (!c->cu->IpcCloseMemHandle)
    return weft__cuda_error(c, weftInvalidUsage, "cuda: the driver has no cuIpcCloseMemHandle");
  weftResult_t res = weft__cuda_enter(c);
  if (res != weftSuccess) return res;
  CUresult r = c->cu->IpcCloseMemHandle(weft__cuda_ptr(buffer, 0));
  return r == CUDA_SUCCESS ? weftSuccess : weft__cuda_fail(c, r, "cuIpcCloseMemHandle");
}

weftResult_t weft__cuda_mem_alloc(void *ctx, size_t bytes, void **buffer) {
  weft__cuda_ctx *c = ctx;
  if (!c || !buffer) return weftInvalidArgument;
  weftResult_t res = weft__cuda_enter(c);
  if (res != weftSuccess) return res;
  CUdeviceptr p = 0;
  CUresult r = c->cu->MemAlloc(&p, bytes ? bytes : 1);
  if (r != CUDA_SUCCESS) return weft__cuda_fail(c, r, "cuMemAlloc");
  *buffer = (void *)(uintptr_t)p;
  return weftSuccess;
}

weftResult_t weft__cuda_mem_free(void *ctx, void *buffer) {
  weft__cuda_ctx *c = ctx;
  if (!c) return weftInvalidArgument;
  if (!buffer) return weftSuccess;
  weftResult_t res = weft__cuda_enter(c);
  if (res != weftSuccess) return res;
  CUresult r = c->cu->MemFree((CUdeviceptr)(uintptr_t)buffer);
  return r == CUDA_SUCCESS ? weftSuccess : weft__cuda_fail(c, r, "cuMemFree");
}
