/* Failure attribution over the fault links (see fault.h for the protocol). */
#include "comm/fault.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bootstrap/bootstrap.h"
#include "comm/comm.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/sock.h"

#define FAULT_RING_MAGIC 0x57464c54u /* "WFLT": the hello of a fault link */
#define FRAME_MAGIC 0x77666c74u
#define SEND_MS 200 /* a neighbour's socket never fills with a few frames: a bound, not a wait */

enum { FR_BEAT = 1, FR_NOTICE, FR_BYE };

typedef struct {
  uint32_t magic, type;
  weft_fault_origin o; /* FR_NOTICE */
} frame;

typedef struct {
  int fd, peer;
  int quiet; /* it sent a notice or a goodbye: its close is no failure */
  long long heard;
  size_t fill;
  frame rx;
} fault_link;

struct weft_fault {
  pthread_mutex_t mu; /* origin */
  pthread_cond_t cv;
  int known;
  weft_fault_origin origin;
  pthread_mutex_t send_mu; /* writes on the links, and closing them */
  fault_link link[2];      /* to the previous and the next rank */
  int wake;                /* eventfd: stop */
  pthread_t thread;
  int running;
  atomic_int stop;
  int period_ms, silence_ms;
};

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

int weft_fault_new(struct weftComm *c) {
  struct weft_fault *f = calloc(1, sizeof *f);
  if (!f) return -1;
  pthread_mutex_init(&f->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&f->cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&f->send_mu, NULL);
  f->link[0].fd = f->link[1].fd = f->wake = -1;
  c->fault = f;
  return 0;
}

int weft_fault_grace_ms(const struct weftComm *c) {
  return c->fault ? 2 * c->fault->period_ms + 500 : 0;
}

void weft_fault_origin_of(struct weftComm *c, int r, weft_fault_cause cause, weftResult_t res, const char *fmt, ...) {
  weft_fault_origin x, *o = &x;
  memset(o, 0, sizeof *o);
  o->rank = r;
  o->cause = cause;
  o->result = res;
  o->seen_by = c->rank;
  if (c->bootstrap && r >= 0 && r < c->nranks) {
    o->pid = c->bootstrap->peers[r].pid;
    snprintf(o->host, sizeof o->host, "%s", c->bootstrap->peers[r].host);
  }
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(o->msg, sizeof o->msg, fmt, ap);
  va_end(ap);
  weft_fault_raise(c, o);
}

void weft_fault_describe(const weft_fault_origin *o, char *buf, size_t len) {
  static const char *const verb[] = {"failed", "was killed", "timed out", "timed out", "aborted", "reported",
                                     "closed its connections without a notice"};
  int k = o->cause >= WEFT_FAULT_KILLED && o->cause <= WEFT_FAULT_CLOSED ? o->cause : 0;
  snprintf(buf, len, "rank %d (%s pid %d) %s: %s", o->rank, o->host, o->pid, verb[k], o->msg);
}

weftResult_t weft_fault_result(const struct weftComm *c, const weft_fault_origin *o) {
  if (o->rank == c->rank && o->result != weftSuccess) return (weftResult_t)o->result;
  return o->cause == WEFT_FAULT_STALLED || o->cause == WEFT_FAULT_TIMEOUT ? weftTimeout : weftRemoteError;
}

static void send_frame(struct weft_fault *f, uint32_t type, const weft_fault_origin *o) {
  frame fr;
  memset(&fr, 0, sizeof fr);
  fr.magic = FRAME_MAGIC;
  fr.type = type;
  if (o) fr.o = *o;
  char err[WEFT_SOCK_ERRLEN];
  pthread_mutex_lock(&f->send_mu);
  for (int i = 0; i < 2; i++)
    if (f->link[i].fd >= 0) weft_sock_send_all(f->link[i].fd, &fr, sizeof fr, SEND_MS, err);
  pthread_mutex_unlock(&f->send_mu);
}

int weft_fault_raise(struct weftComm *c, const weft_fault_origin *o) {
  struct weft_fault *f = c->fault;
  if (!f) return 0;
  pthread_mutex_lock(&f->mu);
  int first = !f->known;
  if (first) {
    f->origin = *o;
    f->known = 1;
    pthread_cond_broadcast(&f->cv);
  }
  pthread_mutex_unlock(&f->mu);
  if (!first) return 0;
  weftResult_t res = weft_fault_result(c, o), expect = weftSuccess;
  char text[WEFT_ERRMSG_LEN];
  weft_fault_describe(o, text, sizeof text);
  /* the message first: a call that leaves on the error below finds it */
  weft_error_to(&c->log, res, "%s", text); /* weftGetLastError on an idle comm says it too */
  atomic_compare_exchange_strong(&c->async_error, &expect, res); /* revokes: running calls leave */
  if (c->on_fail) c->on_fail(c);          /* ranks waiting in the node segment see it */
  send_frame(f, FR_NOTICE, o);
  return 1;
}

int weft_fault_await(struct weftComm *c, int ms, weft_fault_origin *o) {
  struct weft_fault *f = c->fault;
  if (!f) return 0;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  ts.tv_sec += ms / 1000;
  ts.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
  pthread_mutex_lock(&f->mu);
  while (!f->known && ms > 0 && pthread_cond_timedwait(&f->cv, &f->mu, &ts) != ETIMEDOUT) {
  }
  int known = f->known;
  if (known) *o = f->origin;
  pthread_mutex_unlock(&f->mu);
  return known;
}

static int known(struct weft_fault *f) {
  pthread_mutex_lock(&f->mu);
  int k = f->known;
  pthread_mutex_unlock(&f->mu);
  return k;
}

static void close_link(struct weft_fault *f, fault_link *l) {
  pthread_mutex_lock(&f->send_mu);
  if (l->fd >= 0) close(l->fd);
  l->fd = -1;
  pthread_mutex_unlock(&f->send_mu);
}

/* A frame from a neighbour: fields from the network are cut to size. */
static void on_frame(struct weftComm *c, fault_link *l) {
  frame *fr = &l->rx;
  if (fr->magic != FRAME_MAGIC) return;
  if (fr->type == FR_BYE) l->quiet = 1;
  if (fr->type != FR_NOTICE) return;
  l->quiet = 1;
  weft_fault_origin o = fr->o;
  o.host[sizeof o.host - 1] = 0;
  o.msg[sizeof o.msg - 1] = 0;
  if (o.rank < 0 || o.rank >= c->nranks) return;
  /* a cause or result code this weft does not know is no reason to trust it */
  if (o.cause < WEFT_FAULT_KILLED || o.cause > WEFT_FAULT_CLOSED) o.cause = WEFT_FAULT_REPORTED;
  if (o.result < weftSuccess || o.result >= weftNumResults) o.result = weftRemoteError;
  weft_fault_raise(c, &o); /* forwards it if it is news here */
}

/* Reads what the link has; its close without a word names its peer. */
static void read_link(struct weftComm *c, fault_link *l, long long now) {
  for (;;) {
    ssize_t k = recv(l->fd, (char *)&l->rx + l->fill, sizeof l->rx - l->fill, MSG_DONTWAIT);
    if (k > 0) {
      l->heard = now;
      l->fill += (size_t)k;
      if (l->fill == sizeof l->rx) on_frame(c, l), l->fill = 0;
      continue;
    }
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    int quiet = l->quiet;
    close_link(c->fault, l);
    if (!quiet)
      weft_fault_origin_of(c, l->peer, WEFT_FAULT_KILLED, weftRemoteError,
                           "its link to rank %d closed without a goodbye (process gone)", c->rank);
    return;
  }
}

static void *watch_main(void *arg) {
  struct weftComm *c = arg;
  struct weft_fault *f = c->fault;
  long long last_beat = 0;
  while (!atomic_load(&f->stop)) {
    struct pollfd pf[3];
    int np = 0, at[2] = {-1, -1};
    for (int i = 0; i < 2; i++)
      if (f->link[i].fd >= 0) at[i] = np, pf[np++] = (struct pollfd){f->link[i].fd, POLLIN, 0};
    pf[np++] = (struct pollfd){f->wake, POLLIN, 0};
    poll(pf, (nfds_t)np, f->period_ms);
    if (atomic_load(&f->stop)) break;
    long long now = weft_now_ms();
    for (int i = 0; i < 2; i++)
      if (at[i] >= 0 && pf[at[i]].revents) read_link(c, &f->link[i], now);
    if (known(f)) continue; /* nothing more to find: no beats (a stopped peer's buffer would fill) */
    if (now - last_beat >= f->period_ms) {
      send_frame(f, FR_BEAT, NULL);
      last_beat = now;
    }
    for (int i = 0; i < 2; i++) {
      fault_link *l = &f->link[i];
      if (l->fd < 0 || l->quiet || now - l->heard <= f->silence_ms) continue;
      l->quiet = 1;
      weft_fault_origin_of(c, l->peer, WEFT_FAULT_STALLED, weftTimeout,
                           "no sign of life for %lld ms on its link to rank %d (stopped or hung)", now - l->heard,
                           c->rank);
    }
  }
  return NULL;
}

weftResult_t weft_fault_start(struct weftComm *c) {
  struct weft_fault *f = c->fault;
  if (c->nranks < 2 || !f) return weftSuccess;
  char err[WEFT_SOCK_ERRLEN];
  int next, prev;
  weftResult_t res = weft_bootstrap_side_ring(c->bootstrap, FAULT_RING_MAGIC, &next, &prev, err);
  if (res != weftSuccess) return weft_error_to(NULL, res, "setting up the fault links: %s", err);
  long long now = weft_now_ms();
  f->link[0] = (fault_link){.fd = prev, .peer = (c->rank + c->nranks - 1) % c->nranks, .heard = now};
  f->link[1] = (fault_link){.fd = next, .peer = (c->rank + 1) % c->nranks, .heard = now};
  f->period_ms = clampi(c->timeout_ms / 8, 20, 500);
  f->silence_ms = c->timeout_ms;
  f->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (f->wake < 0) return weft_error_to(NULL, weftSystemError, "fault links: eventfd: %s", strerror(errno));
  if (pthread_create(&f->thread, NULL, watch_main, c) != 0)
    return weft_error_to(NULL, weftSystemError, "cannot start the fault-watching thread");
  f->running = 1;
  return weftSuccess;
}

void weft_fault_free(struct weftComm *c) {
  struct weft_fault *f = c->fault;
  if (!f) return;
  if (f->running) {
    if (!known(f)) send_frame(f, FR_BYE, NULL);
    atomic_store(&f->stop, 1);
    uint64_t one = 1;
    if (write(f->wake, &one, sizeof one) < 0) { /* the thread still wakes within one period */
    }
    pthread_join(f->thread, NULL);
  }
  for (int i = 0; i < 2; i++) close_link(f, &f->link[i]);
  if (f->wake >= 0) close(f->wake);
  pthread_mutex_destroy(&f->mu);
  pthread_cond_destroy(&f->cv);
  pthread_mutex_destroy(&f->send_mu);
  free(f);
  c->fault = NULL;
}
