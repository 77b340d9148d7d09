/* Error text of the opencl backend: OpenCL error names, the context's last
 * error, logging through the init args' callback, and a bounded wait. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <time.h>

#include "ocl.h"
#include "util/param.h"

const char *weft__ocl_err_name(cl_int err) {
  switch (err) {
#define N(x) \
  case x: return #x;
    N(CL_SUCCESS) N(CL_DEVICE_NOT_FOUND) N(CL_DEVICE_NOT_AVAILABLE) N(CL_COMPILER_NOT_AVAILABLE)
    N(CL_MEM_OBJECT_ALLOCATION_FAILURE) N(CL_OUT_OF_RESOURCES) N(CL_OUT_OF_HOST_MEMORY)
    N(CL_PROFILING_INFO_NOT_AVAILABLE) N(CL_MEM_COPY_OVERLAP) N(CL_IMAGE_FORMAT_MISMATCH)
    N(CL_IMAGE_FORMAT_NOT_SUPPORTED) N(CL_BUILD_PROGRAM_FAILURE) N(CL_MAP_FAILURE)
    N(CL_MISALIGNED_SUB_BUFFER_OFFSET) N(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
    N(CL_COMPILE_PROGRAM_FAILURE) N(CL_LINKER_NOT_AVAILABLE) N(CL_LINK_PROGRAM_FAILURE)
    N(CL_DEVICE_PARTITION_FAILED) N(CL_KERNEL_ARG_INFO_NOT_AVAILABLE) N(CL_INVALID_VALUE)
    N(CL_INVALID_DEVICE_TYPE) N(CL_INVALID_PLATFORM) N(CL_INVALID_DEVICE) N(CL_INVALID_CONTEXT)
    N(CL_INVALID_QUEUE_PROPERTIES) N(CL_INVALID_COMMAND_QUEUE) N(CL_INVALID_HOST_PTR)
    N(CL_INVALID_MEM_OBJECT) N(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR) N(CL_INVALID_IMAGE_SIZE)
    N(CL_INVALID_SAMPLER) N(CL_INVALID_BINARY) N(CL_INVALID_BUILD_OPTIONS) N(CL_INVALID_PROGRAM)
    N(CL_INVALID_PROGRAM_EXECUTABLE) N(CL_INVALID_KERNEL_NAME) N(CL_INVALID_KERNEL_DEFINITION)
    N(CL_INVALID_KERNEL) N(CL_INVALID_ARG_INDEX) N(CL_INVALID_ARG_VALUE) N(CL_INVALID_ARG_SIZE)
    N(CL_INVALID_KERNEL_ARGS) N(CL_INVALID_WORK_DIMENSION) N(CL_INVALID_WORK_GROUP_SIZE)
    N(CL_INVALID_WORK_ITEM_SIZE) N(CL_INVALID_GLOBAL_OFFSET) N(CL_INVALID_EVENT_WAIT_LIST)
    N(CL_INVALID_EVENT) N(CL_INVALID_OPERATION) N(CL_INVALID_GL_OBJECT) N(CL_INVALID_BUFFER_SIZE)
    N(CL_INVALID_MIP_LEVEL) N(CL_INVALID_GLOBAL_WORK_SIZE) N(CL_INVALID_PROPERTY)
    N(CL_INVALID_IMAGE_DESCRIPTOR) N(CL_INVALID_COMPILER_OPTIONS) N(CL_INVALID_LINKER_OPTIONS)
    N(CL_INVALID_DEVICE_PARTITION_COUNT)
#undef N
  case -1001: return "CL_PLATFORM_NOT_FOUND_KHR";
  default: return "CL_UNKNOWN_ERROR";
  }
}

static void set_error(weft_ocl_ctx *c, const char *msg) {
  if (c == NULL) return;
  pthread_mutex_lock(&c->errMu);
  snprintf(c->lastError, sizeof c->lastError, "%s", msg);
  pthread_mutex_unlock(&c->errMu);
  if (c->log != NULL) c->log(c->logUser, weftLogWarn, msg);
}

weftResult_t weft__ocl_fail(weft_ocl_ctx *c, const char *what, cl_int err) {
  char msg[WEFT_OCL_ERRLEN];
  snprintf(msg, sizeof msg, "opencl: %s failed: %s (%d)", what, weft__ocl_err_name(err), (int)err);
  set_error(c, msg);
  return weftUnhandledDeviceError;
}

weftResult_t weft__ocl_error(weft_ocl_ctx *c, weftResult_t res, const char *fmt, ...) {
  char msg[WEFT_OCL_ERRLEN];
  int n = snprintf(msg, sizeof msg, "opencl: ");
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
  va_end(ap);
  set_error(c, msg);
  return res;
}

void weft__ocl_log(weft_ocl_ctx *c, weftLogLevel_t level, const char *fmt, ...) {
  if (c->log == NULL) return;
  char msg[WEFT_OCL_ERRLEN];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  c->log(c->logUser, level, msg);
}

/* The text is copied out under the lock into a per-thread buffer, so that a
 * concurrent failure on another thread cannot tear what the caller reads. */
static _Thread_local char initError[WEFT_OCL_ERRLEN];

void weft__ocl_set_init_error(const char *msg) { snprintf(initError, sizeof initError, "%s", msg); }

const char *weft__ocl_last_error(void *ctx) {
  static _Thread_local char copy[WEFT_OCL_ERRLEN];
  weft_ocl_ctx *c = ctx;
  if (c == NULL) return initError[0] != '\0' ? initError : "opencl: no error";
  pthread_mutex_lock(&c->errMu);
  memcpy(copy, c->lastError, sizeof copy);
  pthread_mutex_unlock(&c->errMu);
  return copy;
}

/* clWaitForEvents has no timeout: poll the status instead, yielding first
 * and then sleeping up to 1 ms between looks. */
weftResult_t weft__ocl_wait(weft_ocl_ctx *c, cl_event ev, const char *what) {
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  const long long limitMs = weft_env_timeout_ms();
  long sleepNs = 1000;
  int polls = 0;
  for (;;) {
    cl_int status = 0;
    cl_int err = clGetEventInfo(ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, NULL);
    if (err != CL_SUCCESS) return weft__ocl_fail(c, "clGetEventInfo(CL_EVENT_COMMAND_EXECUTION_STATUS)", err);
    if (status == CL_COMPLETE) return weftSuccess;
    if (status < 0) return weft__ocl_fail(c, what, status);
    clock_gettime(CLOCK_MONOTONIC, &now);
    long long elapsedMs = (now.tv_sec - start.tv_sec) * 1000LL + (now.tv_nsec - start.tv_nsec) / 1000000;
    if (elapsedMs > limitMs)
      return weft__ocl_error(c, weftTimeout, "%s: not done after %lld ms (WEFT_TIMEOUT)", what, limitMs);
    /* maps and copies sit on the call path: yield first (a device's
     * worker threads need this CPU when ranks outnumber cores), then
     * sleep in short, growing slices */
    if (++polls <= 200) {
      sched_yield();
      continue;
    }
    struct timespec ts = {0, sleepNs};
    nanosleep(&ts, NULL);
    if (sleepNs < 32000) sleepNs *= 2;
  }
}
