#include "util/log.h"
#include "weft.h"

WEFT_API const char *weftGetErrorString(weftResult_t r) {
  switch (r) {
    case weftSuccess: return "no error";
    case weftUnhandledDeviceError: return "unhandled device backend error";
    case weftSystemError: return "unhandled system error (socket, memory, thread)";
    case weftInternalError: return "internal error - please report this issue";
    case weftInvalidArgument: return "invalid argument";
    case weftInvalidUsage: return "invalid usage (e.g. mismatched calls across ranks)";
    case weftRemoteError: return "remote process exited or there was a network error";
    case weftInProgress: return "operation in progress";
    case weftTimeout: return "operation timed out";
    case weftAborted: return "communicator aborted";
    default: return "unknown result code";
  }
}

WEFT_API weftResult_t weftGetVersion(int *version) {
  if (!version) return weft_error(NULL, weftInvalidArgument, "weftGetVersion: version is NULL");
  *version = WEFT_VERSION_CODE;
  return weftSuccess;
}
