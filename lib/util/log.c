#include "util/log.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util/param.h"

static pthread_once_t level_once = PTHREAD_ONCE_INIT;
static int default_level = weftLogWarn;
static const char *refused_level; /* a WEFT_DEBUG that names no level */

static void read_level(void) {
  const char *v = weft_env("WEFT_DEBUG");
  if (!v) return;
  if (!strcasecmp(v, "NONE") || !strcasecmp(v, "OFF")) default_level = weftLogNone;
  else if (!strcasecmp(v, "WARN")) default_level = weftLogWarn;
  else if (!strcasecmp(v, "INFO")) default_level = weftLogInfo;
  else if (!strcasecmp(v, "TRACE")) default_level = weftLogTrace;
  else refused_level = v;
}

int weft_log_default_level(void) {
  pthread_once(&level_once, read_level);
  if (refused_level) { /* said once the level is known (the line goes through it) */
    const char *v = refused_level;
    refused_level = NULL;
    weft_env_refused("WEFT_DEBUG", v, "expected NONE, WARN, INFO or TRACE", "WARN");
  }
  return default_level;
}

void weft_log_sink_init(weft_log_sink *s, int rank, int nranks) {
  memset(s, 0, sizeof *s);
  s->level = weft_log_default_level();
  s->rank = rank;
  s->nranks = nranks;
  pthread_mutex_init(&s->mu, NULL);
}

void weft_log_sink_fini(weft_log_sink *s) { pthread_mutex_destroy(&s->mu); }

void weft_log_sink_last_error(weft_log_sink *s, char *buf, size_t len) {
  pthread_mutex_lock(&s->mu);
  snprintf(buf, len, "%s", s->last_error);
  pthread_mutex_unlock(&s->mu);
}

static const char *level_name(weftLogLevel_t l) {
  switch (l) {
    case weftLogWarn: return "WARN";
    case weftLogInfo: return "INFO";
    case weftLogTrace: return "TRACE";
    default: return "";
  }
}

int weft_log_enabled(const weft_log_sink *sink, weftLogLevel_t level) {
  int max = sink ? sink->level : weft_log_default_level();
  return level != weftLogNone && (int)level <= max;
}

void weft_vlog_to(const weft_log_sink *sink, weftLogLevel_t level, const char *fmt, va_list ap) {
  if (!weft_log_enabled(sink, level)) return;
  char msg[WEFT_ERRMSG_LEN + 64];
  vsnprintf(msg, sizeof msg, fmt, ap);
  if (sink && sink->cb) {
    sink->cb(level, msg, sink->user);
    return;
  }
  char host[64] = "";
  gethostname(host, sizeof host - 1);
  if (sink && sink->nranks > 0)
    fprintf(stderr, "weft %s:%d rank %d/%d %s %s\n", host, (int)getpid(), sink->rank, sink->nranks,
            level_name(level), msg);
  else
    fprintf(stderr, "weft %s:%d %s %s\n", host, (int)getpid(), level_name(level), msg);
}

void weft_log_to(const weft_log_sink *sink, weftLogLevel_t level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  weft_vlog_to(sink, level, fmt, ap);
  va_end(ap);
}
