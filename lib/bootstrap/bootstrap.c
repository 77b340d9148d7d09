/* Rank side of the bootstrap: join through the root, then links of
 * authenticated sockets to the ranks 2^k away (the ring, and log2 n more)
 * for allgather and barrier. */
#include "bootstrap/bootstrap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bootstrap/keys.h"
#include "bootstrap/wire.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/random.h"

#include <stdarg.h>

/* Formats the message into err and returns weftRemoteError. */
__attribute__((format(printf, 2, 3))) static weftResult_t berr_fmt(char *err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, WEFT_SOCK_ERRLEN, fmt, ap);
  va_end(ap);
  return weftRemoteError;
}
#define BERR(...) berr_fmt(err, __VA_ARGS__)

static uint64_t mix_text(uint64_t h, const char *s, size_t n) {
  for (size_t i = 0; i < n && s[i]; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
  return h;
}

uint64_t weft_host_id(void) {
  char buf[256] = "";
  uint64_t h = 0xcbf29ce484222325ULL;
  const char *forced = getenv("WEFT_HOST_ID"); /* group ranks by hand (tests, odd containers) */
  if (forced && *forced) return mix_text(h, forced, strlen(forced));
  gethostname(buf, sizeof buf - 1);
  h = mix_text(h, buf, sizeof buf);
  FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
  if (f) {
    if (fgets(buf, sizeof buf, f)) h = mix_text(h, buf, sizeof buf);
    fclose(f);
  }
  /* shm needs the IPC namespace, cross-memory attach the PID namespace, and
   * the transport's abstract Unix socket the network namespace */
  static const char *ns[] = {"/proc/self/ns/ipc", "/proc/self/ns/pid", "/proc/self/ns/net"};
  for (int i = 0; i < 3; i++) {
    ssize_t n = readlink(ns[i], buf, sizeof buf - 1);
    if (n > 0) h = mix_text(h, buf, (size_t)n);
  }
  return h;
}

int weft_bootstrap_prepare_listener(const weft_sockaddr *toward, weft_rank_info *info, int *lfd,
                               char *err) {
  memset(info, 0, sizeof *info);
  if (weft_sock_local_addr(toward, &info->addr, err) != 0) return -1;
  if (weft_sock_listen(&info->addr, lfd, err) != 0) return -1;
  gethostname(info->host, sizeof info->host - 1);
  info->pid = (int32_t)getpid();
  info->host_id = weft_host_id();
  if (weft_random_bytes(info->nonce, sizeof info->nonce) != 0) {
    close(*lfd);
    snprintf(err, WEFT_SOCK_ERRLEN, "bootstrap: no random bytes from the kernel");
    return -1;
  }
  return 0;
}

/* The rank a ring hello's MAC is computed over: the rank itself on the
 * bootstrap ring, mixed with the magic on a side ring, so that a hello
 * recorded on one ring proves nothing on another. */
static int32_t ring_mac_rank(uint32_t magic, int rank) {
  return magic == WEFT_ID_MAGIC ? rank : (int32_t)((uint32_t)rank ^ magic);
}

/* The hello magic of link k: the ring's for link 0, else "WBL" and k. */
#define LINK_MAGIC_BASE 0x57424c00u
static uint32_t link_magic(int k) { return k == 0 ? WEFT_ID_MAGIC : LINK_MAGIC_BASE | (uint32_t)k; }

/* The ends of link k: the rank it goes up to (rank + 2^k) and the one it
 * comes from (rank - 2^k), mod nranks. */
static int link_up(const bootstrap_t *b, int k) { return weft_boot_entry_rank(b->rank, b->nranks, 2 * k); }
static int link_down(const bootstrap_t *b, int k) { return weft_boot_entry_rank(b->rank, b->nranks, 2 * k + 1); }

/* Accepts the links whose hellos say magic[j] from rank from[j] (j < count)
 * into fds[j], dropping strangers, until the deadline. Connections wait
 * side by side for their hellos, read once all of a hello is there: a silent
 * or slow stranger holds up nothing. */
#define RING_PENDING_MAX 64
#define RING_HELLO_MS 5000
static int accept_links(bootstrap_t *b, const uint32_t *magic, const int *from, int count, long long deadline,
                        int *fds, char *err) {
  int pend[RING_PENDING_MAX], np = 0, missing = count;
  long long since[RING_PENDING_MAX];
  for (int j = 0; j < count; j++) fds[j] = -1;
  while (missing > 0) {
    int fd;
    char e2[WEFT_SOCK_ERRLEN];
    while (weft_sock_accept(b->listen_fd, 0, NULL, &fd, e2) == 0) {
      if (np == RING_PENDING_MAX) { /* a flood drops its oldest */
        close(pend[0]);
        memmove(pend, pend + 1, sizeof pend[0] * (size_t)(np - 1));
        memmove(since, since + 1, sizeof since[0] * (size_t)(np - 1));
        np--;
      }
      pend[np] = fd;
      since[np++] = weft_now_ms();
    }
    long long now = weft_now_ms();
    for (int i = np - 1; i >= 0 && missing > 0; i--) {
      boot_ring_hello h;
      uint8_t mac[WEFT_MAC_BYTES];
      ssize_t k = recv(pend[i], &h, sizeof h, MSG_PEEK | MSG_DONTWAIT);
      int whole = k == (ssize_t)sizeof h, waiting = k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
      if (!whole && waiting && now - since[i] < RING_HELLO_MS) continue;
      int slot = -1;
      if (whole && weft_sock_recv_all(pend[i], &h, sizeof h, 1000, e2) == 0)
        for (int j = 0; j < count && slot < 0; j++)
          if (fds[j] < 0 && h.magic == magic[j] && h.rank == from[j] &&
              weft_boot_ring_mac(b->key, ring_mac_rank(magic[j], from[j]), b->peers[from[j]].nonce,
                                 b->peers[b->rank].nonce, mac) == 0 &&
              weft_bytes_equal(mac, h.mac, sizeof mac))
            slot = j;
      if (slot >= 0) {
        fds[slot] = pend[i];
        missing--;
      } else {
        close(pend[i]); /* not one of our peers: drop it and keep waiting */
      }
      pend[i] = pend[--np];
      since[i] = since[np];
    }
    if (missing == 0) break;
    long long left = deadline - weft_now_ms();
    if (left <= 0) {
      int j = 0;
      while (fds[j] >= 0) j++;
      snprintf(err, WEFT_SOCK_ERRLEN, "bootstrap: rank %d (%s pid %d) did not connect in time", from[j],
               b->peers[from[j]].host, b->peers[from[j]].pid);
      for (j = 0; j < count; j++)
        if (fds[j] >= 0) close(fds[j]), fds[j] = -1;
      break;
    }
    struct pollfd pf = {b->listen_fd, POLLIN, 0};
    poll(&pf, 1, left < 5 ? (int)left : 5);
  }
  for (int i = 0; i < np; i++) close(pend[i]);
  return missing == 0 ? 0 : -1;
}

/* The ring link from prev (link 0, or a side ring's). */
static int accept_prev(bootstrap_t *b, uint32_t magic, int prev, long long deadline, int *prev_fd, char *err) {
  return accept_links(b, &magic, &prev, 1, deadline, prev_fd, err);
}

/* Connects to `to`'s listener and says hello as link `magic`, proving the
 * bootstrap key (an HMAC over both ranks' nonces). */
static weftResult_t link_connect(bootstrap_t *b, uint32_t magic, int to, int *fd, char *err) {
  if (weft_sock_dial(&b->peers[to].addr, b->timeout_ms, fd, err) != 0) return weftRemoteError;
  boot_ring_hello h = {magic, b->rank, {0}};
  if (weft_boot_ring_mac(b->key, ring_mac_rank(magic, b->rank), b->peers[b->rank].nonce, b->peers[to].nonce,
                         h.mac) != 0) {
    close(*fd);
    *fd = -1;
    return BERR("bootstrap: cannot compute a link hello"), weftSystemError;
  }
  if (weft_sock_send_all(*fd, &h, sizeof h, b->timeout_ms, err) != 0) {
    close(*fd);
    *fd = -1;
    return weftRemoteError;
  }
  return weftSuccess;
}

/* Connects to next's listener and accepts prev's connection, both saying
 * magic (which ring this is). */
static weftResult_t ring_links(bootstrap_t *b, uint32_t magic, int *next_fd, int *prev_fd, char *err) {
  *next_fd = *prev_fd = -1;
  if (b->nranks == 1) return weftSuccess;
  long long deadline = weft_now_ms() + b->timeout_ms;
  int next = (b->rank + 1) % b->nranks, prev = (b->rank + b->nranks - 1) % b->nranks;
  weftResult_t res = link_connect(b, magic, next, next_fd, err);
  if (res != weftSuccess) return res;
  if (accept_prev(b, magic, prev, deadline, prev_fd, err) != 0) {
    close(*next_fd);
    *next_fd = -1;
    return weftRemoteError;
  }
  return weftSuccess;
}

/* Every link k (2^k < nranks): connects up to rank + 2^k, then accepts all
 * the links from below at once (they may come in any order). */
static weftResult_t build_links(bootstrap_t *b, char *err) {
  int nl = weft_boot_link_count(b->nranks);
  uint32_t magic[WEFT_BOOT_LINKS];
  int from[WEFT_BOOT_LINKS];
  long long deadline = weft_now_ms() + b->timeout_ms;
  for (int k = 0; k < nl; k++) {
    magic[k] = link_magic(k);
    from[k] = link_down(b, k);
    weftResult_t res = link_connect(b, magic[k], link_up(b, k), &b->up_fd[k], err);
    if (res != weftSuccess) return res;
    b->nlinks = k + 1; /* closed with b from here on */
  }
  if (nl > 0 && accept_links(b, magic, from, nl, deadline, b->down_fd, err) != 0) return weftRemoteError;
  return weftSuccess;
}

weftResult_t weft_bootstrap_side_ring(bootstrap_t *b, uint32_t magic, int *next_fd, int *prev_fd, char *err) {
  if (magic == WEFT_ID_MAGIC || (magic & 0xffffff00u) == LINK_MAGIC_BASE)
    return (void)BERR("bootstrap: a side ring needs its own magic"), weftInternalError;
  return ring_links(b, magic, next_fd, prev_fd, err);
}

/* comm_key: the communicator's key, from which the bootstrap key is derived. */
static bootstrap_t *bootstrap_alloc(int rank, int nranks, int timeout_ms, const uint8_t comm_key[WEFT_KEY_BYTES]) {
  bootstrap_t *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  b->peers = calloc((size_t)nranks, sizeof *b->peers);
  if (!b->peers) {
    free(b);
    return NULL;
  }
  b->rank = rank;
  b->nranks = nranks;
  b->timeout_ms = timeout_ms;
  b->listen_fd = -1;
  for (int k = 0; k < WEFT_BOOT_LINKS; k++) b->up_fd[k] = b->down_fd[k] = -1;
  if (weft_key_derive(comm_key, WEFT_KEY_LABEL_BOOTSTRAP, NULL, 0, b->key) != 0) {
    weft_bootstrap_close(b);
    return NULL;
  }
  return b;
}

/* An entry of the rank table comes from the network: it must name the rank
 * it is filed as and a usable address; its host name is cut to its field. */
static int entry_usable(weft_rank_info *e, int rank) {
  e->host[sizeof e->host - 1] = 0;
  int fam = e->addr.sa.sa_family;
  return e->rank == rank && (fam == AF_INET || fam == AF_INET6);
}

/* The table the ranks gathered (rank r's own entry at r), checked as above. */
static int check_table(weft_rank_info *t, int n, char *err) {
  for (int r = 0; r < n; r++)
    if (!entry_usable(&t[r], r)) {
      BERR("bootstrap: the rank table gathered from the ranks is corrupt at rank %d", r);
      return -1;
    }
  return 0;
}

/* Field by field (the struct has padding): whether two entries agree. */
static int same_entry(const weft_rank_info *a, const weft_rank_info *b) {
  return memcmp(&a->addr, &b->addr, sizeof a->addr) == 0 && memcmp(a->host, b->host, sizeof a->host) == 0 &&
         a->pid == b->pid && a->rank == b->rank && a->host_id == b->host_id &&
         memcmp(a->nonce, b->nonce, sizeof a->nonce) == 0;
}

#define ROOT_GRACE_MS 3000 /* how much longer a rank waits than the root */
#define CONNECT_SLICE_MS 5000 /* a rank says it cannot reach the root this often */

#define PROBE_CONNECT_MS 100 /* derived root ports: a port nobody listens on is left this fast */
#define PROBE_GREET_MS 2000  /* ... and one where something else listens, this fast */

/* Derived root ports (id->root_ports > 1): tries each candidate in turn
 * until one greets like a weft root (its challenge), saying at WARN every
 * few seconds that it is still trying. *fd, *ch and rs (the address taken)
 * on success. */
static int probe_root(const weft_id_internal *id, char *rs, size_t rslen, int timeout_ms, int *fd,
                      boot_challenge *ch, char *err) {
  long long start = weft_now_ms(), deadline = start + timeout_ms, said = start;
  char e2[WEFT_SOCK_ERRLEN], first[80];
  weft_sockaddr_str(&id->root, first, sizeof first);
  while (weft_now_ms() < deadline) {
    for (int k = 0; k < id->root_ports && weft_now_ms() < deadline; k++) {
      weft_sockaddr a = id->root;
      uint16_t port = (uint16_t)(ntohs(a.in.sin_port) + k);
      if (a.sa.sa_family == AF_INET6) a.in6.sin6_port = htons(port);
      else a.in.sin_port = htons(port);
      if (weft_sock_connect(&a, PROBE_CONNECT_MS, fd, e2) != 0) continue;
      if (weft_sock_recv_all(*fd, ch, sizeof *ch, PROBE_GREET_MS, e2) == 0 && ch->magic == WEFT_ID_MAGIC) {
        weft_sockaddr_str(&a, rs, rslen);
        return 0;
      }
      close(*fd); /* another service on a derived port: the root is on a later one */
      *fd = -1;
    }
    if (weft_now_ms() - said >= CONNECT_SLICE_MS) {
      said = weft_now_ms();
      weft_log_to(NULL, weftLogWarn, "bootstrap: no weft root yet on ports %s..+%d after %.0f s; retrying for %.0f s more",
                  first, id->root_ports - 1, (said - start) / 1000.0, (deadline - said) / 1000.0);
    }
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  BERR("bootstrap: no weft root answered on ports %s..+%d in %d ms", first, id->root_ports - 1, timeout_ms);
  return -1;
}

/* Connects to the root at rs, saying at WARN every few seconds that it is
 * still trying (a wrong MASTER_ADDR/MASTER_PORT shows at once). */
static int connect_root(const weft_sockaddr *root, const char *rs, int timeout_ms, int *fd, char *err) {
  long long start = weft_now_ms(), deadline = start + timeout_ms;
  char e2[WEFT_SOCK_ERRLEN];
  for (;;) {
    long long left = deadline - weft_now_ms();
    int slice = left < CONNECT_SLICE_MS ? (int)(left > 0 ? left : 0) : CONNECT_SLICE_MS;
    long long t0 = weft_now_ms();
    if (weft_sock_connect(root, slice, fd, e2) == 0) return 0;
    /* weft_sock_connect retries what may pass (refused, reset) until the
     * slice ends: an earlier return is an error that will not */
    if (weft_now_ms() >= deadline || weft_now_ms() - t0 < slice - 500) {
      BERR("bootstrap: cannot reach the root at %s in %d ms: %s", rs, timeout_ms, e2);
      return -1;
    }
    weft_log_to(NULL, weftLogWarn, "bootstrap: cannot reach the root at %s after %.0f s (%s); retrying for %.0f s more",
                rs, (weft_now_ms() - start) / 1000.0, e2, (deadline - weft_now_ms()) / 1000.0);
  }
}

/* Files the root's entries (weft_boot_entry_rank says whose each is) into
 * b->peers once each names its rank, with a usable address, and copies of
 * one rank's entry agree; this rank's own entry is its hello's. The other
 * entries stay empty until gather_table. */
static weftResult_t file_link_entries(bootstrap_t *b, const weft_rank_info *own, weft_rank_info *e, int count,
                                      const char *rs, char *err) {
  b->peers[b->rank] = *own;
  for (int i = 0; i < count; i++) {
    int want = weft_boot_entry_rank(b->rank, b->nranks, i);
    if (!entry_usable(&e[i], want))
      return BERR("bootstrap: the answer from the root at %s is corrupt: its entry %d is not a usable one for "
                  "rank %d", rs, i, want);
    for (int j = 0; j < i; j++)
      if (weft_boot_entry_rank(b->rank, b->nranks, j) == want && !same_entry(&e[j], &e[i]))
        return BERR("bootstrap: the answer from the root at %s gives rank %d two different entries", rs, want);
  }
  for (int i = 0; i < count; i++) b->peers[weft_boot_entry_rank(b->rank, b->nranks, i)] = e[i];
  return weftSuccess;
}

/* Sends hello h, its MAC over the root's challenge ch, to the root on
 * rootfd (rs: its address, for messages) and takes the answer: the entries
 * of this rank's link ends into b->peers once they prove the bootstrap key
 * and check out, or the error the root or its answer gives. Everything it
 * reads comes from the network (tests/fuzz/fuzz_boot_rank.c drives it with
 * hostile bytes). */
static weftResult_t join_root(bootstrap_t *b, int rootfd, boot_hello *h, const boot_challenge *ch, const char *rs,
                              int timeout_ms, char *err) {
  int rank = b->rank, nranks = b->nranks;
  char e2[WEFT_SOCK_ERRLEN];
  boot_reply rep;
  uint8_t mac[WEFT_MAC_BYTES];
  if (weft_boot_hello_mac(b->key, ch->nonce, h, h->mac) != 0) {
    BERR("bootstrap: cannot compute the hello to the root");
    return weftSystemError;
  }
  /* the root answers when every rank has joined, or at once when the job
   * failed; its own deadline comes first (it started before this rank), so
   * a timeout there names the missing ranks */
  if (weft_sock_send_all(rootfd, h, sizeof *h, timeout_ms, e2) != 0 ||
      weft_sock_recv_all(rootfd, &rep, sizeof rep, timeout_ms + ROOT_GRACE_MS, e2) != 0)
    return BERR("bootstrap: root at %s did not answer (not all %d ranks joined, or this rank's secret is not the "
                "job's?): %s", rs, nranks, e2);
  if (rep.magic != WEFT_ID_MAGIC) return BERR("bootstrap: %s is not the root of this job (bad answer)", rs);
  if (rep.status != BOOT_OK) {
    if (weft_boot_reply_mac(b->key, ch->nonce, h->info.nonce, &rep, NULL, 0, mac) != 0 ||
        !weft_bytes_equal(mac, rep.mac, sizeof mac))
      return BERR("bootstrap: the answer from %s does not prove the job's key: not the root of this job", rs);
    rep.reason[sizeof rep.reason - 1] = 0;
    if (rep.status == BOOT_JOB_FAILED || rep.status == BOOT_TIMEOUT)
      BERR("bootstrap: the job failed before it started (root at %s): %s", rs, rep.reason);
    else
      BERR("bootstrap: the root at %s refused rank %d of %d: %s", rs, rank, nranks, rep.reason);
    return rep.status == BOOT_TIMEOUT ? weftTimeout : weftInvalidArgument;
  }
  if (rep.nranks != nranks)
    return BERR("bootstrap: the root at %s answered for %d ranks, this rank expects %d", rs, (int)rep.nranks, nranks);
  weft_rank_info entries[2 * WEFT_BOOT_LINKS]; /* nranks is this rank's own: the count is bounded */
  int count = weft_boot_link_entries(nranks);
  if (weft_sock_recv_all(rootfd, entries, sizeof *entries * (size_t)count, timeout_ms, e2) != 0)
    return BERR("bootstrap: receiving the link entries from the root at %s: %s", rs, e2);
  if (weft_boot_reply_mac(b->key, ch->nonce, h->info.nonce, &rep, entries, count, mac) != 0 ||
      !weft_bytes_equal(mac, rep.mac, sizeof mac))
    return BERR("bootstrap: the answer from %s does not prove the job's key: not the root of this job, or "
                "changed on the way", rs);
  return file_link_entries(b, &h->info, entries, count, rs, err);
}

/* Takes gathered table t as b->peers once it checks out and agrees with
 * every entry the root sent (those of the link ends). */
static weftResult_t take_table(bootstrap_t *b, weft_rank_info *t, char *err) {
  if (check_table(t, b->nranks, err) != 0) return weftRemoteError;
  for (int i = 0; i < weft_boot_link_entries(b->nranks); i++) {
    int r = weft_boot_entry_rank(b->rank, b->nranks, i);
    if (!same_entry(&b->peers[r], &t[r]))
      return BERR("bootstrap: the root's entry for rank %d (%s pid %d) differs from the one that rank sent over "
                  "the links", r, b->peers[r].host, (int)b->peers[r].pid);
  }
  free(b->peers);
  b->peers = t;
  return weftSuccess;
}

/* After build_links: the whole table, one allgather of every rank's own
 * entry over the links. The entries the root sent must be the ones their
 * ranks sent: the root and the ranks agree on who is where. Until it is
 * taken, b->peers holds the root's entries (which name the link ends in
 * the allgather's error messages). */
static weftResult_t gather_table(bootstrap_t *b, const weft_rank_info *own, char *err) {
  int n = b->nranks;
  weft_rank_info *t = calloc((size_t)n, sizeof *t);
  if (!t) return (void)BERR("bootstrap: out of memory for the rank table of %d ranks", n), weftSystemError;
  t[b->rank] = *own;
  weftResult_t res = weft_bootstrap_allgather(b, t, sizeof *t, err);
  if (res == weftSuccess) res = take_table(b, t, err);
  if (res != weftSuccess) free(t);
  return res;
}

weftResult_t weft_bootstrap_init(const weft_id_internal *id, int rank, int nranks, int timeout_ms,
                            bootstrap_t **out, char *err) {
  uint8_t comm_key[WEFT_KEY_BYTES];
  bootstrap_t *b = weft_key_from_secret(id->secret, comm_key) == 0 ? bootstrap_alloc(rank, nranks, timeout_ms, comm_key) : NULL;
  weft_wipe(comm_key, sizeof comm_key);
  if (!b) return (void)BERR("out of memory"), weftSystemError;
  weftResult_t res = weftSystemError;
  int rootfd = -1;
  boot_hello h;
  memset(&h, 0, sizeof h);
  if (weft_bootstrap_prepare_listener(&id->root, &h.info, &b->listen_fd, err) != 0) goto fail;
  h.magic = WEFT_ID_MAGIC;
  h.rank = rank;
  h.nranks = nranks;
  h.info.rank = rank;
  res = weftRemoteError;
  char rs[80], e2[WEFT_SOCK_ERRLEN];
  weft_sockaddr_str(&id->root, rs, sizeof rs);
  boot_challenge ch;
  if (id->root_ports > 1) {
    if (probe_root(id, rs, sizeof rs, timeout_ms, &rootfd, &ch, err) != 0) goto fail;
  } else {
    if (connect_root(&id->root, rs, timeout_ms, &rootfd, err) != 0) goto fail;
    if (weft_sock_recv_all(rootfd, &ch, sizeof ch, timeout_ms, e2) != 0 || ch.magic != WEFT_ID_MAGIC) {
      BERR("bootstrap: %s did not greet like a weft root: %s", rs, e2);
      goto fail;
    }
  }
  if ((res = join_root(b, rootfd, &h, &ch, rs, timeout_ms, err)) != weftSuccess) goto fail;
  close(rootfd);
  rootfd = -1;
  if ((res = build_links(b, err)) != weftSuccess || (res = gather_table(b, &h.info, err)) != weftSuccess) goto fail;
  *out = b;
  return weftSuccess;
fail:
  if (rootfd >= 0) close(rootfd);
  weft_bootstrap_close(b);
  return res;
}

weftResult_t weft_bootstrap_from_table(int listen_fd, const weft_rank_info *table, int rank,
                                  int nranks, const uint8_t comm_key[32], int timeout_ms,
                                  bootstrap_t **out, char *err) {
  bootstrap_t *b = bootstrap_alloc(rank, nranks, timeout_ms, comm_key);
  if (!b) {
    close(listen_fd);
    return (void)BERR("out of memory"), weftSystemError;
  }
  b->listen_fd = listen_fd;
  memcpy(b->peers, table, sizeof *table * (size_t)nranks);
  /* the entries came from the other ranks (split's allgather, shrink's
   * JOINs and PROPOSE): checked as a gathered table is */
  weftResult_t res = check_table(b->peers, nranks, err) != 0 ? weftRemoteError : build_links(b, err);
  if (res != weftSuccess) {
    weft_bootstrap_close(b);
    return res;
  }
  *out = b;
  return weftSuccess;
}

/* Sends sbuf up link k while receiving rbuf from below, so neither side
 * blocks. */
static weftResult_t link_exchange(bootstrap_t *b, int k, const void *sbuf, void *rbuf, size_t len, char *err) {
  size_t sent = 0, got = 0;
  long long deadline = weft_now_ms() + b->timeout_ms;
  int up = link_up(b, k), down = link_down(b, k);
  while (sent < len || got < len) {
    struct pollfd p[2] = {{b->up_fd[k], sent < len ? POLLOUT : 0, 0}, {b->down_fd[k], got < len ? POLLIN : 0, 0}};
    long long left = deadline - weft_now_ms();
    if (left <= 0)
      return BERR("bootstrap: exchange with ranks %d/%d timed out after %d ms", down, up, b->timeout_ms);
    int rc = poll(p, 2, (int)left);
    if (rc < 0 && errno != EINTR) return BERR("bootstrap: poll: %s", strerror(errno));
    if (sent < len && (p[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t r = send(b->up_fd[k], (const char *)sbuf + sent, len - sent, MSG_NOSIGNAL);
      if (r > 0) sent += (size_t)r;
      else if (r < 0 && errno != EAGAIN && errno != EINTR)
        return BERR("bootstrap: send to rank %d: %s", up, strerror(errno));
    }
    if (got < len && (p[1].revents & (POLLIN | POLLERR | POLLHUP))) {
      ssize_t r = recv(b->down_fd[k], (char *)rbuf + got, len - got, 0);
      if (r > 0) got += (size_t)r;
      else if (r == 0 || (errno != EAGAIN && errno != EINTR))
        return BERR("bootstrap: rank %d closed the connection", down);
    }
  }
  return weftSuccess;
}

/* The MAC of the n-th message on link k from rank `from`: the data the
 * ranks exchange (addresses, sites, transport handles) is not secret, but an
 * on-path attacker must not change it (e.g. make two sites look like one so
 * that their link goes unencrypted), replay, reorder or move it to another
 * link. */
static int link_data_mac(const bootstrap_t *b, int from, int k, uint64_t n, const void *data, size_t len,
                         uint8_t mac[WEFT_MAC_BYTES]) {
  static const char label[] = "weft bootstrap data v3";
  int32_t f = from, l = k;
  weft_bytes parts[] = {{label, sizeof label}, {&f, sizeof f}, {&l, sizeof l}, {&n, sizeof n}, {data, len}};
  return weft_hmac(b->key, parts, 5, mac);
}

/* One step on link k: the data, then its MAC, checked before use. */
static weftResult_t link_step(bootstrap_t *b, int k, const void *sbuf, void *rbuf, size_t len, char *err) {
  int down = link_down(b, k);
  uint8_t smac[WEFT_MAC_BYTES], rmac[WEFT_MAC_BYTES], want[WEFT_MAC_BYTES];
  if (link_data_mac(b, b->rank, k, b->sent[k]++, sbuf, len, smac) != 0)
    return (void)BERR("bootstrap: cannot compute a MAC"), weftSystemError;
  weftResult_t res = link_exchange(b, k, sbuf, rbuf, len, err);
  if (res == weftSuccess) res = link_exchange(b, k, smac, rmac, sizeof rmac, err);
  if (res != weftSuccess) return res;
  if (link_data_mac(b, down, k, b->received[k]++, rbuf, len, want) != 0 || !weft_bytes_equal(want, rmac, sizeof want))
    return BERR("bootstrap: a message from rank %d (%s pid %d) failed authentication (changed, replayed or "
                "reordered on the way)", down, b->peers[down].host, b->peers[down].pid);
  return weftSuccess;
}

/* Bruck's allgather: before step k a rank holds the 2^k slots ending at its
 * own (rank - 2^k + 1 .. rank, mod n); it sends the last m of them up link k
 * and receives the m ending at rank - 2^k from below, m = min(2^k, n - 2^k). */
weftResult_t weft_bootstrap_allgather(bootstrap_t *b, void *data, size_t size, char *err) {
  int n = b->nranks, r = b->rank;
  if (n == 1) return weftSuccess;
  char *d = data;
  size_t half = (size_t)(n / 2 + 1) * size;
  char *sb = malloc(2 * half), *rb = sb + half;
  if (!sb) return (void)BERR("bootstrap: out of memory for an allgather of %d x %zu bytes", n, size), weftSystemError;
  weftResult_t res = weftSuccess;
  for (int k = 0, held = 1; held < n && res == weftSuccess; k++) {
    int m = held < n - held ? held : n - held;
    for (int i = 0; i < m; i++) memcpy(sb + (size_t)i * size, d + (size_t)((r - m + 1 + i + n) % n) * size, size);
    res = link_step(b, k, sb, rb, (size_t)m * size, err);
    for (int i = 0; i < m && res == weftSuccess; i++)
      memcpy(d + (size_t)(((r - held - m + 1 + i) % n + 2 * n) % n) * size, rb + (size_t)i * size, size);
    held += m;
  }
  free(sb);
  return res;
}

weftResult_t weft_bootstrap_barrier(bootstrap_t *b, char *err) {
  char *tmp = calloc((size_t)b->nranks, 1);
  if (!tmp) return (void)BERR("out of memory"), weftSystemError;
  weftResult_t res = weft_bootstrap_allgather(b, tmp, 1, err);
  free(tmp);
  return res;
}

void weft_bootstrap_close(bootstrap_t *b) {
  if (!b) return;
  if (b->listen_fd >= 0) close(b->listen_fd);
  for (int k = 0; k < WEFT_BOOT_LINKS; k++) {
    if (b->up_fd[k] >= 0) close(b->up_fd[k]);
    if (b->down_fd[k] >= 0) close(b->down_fd[k]);
  }
  free(b->peers);
  weft_wipe(b->key, sizeof b->key);
  free(b);
}
