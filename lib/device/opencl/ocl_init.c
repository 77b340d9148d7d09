/* Opening the OpenCL device and describing it.
 *
 * Which device: args->native, when set, is a cl_command_queue the
 * application already has; its context and device are used (retained). Else
 * args->spec "P:D" names platform P, device D in the order the ICD loader
 * lists them, and "" takes the first GPU of any platform, else the first
 * device of any type. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ocl.h"

#define MAX_PLATFORMS 16
#define MAX_DEVICES 64

/* "P:D" -> two indices; "" -> -1, -1. */
static int parse_spec(const char *spec, int *p, int *d) {
  *p = *d = -1;
  if (spec == NULL || spec[0] == '\0') return 0;
  char *end;
  long pl = strtol(spec, &end, 10);
  if (end == spec || *end != ':' || pl < 0 || pl >= MAX_PLATFORMS) return -1;
  const char *ds = end + 1;
  long dl = strtol(ds, &end, 10);
  if (end == ds || *end != '\0' || dl < 0 || dl >= MAX_DEVICES) return -1;
  *p = (int)pl;
  *d = (int)dl;
  return 0;
}

static weftResult_t list_devices(weft_ocl_ctx *c, cl_platform_id plat, cl_device_type type, cl_device_id *devs,
                                 cl_uint *n) {
  cl_int err = clGetDeviceIDs(plat, type, MAX_DEVICES, devs, n);
  if (err == CL_DEVICE_NOT_FOUND) {
    *n = 0;
    return weftSuccess;
  }
  if (err != CL_SUCCESS) return weft__ocl_fail(c, "clGetDeviceIDs", err);
  if (*n > MAX_DEVICES) *n = MAX_DEVICES;
  return weftSuccess;
}

/* Chooses platform and device from the spec; records their indices. */
static weftResult_t choose_device(weft_ocl_ctx *c, const char *spec) {
  int wantP, wantD;
  if (parse_spec(spec, &wantP, &wantD) != 0)
    return weft__ocl_error(c, weftInvalidArgument, "device spec \"%s\": expected \"platform:device\" (e.g. 0:1) or nothing, then :svm or not",
                           spec);
  cl_platform_id plats[MAX_PLATFORMS];
  cl_uint np = 0;
  cl_int err = clGetPlatformIDs(MAX_PLATFORMS, plats, &np);
  if (err == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || (err == CL_SUCCESS && np == 0))
    return weft__ocl_error(c, weftUnhandledDeviceError, "no OpenCL platform (is an ICD installed in /etc/OpenCL/vendors?)");
  if (err != CL_SUCCESS) return weft__ocl_fail(c, "clGetPlatformIDs", err);
  if (np > MAX_PLATFORMS) np = MAX_PLATFORMS;

  cl_device_id devs[MAX_DEVICES];
  cl_uint nd = 0;
  weftResult_t r;
  if (wantP >= 0) {
    if ((cl_uint)wantP >= np)
      return weft__ocl_error(c, weftInvalidArgument, "device spec \"%s\": there are %u platforms", spec, np);
    if ((r = list_devices(c, plats[wantP], CL_DEVICE_TYPE_ALL, devs, &nd)) != weftSuccess) return r;
    if ((cl_uint)wantD >= nd)
      return weft__ocl_error(c, weftInvalidArgument, "device spec \"%s\": platform %d has %u devices", spec, wantP, nd);
    c->platform = plats[wantP];
    c->device = devs[wantD];
    c->platformIndex = wantP;
    c->deviceIndex = wantD;
    return weftSuccess;
  }
  /* First GPU, else first device; the index is the one "P:D" would use. */
  for (int pass = 0; pass < 2; pass++) {
    for (cl_uint p = 0; p < np; p++) {
      if ((r = list_devices(c, plats[p], CL_DEVICE_TYPE_ALL, devs, &nd)) != weftSuccess) return r;
      for (cl_uint d = 0; d < nd; d++) {
        cl_device_type type = 0;
        err = clGetDeviceInfo(devs[d], CL_DEVICE_TYPE, sizeof type, &type, NULL);
        if (err != CL_SUCCESS) return weft__ocl_fail(c, "clGetDeviceInfo(CL_DEVICE_TYPE)", err);
        if (pass == 0 && !(type & CL_DEVICE_TYPE_GPU)) continue;
        c->platform = plats[p];
        c->device = devs[d];
        c->platformIndex = (int)p;
        c->deviceIndex = (int)d;
        return weftSuccess;
      }
    }
  }
  return weft__ocl_error(c, weftUnhandledDeviceError, "no OpenCL device on any of the %u platforms", np);
}

/* Where the application's queue lives; finds its "P:D" for uniqueId. */
static weftResult_t adopt_queue(weft_ocl_ctx *c, cl_command_queue q) {
  cl_int err = clGetCommandQueueInfo(q, CL_QUEUE_CONTEXT, sizeof c->context, &c->context, NULL);
  if (err != CL_SUCCESS) return weft__ocl_fail(c, "clGetCommandQueueInfo(CL_QUEUE_CONTEXT) of the native queue", err);
  err = clGetCommandQueueInfo(q, CL_QUEUE_DEVICE, sizeof c->device, &c->device, NULL);
  if (err != CL_SUCCESS) return weft__ocl_fail(c, "clGetCommandQueueInfo(CL_QUEUE_DEVICE)", err);
  err = clGetDeviceInfo(c->device, CL_DEVICE_PLATFORM, sizeof c->platform, &c->platform, NULL);
  if (err != CL_SUCCESS) return weft__ocl_fail(c, "clGetDeviceInfo(CL_DEVICE_PLATFORM)", err);
  if ((err = clRetainContext(c->context)) != CL_SUCCESS) {
    c->context = NULL;
    return weft__ocl_fail(c, "clRetainContext", err);
  }
  cl_platform_id plats[MAX_PLATFORMS];
  cl_uint np = 0;
  c->platformIndex = c->deviceIndex = -1;
  if (clGetPlatformIDs(MAX_PLATFORMS, plats, &np) != CL_SUCCESS) return weftSuccess;
  for (cl_uint p = 0; p < np && p < MAX_PLATFORMS; p++) {
    if (plats[p] != c->platform) continue;
    cl_device_id devs[MAX_DEVICES];
    cl_uint nd = 0;
    if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, MAX_DEVICES, devs, &nd) != CL_SUCCESS) break;
    for (cl_uint d = 0; d < nd && d < MAX_DEVICES; d++)
      if (devs[d] == c->device) {
        c->platformIndex = (int)p;
        c->deviceIndex = (int)d;
      }
  }
  return weftSuccess;
}

static weftResult_t read_capabilities(weft_ocl_ctx *c) {
  cl_bool unified = CL_FALSE;
  cl_int err = clGetDeviceInfo(c->device, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified, &unified, NULL);
  if (err != CL_SUCCESS) return weft__ocl_fail(c, "clGetDeviceInfo(CL_DEVICE_HOST_UNIFIED_MEMORY)", err);
  c->hostUnified = unified == CL_TRUE;
  cl_device_fp_config fp32 = 0, fp64 = 0;
  err = clGetDeviceInfo(c->device, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp32, &fp32, NULL);
  if (err != CL_SUCCESS) return weft__ocl_fail(c, "clGetDeviceInfo(CL_DEVICE_SINGLE_FP_CONFIG)", err);
  c->fp32Denorm = (fp32 & CL_FP_DENORM) != 0;
  /* Devices without doubles answer 0 or an error here. */
  if (clGetDeviceInfo(c->device, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof fp64, &fp64, NULL) != CL_SUCCESS) fp64 = 0;
  size_t len = 0;
  err = clGetDeviceInfo(c->device, CL_DEVICE_EXTENSIONS, 0, NULL, &len);
  if (err != CL_SUCCESS) return weft__ocl_fail(c, "clGetDeviceInfo(CL_DEVICE_EXTENSIONS)", err);
  char *ext = calloc(1, len + 1);
  if (ext == NULL) return weft__ocl_error(c, weftSystemError, "out of memory");
  err = clGetDeviceInfo(c->device, CL_DEVICE_EXTENSIONS, len, ext, NULL);
  c->hasFp64 = err == CL_SUCCESS && strstr(ext, "cl_khr_fp64") != NULL && (fp64 & CL_FP_DENORM) != 0;
  free(ext);
  if (err != CL_SUCCESS) return weft__ocl_fail(c, "clGetDeviceInfo(CL_DEVICE_EXTENSIONS)", err);
  return weftSuccess;
}

static weftResult_t open_context(weft_ocl_ctx *c) {
  cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)c->platform, 0};
  cl_int err;
  c->context = clCreateContext(props, 1, &c->device, NULL, NULL, &err);
  if (err != CL_SUCCESS) {
    c->context = NULL;
    return weft__ocl_fail(c, "clCreateContext", err);
  }
  return weftSuccess;
}

weftResult_t weft__ocl_init(const weftDeviceInitArgs_t *args, void **ctx) {
  if (args == NULL || ctx == NULL) return weftInvalidArgument;
  *ctx = NULL;
  if (args->abiVersion != WEFT_DEVICE_ABI_VERSION) {
    char msg[128];
    snprintf(msg, sizeof msg, "opencl: caller speaks device ABI version %u, the backend version %d",
             (unsigned)args->abiVersion, WEFT_DEVICE_ABI_VERSION);
    weft__ocl_set_init_error(msg);
    return weftInvalidUsage;
  }
  weft_ocl_ctx *c = calloc(1, sizeof *c);
  if (c == NULL) return weftSystemError;
  pthread_mutex_init(&c->errMu, NULL);
  pthread_mutex_init(&c->probeMu, NULL);
  pthread_mutex_init(&c->pinnedMu, NULL);
  pthread_mutex_init(&c->svmMu, NULL);
  pthread_mutex_init(&c->kernelMu, NULL);
  c->probePipe[0] = c->probePipe[1] = -1;
  c->log = args->log;
  c->logUser = args->logUser;

  /* "svm", "P:D:svm": memAlloc makes fine-grained SVM buffers */
  char spec[64];
  snprintf(spec, sizeof spec, "%s", args->spec ? args->spec : "");
  size_t sl = strlen(spec);
  if (sl >= 3 && !strcmp(spec + sl - 3, "svm") && (sl == 3 || spec[sl - 4] == ':')) {
    c->svmAlloc = 1;
    spec[sl == 3 ? 0 : sl - 4] = '\0';
  }
  weftResult_t r;
  if (args->native != NULL)
    r = adopt_queue(c, (cl_command_queue)args->native);
  else if ((r = choose_device(c, spec)) == weftSuccess)
    r = open_context(c);
  if (r == weftSuccess) r = read_capabilities(c);
  if (r == weftSuccess && c->svmAlloc && !weft__ocl_svm_fine(c))
    r = weft__ocl_error(c, weftInvalidArgument,
                        "device spec \"%s\": the device has no fine-grained buffer SVM (OpenCL 2.0)", args->spec);
  if (r == weftSuccess) {
    cl_int err;
    c->queue = clCreateCommandQueue(c->context, c->device, 0, &err);
    if (err != CL_SUCCESS) {
      c->queue = NULL;
      r = weft__ocl_fail(c, "clCreateCommandQueue", err);
    }
  }
  if (r == weftSuccess && pipe2(c->probePipe, O_CLOEXEC | O_NONBLOCK) != 0)
    r = weft__ocl_error(c, weftSystemError, "pipe2 for memKind: %s", strerror(errno));
  if (r != weftSuccess) {
    /* no ctx to ask: lastError(NULL) gives this thread's init failure */
    weft__ocl_set_init_error(c->lastError);
    weft__ocl_finalize(c);
    return r;
  }
  /* Every object of an ICD platform starts with its dispatch table pointer
   * (cl_khr_icd); memKind compares a candidate handle's first word with it. */
  memcpy(&c->dispatch, (const void *)c->context, sizeof c->dispatch);

  char name[128] = "?";
  clGetDeviceInfo(c->device, CL_DEVICE_NAME, sizeof name - 1, name, NULL);
  weft__ocl_log(c, weftLogInfo, "opencl: device %d:%d \"%s\"%s%s%s", c->platformIndex, c->deviceIndex, name,
                c->hostUnified ? ", host-unified memory" : "", c->hasFp64 ? ", fp64" : "",
                c->fp32Denorm ? "" : ", no fp32 denormals (fp32/bf16 reduce left to the host)");
  *ctx = c;
  return weftSuccess;
}

/* ---- properties ---------------------------------------------------------------- */

static void device_string(cl_device_id dev, cl_device_info what, char *buf, size_t len) {
  size_t got = 0;
  buf[0] = '\0';
  if (clGetDeviceInfo(dev, what, len - 1, buf, &got) != CL_SUCCESS) {
    /* longer than buf: take the start */
    char *tmp = NULL;
    if (clGetDeviceInfo(dev, what, 0, NULL, &got) == CL_SUCCESS && (tmp = calloc(1, got + 1)) != NULL &&
        clGetDeviceInfo(dev, what, got, tmp, NULL) == CL_SUCCESS)
      snprintf(buf, len, "%s", tmp);
    free(tmp);
  }
  buf[len - 1] = '\0';
}

/* Vendor extensions that tell the PCI address (constants from cl_ext.h, and
 * the NVIDIA ones, which it lacks). */
#define WEFT_CL_DEVICE_PCI_BUS_ID_NV 0x4008
#define WEFT_CL_DEVICE_PCI_SLOT_ID_NV 0x4009
#define WEFT_CL_DEVICE_PCI_DOMAIN_ID_NV 0x400A
#define WEFT_CL_DEVICE_PCI_BUS_INFO_KHR 0x410F
#define WEFT_CL_DEVICE_TOPOLOGY_AMD 0x4037

static int pci_bus_id(cl_device_id dev, char *out, size_t len) {
  cl_uint khr[4]; /* domain, bus, device, function */
  if (clGetDeviceInfo(dev, WEFT_CL_DEVICE_PCI_BUS_INFO_KHR, sizeof khr, khr, NULL) == CL_SUCCESS) {
    snprintf(out, len, "%04x:%02x:%02x.%x", khr[0], khr[1], khr[2], khr[3]);
    return 1;
  }
  cl_uint bus, slot, domain = 0;
  if (clGetDeviceInfo(dev, WEFT_CL_DEVICE_PCI_BUS_ID_NV, sizeof bus, &bus, NULL) == CL_SUCCESS &&
      clGetDeviceInfo(dev, WEFT_CL_DEVICE_PCI_SLOT_ID_NV, sizeof slot, &slot, NULL) == CL_SUCCESS) {
    if (clGetDeviceInfo(dev, WEFT_CL_DEVICE_PCI_DOMAIN_ID_NV, sizeof domain, &domain, NULL) != CL_SUCCESS) domain = 0;
    snprintf(out, len, "%04x:%02x:%02x.%x", domain, bus, slot >> 3, slot & 7);
    return 1;
  }
  struct {
    cl_uint type;
    char unused[17];
    char bus, device, function;
  } amd; /* cl_device_topology_amd.pcie */
  if (clGetDeviceInfo(dev, WEFT_CL_DEVICE_TOPOLOGY_AMD, sizeof amd, &amd, NULL) == CL_SUCCESS && amd.type == 1) {
    snprintf(out, len, "0000:%02x:%02x.%x", (unsigned char)amd.bus, (unsigned char)amd.device,
             (unsigned char)amd.function);
    return 1;
  }
  return 0;
}

static int numa_node_of(const char *pciId) {
  char path[128];
  snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/numa_node", pciId);
  FILE *f = fopen(path, "re");
  if (f == NULL) return -1;
  int node = -1;
  if (fscanf(f, "%d", &node) != 1) node = -1;
  fclose(f);
  return node;
}

weftResult_t weft__ocl_properties(void *ctx, weftDeviceProperties_t *props) {
  weft_ocl_ctx *c = ctx;
  if (c == NULL || props == NULL) return weftInvalidArgument;
  memset(props, 0, sizeof *props);
  device_string(c->device, CL_DEVICE_VENDOR, props->vendor, sizeof props->vendor);
  device_string(c->device, CL_DEVICE_NAME, props->model, sizeof props->model);
  props->numaNode = -1;
  if (pci_bus_id(c->device, props->uniqueId, sizeof props->uniqueId)) {
    props->numaNode = numa_node_of(props->uniqueId);
  } else {
    /* No PCI address (CPU devices, PoCL): the loader's indices and the name. */
    snprintf(props->uniqueId, sizeof props->uniqueId, "opencl:%d:%d:%s", c->platformIndex, c->deviceIndex,
             props->model);
  }
  props->hostUnified = c->hostUnified;
  props->copyGBps = 0;   /* weft measures it */
  props->reduceGBps = 0; /* unknown */
  return weftSuccess;
}

weftResult_t weft__ocl_finalize(void *ctx) {
  weft_ocl_ctx *c = ctx;
  if (c == NULL) return weftSuccess;
  weft__ocl_reduce_release(c);
  weft__ocl_pinned_release_all(c);
  weft__ocl_svm_release_all(c);
  int hung = 0;
  if (c->queue != NULL) {
    /* what is still queued, waited for within WEFT_TIMEOUT (clFinish has no
     * bound); a device that never finishes keeps its queue and context:
     * releasing them could wait on it too */
    cl_event ev = NULL;
    if (clEnqueueMarkerWithWaitList(c->queue, 0, NULL, &ev) == CL_SUCCESS && ev != NULL) {
      clFlush(c->queue);
      hung = weft__ocl_wait(c, ev, "the device's last commands") == weftTimeout;
      clReleaseEvent(ev);
    }
    if (!hung) clReleaseCommandQueue(c->queue);
  }
  if (c->context != NULL && !hung) clReleaseContext(c->context);
  for (int i = 0; i < 2; i++)
    if (c->probePipe[i] >= 0) close(c->probePipe[i]);
  pthread_mutex_destroy(&c->errMu);
  pthread_mutex_destroy(&c->probeMu);
  pthread_mutex_destroy(&c->pinnedMu);
  pthread_mutex_destroy(&c->svmMu);
  pthread_mutex_destroy(&c->kernelMu);
  free(c);
  return weftSuccess;
}
