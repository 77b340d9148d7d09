/* The rendezvous root: a short-lived detached thread that gathers every
 * rank's bootstrap address and sends each rank the entries of its link ends
 * (wire.h); the ranks gather the rest over their links. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bootstrap/bootstrap.h"
#include "bootstrap/keys.h"
#include "bootstrap/wire.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/random.h"

typedef struct {
  int lfd;
  uint8_t key[WEFT_KEY_BYTES]; /* the bootstrap key */
  int timeout_ms;
  sem_t *started; /* posted once the thread has set itself up */
} root_args;

/* Tells the rank that answered challenge chal with nonce rank_nonce why
 * the job cannot go on. */
static void reply_status(int fd, const uint8_t key[WEFT_KEY_BYTES], const uint8_t *chal, const uint8_t *rank_nonce,
                         int32_t status, int32_t nranks, const char *reason) {
  boot_reply rep;
  memset(&rep, 0, sizeof rep);
  rep.magic = WEFT_ID_MAGIC;
  rep.status = status;
  rep.nranks = nranks;
  snprintf(rep.reason, sizeof rep.reason, "%s", reason ? reason : "");
  char err[WEFT_SOCK_ERRLEN];
  if (weft_boot_reply_mac(key, chal, rank_nonce, &rep, NULL, 0, rep.mac) == 0)
    weft_sock_send_all(fd, &rep, sizeof rep, 2000, err);
}

/* A connection that has not yet sent its whole hello. */
typedef struct {
  int fd;
  size_t got;
  long long since;
  boot_hello h;
  uint8_t chal[WEFT_NONCE_BYTES]; /* the challenge it was sent */
  char peer[80]; /* its address, for the log */
} pending_conn;

#define MAX_PENDING 256
#define HELLO_MS 5000 /* a connection must say hello within this */
#define FIRST_REPORT_MS 5000 /* the root says who is missing after this (or half its timeout), */
#define REPORT_EVERY_MS 30000 /* then this often */

typedef struct {
  int n, joined;
  int *fds;
  uint8_t (*chal)[WEFT_NONCE_BYTES]; /* the challenge each rank answered */
  weft_rank_info *table;
  char failed[BOOT_REASON_LEN]; /* set: the job failed, every waiting rank was told why */
  int strangers;                /* connections that did not prove this job's key */
  char stranger_from[80];       /* the address of the last one */
} root_state;

/* Closes the joined ranks' sockets and frees what the state holds. */
static void root_state_free(root_state *st) {
  if (st->fds)
    for (int r = 0; r < st->n; r++)
      if (st->fds[r] >= 0) close(st->fds[r]);
  free(st->fds);
  free(st->chal);
  free(st->table);
}

static void hello_from(const boot_hello *h, char *buf, size_t len) {
  char host[sizeof h->info.host + 1];
  memcpy(host, h->info.host, sizeof h->info.host);
  host[sizeof h->info.host] = 0; /* the peer's text, terminated here */
  for (char *c = host; *c; c++)
    if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e) *c = '?';
  snprintf(buf, len, "host %s pid %d", host, (int)h->info.pid);
}

/* The ranks that have not joined, as "2, 5-7" (at most len bytes). */
static void missing_ranks(const root_state *st, char *buf, size_t len) {
  size_t at = 0;
  buf[0] = 0;
  for (int r = 0; r < st->n && at < len; r++) {
    if (st->fds[r] >= 0) continue;
    int e = r;
    while (e + 1 < st->n && st->fds[e + 1] < 0) e++;
    int k = e > r ? snprintf(buf + at, len - at, "%s%d-%d", at ? ", " : "", r, e)
                  : snprintf(buf + at, len - at, "%s%d", at ? ", " : "", r);
    if (k < 0 || (size_t)k >= len - at) {
      snprintf(buf + (len > 5 ? len - 5 : 0), len > 5 ? 5 : len, " ...");
      return;
    }
    at += (size_t)k;
    r = e;
  }
}

/* Fails the job: every rank waiting on the root gets status and reason. */
static void fail_all(root_state *st, const root_args *a, int32_t status, const char *reason) {
  snprintf(st->failed, sizeof st->failed, "%s", reason);
  weft_log_to(NULL, weftLogWarn, "bootstrap root: the job failed: %s", reason);
  for (int r = 0; r < st->n && st->fds; r++) {
    if (st->fds[r] < 0) continue;
    reply_status(st->fds[r], a->key, st->chal[r], st->table[r].nonce, status, st->n, reason);
    close(st->fds[r]);
    st->fds[r] = -1;
  }
}

/* A rank refused: it is told why, and so is every other rank (the job
 * cannot succeed without it). */
static void refuse(root_state *st, const root_args *a, const pending_conn *c, int32_t status, const char *reason) {
  reply_status(c->fd, a->key, c->chal, c->h.info.nonce, status, st->n, reason);
  int fd = c->fd;
  close(fd);
  fail_all(st, a, BOOT_JOB_FAILED, reason);
}

/* Files a complete hello from peer: the rank joins, or is refused. */
static void admit(root_state *st, const root_args *a, const pending_conn *c) {
  int fd = c->fd;
  const boot_hello *h = &c->h;
  const char *peer = c->peer;
  uint8_t mac[WEFT_MAC_BYTES];
  if (h->magic != WEFT_ID_MAGIC || weft_boot_hello_mac(a->key, c->chal, h, mac) != 0 ||
      !weft_bytes_equal(mac, h->mac, sizeof mac)) {
    /* a stranger, or a rank of another job: it cannot fail this job */
    weft_log_to(NULL, weftLogWarn, "bootstrap root: dropped a connection from %s that did not prove this job's key",
                peer);
    st->strangers++;
    snprintf(st->stranger_from, sizeof st->stranger_from, "%s", peer);
    close(fd);
    return;
  }
  if (st->failed[0]) { /* late ranks learn at once why the job failed */
    reply_status(fd, a->key, c->chal, h->info.nonce, BOOT_JOB_FAILED, st->n, st->failed);
    close(fd);
    return;
  }
  char who[120], reason[BOOT_REASON_LEN];
  hello_from(h, who, sizeof who);
  if (st->n < 0) {
    if (h->nranks < 1 || h->nranks > (1 << 20)) {
      snprintf(reason, sizeof reason, "rank %d (%s) gave an impossible number of ranks, %d", (int)h->rank, who,
               (int)h->nranks);
      refuse(st, a, c, BOOT_BAD_NRANKS, reason);
      return;
    }
    st->fds = malloc(sizeof(int) * (size_t)h->nranks);
    st->chal = malloc(sizeof *st->chal * (size_t)h->nranks);
    st->table = calloc((size_t)h->nranks, sizeof *st->table);
    if (!st->fds || !st->table || !st->chal) {
      free(st->fds);
      free(st->table);
      free(st->chal);
      st->fds = NULL;
      st->table = NULL;
      st->chal = NULL;
      close(fd);
      return;
    }
    st->n = h->nranks;
    for (int i = 0; i < st->n; i++) st->fds[i] = -1;
  }
  if (h->nranks != st->n) {
    snprintf(reason, sizeof reason, "rank %d (%s) says the job has %d ranks, the ranks before it said %d",
             (int)h->rank, who, (int)h->nranks, st->n);
    refuse(st, a, c, BOOT_BAD_NRANKS, reason);
  } else if (h->rank < 0 || h->rank >= st->n) {
    snprintf(reason, sizeof reason, "a rank (%s) says it is rank %d of %d", who, (int)h->rank, st->n);
    refuse(st, a, c, BOOT_BAD_NRANKS, reason);
  } else if (st->fds[h->rank] >= 0) {
    boot_hello first = {0};
    first.info = st->table[h->rank];
    char was[120];
    hello_from(&first, was, sizeof was);
    snprintf(reason, sizeof reason, "rank %d joined twice: %s, then %s", (int)h->rank, was, who);
    refuse(st, a, c, BOOT_DUP_RANK, reason);
  } else {
    st->fds[h->rank] = fd;
    memcpy(st->chal[h->rank], c->chal, WEFT_NONCE_BYTES);
    st->table[h->rank] = h->info;
    st->table[h->rank].rank = h->rank; /* the entry names the rank it was filed as */
    st->table[h->rank].host[sizeof h->info.host - 1] = 0;
    st->joined++;
  }
}

static void peer_name(int fd, char *buf, size_t len) {
  weft_sockaddr sa;
  socklen_t sl = sizeof sa;
  memset(&sa, 0, sizeof sa);
  if (getpeername(fd, &sa.sa, &sl) == 0) weft_sockaddr_str(&sa, buf, len);
  else snprintf(buf, len, "an unknown address");
}

/* At WARN, a few seconds in and then periodically: who has joined, who not. */
static void report_progress(const root_state *st, long long waited_ms) {
  char miss[200];
  if (st->n < 0) {
    weft_log_to(NULL, weftLogWarn, "bootstrap root: no rank has joined after %.0f s", waited_ms / 1000.0);
    return;
  }
  missing_ranks(st, miss, sizeof miss);
  weft_log_to(NULL, weftLogWarn, "bootstrap root: %d of %d ranks joined after %.0f s; waiting for rank%s %s",
              st->joined, st->n, waited_ms / 1000.0, st->n - st->joined > 1 ? "s" : "", miss);
}

/* The deadline passed: every waiting rank learns which ranks never came. */
static void timed_out(root_state *st, const root_args *a) {
  char miss[200], reason[BOOT_REASON_LEN], strangers[160] = "";
  if (st->strangers)
    snprintf(strangers, sizeof strangers, "; %d connection%s with another job's secret came (the last from %s)",
             st->strangers, st->strangers > 1 ? "s" : "", st->stranger_from);
  if (st->n < 0) {
    snprintf(reason, sizeof reason, "no rank joined the root in %d ms%s", a->timeout_ms, strangers);
    weft_log_to(NULL, weftLogWarn, "bootstrap root: %s", reason);
    return;
  }
  missing_ranks(st, miss, sizeof miss);
  snprintf(reason, sizeof reason, "only %d of %d ranks joined in %d ms (WEFT_TIMEOUT); never came: rank%s %s%s",
           st->joined, st->n, a->timeout_ms, st->n - st->joined > 1 ? "s" : "", miss, strangers);
  fail_all(st, a, BOOT_TIMEOUT, reason);
}

/* Every rank has joined: each gets BOOT_OK and the entries of its link ends
 * (weft_boot_entry_rank), which is all it needs to build its links. */
static void answer_all(const root_state *st, const root_args *a) {
  int count = weft_boot_link_entries(st->n);
  weft_rank_info entries[2 * WEFT_BOOT_LINKS];
  char err[WEFT_SOCK_ERRLEN];
  for (int r = 0; r < st->n; r++) {
    boot_reply rep;
    memset(&rep, 0, sizeof rep);
    rep.magic = WEFT_ID_MAGIC;
    rep.status = BOOT_OK;
    rep.nranks = st->n;
    for (int i = 0; i < count; i++) /* the bytes as filed, padding too: nothing of this stack goes out */
      memcpy(&entries[i], &st->table[weft_boot_entry_rank(r, st->n, i)], sizeof entries[i]);
    if (weft_boot_reply_mac(a->key, st->chal[r], st->table[r].nonce, &rep, entries, count, rep.mac) != 0) {
      weft_log_to(NULL, weftLogWarn, "bootstrap root: cannot compute the answer to rank %d", r);
      continue;
    }
    if (weft_sock_send_all(st->fds[r], &rep, sizeof rep, 5000, err) != 0 ||
        weft_sock_send_all(st->fds[r], entries, sizeof *entries * (size_t)count, 5000, err) != 0)
      weft_log_to(NULL, weftLogWarn, "bootstrap root: sending the answer to rank %d: %s", r, err);
  }
}

/* Roots still running, and the order to stop them. A root is a detached
 * thread that may outlive every call (a failed job keeps it until its
 * deadline); at exit it must not go on using libcrypto, whose own exit
 * handler frees its tables: stop_roots_at_exit, registered after libcrypto's
 * (the root's keys are derived first), runs before it and waits for them. */
static atomic_int roots_live, roots_stop;
static pthread_once_t roots_at_exit_once = PTHREAD_ONCE_INIT;

static void stop_roots_at_exit(void) {
  atomic_store(&roots_stop, 1);
  for (int i = 0; i < 100 && atomic_load(&roots_live) > 0; i++) usleep(5000); /* a root looks every 100 ms */
}

/* A forked child has none of its parent's threads. */
static void no_roots_in_child(void) { atomic_store(&roots_live, 0); }

/* (if either cannot be registered, a root may outlive libcrypto at exit, as
 * before: nothing else to do) */
static void register_roots_at_exit(void) {
  atexit(stop_roots_at_exit);
  pthread_atfork(NULL, NULL, no_roots_in_child);
}

/* Handshakes are read concurrently, so silent or slow strangers cannot hold
 * up the ranks of the job. */
static void *root_main(void *p) {
  root_args a = *(root_args *)p;
  free(p);
  char err[WEFT_SOCK_ERRLEN];
  long long start = weft_now_ms(), deadline = start + a.timeout_ms;
  long long next_report = start + (a.timeout_ms / 2 < FIRST_REPORT_MS ? a.timeout_ms / 2 : FIRST_REPORT_MS);
  root_state st;
  memset(&st, 0, sizeof st);
  st.n = -1;
  pending_conn *pend = calloc(MAX_PENDING, sizeof *pend);
  struct pollfd *pf = calloc(MAX_PENDING + 1, sizeof *pf);
  int npend = 0;
  /* Tell the creator we are set up: a process that forks right after
   * weftGetUniqueId then does not fork while this thread allocates. */
  sem_post(a.started);
  if (!pend || !pf) goto out;
  /* a failed job keeps its root until the deadline, to tell late ranks why */
  while (st.failed[0] || st.n < 0 || st.joined < st.n) {
    if (atomic_load(&roots_stop)) goto out;
    long long now = weft_now_ms();
    if (now >= deadline) {
      if (!st.failed[0]) timed_out(&st, &a);
      goto out;
    }
    if (now >= next_report && !st.failed[0]) {
      report_progress(&st, now - start);
      next_report = now + REPORT_EVERY_MS;
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
      if (done) admit(&st, &a, c);
      else if (drop) close(c->fd);
      if (done || drop) pend[i] = pend[--npend];
    }
    if (pf[0].revents & POLLIN) {
      int fd;
      while (npend < MAX_PENDING && weft_sock_accept(a.lfd, 0, NULL, &fd, err) == 0) {
        pending_conn *c = &pend[npend];
        memset(c, 0, sizeof *c);
        c->fd = fd;
        c->since = weft_now_ms();
        peer_name(fd, c->peer, sizeof c->peer);
        /* the challenge fits an empty socket buffer: this never waits */
        boot_challenge ch = {WEFT_ID_MAGIC, {0}};
        if (weft_random_bytes(c->chal, sizeof c->chal) != 0) {
          close(fd);
          continue;
        }
        memcpy(ch.nonce, c->chal, sizeof ch.nonce);
        if (send(fd, &ch, sizeof ch, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)sizeof ch) {
          close(fd);
          continue;
        }
        npend++;
      }
    }
  }
  if (!st.failed[0]) answer_all(&st, &a);
out:
  for (int i = 0; i < npend; i++) close(pend[i].fd);
  root_state_free(&st);
  weft_wipe(a.key, sizeof a.key);
  free(pend);
  free(pf);
  close(a.lfd);
  atomic_fetch_sub(&roots_live, 1);
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
  uint8_t comm_key[WEFT_KEY_BYTES];
  int kr = weft_key_from_secret(secret, comm_key) != 0 || weft_key_derive(comm_key, WEFT_KEY_LABEL_BOOTSTRAP, NULL, 0, a->key) != 0;
  weft_wipe(comm_key, sizeof comm_key);
  if (kr) {
    close(lfd);
    free(a);
    snprintf(err, WEFT_SOCK_ERRLEN, "cannot derive the bootstrap key (libcrypto)");
    return -1;
  }
  a->timeout_ms = timeout_ms;
  pthread_once(&roots_at_exit_once, register_roots_at_exit);
  atomic_fetch_add(&roots_live, 1);
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
    atomic_fetch_sub(&roots_live, 1);
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
