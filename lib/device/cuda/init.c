/* Opening and closing a CUDA device: the driver is loaded, the device is
 * chosen by WEFT_DEVICE=cuda[:N] (ordinal N, default 0) or taken from the
 * application's CUcontext (weftConfig_t.deviceNative), and the primary
 * context is retained otherwise. Without a driver or a device init fails
 * with weftUnhandledDeviceError and says which. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_private.h"
#include "util/param.h"

static weftResult_t init_fail(const weftDeviceInitArgs_t *args, weftResult_t res, const char *msg) {
  weft__cuda_set_init_error(msg);
  if (args && args->log) args->log(args->logUser, weftLogWarn, msg); /* the contract: weft quotes it */
  return res;
}

/* Whether the device may hold a stream with cuStreamWaitValue32: the v2
 * entry point needs nothing, the v1 one the (kernel module) attribute.
 * WEFT_CUDA_HOLD=hostfn|wait forces a mechanism (tests, diagnosis). */
static weftResult_t choose_holds(weft__cuda_ctx *c, const weftDeviceInitArgs_t *args) {
  int v1 = 0;
  if (c->cu->StreamWaitValue32 && !c->cu->streamWaitValueV2 &&
      c->cu->DeviceGetAttribute(&v1, CU_DEVICE_ATTRIBUTE_CAN_USE_STREAM_MEM_OPS_V1, c->dev) != CUDA_SUCCESS)
    v1 = 0;
  int canWait = c->cu->StreamWaitValue32 && (c->cu->streamWaitValueV2 || v1);
  const char *force = weft_env("WEFT_CUDA_HOLD");
  if (!force) {
    c->holdByWaitValue = canWait;
  } else if (!strcmp(force, "wait")) {
    if (!canWait)
      return init_fail(args, weftInvalidArgument,
                       "cuda: WEFT_CUDA_HOLD=wait but this driver/device has no stream wait value "
                       "(cuStreamWaitValue32)");
    c->holdByWaitValue = 1;
  } else if (!strcmp(force, "hostfn")) {
    c->holdByWaitValue = 0;
  } else {
    char msg[256];
    snprintf(msg, sizeof msg, "cuda: WEFT_CUDA_HOLD='%s' is neither 'wait' nor 'hostfn'", force);
    return init_fail(args, weftInvalidArgument, msg);
  }
  if (!c->holdByWaitValue && !c->cu->LaunchHostFunc)
    weft__cuda_log(c, weftLogWarn, "cuda: the driver has neither cuStreamWaitValue32 nor cuLaunchHostFunc: "
                                   "holds on streams will fail");
  return weftSuccess;
}

/* The device of args: the native context's, or ordinal spec ("" = 0). */
static weftResult_t open_context(weft__cuda_ctx *c, const weftDeviceInitArgs_t *args, int count) {
  const weft__cuda_api_t *cu = c->cu;
  char msg[WEFT_CUDA_ERR_LEN], why[256];
  CUresult r;
  if (args->native) {
    c->context = (CUcontext)args->native;
    if ((r = cu->CtxSetCurrent(c->context)) != CUDA_SUCCESS || (r = cu->CtxGetDevice(&c->dev)) != CUDA_SUCCESS) {
      weft__cuda_describe(cu, r, why, sizeof why);
      snprintf(msg, sizeof msg, "cuda: the application's CUcontext (deviceNative) is not usable: %s", why);
      return init_fail(args, weftInvalidArgument, msg);
    }
    c->ordinal = (int)c->dev;
    return weftSuccess;
  }
  const char *spec = args->spec ? args->spec : "";
  long ordinal = 0;
  if (*spec) {
    char *end = NULL;
    errno = 0;
    ordinal = strtol(spec, &end, 10);
    if (errno || *end || end == spec || ordinal < 0) {
      snprintf(msg, sizeof msg, "cuda: device '%s' is not a device ordinal (WEFT_DEVICE=cuda:N, N from 0)", spec);
      return init_fail(args, weftInvalidArgument, msg);
    }
  }
  if (ordinal >= count) {
    snprintf(msg, sizeof msg, "cuda: no device %ld (this host has %d CUDA device%s)", ordinal, count,
             count == 1 ? "" : "s");
    return init_fail(args, weftInvalidArgument, msg);
  }
  c->ordinal = (int)ordinal;
  if ((r = cu->DeviceGet(&c->dev, c->ordinal)) != CUDA_SUCCESS ||
      (r = cu->DevicePrimaryCtxRetain(&c->context, c->dev)) != CUDA_SUCCESS) {
    weft__cuda_describe(cu, r, why, sizeof why);
    snprintf(msg, sizeof msg, "cuda: cannot open device %d: %s", c->ordinal, why);
    return init_fail(args, weftUnhandledDeviceError, msg);
  }
  c->ownsPrimary = 1;
  if ((r = cu->CtxSetCurrent(c->context)) != CUDA_SUCCESS) {
    weft__cuda_describe(cu, r, why, sizeof why);
    snprintf(msg, sizeof msg, "cuda: cannot make device %d's context current: %s", c->ordinal, why);
    return init_fail(args, weftUnhandledDeviceError, msg);
  }
  return weftSuccess;
}

static void ctx_free(weft__cuda_ctx *c) {
  if (c->ownsPrimary) c->cu->DevicePrimaryCtxRelease(c->dev);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

weftResult_t weft__cuda_init(const weftDeviceInitArgs_t *args, void **ctx) {
  if (!args || !ctx) return init_fail(args, weftInvalidArgument, "cuda: init without args or ctx");
  *ctx = NULL;
  if (args->abiVersion != WEFT_DEVICE_ABI_VERSION) {
    char msg[160];
    snprintf(msg, sizeof msg, "cuda: caller speaks device ABI %u, this backend %d", args->abiVersion,
             WEFT_DEVICE_ABI_VERSION);
    return init_fail(args, weftInvalidUsage, msg);
  }
  char msg[WEFT_CUDA_ERR_LEN], why[256];
  const weft__cuda_api_t *cu = weft__cuda_load(msg, sizeof msg);
  if (!cu) return init_fail(args, weftUnhandledDeviceError, msg);
  CUresult r = cu->Init(0);
  int count = 0;
  if (r == CUDA_SUCCESS) r = cu->DeviceGetCount(&count);
  if (r != CUDA_SUCCESS || count <= 0) {
    weft__cuda_describe(cu, r, why, sizeof why);
    if (r == CUDA_SUCCESS || r == CUDA_ERROR_NO_DEVICE)
      snprintf(msg, sizeof msg, "no CUDA device (the driver found none)");
    else if (r == CUDA_ERROR_STUB_LIBRARY)
      snprintf(msg, sizeof msg, "no CUDA driver (libcuda.so.1 is the toolkit's stub library)");
    else
      snprintf(msg, sizeof msg, "no CUDA device (cuInit failed: %s)", why);
    return init_fail(args, weftUnhandledDeviceError, msg);
  }

  weft__cuda_ctx *c = calloc(1, sizeof *c);
  if (!c) return init_fail(args, weftSystemError, "cuda: out of memory");
  c->cu = cu;
  c->log = args->log;
  c->logUser = args->logUser;
  c->timeoutMs = weft_env_timeout_ms();
  pthread_mutex_init(&c->mu, NULL);
  weftResult_t res = open_context(c, args, count);
  if (res == weftSuccess) res = choose_holds(c, args);
  if (res != weftSuccess) {
    ctx_free(c);
    return res;
  }
  int v = 0;
  c->integrated = cu->DeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_INTEGRATED, c->dev) == CUDA_SUCCESS && v;
  v = 0;
  c->managedHostAccess =
      cu->DeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS, c->dev) == CUDA_SUCCESS && v;
  char name[128] = "";
  cu->DeviceGetName(name, (int)sizeof name, c->dev);
  weft__cuda_log(c, weftLogInfo, "cuda: device %d (%s)%s, holds by %s", c->ordinal, name,
                 c->integrated ? ", integrated" : "",
                 c->holdByWaitValue ? "stream wait value" : "host function");
  *ctx = c;
  return weftSuccess;
}

weftResult_t weft__cuda_finalize(void *ctx) {
  weft__cuda_ctx *c = ctx;
  if (!c) return weftSuccess;
  weftResult_t res = weft__cuda_enter(c);
  weftResult_t held = weft__cuda_holds_free(c);
  weft__cuda_events_free(c);
  ctx_free(c);
  return res != weftSuccess ? res : held;
}

/* "0000:3B:00.0" (or an 8-digit domain) as sysfs writes it: "0000:3b:00.0". */
static int pci_bus_id(weft__cuda_ctx *c, char *out, size_t len) {
  char raw[64] = "";
  unsigned dom, bus, dev, fn;
  if (c->cu->DeviceGetPCIBusId(raw, (int)sizeof raw, c->dev) != CUDA_SUCCESS) return -1;
  if (sscanf(raw, "%x:%x:%x.%x", &dom, &bus, &dev, &fn) != 4) {
    snprintf(out, len, "%s", raw);
    return 0;
  }
  snprintf(out, len, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
  return 0;
}

static int numa_node(const char *busId) {
  char path[160];
  snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/numa_node", busId);
  FILE *f = fopen(path, "r");
  int node = -1;
  if (f) {
    if (fscanf(f, "%d", &node) != 1) node = -1;
    fclose(f);
  }
  return node < 0 ? -1 : node;
}

weftResult_t weft__cuda_get_properties(void *ctx, weftDeviceProperties_t *props) {
  weft__cuda_ctx *c = ctx;
  if (!c || !props) return weftInvalidArgument;
  weftResult_t res = weft__cuda_enter(c);
  if (res != weftSuccess) return res;
  memset(props, 0, sizeof *props);
  snprintf(props->vendor, sizeof props->vendor, "NVIDIA Corporation");
  CUresult r = c->cu->DeviceGetName(props->model, (int)sizeof props->model, c->dev);
  if (r != CUDA_SUCCESS) return weft__cuda_fail(c, r, "cuDeviceGetName");
  if (pci_bus_id(c, props->uniqueId, sizeof props->uniqueId) == 0) {
    props->numaNode = numa_node(props->uniqueId);
  } else {
    /* no PCI location (some virtual devices): the ordinal is unique on this host */
    snprintf(props->uniqueId, sizeof props->uniqueId, "cuda-device-%d", c->ordinal);
    props->numaNode = -1;
  }
  props->hostUnified = c->integrated;
  props->copyGBps = 0;   /* weft measures it at init */
  props->reduceGBps = 0; /* no reduce kernel */
  return weftSuccess;
}
