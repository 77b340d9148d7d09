/*
 * weft device backend ABI, version 1.
 *
 * A device backend lets a communicator take buffers that live on an
 * accelerator (an OpenCL cl_mem, a CUDA device pointer, ...) and order its
 * work with the accelerator's own queue. It knows nothing of ranks,
 * transports or collectives: weft asks it to copy between device and host
 * memory, to map device memory that the host can address directly, to
 * reduce on the device, and to mark and hold the user's queue.
 *
 * Each rank chooses its backend (WEFT_DEVICE / weftConfig_t.device), so one
 * communicator may mix ranks on different vendors' devices and on host
 * memory: what crosses the network is always host bytes, and every backend
 * reduces in the same operand order with the same rounding, so the results
 * are bitwise identical whatever the mix (docs/devices.md).
 *
 * Buffers. The void* a user passes to a collective is the backend's own
 * buffer object: for "host" a host pointer, for "opencl" a cl_mem (or an SVM
 * pointer on devices that support SVM), for "cuda" a CUdeviceptr. weft
 * addresses parts of it by (buffer, byte offset), never by pointer
 * arithmetic on the handle.
 *
 * Streams. A backend stream is the backend's queue (cl_command_queue,
 * CUstream) wrapped by streamWrap, or one weft creates for its own copies.
 * Work on one stream runs in order. An event marks a point of a stream; a
 * hold is a point of a stream that later work on it does not pass until weft
 * releases it. A collective on a user's queue therefore records an event (the
 * user's prior work, which weft waits for before reading the buffers) and
 * enqueues a hold (which weft releases once the results are in the buffers),
 * without the host ever blocking on the queue.
 *
 * Built-in backends ("host", "opencl", "cuda") are linked into libweft. An
 * external one is a shared object exporting `const weftDevice_t
 * weftDevicePlugin_v1` (declare it with WEFT_DEVICE_PLUGIN_EXPORT), loaded
 * with WEFT_DEVICE_PLUGIN=/path/to.so. A plugin built for another ABI
 * version, or missing a required function, is refused with a clear error; a
 * plugin named like a built-in replaces it. See docs/devices.md for a
 * skeleton.
 */
#ifndef WEFT_DEVICE_H
#define WEFT_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "weft.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_DEVICE_ABI_VERSION 1
#define WEFT_DEVICE_IPC_BYTES 64

/* Put before the plugin's `const weftDevice_t weftDevicePlugin_v1 = {...};`. */
#define WEFT_DEVICE_PLUGIN_EXPORT __attribute__((visibility("default")))

/* What a buffer handle refers to (memKind). */
typedef enum {
  weftMemUnknown = 0,    /* not the backend's: weft refuses the call */
  weftMemHost = 1,       /* ordinary host memory */
  weftMemHostPinned = 2, /* host memory the device copies from at full speed */
  weftMemDevice = 3,     /* device memory: reached through copies or map */
  weftMemUnified = 4     /* device memory the host addresses directly (map is free) */
} weftMemKind_t;

typedef struct {
  char vendor[64];    /* e.g. "NVIDIA Corporation", "The pocl project" */
  char model[128];    /* e.g. "NVIDIA H100 80GB HBM3", "cpu-haswell-..." */
  char uniqueId[64];  /* PCI bus id "0000:3b:00.0" where there is one, else a
                       * string unique to this device on this host */
  int hostUnified;    /* 1: device memory is host memory (integrated GPUs,
                       * CPU devices): weft maps buffers instead of copying */
  int numaNode;       /* NUMA node nearest the device, -1 if unknown */
  double copyGBps;    /* device<->host copy bandwidth, 0 if unknown (weft then
                       * measures it at init) */
  double reduceGBps;  /* throughput of the reduce kernel, 0 if none/unknown */
} weftDeviceProperties_t;

typedef void (*weftDeviceLogFn_t)(void *logUser, weftLogLevel_t level, const char *message);

typedef struct {
  uint32_t abiVersion;   /* WEFT_DEVICE_ABI_VERSION of the caller */
  weftDeviceLogFn_t log; /* may be NULL */
  void *logUser;
  const char *spec;      /* what follows "name:" in WEFT_DEVICE ("" if nothing),
                          * e.g. "1:0" for opencl platform 1 device 0 */
  void *native;          /* weftConfig_t.deviceNative: a context/device the
                          * application already opened (cl_command_queue,
                          * CUcontext, ...), or NULL: the backend opens one */
} weftDeviceInitArgs_t;

typedef struct weftDevice_v1 {
  uint32_t abiVersion; /* WEFT_DEVICE_ABI_VERSION the plugin was built for */
  const char *name;    /* "host", "opencl", "cuda", ... */

  /* ---- required -------------------------------------------------------- */
  /* Opens the device args->spec names (or the first one). */
  weftResult_t (*init)(const weftDeviceInitArgs_t *args, void **ctx);
  weftResult_t (*getProperties)(void *ctx, weftDeviceProperties_t *props);
  /* What buffer is; weftMemUnknown when the backend does not know it. */
  weftResult_t (*memKind)(void *ctx, const void *buffer, weftMemKind_t *kind);

  /* Streams: wrap the user's native queue, or create one for weft's own
   * copies. A wrapped stream does not own the native queue. */
  weftResult_t (*streamWrap)(void *ctx, void *nativeQueue, void **stream);
  weftResult_t (*streamCreate)(void *ctx, void **stream);
  weftResult_t (*streamDestroy)(void *ctx, void *stream);

  /* Asynchronous copies, in order on stream; host must stay valid until an
   * event recorded after them completes. */
  weftResult_t (*copyToHost)(void *ctx, void *stream, void *host, const void *buffer, size_t offset,
                             size_t bytes);
  weftResult_t (*copyFromHost)(void *ctx, void *stream, void *buffer, size_t offset, const void *host,
                               size_t bytes);

  /* Events: a point of a stream. eventQuery never blocks; eventWait makes a
   * stream wait for an event of another stream (of the same backend). */
  weftResult_t (*eventRecord)(void *ctx, void *stream, void **event);
  weftResult_t (*eventQuery)(void *ctx, void *event, int *done);
  weftResult_t (*eventWait)(void *ctx, void *stream, void *event);
  weftResult_t (*eventDestroy)(void *ctx, void *event);

  /* Holds: later work on stream waits until holdRelease is called (from any
   * thread). failed != 0 tells the backend the collective failed (it still
   * lets the queue go on: the error reaches the user through weft). */
  weftResult_t (*holdEnqueue)(void *ctx, void *stream, void **hold);
  weftResult_t (*holdRelease)(void *ctx, void *hold, int failed);

  /* Text of the last error on ctx or any object it handed out; never NULL. */
  const char *(*lastError)(void *ctx);
  weftResult_t (*finalize)(void *ctx);

  /* ---- optional (may be NULL) -------------------------------------------- */
  /* Host memory the device copies at full speed. */
  weftResult_t (*hostAlloc)(void *ctx, size_t bytes, void **host);
  weftResult_t (*hostFree)(void *ctx, void *host);
  /* Where the device shares host memory: queues on stream a mapping of
   * bytes of buffer from offset and returns at once with its host address
   * (write: the host will write it). The host may use the address once an
   * event recorded on stream after the map completes, until unmap. unmap
   * queues the end of the mapping on stream: the device sees the host's
   * writes once an event recorded after it completes. weft maps every
   * buffer of a call, then waits for one event (one round trip). */
  weftResult_t (*map)(void *ctx, void *stream, void *buffer, size_t offset, size_t bytes, int write,
                      void **host, void **mapping);
  weftResult_t (*unmap)(void *ctx, void *stream, void *mapping);
  /* Device to device within this backend. */
  weftResult_t (*copyDevice)(void *ctx, void *stream, void *dst, size_t dstOffset, const void *src,
                             size_t srcOffset, size_t bytes);
  /* dst[i] = a[i] op b[i] for count elements, operand order kept, no
   * contraction, fp16/bf16 rounded to nearest even from the exact float
   * result: bitwise what weft's host kernels give. */
  weftResult_t (*reduce)(void *ctx, void *stream, void *dst, size_t dstOffset, const void *a, size_t aOffset,
                         const void *b, size_t bOffset, size_t count, weftDataType_t dt, weftRedOp_t op);
  /* Inter-process handles where the vendor has them (WEFT_DEVICE_IPC_BYTES). */
  weftResult_t (*ipcGetHandle)(void *ctx, void *buffer, void *handle);
  weftResult_t (*ipcOpenHandle)(void *ctx, const void *handle, void **buffer);
  weftResult_t (*ipcCloseHandle)(void *ctx, void *buffer);
  /* Device buffers, as a user of this backend would make them (benchmarks,
   * tests, and device scratch for reduce kernels). */
  weftResult_t (*memAlloc)(void *ctx, size_t bytes, void **buffer);
  weftResult_t (*memFree)(void *ctx, void *buffer);
  /* Blocks at most timeoutMs until event completes, without using the CPU
   * (the device's own threads may need it); *done says whether it did.
   * NULL: weft polls eventQuery, yielding between polls. */
  weftResult_t (*eventSync)(void *ctx, void *event, int timeoutMs, int *done);
} weftDevice_v1_t;

typedef weftDevice_v1_t weftDevice_t;

#ifdef __cplusplus
}
#endif
#endif /* WEFT_DEVICE_H */
