/* Logging and errors on behalf of a communicator: its sink (rank on every
 * line, the user's callback, weftGetLastError), or the process default when
 * comm is NULL. For the layers from the communicator up. */
#ifndef WEFT_COMM_LOG_H
#define WEFT_COMM_LOG_H

#include "util/log.h"

struct weftComm;

/* The comm's sink, or NULL when comm is NULL. */
weft_log_sink *weft_comm_log_sink(struct weftComm *comm);

#define weft_error(comm, res, ...) weft_error_to(weft_comm_log_sink(comm), (res), __VA_ARGS__)
#define weft_log(comm, level, ...) weft_log_to(weft_comm_log_sink(comm), (level), __VA_ARGS__)
#define WEFT_WARN(comm, ...) weft_log((comm), weftLogWarn, __VA_ARGS__)
#define WEFT_INFO(comm, ...) weft_log((comm), weftLogInfo, __VA_ARGS__)
#define WEFT_TRACE(comm, ...) weft_log((comm), weftLogTrace, __VA_ARGS__)

#endif
