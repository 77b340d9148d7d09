#include "nodeseg/nodeseg.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bootstrap/bootstrap.h"
#include "bootstrap/keys.h"
#include "comm/comm.h"
#include "comm/comm_log.h"
#include "comm/fault.h"
#include "comm/netreg.h"
#include "util/param.h"
#include "util/sock.h"
#include "util/clock.h"
#include "util/spin.h"
#include "coll/sig.h"
#include "nodeseg/box.h"

#define SEG_MAGIC 0x77656674736c6f74ULL /* "weftslot": a rank asking rank 0 for the segment */
#define LINE 64

/* Rank r's control line: peers sleeping on its slots, whether it left, the
 * signature of the call it is in (at +8) and that call's count (at +16:
 * the signature only holds a hash of it, and a mismatch message names it). */
enum { CTL_SLEEPERS = 0, CTL_GONE = 1 };
static _Atomic uint32_t *ctl_of(const weft_nodeseg *g, int r) {
  return (_Atomic uint32_t *)(g->map + (size_t)r * g->rank_bytes);
}
static _Atomic uint64_t *call_sig_of(const weft_nodeseg *g, int r) { return (_Atomic uint64_t *)(ctl_of(g, r) + 2); }
static _Atomic uint64_t *call_count_of(const weft_nodeseg *g, int r) { return (_Atomic uint64_t *)(ctl_of(g, r) + 4); }
static _Atomic uint64_t *slot_sig(_Atomic uint32_t *slot) { return (_Atomic uint64_t *)(slot + 2); }

/* What each rank says in the two exchanges of the set-up. */
typedef struct {
  int32_t willing; /* first: this rank wants the segment; second: it mapped it */
  int32_t membarrier;
  int32_t box; /* point-to-point boxes wanted (WEFT_P2P_BOX) */
  uint64_t max_bytes; /* rank 0's WEFT_SLOTS_MAX: every rank uses it */
  char name[96];      /* rank 0: the Unix socket that hands out the memfd */
} seg_offer;

/* proof: HMAC(the comm's node-segment key, rank | the socket's name): the
 * key itself never travels, not even between processes of one user. */
typedef struct {
  uint64_t magic;
  int32_t rank;
  uint8_t proof[WEFT_MAC_BYTES];
} seg_hello;

static int seg_proof(const struct weftComm *c, int32_t rank, const char *name, uint8_t proof[WEFT_MAC_BYTES]) {
  uint8_t k[WEFT_KEY_BYTES];
  weft_bytes parts[] = {{&rank, sizeof rank}, {name, strlen(name)}};
  int rc = weft_key_derive(c->key, WEFT_KEY_LABEL_NODESEG, NULL, 0, k) != 0 || weft_hmac(k, parts, 2, proof) != 0;
  weft_wipe(k, sizeof k);
  return rc ? -1 : 0;
}

static int futex(_Atomic uint32_t *addr, int op, uint32_t val, const struct timespec *ts) {
  return (int)syscall(SYS_futex, (uint32_t *)addr, op, val, ts, NULL, 0);
}

static int membarrier_register(void) {
#ifdef SYS_membarrier
  return syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0;
#else
  return 0;
#endif
}

static int pidfd_of(int pid) {
#ifdef SYS_pidfd_open
  return (int)syscall(SYS_pidfd_open, pid, 0);
#else
  (void)pid;
  return -1;
#endif
}

/* The segment's layout for n ranks and slots of max_bytes: per rank a
 * control line and two slots (sequence word, signature, payload), each
 * rounded to cache lines; then, from a page, the boxes (nodeseg/box.h). */
static size_t seg_box_offset(const weft_nodeseg *g, int n) { return ((size_t)n * g->rank_bytes + 4095) & ~(size_t)4095; }

static void seg_layout(weft_nodeseg *g, int n, size_t max_bytes) {
  g->max_bytes = max_bytes;
  g->slot_bytes = (16 + max_bytes + LINE - 1) / LINE * LINE;
  g->rank_bytes = LINE + 2 * g->slot_bytes;
  g->map_len = seg_box_offset(g, n) + weft_box_area_bytes(n);
}

/* The memfd (rank 0), sized; returns its fd or -1. */
static int seg_make(size_t len) {
  /* sealed at its size: no rank can shrink it under the others' mappings */
  int fd = memfd_create("weft-node-slots", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return -1;
  if (ftruncate(fd, (off_t)len) != 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Rank 0: hands the memfd to every other rank of the comm (each proves it
 * belongs to the job with the comm's secret). */
static int serve(struct weftComm *c, const char *name, int lfd, int mfd, int timeout_ms, char *err) {
  long long deadline = weft_now_ms() + timeout_ms;
  for (int served = 0; served < c->nranks - 1;) {
    long long left = deadline - weft_now_ms();
    int s = -1;
    if (left <= 0 || weft_sock_accept(lfd, (int)left, NULL, &s, err) != 0) return -1;
    seg_hello h;
    uint8_t want[WEFT_MAC_BYTES];
    char ok = 1;
    struct ucred cred; /* the socket name is visible to every local user */
    socklen_t cl = sizeof cred;
    if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0 && cred.uid == geteuid() &&
        weft_sock_recv_all(s, &h, sizeof h, 2000, err) == 0 && h.magic == SEG_MAGIC && h.rank > 0 &&
        h.rank < c->nranks && seg_proof(c, h.rank, name, want) == 0 && weft_bytes_equal(want, h.proof, sizeof want) &&
        weft_unix_send_fd(s, &ok, 1, mfd, 2000, err) == 0)
      served++;
    close(s);
  }
  return 0;
}

/* Other ranks: fetches the memfd from rank 0. */
static int fetch(struct weftComm *c, const char *name, int timeout_ms, char *err) {
  int s = -1, mfd = -1;
  seg_hello h = {SEG_MAGIC, c->rank, {0}};
  char ok = 0;
  if (seg_proof(c, c->rank, name, h.proof) == 0 && weft_unix_connect(name, timeout_ms, &s, err) == 0 && weft_sock_send_all(s, &h, sizeof h, timeout_ms, err) == 0)
    weft_unix_recv_fd(s, &ok, 1, &mfd, timeout_ms, err);
  if (s >= 0) close(s);
  return mfd;
}

/* Every rank on this host, every peer reached by a transport that says its
 * peers share this host's memory (weftNetProperties_t.hostLocal). */
static int all_host_local(const struct weftComm *c) {
  const bootstrap_t *b = c->bootstrap;
  for (int p = 0; p < c->nranks; p++) {
    if (b->peers[p].host_id != b->peers[c->rank].host_id) return 0;
    if (p == c->rank) continue;
    int k = c->peers[p].net ? weft_net_slot_of(c->peers[p].net) : -1;
    if (k < 0 || !c->nets[k].host_local) return 0;
  }
  return 1;
}

static void seg_free(weft_nodeseg *g) {
  if (!g) return;
  if (g->map) munmap(g->map, g->map_len);
  for (int r = 0; g->pidfd && r < g->n; r++)
    if (g->pidfd[r] >= 0) close(g->pidfd[r]);
  free(g->pidfd);
  free(g->pid);
  free(g->box_sent);
  free(g->box_seen);
  free(g->box_got);
  free(g);
}

weftResult_t weft_nodeseg_create(struct weftComm *c) {
  int n = c->nranks;
  if (n < 2) return weftSuccess;
  for (int p = 0; p < n; p++) /* the same table on every rank: all decide alike */
    if (c->bootstrap->peers[p].host_id != c->bootstrap->peers[0].host_id) return weftSuccess;
  seg_offer *x = calloc((size_t)n, sizeof *x);
  weft_nodeseg *g = calloc(1, sizeof *g);
  if (!x || !g) {
    free(x);
    free(g);
    return weft_error(NULL, weftSystemError, "out of memory");
  }
  char err[WEFT_SOCK_ERRLEN] = "";
  int timeout = c->timeout_ms < 30000 ? c->timeout_ms : 30000;
  int lfd = -1, mfd = -1;
  seg_offer *me = &x[c->rank];
  me->willing = weft_env_bool("WEFT_SLOTS", 1) && all_host_local(c);
  me->membarrier = membarrier_register();
  me->box = weft_env_bool("WEFT_P2P_BOX", 1);
  me->max_bytes = weft_env_size("WEFT_SLOTS_MAX", 32 << 10);
  if (me->max_bytes < 8) me->max_bytes = 8;
  if (me->max_bytes > (1 << 20)) me->max_bytes = 1 << 20;
  if (c->rank == 0 && me->willing) {
    seg_layout(g, n, me->max_bytes);
    mfd = seg_make(g->map_len);
    if (mfd < 0 || weft_unix_listen("weft-slots", me->name, sizeof me->name, &lfd, err) != 0) me->willing = 0;
  }
  weftResult_t res = weft_bootstrap_allgather(c->bootstrap, x, sizeof *x, err);
  int all = res == weftSuccess;
  for (int p = 0; p < n && all; p++) all = x[p].willing;
  /* rank 0's slot size sizes everyone's mapping: checked as it clamped its
   * own (every rank sees the same value and decides alike) */
  if (all && (x[0].max_bytes < 8 || x[0].max_bytes > (1 << 20))) all = 0;
  int ok = 0;
  if (all) {
    seg_layout(g, n, x[0].max_bytes);
    x[0].name[sizeof x[0].name - 1] = 0;
    if (c->rank == 0) ok = serve(c, me->name, lfd, mfd, timeout, err) == 0;
    else ok = (mfd = fetch(c, x[0].name, timeout, err)) >= 0;
    struct stat st;
    int seals = ok ? fcntl(mfd, F_GET_SEALS) : -1;
    if (ok && (fstat(mfd, &st) != 0 || (size_t)st.st_size < g->map_len || seals < 0 ||
               (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW)))
      ok = 0;
    void *m = ok ? mmap(NULL, g->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0) : MAP_FAILED;
    if (m != MAP_FAILED) g->map = m;
    ok = g->map != NULL;
  }
  if (lfd >= 0) close(lfd);
  if (mfd >= 0) close(mfd); /* the mappings keep the memory alive */
  /* per-rank arrays before the last exchange: a rank that cannot have
   * them says so there, and no rank uses the segment */
  g->pidfd = calloc((size_t)n, sizeof *g->pidfd);
  g->pid = calloc((size_t)n, sizeof *g->pid);
  g->box_sent = calloc((size_t)n, sizeof *g->box_sent);
  g->box_seen = calloc((size_t)n, sizeof *g->box_seen);
  g->box_got = calloc((size_t)n, sizeof *g->box_got);
  ok = ok && g->pidfd && g->pid && g->box_sent && g->box_seen && g->box_got;
  int box = weft_box_area_bytes(n) > 0;
  if (res == weftSuccess && all) {
    int mb = 1;
    for (int p = 0; p < n; p++) mb &= x[p].membarrier, box &= x[p].box;
    memset(x, 0, sizeof *x * (size_t)n);
    me->willing = ok;
    res = weft_bootstrap_allgather(c->bootstrap, x, sizeof *x, err);
    for (int p = 0; p < n && res == weftSuccess; p++) ok &= x[p].willing;
    g->membarrier = mb;
  }
  free(x);
  if (res != weftSuccess) {
    seg_free(g);
    return weft_error(NULL, res, "rank %d/%d: setting up the node segment: %s", c->rank, n, err);
  }
  if (!ok) {
    if (all) WEFT_INFO(c, "node segment not set up (%s): small collectives use messages", err[0] ? err : "a rank failed");
    seg_free(g);
    return weftSuccess;
  }
  /* every rank agreed on WEFT_P2P_BOX: both ends of a send decide alike */
  if (box) g->box = g->map + seg_box_offset(g, n);
  g->n = n;
  g->rank = c->rank;
  for (int p = 0; p < n; p++) {
    g->pid[p] = c->bootstrap->peers[p].pid;
    g->pidfd[p] = p == c->rank ? -1 : pidfd_of(g->pid[p]);
  }
  c->nodeseg = g;
  WEFT_INFO(c, "node segment: %d ranks, up to %zu bytes per rank in a slot, %s%s", n, g->max_bytes,
            g->box ? "sends of up to " WEFT_BOX_MAX_STR " bytes in boxes" : "no point-to-point boxes",
            g->membarrier ? "" : " (no expedited membarrier: a missed wake-up costs up to 1 ms)");
  return weftSuccess;
}

void weft_nodeseg_mark_gone(struct weftComm *c) {
  weft_nodeseg *g = c->nodeseg;
  if (!g) return;
  atomic_store(&ctl_of(g, g->rank)[CTL_GONE], 1);
  for (uint32_t p = 0; p < 2; p++) futex(weft_nodeseg_slot(g, g->rank, p), FUTEX_WAKE, INT_MAX, NULL);
}

void weft_nodeseg_destroy(struct weftComm *c) {
  if (!c->nodeseg) return;
  weft_nodeseg_mark_gone(c);
  seg_free(c->nodeseg);
  c->nodeseg = NULL;
}

void weft_nodeseg_note_call(weft_nodeseg *g, uint64_t sig, size_t count) {
  atomic_store_explicit(call_count_of(g, g->rank), count, memory_order_relaxed);
  atomic_store_explicit(call_sig_of(g, g->rank), sig, memory_order_release);
}

static void explain(struct weftComm *c, int r, uint64_t mine, uint64_t theirs, char *err, size_t errlen) {
  char why[400], peer[128];
  weft_nodeseg *g = c->nodeseg;
  weft_sig_explain(mine, theirs, atomic_load_explicit(call_count_of(g, g->rank), memory_order_relaxed),
                   atomic_load_explicit(call_count_of(g, r), memory_order_acquire), why, sizeof why);
  weft_comm_peer_name(c, r, peer, sizeof peer);
  snprintf(err, errlen, "mismatched calls with %s: %s", peer, why);
}

/* theirs: the signature rank r announced; the same call number (its low 16
 * bits) with another signature is a mismatch. */
static int peer_mismatch(struct weftComm *c, int r, uint64_t mine, uint64_t theirs, char *err, size_t errlen) {
  if (theirs == mine || (theirs & 0xffff) != (mine & 0xffff) || theirs == 0) return 0;
  explain(c, r, mine, theirs, err, errlen);
  return 1;
}

int weft_nodeseg_mismatch(struct weftComm *c, uint64_t sig, char *err, size_t errlen) {
  weft_nodeseg *g = c->nodeseg;
  for (int r = 0; g && r < g->n; r++)
    if (r != g->rank && peer_mismatch(c, r, sig, atomic_load_explicit(call_sig_of(g, r), memory_order_relaxed), err, errlen))
      return 1;
  return 0;
}

void weft_nodeseg_publish(weft_nodeseg *g, _Atomic uint32_t *slot, uint32_t seq, uint64_t sig) {
  atomic_store_explicit(slot_sig(slot), sig, memory_order_relaxed);
  atomic_store_explicit(slot, seq, memory_order_release);
  /* No fence here (it would stall on the line the peers poll): a sleeper
   * runs a global membarrier before it sleeps, which orders this store
   * before the load below for it (see weft_nodeseg_wait). */
  atomic_signal_fence(memory_order_seq_cst);
  if (atomic_load_explicit(&ctl_of(g, g->rank)[CTL_SLEEPERS], memory_order_relaxed))
    futex(slot, FUTEX_WAKE, INT_MAX, NULL);
}

static int peer_dead(const weft_nodeseg *g, int r) {
  if (g->pidfd[r] >= 0) {
    struct pollfd p = {g->pidfd[r], POLLIN, 0};
    return poll(&p, 1, 0) > 0;
  }
  return kill(g->pid[r], 0) != 0 && errno == ESRCH;
}

/* r marked itself gone: the comm suspects it. */
static weftResult_t peer_gone(struct weftComm *c, int r, char *err, size_t errlen) {
  char peer[128];
  weft_comm_suspect(c, r);
  weft_comm_peer_name(c, r, peer, sizeof peer);
  snprintf(err, errlen, "%s left the communicator (failed, aborted or destroyed) before this call", peer);
  return weftRemoteError;
}

/* r's process is gone, seen first-hand on this host: r is the origin. */
static weftResult_t peer_exited(struct weftComm *c, int r, char *err, size_t errlen) {
  char peer[128];
  weft_fault_origin_of(c, r, WEFT_FAULT_KILLED, weftRemoteError, "its process is gone (seen by rank %d in the node segment)",
                       c->rank);
  weft_comm_peer_name(c, r, peer, sizeof peer);
  snprintf(err, errlen, "%s exited (its process is gone)", peer);
  return weftRemoteError;
}

weftResult_t weft_nodeseg_peer_left(struct weftComm *c, int r, int check_pid, char *err, size_t errlen) {
  weft_nodeseg *g = c->nodeseg;
  if (atomic_load_explicit(&ctl_of(g, r)[CTL_GONE], memory_order_acquire)) return peer_gone(c, r, err, errlen);
  if (check_pid && peer_dead(g, r)) return peer_exited(c, r, err, errlen);
  return weftSuccess;
}

/* The slot holds seq: checks that it is the same call. */
static weftResult_t arrived(struct weftComm *c, int r, _Atomic uint32_t *slot, uint64_t sig, char *err, size_t errlen) {
  uint64_t theirs = atomic_load_explicit(slot_sig(slot), memory_order_relaxed);
  if (theirs == sig) return weftSuccess;
  explain(c, r, sig, theirs, err, errlen);
  return weftInvalidUsage;
}

weftResult_t weft_nodeseg_wait(struct weftComm *c, int r, _Atomic uint32_t *slot, uint32_t seq, uint64_t sig,
                               double until_us, char *err, size_t errlen) {
  weft_nodeseg *g = c->nodeseg;
  _Atomic uint32_t *ctl = ctl_of(g, r);
  double start = 0;
  for (;;) {
    for (int i = 0; i < 64; i++) {
      if (atomic_load_explicit(slot, memory_order_acquire) == seq) return arrived(c, r, slot, sig, err, errlen);
      weft_spin_pause();
    }
    double now = weft_now_us();
    if (start == 0) start = now;
    double waited = now - start;
    char peer[128];
    if (atomic_load(&c->aborted)) {
      snprintf(err, errlen, "aborted by weftCommAbort");
      return weftAborted;
    }
    weftResult_t failed = atomic_load(&c->async_error); /* revoked (comm/fault.h) */
    if (failed != weftSuccess) {
      snprintf(err, errlen, "interrupted: the communicator failed");
      return failed;
    }
    if (atomic_load_explicit(&ctl[CTL_GONE], memory_order_acquire) && atomic_load(slot) != seq)
      return peer_gone(c, r, err, errlen);
    if (waited > 100 && peer_mismatch(c, r, sig, atomic_load_explicit(call_sig_of(g, r), memory_order_relaxed), err,
                                      errlen))
      return weftInvalidUsage;
    if (waited > c->timeout_ms * 1000.0) {
      weft_comm_peer_name(c, r, peer, sizeof peer);
      snprintf(err, errlen, "no progress for %d ms (WEFT_TIMEOUT) waiting for %s in the node segment", c->timeout_ms,
               peer);
      return weftTimeout;
    }
    if (until_us > 0 && now >= until_us) return weftInProgress;
    if (waited < c->tune.spin_us || until_us > 0) { /* with a deadline: never asleep past it */
      if (waited >= c->tune.yield_after_us) sched_yield();
      continue;
    }
    /* sleep in slices of 1 ms: announce it, make the announcement and the
     * writer's last store visible to each other (membarrier), look again,
     * then wait on the word itself (the kernel re-checks it) */
    atomic_fetch_add(&ctl[CTL_SLEEPERS], 1);
#ifdef SYS_membarrier
    if (g->membarrier) syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0);
#endif
    uint32_t v = atomic_load(slot);
    struct timespec ts = {0, 1000 * 1000};
    if (v != seq) futex(slot, FUTEX_WAIT, v, &ts);
    atomic_fetch_sub(&ctl[CTL_SLEEPERS], 1);
    if (atomic_load(slot) != seq && peer_dead(g, r)) return peer_exited(c, r, err, errlen);
  }
}
