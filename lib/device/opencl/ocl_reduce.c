/* The opencl backend's reduce: the program (ocl_kernels.c) is built once per
 * context on first use, its kernels kept by [dtype][op].
 *
 * weftAvg reduces as weftSum (weft divides the final sum itself, as the host
 * path does with weft_avg_finish). A call with count 0 enqueues nothing and
 * only says whether the device reduces that dtype: weft may use it as a probe.
 * Refused (weftInvalidUsage, the host kernels must do it): fp64 without
 * cl_khr_fp64, fp32 and bf16 on devices that flush fp32 denormals (results
 * would differ from the host's). fp16 needs no denormals: every fp16 value,
 * sum and product is a normal float. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ocl.h"

static const char *const type_tags[weftNumTypes] = {
    [weftInt8] = "i8",     [weftUint8] = "u8",     [weftInt32] = "i32",  [weftUint32] = "u32",
    [weftInt64] = "i64",   [weftUint64] = "u64",   [weftFloat16] = "f16", [weftFloat32] = "f32",
    [weftFloat64] = "f64", [weftBfloat16] = "bf16",
};
static const size_t type_sizes[weftNumTypes] = {1, 1, 4, 4, 8, 8, 2, 4, 8, 2};
static const char *const op_tags[4] = {"sum", "prod", "max", "min"};

static weftResult_t build_program(weft_ocl_ctx *c) {
  const char *src = weft__ocl_kernel_source;
  cl_int err;
  c->program = clCreateProgramWithSource(c->context, 1, &src, NULL, &err);
  if (err != CL_SUCCESS) {
    c->program = NULL;
    return weft__ocl_fail(c, "clCreateProgramWithSource", err);
  }
  err = clBuildProgram(c->program, 1, &c->device, c->hasFp64 ? "-DWEFT_FP64" : "", NULL, NULL);
  if (err != CL_SUCCESS) {
    char log[400] = "";
    clGetProgramBuildInfo(c->program, c->device, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log, NULL);
    log[sizeof log - 1] = '\0';
    return weft__ocl_error(c, weftUnhandledDeviceError, "clBuildProgram of the reduce kernels failed: %s (%d): %s",
                           weft__ocl_err_name(err), (int)err, log);
  }
  for (int t = 0; t < weftNumTypes; t++) {
    if (t == weftFloat64 && !c->hasFp64) continue;
    for (int o = 0; o < 4; o++) {
      char name[32];
      snprintf(name, sizeof name, "weft_%s_%s", type_tags[t], op_tags[o]);
      c->kernels[t][o] = clCreateKernel(c->program, name, &err);
      if (err != CL_SUCCESS) {
        c->kernels[t][o] = NULL;
        return weft__ocl_fail(c, name, err);
      }
    }
  }
  return weftSuccess;
}

/* The kernel for (dt, op), building the program on first use. Called with kernelMu held. */
static weftResult_t kernel_for(weft_ocl_ctx *c, weftDataType_t dt, int op, cl_kernel *k) {
  if (c->programFailed) return weft__ocl_error(c, weftUnhandledDeviceError, "the reduce kernels did not build (see above)");
  if (c->program == NULL) {
    weftResult_t r = build_program(c);
    if (r != weftSuccess) {
      c->programFailed = 1;
      weft__ocl_reduce_release(c);
      return r;
    }
  }
  *k = c->kernels[dt][op];
  return weftSuccess;
}

static weftResult_t check_supported(weft_ocl_ctx *c, weftDataType_t dt) {
  if (dt == weftFloat64 && !c->hasFp64)
    return weft__ocl_error(c, weftInvalidUsage, "reduce float64: the device has no cl_khr_fp64 (reduce on the host)");
  if ((dt == weftFloat32 || dt == weftBfloat16) && !c->fp32Denorm)
    return weft__ocl_error(c, weftInvalidUsage,
                           "reduce %s: the device flushes fp32 denormals, results would differ from the host's "
                           "(reduce on the host)",
                           dt == weftFloat32 ? "float32" : "bfloat16");
  return weftSuccess;
}

weftResult_t weft__ocl_reduce(void *ctx, void *stream, void *dst, size_t dstOffset, const void *a, size_t aOffset,
                              const void *b, size_t bOffset, size_t count, weftDataType_t dt, weftRedOp_t op) {
  weft_ocl_ctx *c = ctx;
  weft_ocl_stream *s = stream;
  if (c == NULL || s == NULL) return weftInvalidArgument;
  if ((unsigned)dt >= (unsigned)weftNumTypes || (unsigned)op >= (unsigned)weftNumOps)
    return weft__ocl_error(c, weftInvalidArgument, "reduce: invalid dtype %d or op %d", (int)dt, (int)op);
  weftResult_t r = check_supported(c, dt);
  if (r != weftSuccess) return r;
  const size_t esz = type_sizes[dt];
  if (dstOffset % esz || aOffset % esz || bOffset % esz)
    return weft__ocl_error(c, weftInvalidArgument, "reduce: offsets %zu/%zu/%zu are not multiples of the %zu-byte element",
                           dstOffset, aOffset, bOffset, esz);
  const int kop = op == weftAvg ? weftSum : (int)op;
  if (count > 0 && (dst == NULL || a == NULL || b == NULL)) return weftInvalidArgument;

  pthread_mutex_lock(&c->kernelMu);
  cl_kernel k = NULL;
  r = kernel_for(c, dt, kop, &k);
  if (r != weftSuccess || count == 0) {
    pthread_mutex_unlock(&c->kernelMu);
    return r;
  }
  cl_mem md = (cl_mem)dst, ma = (cl_mem)(uintptr_t)a, mb = (cl_mem)(uintptr_t)b;
  cl_ulong od = dstOffset / esz, oa = aOffset / esz, ob = bOffset / esz, n = count;
  cl_int err = CL_SUCCESS;
  const struct {
    size_t size;
    const void *value;
  } args[7] = {{sizeof md, &md}, {sizeof od, &od}, {sizeof ma, &ma}, {sizeof oa, &oa},
               {sizeof mb, &mb}, {sizeof ob, &ob}, {sizeof n, &n}};
  for (cl_uint i = 0; i < 7 && err == CL_SUCCESS; i++) err = clSetKernelArg(k, i, args[i].size, args[i].value);
  /* One element per work-item up to 4M work-items, a grid-stride loop beyond. */
  size_t global = count < ((size_t)1 << 22) ? (count + 63) / 64 * 64 : (size_t)1 << 22;
  if (err == CL_SUCCESS) err = clEnqueueNDRangeKernel(s->queue, k, 1, NULL, &global, NULL, 0, NULL, NULL);
  pthread_mutex_unlock(&c->kernelMu);
  if (err != CL_SUCCESS) return weft__ocl_fail(c, "clEnqueueNDRangeKernel (reduce)", err);
  return weft__ocl_submitted(c, s, "the reduce kernel");
}

void weft__ocl_reduce_release(weft_ocl_ctx *c) {
  for (int t = 0; t < weftNumTypes; t++)
    for (int o = 0; o < 4; o++)
      if (c->kernels[t][o] != NULL) {
        clReleaseKernel(c->kernels[t][o]);
        c->kernels[t][o] = NULL;
      }
  if (c->program != NULL) {
    clReleaseProgram(c->program);
    c->program = NULL;
  }
}
