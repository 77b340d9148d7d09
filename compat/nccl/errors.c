/* Results, error strings and the last error message of libweft-nccl. */
#include <stdarg.h>
#include <stdio.h>

#include "nccl_comm.h"

/* A failure libweft-nccl found itself (weft never saw the call); else
 * weft's thread-local message is the last one. */
static _Thread_local char own_error[512];
static _Thread_local int own_error_set;

ncclResult_t weft_nccl_result(weftResult_t r) {
  switch (r) {
  case weftSuccess: return ncclSuccess;
  case weftUnhandledDeviceError: return ncclUnhandledCudaError;
  case weftSystemError: return ncclSystemError;
  case weftInternalError: return ncclInternalError;
  case weftInvalidArgument: return ncclInvalidArgument;
  case weftInvalidUsage: return ncclInvalidUsage;
  case weftRemoteError: return ncclRemoteError;
  case weftInProgress: return ncclInProgress;
  /* a peer that does not answer in time is, to NCCL, a remote failure */
  case weftTimeout: return ncclRemoteError;
  /* ncclCommAbort ran while the call was inside the comm */
  case weftAborted: return ncclInvalidUsage;
  default: return ncclInternalError;
  }
}

void weft_nccl_begin(void) { own_error_set = 0; }

ncclResult_t weft_nccl_fail(ncclResult_t r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(own_error, sizeof own_error, fmt, ap);
  va_end(ap);
  own_error_set = 1;
  return r;
}

WEFT_API const char *ncclGetLastError(ncclComm_t comm) {
  (void)comm; /* as in NCCL, the message of this thread's last failure */
  return own_error_set ? own_error : weftGetLastError(NULL);
}

WEFT_API const char *ncclGetErrorString(ncclResult_t result) {
  switch (result) {
  case ncclSuccess: return "no error";
  case ncclUnhandledCudaError: return "unhandled device error (the device backend failed)";
  case ncclSystemError: return "unhandled system error (a system call, the network or memory failed)";
  case ncclInternalError: return "internal error (a bug in weft)";
  case ncclInvalidArgument: return "invalid argument";
  case ncclInvalidUsage: return "invalid usage";
  case ncclRemoteError: return "remote process exited, failed or did not answer in time";
  case ncclInProgress: return "operation in progress";
  default: return "unknown result code";
  }
}

WEFT_API ncclResult_t ncclGetVersion(int *version) {
  weft_nccl_begin();
  if (!version) return weft_nccl_fail(ncclInvalidArgument, "ncclGetVersion: version is NULL");
  *version = NCCL_VERSION_CODE;
  return ncclSuccess;
}
