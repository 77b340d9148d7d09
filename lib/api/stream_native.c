/* weftStreamFromNative: a weft stream on the native queue of a comm's device. */
#include "comm/comm.h"
#include "comm/comm_log.h"
#include "device/device.h"
#include "exec/stream.h"

WEFT_API weftResult_t weftStreamFromNative(weftStream_t *stream, weftComm_t comm, void *nativeQueue) {
  weftResult_t r = weft_comm_check(comm);
  if (r != weftSuccess) return r;
  if (!stream) return weft_error(comm, weftInvalidArgument, "weftStreamFromNative: stream is NULL");
  *stream = NULL;
  if (!comm->device) return weft_error(comm, weftInternalError, "weftStreamFromNative: the comm has no device");
  char err[WEFT_ERRMSG_LEN];
  r = weft_stream_wrap_device(comm->device, nativeQueue, stream, err, sizeof err);
  return r == weftSuccess ? r : weft_error(comm, r, "weftStreamFromNative: %s", err);
}
