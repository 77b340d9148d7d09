/* The few CUDA driver API types, constants and entry points the cuda backend
 * uses, declared here so that weft builds without a CUDA toolkit: libcuda.so.1
 * is opened with dlopen at run time (load.c) and each entry point is looked
 * up by its exported name (the _v2 name where the driver has one). Values
 * follow the driver API reference; only what weft calls is declared. */
#ifndef WEFT_CUDA_API_H
#define WEFT_CUDA_API_H

#include <stddef.h>

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUstream_st *CUstream;
typedef struct CUevent_st *CUevent;
typedef void (*CUhostFn)(void *userData);
/* The driver's IPC handle: 64 opaque bytes, passed by value. */
typedef struct {
  char reserved[64];
} CUipcMemHandle;

enum {
  CUDA_SUCCESS = 0,
  CUDA_ERROR_INVALID_VALUE = 1,
  CUDA_ERROR_NOT_INITIALIZED = 3,
  CUDA_ERROR_STUB_LIBRARY = 34,
  CUDA_ERROR_NO_DEVICE = 100,
  CUDA_ERROR_INVALID_CONTEXT = 201,
  CUDA_ERROR_NOT_READY = 600,
  CUDA_ERROR_NOT_SUPPORTED = 801
};

/* CUdevice_attribute values */
enum {
  CU_DEVICE_ATTRIBUTE_INTEGRATED = 18,
  CU_DEVICE_ATTRIBUTE_PCI_BUS_ID = 33,
  CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS = 89,
  /* the v1 stream memory operations (deprecated, off unless the kernel
   * module enables them); the v2 ones need no attribute */
  CU_DEVICE_ATTRIBUTE_CAN_USE_STREAM_MEM_OPS_V1 = 92
};

/* CUpointer_attribute and CUmemorytype values */
enum {
  CU_POINTER_ATTRIBUTE_MEMORY_TYPE = 2,
  CU_POINTER_ATTRIBUTE_HOST_POINTER = 4,
  CU_POINTER_ATTRIBUTE_IS_MANAGED = 8
};
enum { CU_MEMORYTYPE_HOST = 1, CU_MEMORYTYPE_DEVICE = 2, CU_MEMORYTYPE_ARRAY = 3, CU_MEMORYTYPE_UNIFIED = 4 };

/* flags */
#define CU_STREAM_NON_BLOCKING 0x1u
#define CU_EVENT_DISABLE_TIMING 0x2u
#define CU_MEMHOSTALLOC_PORTABLE 0x1u
#define CU_MEMHOSTALLOC_DEVICEMAP 0x2u
#define CU_STREAM_WAIT_VALUE_GEQ 0x0u
#define CU_IPC_MEM_LAZY_ENABLE_PEER_ACCESS 0x1u
#define CU_MEM_ATTACH_GLOBAL 0x1u

/* The entry points, resolved by load.c. Fields marked optional may be NULL
 * (an older driver); the others are required to load at all. */
typedef struct weft__cuda_api {
  CUresult (*Init)(unsigned flags);
  CUresult (*DriverGetVersion)(int *version);
  CUresult (*GetErrorName)(CUresult err, const char **name);
  CUresult (*GetErrorString)(CUresult err, const char **text);
  CUresult (*DeviceGet)(CUdevice *dev, int ordinal);
  CUresult (*DeviceGetCount)(int *count);
  CUresult (*DeviceGetName)(char *name, int len, CUdevice dev);
  CUresult (*DeviceGetPCIBusId)(char *busId, int len, CUdevice dev);
  CUresult (*DeviceGetAttribute)(int *value, int attribute, CUdevice dev);
  CUresult (*DevicePrimaryCtxRetain)(CUcontext *ctx, CUdevice dev);
  CUresult (*DevicePrimaryCtxRelease)(CUdevice dev);
  CUresult (*CtxSetCurrent)(CUcontext ctx);
  CUresult (*CtxGetCurrent)(CUcontext *ctx);
  CUresult (*CtxGetDevice)(CUdevice *dev);
  CUresult (*PointerGetAttribute)(void *data, int attribute, CUdeviceptr ptr);
  CUresult (*MemcpyDtoHAsync)(void *dst, CUdeviceptr src, size_t bytes, CUstream stream);
  CUresult (*MemcpyHtoDAsync)(CUdeviceptr dst, const void *src, size_t bytes, CUstream stream);
  CUresult (*MemcpyDtoDAsync)(CUdeviceptr dst, CUdeviceptr src, size_t bytes, CUstream stream);
  CUresult (*MemHostAlloc)(void **host, size_t bytes, unsigned flags);
  CUresult (*MemFreeHost)(void *host);
  CUresult (*MemHostGetDevicePointer)(CUdeviceptr *dev, void *host, unsigned flags);
  CUresult (*StreamCreate)(CUstream *stream, unsigned flags);
  CUresult (*StreamDestroy)(CUstream stream);
  CUresult (*StreamWaitEvent)(CUstream stream, CUevent event, unsigned flags);
  CUresult (*EventCreate)(CUevent *event, unsigned flags);
  CUresult (*EventRecord)(CUevent event, CUstream stream);
  CUresult (*EventQuery)(CUevent event);
  CUresult (*EventDestroy)(CUevent event);
  /* optional */
  CUresult (*LaunchHostFunc)(CUstream stream, CUhostFn fn, void *user);
  CUresult (*StreamWaitValue32)(CUstream stream, CUdeviceptr addr, unsigned value, unsigned flags);
  int streamWaitValueV2; /* StreamWaitValue32 is the v2 entry point (no attribute needed) */
  CUresult (*IpcGetMemHandle)(CUipcMemHandle *handle, CUdeviceptr ptr);
  CUresult (*IpcOpenMemHandle)(CUdeviceptr *ptr, CUipcMemHandle handle, unsigned flags);
  CUresult (*IpcCloseMemHandle)(CUdeviceptr ptr);
  /* optional, used by the tests to make buffers of each kind */
  CUresult (*MemAlloc)(CUdeviceptr *ptr, size_t bytes);
  CUresult (*MemFree)(CUdeviceptr ptr);
  CUresult (*MemAllocManaged)(CUdeviceptr *ptr, size_t bytes, unsigned flags);
  CUresult (*StreamSynchronize)(CUstream stream);
} weft__cuda_api_t;

/* Opens the driver (WEFT_CUDA_LIBRARY, default "libcuda.so.1") and resolves
 * the entry points, once per process; a failure is not remembered, so a
 * later call tries again. Returns NULL with a message in err on failure. */
const weft__cuda_api_t *weft__cuda_load(char *err, size_t errlen);

#endif
