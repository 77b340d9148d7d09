/* A stand-in for libcuda.so.1 that exports every entry point the cuda
 * backend requires and reports no device, so that the backend's "no CUDA
 * device" path is tested on machines without a GPU
 * (WEFT_CUDA_LIBRARY=.../libweft-fake-cuda.so). With FAKE_CUDA_INIT=<n>
 * cuInit returns CUresult n instead (e.g. 34: the toolkit's stub library). */
#include <stdlib.h>

#define FAKE_NOT_CALLED 999 /* any entry point but these few: never called */

int cuInit(unsigned flags) {
  (void)flags;
  const char *forced = getenv("FAKE_CUDA_INIT");
  return forced ? atoi(forced) : 100; /* CUDA_ERROR_NO_DEVICE */
}

int cuGetErrorName(int err, const char **name) {
  *name = err == 100 ? "CUDA_ERROR_NO_DEVICE" : err == 34 ? "CUDA_ERROR_STUB_LIBRARY" : "CUDA_ERROR_FAKE";
  return 0;
}

int cuGetErrorString(int err, const char **text) {
  (void)err;
  *text = "fake driver";
  return 0;
}

int cuDeviceGetCount(int *count) {
  *count = 0;
  return 0;
}

#define STUB(name) \
  int name(void);  \
  int name(void) { return FAKE_NOT_CALLED; }
STUB(cuDriverGetVersion)
STUB(cuDeviceGet)
STUB(cuDeviceGetName)
STUB(cuDeviceGetPCIBusId)
STUB(cuDeviceGetAttribute)
STUB(cuDevicePrimaryCtxRetain)
STUB(cuDevicePrimaryCtxRelease_v2)
STUB(cuCtxSetCurrent)
STUB(cuCtxGetCurrent)
STUB(cuCtxGetDevice)
STUB(cuPointerGetAttribute)
STUB(cuMemcpyDtoHAsync_v2)
STUB(cuMemcpyHtoDAsync_v2)
STUB(cuMemcpyDtoDAsync_v2)
STUB(cuMemHostAlloc)
STUB(cuMemFreeHost)
STUB(cuMemHostGetDevicePointer_v2)
STUB(cuStreamCreate)
STUB(cuStreamDestroy_v2)
STUB(cuStreamWaitEvent)
STUB(cuEventCreate)
STUB(cuEventRecord)
STUB(cuEventQuery)
STUB(cuEventDestroy_v2)
