/* Logging and error recording into a sink: a level, a callback (or stderr,
 * never stdout), the rank shown on each line, and where the last error is
 * kept. The layers below the communicator log into a sink they are given
 * (or NULL: the process default); the communicator owns one (comm_log.h). */
#ifndef WEFT_LOG_H
#define WEFT_LOG_H

#include <pthread.h>
#include <stdarg.h>

#include "weft.h"

#define WEFT_ERRMSG_LEN 512

typedef struct weft_log_sink {
  int level;            /* weftLogLevel_t: lines above it are dropped */
  weftLogCallback_t cb; /* NULL: lines go to stderr */
  void *user;
  int rank, nranks;     /* shown on stderr lines (nranks 0: none) */
  pthread_mutex_t mu;   /* guards last_error */
  char last_error[WEFT_ERRMSG_LEN];
} weft_log_sink;

/* A sink at the process default level, writing to stderr. */
void weft_log_sink_init(weft_log_sink *s, int rank, int nranks);
void weft_log_sink_fini(weft_log_sink *s);
/* Copies s's last error into buf. */
void weft_log_sink_last_error(weft_log_sink *s, char *buf, size_t len);

/* Process-wide default level from WEFT_DEBUG (WARN|INFO|TRACE|NONE). */
int weft_log_default_level(void);
/* Whether a line at level would be written to sink (NULL: the default). */
int weft_log_enabled(const weft_log_sink *sink, weftLogLevel_t level);
void weft_log_to(const weft_log_sink *sink, weftLogLevel_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void weft_vlog_to(const weft_log_sink *sink, weftLogLevel_t level, const char *fmt, va_list ap);

/* Records the message as the sink's last error and the thread's (sink NULL:
 * the thread's only), logs it at WARN, and returns res (errors.c). */
weftResult_t weft_error_to(weft_log_sink *sink, weftResult_t res, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void weft_set_thread_error(const char *msg);
const char *weft_thread_error(void);

#endif
