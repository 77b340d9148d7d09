/* shm transport: peers on the same host.
 *
 * Each connection is a single-producer/single-consumer byte ring in an
 * anonymous memfd, handed to the receiver over a Unix-domain socket
 * (SCM_RIGHTS). Nothing is ever named in /dev/shm, so a killed rank leaks no
 * segment and a stale one cannot confuse the next run: the kernel frees the
 * memory with the last process that maps it.
 *
 * Messages are a 32-byte frame followed by the payload in the ring. Payloads
 * of at least WEFT_SHM_CMA_THRESHOLD bytes are not copied through the ring:
 * the frame carries the sender's address and the receiver copies straight
 * from the sender's memory with process_vm_readv (cross-memory attach, one
 * copy instead of two), then acknowledges so the send completes. CMA is used
 * only if a probe read at connection time succeeded (it can be forbidden by
 * ptrace policy or seccomp); otherwise everything streams through the ring.
 *
 * The Unix socket stays open for the connection's lifetime: it is the
 * doorbell (one byte, written only when the other side announced it is about
 * to sleep) and it reports a dead peer as end-of-file. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util/param.h"
#include "util/sock.h"
#include "common/accept.h"
#include "common/hello.h"
#include "common/listen.h"
#include "util/clock.h"
#include "common/net_define.h"
#include "common/req_queue.h"
#include "shm/shm.h"

#define SHM_MAGIC 0x77656674736d6d31ULL /* "weftsmm1" */
#define PEER_GONE "peer process exited (shared-memory connection closed)"
#define CORRUPT "the peer's ring counters are out of bounds (shared memory corrupted or hostile)"
#define CACHELINE 64
#define SHM_PIECE (64 << 10) /* bytes copied between two updates of head or tail */

typedef struct {
  weft_net_ctx base;
  size_t ring_bytes;
  size_t cma_threshold;
  int cma_enabled;
} shm_ctx;

typedef struct {
  uint64_t magic;
  char name[96]; /* abstract socket name, without the leading NUL */
} shm_handle;

typedef struct {
  weft_net_hello h; /* magic SHM_MAGIC */
  uint64_t ring_bytes;
} shm_hello;
_Static_assert(sizeof(shm_hello) == 80, "the hello is part of the wire format");

/* Shared between one sender and one receiver. Counters each side writes on
 * every message have a cache line of their own; the sleep flags, written
 * only when a side is about to sleep but read on every message, have their
 * own lines too, so reading them costs no cache miss. */
typedef struct {
  _Alignas(CACHELINE) _Atomic uint64_t head; /* bytes produced (sender) */
  _Alignas(CACHELINE) _Atomic uint64_t tail; /* bytes consumed (receiver) */
  _Atomic uint64_t acked;                    /* CMA messages read (receiver) */
  _Alignas(CACHELINE) _Atomic uint32_t recv_waiting; /* receiver is about to sleep */
  _Alignas(CACHELINE) _Atomic uint32_t send_waiting; /* sender is about to sleep */
  _Alignas(CACHELINE) _Atomic uint32_t cma_ok;       /* receiver could read our memory */
  uint64_t size;                     /* ring bytes, a power of two */
  uint64_t probe_addr, probe_value;  /* for the CMA probe */
} shm_ring;

#define RING_OFF ((sizeof(shm_ring) + CACHELINE - 1) / CACHELINE * CACHELINE)

typedef struct {
  uint64_t tag;
  uint64_t size;
  uint64_t addr; /* sender address of the payload when cma != 0 */
  uint64_t cma;
} shm_frame;

enum { RQ_QUEUED = 0, RQ_CMA_WAIT, RQ_DONE };

struct shm_ep;
typedef struct shm_req {
  weft_req_link link;
  struct shm_ep *ep;
  char *buf;
  size_t size;
  shm_frame hdr;
  size_t off; /* payload bytes moved */
  int hdr_done;
  int state;
  uint64_t cma_seq;
} shm_req;

typedef struct shm_ep {
  weft_net_obj h;
  int sock;
  pid_t peer_pid;
  shm_ring *ring;
  char *data;
  size_t map_len;
  uint64_t pos;       /* our copy of head (sender) or tail (receiver) */
  uint64_t cma_sent;  /* sender: CMA frames written */
  uint64_t acked_seen; /* sender: acknowledgements seen before sleeping */
  uint64_t tail_seen;  /* sender: the receiver's tail when last read */
  uint64_t size;       /* ring bytes, validated at connect: the shared copy is never trusted */
  uint64_t cma_threshold;
  weftResult_t failed;
  int peer_eof; /* the peer's socket closed: a receiver still reads what the ring holds */
  weft_req_queue q; /* requests still moving data, in order */
} shm_ep;

/* Maps every page of a ring now, at connection time: faulting it in page
 * by page while the first calls cycle through it cost about 12 us a page
 * on a virtual machine (a 64 KiB allreduce on 2 ranks took 200 us a call,
 * not 10, until the 1 MiB ring had gone round once). The advice fills the
 * page tables in one call (kernels before 5.14 lack it); it alone did not
 * remove the cost there, a touch of every page did (presumably the
 * hypervisor's own tables, filled on first access). The sender writes (nobody else has the ring yet); the receiver only
 * reads, since the sender may already be writing data. */
static void ring_prefault(void *map, size_t len, int write) {
#ifdef MADV_POPULATE_WRITE
  (void)madvise(map, len, MADV_POPULATE_WRITE);
#endif
  volatile char *p = map;
  for (size_t at = 0; at < len; at += 4096) {
    if (write) p[at] = 0;
    else (void)p[at];
  }
}

static const uint64_t probe_value = 0x5eedfeedc0ffee11ULL;

static weftResult_t shm_init(const weftNetInitArgs_t *args, void **out) {
  shm_ctx *c = calloc(1, sizeof *c);
  if (!c) return weftSystemError;
  weft_net_ctx_init(&c->base, "shm", args);
  size_t ring = weft_env_size("WEFT_SHM_RING_SIZE", 1 << 20), p2 = 4096;
  while (p2 < ring && p2 < ((size_t)1 << 30)) p2 <<= 1;
  c->ring_bytes = p2;
  c->cma_threshold = weft_env_size("WEFT_SHM_CMA_THRESHOLD", (size_t)64 << 20);
  c->cma_enabled = weft_env_bool("WEFT_SHM_CMA", 1);
  *out = c;
  return weftSuccess;
}

static weftResult_t shm_properties(void *ctx, int dev, weftNetProperties_t *p) {
  (void)ctx;
  (void)dev;
  p->name = "shm";
  p->bandwidthGbps = 100.0;
  p->latencyUs = 0.5;
  p->maxStreams = 1;
  p->hostLocal = 1;
  return weftSuccess;
}

static weftResult_t shm_listen(void *ctxp, int dev, const weftNetKey_t *key, void *handle, void **out) {
  shm_ctx *ctx = ctxp;
  (void)dev;
  weft_net_listen *l = calloc(1, sizeof *l);
  if (!l) return weftSystemError;
  if (weft_net_listen_init(l, &ctx->base, key) != 0) {
    free(l);
    return weftSystemError;
  }
  shm_handle h = {SHM_MAGIC, ""};
  char err[WEFT_SOCK_ERRLEN];
  if (weft_unix_listen("weft-shm", h.name, sizeof h.name, &l->fd, err) != 0) {
    weft_net_obj_err(ctx, "%s", err);
    free(l);
    return weftSystemError;
  }
  weft_net_handle_put(handle, &h, sizeof h, l);
  *out = l;
  return weftSuccess;
}

static void set_nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

/* The process at the other end of Unix socket s, or 0 if unknown. */
static pid_t peer_pid(int s) {
  struct ucred cred;
  socklen_t cl = sizeof cred;
  return getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0 ? cred.pid : 0;
}

static shm_ep *ep_new(int type, int sock) {
  shm_ep *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  e->h.type = type;
  e->sock = sock;
  return e;
}

static void ep_free(shm_ep *e) {
  weft_req_destroy(&e->q);
  if (e->ring) munmap(e->ring, e->map_len);
  if (e->sock >= 0) close(e->sock);
  free(e);
}

static weftResult_t shm_connect(void *ctxp, int dev, const void *handle, const weftNetKey_t *key, uint64_t conn_id,
                                uint32_t flags, int timeout_ms, void **out) {
  shm_ctx *ctx = ctxp;
  (void)dev;
  if (flags & WEFT_NET_CONN_ENCRYPT) { /* properties say encrypts = 0: weft does not ask */
    weft_net_obj_err(ctx, "shm: does not encrypt (its peers share this host's memory)");
    return weftInvalidUsage;
  }
  shm_handle h;
  memcpy(&h, handle, sizeof h);
  if (h.magic != SHM_MAGIC) {
    weft_net_obj_err(ctx, "peer published no shared-memory endpoint");
    return weftInternalError;
  }
  h.name[sizeof h.name - 1] = 0;
  size_t map_len = RING_OFF + ctx->ring_bytes;
  /* sealed at its size: neither side can shrink it under the other's
   * mapping (a SIGBUS there), and the receiver refuses a ring that is not */
  int mfd = memfd_create("weft-shm-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mfd < 0 || ftruncate(mfd, (off_t)map_len) != 0 ||
      fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    weft_net_obj_err(ctx, "memfd of %zu bytes: %s", map_len, strerror(errno));
    if (mfd >= 0) close(mfd);
    return weftSystemError;
  }
  void *map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
  if (map == MAP_FAILED) {
    weft_net_obj_err(ctx, "mmap: %s", strerror(errno));
    close(mfd);
    return weftSystemError;
  }
  ring_prefault(map, map_len, 1);
  shm_ring *ring = map;
  ring->size = ctx->ring_bytes;
  ring->probe_addr = (uint64_t)(uintptr_t)&probe_value;
  ring->probe_value = probe_value;
  int s = -1;
  char err[WEFT_SOCK_ERRLEN];
  shm_hello hello;
  hello.ring_bytes = ctx->ring_bytes;
  int sealed = weft_net_hello_seal(&hello, sizeof hello, SHM_MAGIC, key, handle, conn_id, 0) == 0;
  if (!sealed) snprintf(err, sizeof err, "shm: cannot make the hello (no random bytes?)");
  if (!sealed || weft_unix_connect(h.name, timeout_ms, &s, err) != 0 ||
      weft_unix_send_fd(s, &hello, sizeof hello, mfd, timeout_ms, err) != 0) {
    weft_net_obj_err(ctx, "%s", err);
    if (s >= 0) close(s);
    s = -1;
  }
  close(mfd); /* the mapping and the peer's copy keep the memory alive */
  shm_ep *e = s >= 0 ? ep_new(WEFT_NET_OBJ_SEND, s) : NULL;
  if (!e) {
    munmap(map, map_len);
    if (s >= 0) close(s);
    return s >= 0 ? weftSystemError : weftRemoteError;
  }
  e->ring = ring;
  e->data = (char *)map + RING_OFF;
  e->map_len = map_len;
  e->size = ctx->ring_bytes;
  e->cma_threshold = ctx->cma_enabled ? ctx->cma_threshold : UINT64_MAX;
  e->peer_pid = peer_pid(s);
  set_nonblock(s);
  *out = e;
  return weftSuccess;
}

/* Receives the hello and the ring's memfd; returns the mapped ring or NULL. */
static shm_ep *accept_one(weft_net_listen *l, int s, int hello_ms, uint64_t *conn_id) {
  shm_ctx *ctx = (shm_ctx *)l->ctx;
  shm_hello hello;
  int mfd = -1;
  char err[WEFT_SOCK_ERRLEN];
  if (weft_unix_recv_fd(s, &hello, sizeof hello, &mfd, hello_ms, err) != 0) return NULL;
  struct stat st;
  size_t map_len = RING_OFF + hello.ring_bytes;
  int seals = fcntl(mfd, F_GET_SEALS);
  if (!weft_net_hello_check(l, &hello, sizeof hello, SHM_MAGIC) || hello.h.flags || hello.ring_bytes < 4096 ||
      hello.ring_bytes > ((uint64_t)1 << 30) || (hello.ring_bytes & (hello.ring_bytes - 1)) || fstat(mfd, &st) != 0 ||
      (size_t)st.st_size < map_len || seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW)) {
    if (mfd >= 0) close(mfd);
    return NULL;
  }
  void *map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
  close(mfd);
  if (map == MAP_FAILED) return NULL;
  ring_prefault(map, map_len, 0);
  shm_ep *e = ep_new(WEFT_NET_OBJ_RECV, s);
  if (!e) {
    munmap(map, map_len);
    return NULL;
  }
  e->ring = map;
  e->data = (char *)map + RING_OFF;
  e->map_len = map_len;
  e->size = hello.ring_bytes;
  e->peer_pid = peer_pid(s);
  /* Probe cross-memory attach: read a known word from the sender. */
  uint64_t v = 0;
  struct iovec lo = {&v, sizeof v}, re = {(void *)(uintptr_t)e->ring->probe_addr, sizeof v};
  if (ctx->cma_enabled && e->peer_pid > 0 && process_vm_readv(e->peer_pid, &lo, 1, &re, 1, 0) == (ssize_t)sizeof v &&
      v == e->ring->probe_value)
    atomic_store(&e->ring->cma_ok, 1);
  else if (ctx->cma_enabled)
    weft_net_logf(&ctx->base, weftLogInfo, "shm: cross-memory attach unavailable, copying through the ring");
  *conn_id = hello.h.conn_id;
  set_nonblock(s);
  return e;
}

static weft_net_verdict shm_take(weft_net_listen *l, int s, int hello_ms, void **out, uint64_t *conn_id,
                                 uint32_t *flags, weftResult_t *res) {
  (void)res;
  *flags = 0;
  /* the socket name is visible to every local user: only our own uid may
   * connect (the socket stays nonblocking: a stranger's partial hello ends
   * at the hello deadline) */
  struct ucred cred;
  socklen_t cl = sizeof cred;
  if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &cl) != 0 || cred.uid != geteuid()) {
    weft_net_logf(l->ctx, weftLogWarn, "shm: dropped a connection from uid %d (pid %d): not this job's user",
                  cl == sizeof cred ? (int)cred.uid : -1, cl == sizeof cred ? (int)cred.pid : -1);
    return WEFT_NET_NO_KEY;
  }
  shm_ep *e = accept_one(l, s, hello_ms, conn_id);
  if (!e) return WEFT_NET_NO_KEY;
  *out = e;
  return WEFT_NET_TAKEN;
}

static weftResult_t shm_accept(void *l, int timeout_ms, void **out, uint64_t *conn_id, uint32_t *flags) {
  return weft_net_accept(l, timeout_ms, "local peer", sizeof(shm_hello), shm_take, out, conn_id, flags);
}

/* ---- data path ---------------------------------------------------------- */

static void ring_put(shm_ep *e, const void *src, size_t n) {
  uint64_t size = e->size, at = e->pos & (size - 1);
  size_t first = n < size - at ? n : (size_t)(size - at);
  memcpy(e->data + at, src, first);
  if (n > first) memcpy(e->data, (const char *)src + first, n - first);
  e->pos += n;
}

static void ring_get(shm_ep *e, void *dst, size_t n) {
  uint64_t size = e->size, at = e->pos & (size - 1);
  size_t first = n < size - at ? n : (size_t)(size - at);
  memcpy(dst, e->data + at, first);
  if (n > first) memcpy((char *)dst + first, e->data, n - first);
  e->pos += n;
}

static weftResult_t ep_fail(shm_ep *e, weftResult_t res, const char *what) {
  if (!e->failed) {
    e->failed = res;
    weft_net_obj_err(e, "%s", what);
  }
  return e->failed;
}

/* The peer's end of the socket closed: it exited, or closed this
 * connection. A sender can go no further. A receiver first takes what the
 * ring still holds (a peer may write its last message and exit before it
 * is read) and fails only a receive the ring cannot complete. */
static void peer_closed(shm_ep *e) {
  e->peer_eof = 1;
  if (e->h.type == WEFT_NET_OBJ_SEND) ep_fail(e, weftRemoteError, PEER_GONE);
}

/* A receiver whose peer closed: fails once nothing more is in the ring for
 * the receive at the head of the queue (call after progress_recv). */
static void recv_check_eof(shm_ep *e) {
  if (e->peer_eof && e->q.head && atomic_load_explicit(&e->ring->head, memory_order_acquire) == e->pos)
    ep_fail(e, weftRemoteError, PEER_GONE);
}

/* Wakes the other side if it announced it sleeps. The caller has just
 * updated its counter with a sequentially consistent store (on x86 one
 * locked instruction, cheaper than a store and a fence) and the flag is read
 * the same way; the sleeper sets its flag, then re-reads our counter, so one
 * of the two always sees the other. */
static void ring_doorbell(shm_ep *e, _Atomic uint32_t *waiting) {
  if (atomic_load(waiting) && atomic_exchange(waiting, 0)) {
    char b = 1;
    if (send(e->sock, &b, 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN) peer_closed(e);
  }
}

static shm_req *req_head(shm_ep *e) { return (shm_req *)e->q.head; }

/* Frames start on a cache line, so a small message (frame and payload) is
 * one line to move between the cores, not two. */
static uint64_t frame_pad(uint64_t pos) { return (CACHELINE - (pos & (CACHELINE - 1))) & (CACHELINE - 1); }

static weftResult_t progress_send(shm_ep *e) {
  shm_ring *ring = e->ring;
  int moved = 0;
  while (e->q.head) {
    shm_req *r = req_head(e);
    /* the receiver's tail lives in its cache line: read it only when the
     * space we last saw is not enough, to keep small messages to one miss */
    uint64_t space = e->size - (e->pos - e->tail_seen);
    if (space < frame_pad(e->pos) + sizeof r->hdr + (r->size - r->off)) {
      uint64_t tail = atomic_load_explicit(&ring->tail, memory_order_acquire);
      if (tail > e->pos || e->pos - tail > e->size) return ep_fail(e, weftRemoteError, CORRUPT);
      e->tail_seen = tail;
      space = e->size - (e->pos - e->tail_seen);
    }
    if (!r->hdr_done) {
      uint64_t pad = frame_pad(e->pos);
      if (space < pad + sizeof r->hdr) break;
      e->pos += pad;
      space -= pad;
      r->hdr.cma = r->size >= e->cma_threshold && atomic_load_explicit(&ring->cma_ok, memory_order_relaxed);
      r->hdr.addr = (uint64_t)(uintptr_t)r->buf;
      ring_put(e, &r->hdr, sizeof r->hdr);
      space -= sizeof r->hdr;
      r->hdr_done = 1;
      moved = 1;
      if (r->hdr.cma) {
        r->cma_seq = ++e->cma_sent;
        r->state = RQ_CMA_WAIT; /* completes when the receiver acknowledges */
        weft_req_pop(&e->q);
        continue;
      }
    }
    size_t n = r->size - r->off < space ? r->size - r->off : (size_t)space;
    /* in pieces, each published at once: the receiver copies one out while
     * we copy the next in, instead of the two taking turns over the ring */
    while (n) {
      size_t k = n < SHM_PIECE ? n : SHM_PIECE;
      ring_put(e, r->buf + r->off, k);
      r->off += k;
      n -= k;
      moved = 1;
      if (n) atomic_store_explicit(&ring->head, e->pos, memory_order_release);
    }
    if (r->off < r->size) break;
    r->state = RQ_DONE;
    weft_req_pop(&e->q);
  }
  if (moved) {
    atomic_store(&ring->head, e->pos);
    ring_doorbell(e, &ring->recv_waiting);
  }
  return e->failed;
}

static weftResult_t cma_read(shm_ep *e, shm_req *r) {
  while (r->off < r->hdr.size) {
    struct iovec lo = {r->buf + r->off, r->hdr.size - r->off};
    struct iovec re = {(void *)(uintptr_t)(r->hdr.addr + r->off), r->hdr.size - r->off};
    ssize_t n = process_vm_readv(e->peer_pid, &lo, 1, &re, 1, 0);
    if (n <= 0) {
      char what[160];
      snprintf(what, sizeof what, "cross-memory read of %llu bytes from pid %d failed: %s",
               (unsigned long long)r->hdr.size, (int)e->peer_pid, n < 0 ? strerror(errno) : "no progress");
      return ep_fail(e, weftRemoteError, what);
    }
    r->off += (size_t)n;
  }
  return weftSuccess;
}

static weftResult_t progress_recv(shm_ep *e) {
  shm_ring *ring = e->ring;
  int moved = 0, acked = 0;
  while (e->q.head) {
    shm_req *r = req_head(e);
    uint64_t head = atomic_load_explicit(&ring->head, memory_order_acquire);
    if (head < e->pos || head - e->pos > e->size) return ep_fail(e, weftRemoteError, CORRUPT);
    if (!r->hdr_done) {
      uint64_t at = e->pos + frame_pad(e->pos);
      if (head < at + sizeof r->hdr) break;
      e->pos = at;
      ring_get(e, &r->hdr, sizeof r->hdr);
      r->hdr_done = 1;
      moved = 1;
      if (r->hdr.size > r->size) {
        char what[128];
        snprintf(what, sizeof what, "incoming message of %llu bytes does not fit the posted %zu bytes",
                 (unsigned long long)r->hdr.size, r->size);
        atomic_store_explicit(&ring->tail, e->pos, memory_order_release);
        return ep_fail(e, weftInvalidUsage, what);
      }
    }
    uint64_t avail = head - e->pos;
    if (r->hdr.cma) {
      weftResult_t res = cma_read(e, r);
      if (res != weftSuccess) return res;
      atomic_fetch_add(&ring->acked, 1);
      acked = 1;
    } else {
      size_t n = r->hdr.size - r->off < avail ? r->hdr.size - r->off : (size_t)avail;
      while (n) { /* in pieces, freeing space for the sender as we go */
        size_t k = n < SHM_PIECE ? n : SHM_PIECE;
        ring_get(e, r->buf + r->off, k);
        r->off += k;
        n -= k;
        moved = 1;
        if (n) atomic_store_explicit(&ring->tail, e->pos, memory_order_release);
      }
      if (r->off < r->hdr.size) break;
    }
    r->state = RQ_DONE;
    weft_req_pop(&e->q);
  }
  if (moved) atomic_store(&ring->tail, e->pos);
  if (moved || acked) ring_doorbell(e, &ring->send_waiting);
  return e->failed;
}

static shm_req *req_new(shm_ep *e) {
  shm_req *r = weft_req_get(&e->q, sizeof *r);
  if (r) r->ep = e;
  return r;
}

static weftResult_t shm_isend(void *sc, const void *data, size_t size, uint64_t tag, void *mh, void **request) {
  shm_ep *e = sc;
  (void)mh;
  if (e->failed) return e->failed;
  shm_req *r = req_new(e);
  if (!r) return weftSystemError;
  r->buf = (char *)data;
  r->size = size;
  r->hdr.tag = tag;
  r->hdr.size = size;
  weft_req_push(&e->q, r);
  *request = r;
  return progress_send(e);
}

static weftResult_t shm_irecv(void *rc, void *data, size_t size, uint64_t tag, void *mh, void **request) {
  shm_ep *e = rc;
  (void)mh;
  (void)tag; /* matched by order; the sender's tag is reported by test() */
  if (e->failed) return e->failed;
  shm_req *r = req_new(e);
  if (!r) return weftSystemError;
  r->buf = data;
  r->size = size;
  weft_req_push(&e->q, r);
  *request = r;
  return weftSuccess;
}

static weftResult_t shm_test(void *request, int *done, size_t *size, uint64_t *tag) {
  shm_req *r = request;
  shm_ep *e = r->ep;
  *done = 0;
  if (r->state == RQ_QUEUED && !e->failed) {
    if (e->h.type == WEFT_NET_OBJ_SEND) progress_send(e);
    else if (progress_recv(e) == weftSuccess) recv_check_eof(e);
  }
  if (r->state == RQ_CMA_WAIT && atomic_load_explicit(&e->ring->acked, memory_order_acquire) >= r->cma_seq)
    r->state = RQ_DONE;
  if (r->state != RQ_DONE) {
    if (e->failed && r->hdr_done) {
      if (size) *size = (size_t)r->hdr.size;
      if (tag) *tag = r->hdr.tag;
    }
    return e->failed;
  }
  *done = 1;
  if (size) *size = (size_t)r->hdr.size;
  if (tag) *tag = r->hdr.tag;
  weft_req_release(&e->q, r);
  return weftSuccess;
}

/* Empties the doorbell; notices a peer that went away. */
static void drain(shm_ep *e) {
  char buf[64];
  while (!e->peer_eof) {
    ssize_t n = recv(e->sock, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) continue;
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) peer_closed(e);
    return;
  }
}

static int shm_poll_fd(void *comm, short *events) {
  shm_ep *e = comm;
  shm_ring *ring = e->ring;
  drain(e);
  if (e->failed) return WEFT_NET_POLL_READY;
  *events = POLLIN;
  if (e->h.type == WEFT_NET_OBJ_RECV) {
    if (e->peer_eof) return WEFT_NET_POLL_READY; /* test() reads what is left, then fails */
    atomic_store(&ring->recv_waiting, 1);
    if (e->q.head && atomic_load(&ring->head) != e->pos) return WEFT_NET_POLL_READY;
  } else {
    atomic_store(&ring->send_waiting, 1);
    uint64_t tail = atomic_load(&ring->tail), acked = atomic_load(&ring->acked);
    uint64_t space = tail <= e->pos && e->pos - tail <= e->size ? e->size - (e->pos - tail) : 0;
    if ((e->q.head && space >= frame_pad(e->pos) + sizeof(shm_frame)) || acked != e->acked_seen) {
      e->acked_seen = acked;
      return WEFT_NET_POLL_READY;
    }
  }
  return e->sock;
}

static weftResult_t shm_close_ep(void *c) {
  if (c) ep_free(c);
  return weftSuccess;
}

WEFT_NET_DEFINE(weft_net_shm) = {
    .abiVersion = WEFT_NET_ABI_VERSION,
    .name = "shm",
    .init = shm_init,
    .devices = weft_net_one_device,
    .getProperties = shm_properties,
    .listen = shm_listen,
    .connect = shm_connect,
    .accept = shm_accept,
    .regMr = NULL,
    .deregMr = NULL,
    .isend = shm_isend,
    .irecv = shm_irecv,
    .test = shm_test,
    .pollFd = shm_poll_fd,
    .lastError = weft_net_last_error,
    .closeSend = shm_close_ep,
    .closeRecv = shm_close_ep,
    .closeListen = weft_net_close_listen,
    .finalize = weft_net_free_ctx,
};
