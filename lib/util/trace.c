#include "util/trace.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_STREAMS_LANES 64 /* streams per peer and direction with a lane of their own */

struct weft_trace {
  FILE *f;
  pthread_mutex_t mu;
  int rank, nranks, first;
  unsigned char *named; /* per link lane: its name was written */
  size_t nlanes;
};

double weft_trace_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* Writes one event; the caller holds mu. */
static void put(weft_trace *t, const char *fmt_event) {
  fputs(t->first ? "\n" : ",\n", t->f);
  fputs(fmt_event, t->f);
  t->first = 0;
}

static void lane_name(weft_trace *t, int lane, const char *name) {
  char ev[256];
  snprintf(ev, sizeof ev, "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"args\":{\"name\":\"%s\"}}",
           t->rank, lane, name);
  put(t, ev);
}

weft_trace *weft_trace_open(const char *path, int rank, int nranks, const char *site, char *err, size_t errlen) {
  char file[4096];
  const char *pct = strstr(path, "%r");
  int n = pct ? snprintf(file, sizeof file, "%.*s%d%s", (int)(pct - path), path, rank, pct + 2)
              : snprintf(file, sizeof file, "%s.rank%d.json", path, rank);
  if (n < 0 || (size_t)n >= sizeof file) {
    snprintf(err, errlen, "WEFT_TRACE: the path is too long");
    return NULL;
  }
  weft_trace *t = calloc(1, sizeof *t);
  if (!t) {
    snprintf(err, errlen, "WEFT_TRACE: out of memory");
    return NULL;
  }
  /* a new file of this user's: never through a link another user planted */
  int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0 || !(t->f = fdopen(fd, "w"))) {
    snprintf(err, errlen, "WEFT_TRACE: cannot write %s: %s", file, strerror(errno));
    if (fd >= 0) close(fd);
    free(t);
    return NULL;
  }
  pthread_mutex_init(&t->mu, NULL);
  t->rank = rank;
  t->nranks = nranks;
  t->first = 1;
  t->nlanes = (size_t)nranks * 2 * MAX_STREAMS_LANES;
  t->named = calloc(t->nlanes, 1);
  fputs("[", t->f);
  char ev[256];
  snprintf(ev, sizeof ev, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"args\":{\"name\":\"rank %d%s%s\"}}",
           rank, rank, site && site[0] ? " @ " : "", site && site[0] ? site : "");
  put(t, ev);
  snprintf(ev, sizeof ev, "{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":%d,\"args\":{\"sort_index\":%d}}",
           rank, rank);
  put(t, ev);
  lane_name(t, WEFT_LANE_CALLS, "calls");
  lane_name(t, WEFT_LANE_COMPUTE, "compute (reduce, copy, codec)");
  return t;
}

void weft_trace_close(weft_trace *t) {
  if (!t) return;
  fputs("\n]\n", t->f);
  fclose(t->f);
  pthread_mutex_destroy(&t->mu);
  free(t->named);
  free(t);
}

int weft_trace_link_lane(weft_trace *t, int peer, int send, int k, int wan) {
  if (k >= MAX_STREAMS_LANES) k = MAX_STREAMS_LANES - 1;
  size_t idx = ((size_t)peer * 2 + (send ? 0 : 1)) * MAX_STREAMS_LANES + (size_t)k;
  int lane = 2 + (int)idx;
  if (idx < t->nlanes && !t->named[idx]) {
    char name[96];
    snprintf(name, sizeof name, "%s rank %d%s stream %d", send ? "send to" : "recv from", peer, wan ? " [wan]" : "",
             k);
    pthread_mutex_lock(&t->mu);
    if (!t->named[idx]) lane_name(t, lane, name);
    t->named[idx] = 1;
    pthread_mutex_unlock(&t->mu);
  }
  return lane;
}

void weft_trace_span(weft_trace *t, int lane, const char *name, const char *cat, double start_us, double dur_us,
                     const char *args) {
  char ev[768];
  snprintf(ev, sizeof ev,
           "{\"name\":\"%s\",\"cat\":\"%s\",\"ph\":\"X\",\"pid\":%d,\"tid\":%d,\"ts\":%.3f,\"dur\":%.3f,\"args\":{%s}}",
           name, cat, t->rank, lane, start_us, dur_us < 0 ? 0 : dur_us, args ? args : "");
  pthread_mutex_lock(&t->mu);
  put(t, ev);
  pthread_mutex_unlock(&t->mu);
}
