/* Logging and error messages. Lines go to the comm's callback or to stderr,
 * never to stdout. */
#ifndef WEFT_LOG_H
#define WEFT_LOG_H

#include <stdarg.h>

#include "weft.h"

struct weftComm;

/* Process-wide default level from WEFT_DEBUG (WARN|INFO|TRACE|NONE). */
int weft_log_default_level(void);
void weft_log(struct weftComm *comm, weftLogLevel_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Records the message as comm's last error (or the thread's, comm == NULL),
 * logs it at WARN, and returns res. */
weftResult_t weft_error(struct weftComm *comm, weftResult_t res, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void weft_set_thread_error(const char *msg);
const char *weft_thread_error(void);

#define WEFT_WARN(comm, ...) weft_log((comm), weftLogWarn, __VA_ARGS__)
#define WEFT_INFO(comm, ...) weft_log((comm), weftLogInfo, __VA_ARGS__)
#define WEFT_TRACE(comm, ...) weft_log((comm), weftLogTrace, __VA_ARGS__)

#endif
