/* The rendezvous root: a short-lived detached thread that gathers every
 * rank's bootstrap address and sends the full table back. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bootstrap/bootstrap.h"
#include "bootstrap/wire.h"
#include "util/clock.h"
#include "util/log.h"

typedef struct {
  int lfd;
  uint8_t secret[16];
  int timeout_ms;
  sem_t *started; /* posted once the thread has set itself up */
} root_args;

static void reply_status(int fd, const uint8_t secret[16], int32_t status, int32_t nranks) {
  boot_reply rep = {WEFT_ID_MAGIC, {0}, status, nranks};
  memcpy(rep.secret, secret, 16);
  char err[WEFT_SOCK_ERRLEN];
  weft_sock_send_all(fd, &rep, sizeof rep, 2000, err);
}

/* A connection that has not yet sent its whole hello. */
typedef struct {
  int fd;
  size_t got;
  long long since;
  boot_hello h;
} pending_conn;

#define MAX_PENDING 256
#define HELLO_MS 5000 /* a connection must say hello within this */

typedef struct {
  int n, joined;
  int *fds;
  weft_rank_info *table;
} root_state;

/* Files a complete hello: the rank joins, or gets a status and is closed. */
static void admit(root_state *st, const root_args *a, int fd, const boot_hello *h) {
  if (h->magic != WEFT_ID_MAGIC || memcmp(h->secret, a->secret, 16) != 0) {
    weft_log_to(NULL, weftLogWarn, "bootstrap root: dropped a connection without the job secret");
    close(fd);
    return;
  }
  if (st->n < 0) {
    if (h->nranks < 1 || h->nranks > (1 << 20)) {
      reply_status(fd, a->secret, BOOT_BAD_NRANKS, h->nranks);
      close(fd);
      return;
    }
    st->fds = malloc(sizeof(int) * (size_t)h->nranks);
    st->table = calloc((size_t)h->nranks, sizeof *st->table);
    if (!st->fds || !st->table) {
      free(st->fds);
      free(st->table);
      st->fds = NULL;
      st->table = NULL;
      close(fd);
      return;
    }
    st->n = h->nranks;
    for (int i = 0; i < st->n; i++) st->fds[i] = -1;
  }
  if (h->nranks != st->n || h->rank < 0 || h->rank >= st->n) {
    reply_status(fd, a->secret, BOOT_BAD_NRANKS, st->n);
    close(fd);
  } else if (st->fds[h->rank] >= 0) {
    reply_status(fd, a->secret, BOOT_DUP_RANK, st->n);
    close(fd);
  } else {
    st->fds[h->rank] = fd;
    st->table[h->rank] = h->info;
    st->joined++;
  }
}

/* Handshakes are read concurrently, so silent or slow strangers cannot hold
 * up the ranks of the job. */
static void *root_main(void *p) {
  root_args a = *(root_args *)p;
  free(p);
  char err[WEFT_SOCK_ERRLEN];
  long long deadline = weft_now_ms() + a.timeout_ms;
  root_state st = {-1, 0, NULL, NULL};
  pending_conn *pend = calloc(MAX_PENDING, sizeof *pend);
  struct pollfd *pf = calloc(MAX_PENDING + 1, sizeof *pf);
  int npend = 0;
  /* Tell the creator we are set up: a process that forks right after
   * weftGetUniqueId then does not fork while this thread allocates. */
  sem_post(a.started);
  if (!pend || !pf) goto out;
  while (st.n < 0 || st.joined < st.n) {
    long long now = weft_now_ms();
    if (now >= deadline) {
      weft_log_to(NULL, weftLogWarn, "bootstrap root: gave up after %d ms with %d of %d ranks joined", a.timeout_ms,
               st.joined, st.n);
      goto out;
    }
    pf[0] = (struct pollfd){a.lfd, npend < MAX_PENDING ? POLLIN : 0, 0};
    for (int i = 0; i < npend; i++) pf[i + 1] = (struct pollfd){pend[i].fd, POLLIN, 0};
    long long wait = deadline - now < 100 ? deadline - now : 100;
    if (poll(pf, (nfds_t)npend + 1, (int)wait) < 0 && errno != EINTR) goto out;
    for (int i = npend - 1; i >= 0; i--) {
      pending_conn *c = &pend[i];
      int done = 0, drop = 0;
      if (pf[i + 1].revents) {
        ssize_t k = recv(c->fd, (char *)&c->h + c->got, sizeof c->h - c->got, MSG_DONTWAIT);
        if (k > 0) c->got += (size_t)k;
        else if (k == 0 || (errno != EAGAIN && errno != EINTR)) drop = 1;
        done = c->got == sizeof c->h;
      }
      if (!done && !drop && now - c->since > HELLO_MS) {
        weft_log_to(NULL, weftLogWarn, "bootstrap root: dropped a connection that sent no hello");
        drop = 1;
      }
      if (done) admit(&st, &a, c->fd, &c->h);
      else if (drop) close(c->fd);
      if (done || drop) pend[i] = pend[--npend];
    }
    if (pf[0].revents & POLLIN) {
      int fd;
      while (npend < MAX_PENDING && weft_sock_accept(a.lfd, 0, NULL, &fd, err) == 0) {
        memset(&pend[npend], 0, sizeof pend[npend]);
        pend[npend].fd = fd;
        pend[npend].since = weft_now_ms();
        npend++;
      }
    }
  }
  for (int r = 0; r < st.n; r++) {
    boot_reply rep = {WEFT_ID_MAGIC, {0}, BOOT_OK, st.n};
    memcpy(rep.secret, a.secret, 16);
    if (weft_sock_send_all(st.fds[r], &rep, sizeof rep, 5000, err) != 0 ||
        weft_sock_send_all(st.fds[r], st.table, sizeof *st.table * (size_t)st.n, 5000, err) != 0)
      weft_log_to(NULL, weftLogWarn, "bootstrap root: sending table to rank %d: %s", r, err);
  }
out:
  for (int i = 0; i < npend; i++) close(pend[i].fd);
  if (st.fds)
    for (int r = 0; r < st.n; r++)
      if (st.fds[r] >= 0) close(st.fds[r]);
  free(st.fds);
  free(st.table);
  free(pend);
  free(pf);
  close(a.lfd);
  return NULL;
}

int weft_root_start(weft_sockaddr *addr, const uint8_t secret[16], int timeout_ms, char *err) {
  int lfd;
  if (weft_sock_listen(addr, &lfd, err) != 0) return -1;
  root_args *a = malloc(sizeof *a);
  if (!a) {
    close(lfd);
    snprintf(err, WEFT_SOCK_ERRLEN, "out of memory");
    return -1;
  }
  a->lfd = lfd;
  memcpy(a->secret, secret, 16);
  a->timeout_ms = timeout_ms;
  sem_t started;
  sem_init(&started, 0, 0);
  a->started = &started;
  pthread_t t;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int rc = pthread_create(&t, &attr, root_main, a);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    close(lfd);
    free(a);
    snprintf(err, WEFT_SOCK_ERRLEN, "cannot start bootstrap root thread: %s", strerror(rc));
    sem_destroy(&started);
    return -1;
  }
  while (sem_wait(&started) != 0 && errno == EINTR) {
  }
  sem_destroy(&started);
  return 0;
}
