/* Opens libcuda.so.1 at run time and resolves the driver entry points the
 * backend uses, so that libweft never links against CUDA. WEFT_CUDA_LIBRARY
 * names another file to open (a driver in an unusual place, or a missing
 * file to test the no-driver path). The library stays open for the life of
 * the process: the driver does not support being unloaded. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_api.h"

static pthread_mutex_t load_mu = PTHREAD_MUTEX_INITIALIZER;
static weft__cuda_api_t api;
static int loaded;

/* One entry point: its field, its name, whether the driver exports it under
 * a _v2 name (tried first), whether weft can do without it. */
typedef struct {
  size_t offset;
  const char *name;
  int versioned;
  int optional;
} entry_t;

#define ENTRY(field, name, v2, opt) {offsetof(weft__cuda_api_t, field), name, v2, opt}
static const entry_t entries[] = {
    ENTRY(Init, "cuInit", 0, 0),
    ENTRY(DriverGetVersion, "cuDriverGetVersion", 0, 0),
    ENTRY(GetErrorName, "cuGetErrorName", 0, 0),
    ENTRY(GetErrorString, "cuGetErrorString", 0, 0),
    ENTRY(DeviceGet, "cuDeviceGet", 0, 0),
    ENTRY(DeviceGetCount, "cuDeviceGetCount", 0, 0),
    ENTRY(DeviceGetName, "cuDeviceGetName", 0, 0),
    ENTRY(DeviceGetPCIBusId, "cuDeviceGetPCIBusId", 0, 0),
    ENTRY(DeviceGetAttribute, "cuDeviceGetAttribute", 0, 0),
    ENTRY(DevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain", 0, 0),
    ENTRY(DevicePrimaryCtxRelease, "cuDevicePrimaryCtxRelease", 1, 0),
    ENTRY(CtxSetCurrent, "cuCtxSetCurrent", 0, 0),
    ENTRY(CtxGetCurrent, "cuCtxGetCurrent", 0, 0),
    ENTRY(CtxGetDevice, "cuCtxGetDevice", 0, 0),
    ENTRY(PointerGetAttribute, "cuPointerGetAttribute", 0, 0),
    ENTRY(MemcpyDtoHAsync, "cuMemcpyDtoHAsync", 1, 0),
    ENTRY(MemcpyHtoDAsync, "cuMemcpyHtoDAsync", 1, 0),
    ENTRY(MemcpyDtoDAsync, "cuMemcpyDtoDAsync", 1, 0),
    ENTRY(MemHostAlloc, "cuMemHostAlloc", 0, 0),
    ENTRY(MemFreeHost, "cuMemFreeHost", 0, 0),
    ENTRY(MemHostGetDevicePointer, "cuMemHostGetDevicePointer", 1, 0),
    ENTRY(StreamCreate, "cuStreamCreate", 0, 0),
    ENTRY(StreamDestroy, "cuStreamDestroy", 1, 0),
    ENTRY(StreamWaitEvent, "cuStreamWaitEvent", 0, 0),
    ENTRY(EventCreate, "cuEventCreate", 0, 0),
    ENTRY(EventRecord, "cuEventRecord", 0, 0),
    ENTRY(EventQuery, "cuEventQuery", 0, 0),
    ENTRY(EventDestroy, "cuEventDestroy", 1, 0),
    ENTRY(LaunchHostFunc, "cuLaunchHostFunc", 0, 1),
    /* StreamWaitValue32 is resolved by hand below (v1 and v2 differ) */
    ENTRY(IpcGetMemHandle, "cuIpcGetMemHandle", 0, 1),
    ENTRY(IpcOpenMemHandle, "cuIpcOpenMemHandle", 1, 1),
    ENTRY(IpcCloseMemHandle, "cuIpcCloseMemHandle", 0, 1),
    ENTRY(MemAlloc, "cuMemAlloc", 1, 1),
    ENTRY(MemFree, "cuMemFree", 1, 1),
    ENTRY(MemAllocManaged, "cuMemAllocManaged", 0, 1),
    ENTRY(StreamSynchronize, "cuStreamSynchronize", 0, 1),
};

static void *lookup(void *lib, const char *name, int versioned) {
  void *fn = NULL;
  if (versioned) {
    char v2[96];
    snprintf(v2, sizeof v2, "%s_v2", name);
    fn = dlsym(lib, v2);
  }
  return fn ? fn : dlsym(lib, name);
}

static int resolve(void *lib, weft__cuda_api_t *out, char *err, size_t errlen, const char *path) {
  memset(out, 0, sizeof *out);
  for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++) {
    void *fn = lookup(lib, entries[i].name, entries[i].versioned);
    if (!fn && !entries[i].optional) {
      snprintf(err, errlen, "no CUDA driver (%s has no %s: not the CUDA driver library, or too old)", path,
               entries[i].name);
      return -1;
    }
    /* POSIX guarantees a function pointer round-trips through void* for dlsym */
    memcpy((char *)out + entries[i].offset, &fn, sizeof fn);
  }
  void *wait = dlsym(lib, "cuStreamWaitValue32_v2");
  out->streamWaitValueV2 = wait != NULL;
  if (!wait) wait = dlsym(lib, "cuStreamWaitValue32");
  memcpy(&out->StreamWaitValue32, &wait, sizeof wait);
  return 0;
}

const weft__cuda_api_t *weft__cuda_load(char *err, size_t errlen) {
  pthread_mutex_lock(&load_mu);
  if (!loaded) {
    const char *path = getenv("WEFT_CUDA_LIBRARY");
    if (!path || !*path) path = "libcuda.so.1";
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      const char *why = dlerror();
      snprintf(err, errlen, "no CUDA driver (%s not found: %s)", path, why ? why : "dlopen failed");
    } else if (resolve(lib, &api, err, errlen, path) != 0) {
      dlclose(lib);
    } else {
      loaded = 1;
    }
  }
  int ok = loaded;
  pthread_mutex_unlock(&load_mu);
  return ok ? &api : NULL;
}
