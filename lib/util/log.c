#include "util/log.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "comm/comm.h"
#include "util/param.h"

static _Thread_local char thread_error[WEFT_ERRMSG_LEN];

static pthread_once_t level_once = PTHREAD_ONCE_INIT;
static int default_level = weftLogWarn;

static void read_level(void) {
  const char *v = weft_env("WEFT_DEBUG");
  if (!v) return;
  if (!strcasecmp(v, "NONE") || !strcasecmp(v, "OFF")) default_level = weftLogNone;
  else if (!strcasecmp(v, "WARN")) default_level = weftLogWarn;
  else if (!strcasecmp(v, "INFO")) default_level = weftLogInfo;
  else if (!strcasecmp(v, "TRACE")) default_level = weftLogTrace;
}

int weft_log_default_level(void) {
  pthread_once(&level_once, read_level);
  return default_level;
}

static const char *level_name(weftLogLevel_t l) {
  switch (l) {
    case weftLogWarn: return "WARN";
    case weftLogInfo: return "INFO";
    case weftLogTrace: return "TRACE";
    default: return "";
  }
}

static void vlog(struct weftComm *comm, weftLogLevel_t level, const char *fmt, va_list ap) {
  int max = comm ? comm->log_level : weft_log_default_level();
  if ((int)level > max || level == weftLogNone) return;
  char msg[WEFT_ERRMSG_LEN + 64];
  vsnprintf(msg, sizeof msg, fmt, ap);
  if (comm && comm->log_cb) {
    comm->log_cb(level, msg, comm->log_user);
    return;
  }
  char host[64] = "";
  gethostname(host, sizeof host - 1);
  if (comm)
    fprintf(stderr, "weft %s:%d rank %d/%d %s %s\n", host, (int)getpid(), comm->rank,
            comm->nranks, level_name(level), msg);
  else
    fprintf(stderr, "weft %s:%d %s %s\n", host, (int)getpid(), level_name(level), msg);
}

void weft_log(struct weftComm *comm, weftLogLevel_t level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlog(comm, level, fmt, ap);
  va_end(ap);
}

void weft_set_thread_error(const char *msg) {
  snprintf(thread_error, sizeof thread_error, "%s", msg);
}

const char *weft_thread_error(void) { return thread_error; }

weftResult_t weft_error(struct weftComm *comm, weftResult_t res, const char *fmt, ...) {
  char msg[WEFT_ERRMSG_LEN];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (comm) {
    pthread_mutex_lock(&comm->err_mu);
    memcpy(comm->last_error, msg, sizeof msg);
    pthread_mutex_unlock(&comm->err_mu);
  }
  weft_set_thread_error(msg);
  weft_log(comm, weftLogWarn, "%s: %s", weftGetErrorString(res), msg);
  return res;
}
