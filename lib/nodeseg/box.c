/* Boxes: point-to-point channels in the node segment (nodeseg/box.h).
 *
 * The box of sender s and receiver d: a line the receiver writes (messages
 * read), a line it writes only before it sleeps (the sender reads that one
 * on every send, so it stays in the sender's cache), then the slots. Slot k
 * holds message k mod WEFT_BOX_SLOTS: its sequence number (32 bits, written
 * last), size (32 bits), signature (64 bits), then the payload. */
#include "nodeseg/box.h"

#include <linux/futex.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "coll/sig.h"
#include "comm/comm.h"
#include "nodeseg/nodeseg.h"
#include "util/clock.h"
#include "util/spin.h"

#define LINE 64
#define SLOT_BYTES ((16 + WEFT_BOX_MAX_BYTES + LINE - 1) / LINE * LINE)
#define BOX_BYTES (2 * LINE + WEFT_BOX_SLOTS * SLOT_BYTES)

size_t weft_box_area_bytes(int n) {
  return n >= 2 && n <= WEFT_BOX_MAX_RANKS ? (size_t)n * (size_t)n * BOX_BYTES : 0;
}

static char *box_of(const weft_nodeseg *g, int from, int to) {
  return g->box + ((size_t)from * (size_t)g->n + (size_t)to) * BOX_BYTES;
}
static _Atomic uint32_t *box_read(char *b) { return (_Atomic uint32_t *)b; }
static _Atomic uint32_t *box_sleeping(char *b) { return (_Atomic uint32_t *)(b + LINE); }
static _Atomic uint32_t *slot_seq(char *b, uint32_t seq) {
  return (_Atomic uint32_t *)(b + 2 * LINE + (size_t)(seq % WEFT_BOX_SLOTS) * SLOT_BYTES);
}

static int futex(_Atomic uint32_t *addr, int op, uint32_t val, const struct timespec *ts) {
  return (int)syscall(SYS_futex, (uint32_t *)addr, op, val, ts, NULL, 0);
}

static int try_send(weft_nodeseg *g, weft_box_op *op) {
  char *b = box_of(g, g->rank, op->peer);
  uint32_t seq = g->box_sent[op->peer] + 1;
  if (seq - g->box_seen[op->peer] > WEFT_BOX_SLOTS) { /* full as last seen: look again */
    g->box_seen[op->peer] = atomic_load_explicit(box_read(b), memory_order_acquire);
    if (seq - g->box_seen[op->peer] > WEFT_BOX_SLOTS) return 0;
  }
  _Atomic uint32_t *s = slot_seq(b, seq);
  char *slot = (char *)s;
  uint32_t len = (uint32_t)op->bytes;
  memcpy(slot + 4, &len, sizeof len);
  memcpy(slot + 8, &op->tag, sizeof op->tag);
  memcpy(slot + 16, op->src, op->bytes);
  /* sequentially consistent: ordered before the load of the sleep flag
   * below, as the receiver orders its flag before its last look */
  atomic_store(s, seq);
  g->box_sent[op->peer] = seq;
  if (atomic_load(box_sleeping(b))) futex(s, FUTEX_WAKE, INT_MAX, NULL);
  return 1;
}

static weftResult_t try_recv(weftComm_t c, weft_box_op *op, char *err, size_t errlen) {
  weft_nodeseg *g = c->nodeseg;
  char *b = box_of(g, op->peer, g->rank);
  uint32_t seq = g->box_got[op->peer] + 1;
  _Atomic uint32_t *s = slot_seq(b, seq);
  if (atomic_load_explicit(s, memory_order_acquire) != seq) return weftSuccess;
  const char *slot = (const char *)s;
  uint32_t len;
  uint64_t tag;
  memcpy(&len, slot + 4, sizeof len);
  memcpy(&tag, slot + 8, sizeof tag);
  if (tag != op->tag || len != op->bytes) {
    char why[400], peer[128];
    if (tag != op->tag) weft_sig_explain(op->tag, tag, op->bytes, WEFT_SIG_COUNT_UNKNOWN, why, sizeof why);
    else snprintf(why, sizeof why, "expected %zu bytes, received %u", op->bytes, len);
    weft_comm_peer_name(c, op->peer, peer, sizeof peer);
    snprintf(err, errlen, "mismatched calls with %s: %s", peer, why);
    return weftInvalidUsage;
  }
  memcpy(op->dst, slot + 16, op->bytes);
  g->box_got[op->peer] = seq;
  atomic_store_explicit(box_read(b), seq, memory_order_release);
  op->done = 1;
  return weftSuccess;
}

weftResult_t weft_box_try(weftComm_t c, weft_box_op *op, char *err, size_t errlen) {
  if (op->done) return weftSuccess;
  if (op->send) {
    op->done = try_send(c->nodeseg, op);
    return weftSuccess;
  }
  return try_recv(c, op, err, errlen);
}

weftResult_t weft_box_idle(weftComm_t c, const weft_box_op *op, double max_us, char *err, size_t errlen) {
  weft_nodeseg *g = c->nodeseg;
  char *b = op->send ? box_of(g, g->rank, op->peer) : box_of(g, op->peer, g->rank);
  uint32_t seq = op->send ? g->box_sent[op->peer] + 1 : g->box_got[op->peer] + 1;
  _Atomic uint32_t *s = slot_seq(b, seq);
  /* a message already there is received, even from a peer that left since */
  if (!op->send && atomic_load_explicit(s, memory_order_acquire) == seq) return weftSuccess;
  weftResult_t res = weft_nodeseg_peer_left(c, op->peer, 1, err, errlen);
  if (res != weftSuccess || max_us <= 0) return res;
  struct timespec ts = {0, (long)(max_us > 1000 ? 1000 : max_us) * 1000};
  if (op->send) { /* the receiver is behind: rare, and nobody wakes a sender */
    nanosleep(&ts, NULL);
    return weftSuccess;
  }
  atomic_store(box_sleeping(b), 1);
  uint32_t v = atomic_load(s);
  if (v != seq) futex(s, FUTEX_WAIT, v, &ts);
  atomic_store_explicit(box_sleeping(b), 0, memory_order_relaxed);
  return weftSuccess;
}

/* Whether an earlier op of ops, not done, goes the same way as ops[i]
 * (to the same peer, in the same direction): ops[i] waits its turn. */
static int behind(const weft_box_op *ops, int i) {
  for (int j = 0; j < i; j++)
    if (!ops[j].done && ops[j].peer == ops[i].peer && ops[j].send == ops[i].send) return 1;
  return 0;
}

weftResult_t weft_box_run(weftComm_t c, weft_box_op *ops, int nops, char *err, size_t errlen) {
  double start = 0;
  for (unsigned round = 0;; round++) {
    int left = 0, first = -1;
    for (int i = 0; i < nops; i++) {
      if (ops[i].done) continue;
      if (!behind(ops, i)) {
        weftResult_t res = weft_box_try(c, &ops[i], err, errlen);
        if (res != weftSuccess) return res;
      }
      if (!ops[i].done && left++ == 0) first = i;
    }
    if (!left) return weftSuccess;
    weft_spin_pause();
    if (round < 64) continue; /* spin a little before reading the clock */
    double now = weft_now_us();
    if (start == 0) start = now;
    double waited = now - start;
    if (atomic_load(&c->aborted)) {
      snprintf(err, errlen, "aborted by weftCommAbort");
      return weftAborted;
    }
    weftResult_t failed = atomic_load(&c->async_error);
    if (failed != weftSuccess) {
      snprintf(err, errlen, "interrupted: the communicator failed");
      return failed;
    }
    if (waited > c->timeout_ms * 1000.0) {
      char peer[128];
      weft_comm_peer_name(c, ops[first].peer, peer, sizeof peer);
      snprintf(err, errlen, "no progress for %d ms (WEFT_TIMEOUT) waiting to %s %s %zu bytes in the node segment",
               c->timeout_ms, ops[first].send ? "send to" : "receive from", peer, ops[first].bytes);
      return weftTimeout;
    }
    /* spin without yielding unless ranks outnumber CPUs (yield_after_us 0):
     * on a busy host a rank that yields goes behind every runnable task,
     * and a sleeper at least preempts when it is woken */
    if (waited < c->tune.spin_us) {
      if (c->tune.yield_after_us <= 0) sched_yield();
      continue;
    }
    weftResult_t res = weft_box_idle(c, &ops[first], 1000, err, errlen);
    if (res != weftSuccess) return res;
  }
}
