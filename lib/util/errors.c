/* Result strings and error recording: the sink's last error, the thread's
 * last error (for calls without a communicator), and a WARN line. */
#include <stdio.h>
#include <string.h>

#include "util/log.h"
#include "weft.h"

static _Thread_local char thread_error[WEFT_ERRMSG_LEN];

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

void weft_set_thread_error(const char *msg) { snprintf(thread_error, sizeof thread_error, "%s", msg); }

const char *weft_thread_error(void) { return thread_error; }

weftResult_t weft_error_to(weft_log_sink *sink, weftResult_t res, const char *fmt, ...) {
  char msg[WEFT_ERRMSG_LEN];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (sink) {
    pthread_mutex_lock(&sink->mu);
    snprintf(sink->last_error, sizeof sink->last_error, "%s", msg);
    pthread_mutex_unlock(&sink->mu);
  }
  weft_set_thread_error(msg);
  weft_log_to(sink, weftLogWarn, "%s: %s", weftGetErrorString(res), msg);
  return res;
}
