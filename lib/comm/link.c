/* Links to peers: opened on first use (WEFT_CONNECT=lazy, the default) or
 * all at init (eager). A transport endpoint carries one direction, so the
 * link on which this rank sends to p is one connection this rank opens to
 * p's listener, and the link on which it receives from p is one p opens to
 * this rank's. The executor asks for the links a schedule needs before it
 * runs it: this rank connects those it sends on (a connect never waits for
 * the peer to accept) and then accepts those it receives on, which the peer
 * opens when its matching call starts. Both ends know from their own
 * schedules which links that call needs, so no message arranges them.
 * Every connection says who opened it (connId: rank, stream, stream count)
 * and proves the comm's link key in its hello (transports/common/hello.c);
 * encrypted ones derive keys of their own there. Arrivals for other peers
 * than the one awaited are kept for when they are needed. */
#include <stdio.h>
#include <string.h>

#include "bootstrap/bootstrap.h"
#include "comm/comm.h"
#include "comm/comm_log.h"
#include "comm/netreg.h"
#include "util/clock.h"

/* How long one accept waits before the abort flag and the comm's failure
 * are looked at again. */
#define ACCEPT_SLICE_MS 50
/* How long one connect attempt may wait for an answer before the abort flag
 * and the comm's failure are looked at (transports with connectRetry): a
 * SYN's first retransmission comes after a second, so a slice this long
 * costs a live but lossy peer nothing. */
#define CONNECT_SLICE_MS 1000

/* connId carries the connecting rank, the stream index and the stream count. */
static uint64_t conn_id(int rank, int k, int nstreams) {
  return (uint64_t)(uint32_t)rank | (uint64_t)k << 32 | (uint64_t)nstreams << 48;
}

/* The comm failed or was aborted: no link opens any more. */
static weftResult_t comm_stopped(struct weftComm *c, char *err, size_t len) {
  weftResult_t failed = atomic_load(&c->async_error);
  if (failed != weftSuccess) {
    snprintf(err, len, "interrupted: the communicator failed");
    return failed;
  }
  if (atomic_load(&c->aborted)) {
    snprintf(err, len, "aborted by weftCommAbort");
    return weftAborted;
  }
  return weftSuccess;
}

/* One connection of the link to p (stream st) within the comm's timeout; on
 * failure err says why. A transport whose connect may be called again after
 * a timeout is given slices of CONNECT_SLICE_MS, and the abort flag and the
 * comm's failure are looked at between them: a host that never answers (a
 * partition, a node powered off) then holds the call only until someone
 * knows. */
static weftResult_t connect_stream(struct weftComm *c, int p, int st, const char *handle, void **ep, char *err,
                                   size_t len) {
  weft_peer_conn *pc = &c->peers[p];
  weft_net_inst *ni = &c->nets[weft_net_slot_of(pc->net)];
  uint32_t flags = c->encrypt[p] ? WEFT_NET_CONN_ENCRYPT : 0;
  uint64_t id = conn_id(c->rank, st, pc->nstreams);
  long long deadline = weft_now_ms() + c->timeout_ms;
  weftResult_t res;
  for (;;) {
    int slice = c->timeout_ms; /* one call with the whole timeout */
    if (ni->connect_retry) {
      long long left = deadline - weft_now_ms();
      slice = left < 1 ? 1 : left < CONNECT_SLICE_MS ? (int)left : CONNECT_SLICE_MS;
    }
    res = pc->net->connect(ni->ctx, 0, handle, &c->net_key, id, flags, slice, ep);
    if (res == weftSuccess) return res;
    if (res != weftTimeout || !ni->connect_retry || weft_now_ms() >= deadline) break;
    weftResult_t stopped = comm_stopped(c, err, len);
    if (stopped != weftSuccess) return stopped;
  }
  char pn[128];
  weft_comm_peer_name(c, p, pn, sizeof pn);
  if (res == weftTimeout)
    snprintf(err, len, "transport %s: connecting to %s: no answer within %d ms (WEFT_TIMEOUT; the last try: %s)",
             pc->net->name, pn, c->timeout_ms, pc->net->lastError(ni->ctx));
  else
    snprintf(err, len, "transport %s: connecting to %s: %s", pc->net->name, pn, pc->net->lastError(ni->ctx));
  weft_comm_suspect(c, p);
  return res;
}

weftResult_t weft_comm_link_send(struct weftComm *c, int p, char *err, size_t len) {
  weft_peer_conn *pc = &c->peers[p];
  weftResult_t res = comm_stopped(c, err, len);
  if (res != weftSuccess || weft_peer_linked(pc, 1)) return res;
  int k = weft_net_slot_of(pc->net);
  const char *handle = c->net_handles + (size_t)p * c->net_handle_row + (size_t)k * WEFT_NET_HANDLE_BYTES;
  for (int st = 0; st < pc->nstreams && res == weftSuccess; st++) {
    void **ep = st ? &pc->xsend[st - 1] : &pc->send;
    if (!*ep) res = connect_stream(c, p, st, handle, ep, err, len);
  }
  return res;
}

/* Takes one accepted connection: its endpoint goes where its connId says,
 * after the checks that it is one this rank expects. */
static weftResult_t take_link(struct weftComm *c, weft_net_inst *ni, void *rc, uint64_t id, uint32_t flags,
                              char *err, size_t len) {
  uint64_t from = id & 0xffffffffu;
  int k = (int)(id >> 32 & 0xffff), ns = (int)(id >> 48);
  weft_peer_conn *pc = from < (uint64_t)c->nranks ? &c->peers[from] : NULL;
  if (!pc || (int)from == c->rank || pc->net != ni->net || ns != pc->nstreams || k >= ns || weft_peer_ep(pc, 0, k)) {
    ni->net->closeRecv(rc);
    snprintf(err, len, "transport %s: unexpected connection from rank %llu (stream %d of %d, expected %d streams)",
             ni->net->name, (unsigned long long)from, k, ns, pc ? pc->nstreams : 0);
    return weftInternalError;
  }
  if (!(flags & WEFT_NET_CONN_ENCRYPT) != !c->encrypt[from]) {
    char pn[128];
    weft_comm_peer_name(c, (int)from, pn, sizeof pn);
    ni->net->closeRecv(rc);
    snprintf(err, len,
             "transport %s: %s connected %s encryption, but this rank (WEFT_CRYPTO=%s) %s it on that link: set "
             "WEFT_CRYPTO alike on every rank", ni->net->name, pn, (flags & WEFT_NET_CONN_ENCRYPT) ? "with" : "without",
             weft_comm_crypto_name(c->crypto), c->encrypt[from] ? "requires" : "does not use");
    return weftInvalidUsage;
  }
  if (k == 0) pc->recv = rc;
  else pc->xrecv[k - 1] = rc;
  return weftSuccess;
}

weftResult_t weft_comm_link_recv(struct weftComm *c, int p, char *err, size_t len) {
  weft_peer_conn *pc = &c->peers[p];
  weft_net_inst *ni = &c->nets[weft_net_slot_of(pc->net)];
  long long deadline = weft_now_ms() + c->timeout_ms;
  weftResult_t res = weftSuccess;
  while (res == weftSuccess && !weft_peer_linked(pc, 0)) {
    if ((res = comm_stopped(c, err, len)) != weftSuccess) return res;
    long long left = deadline - weft_now_ms();
    if (left <= 0) {
      char pn[128];
      weft_comm_peer_name(c, p, pn, sizeof pn);
      snprintf(err, len, "transport %s: %s did not connect within %d ms (WEFT_TIMEOUT)", ni->net->name, pn,
               c->timeout_ms);
      weft_comm_suspect(c, p);
      return weftTimeout;
    }
    void *rc;
    uint64_t id;
    uint32_t flags = 0;
    res = ni->net->accept(ni->listen, left < ACCEPT_SLICE_MS ? (int)left : ACCEPT_SLICE_MS, &rc, &id, &flags);
    if (res == weftTimeout) {
      res = weftSuccess;
      continue;
    }
    if (res != weftSuccess) {
      snprintf(err, len, "transport %s: accepting links: %s", ni->net->name, ni->net->lastError(ni->listen));
      return res;
    }
    res = take_link(c, ni, rc, id, flags, err, len);
  }
  return res;
}

weftResult_t weft_comm_link_poll(struct weftComm *c, char *err, size_t len) {
  for (int k = 0; k < WEFT_MAX_NETS; k++) {
    weft_net_inst *ni = &c->nets[k];
    if (!ni->listen) continue;
    for (;;) {
      void *rc;
      uint64_t id;
      uint32_t flags = 0;
      weftResult_t res = ni->net->accept(ni->listen, 0, &rc, &id, &flags);
      if (res == weftTimeout) break;
      if (res == weftSuccess) res = take_link(c, ni, rc, id, flags, err, len);
      else snprintf(err, len, "transport %s: accepting links: %s", ni->net->name, ni->net->lastError(ni->listen));
      if (res != weftSuccess) return res;
    }
  }
  return weftSuccess;
}

weftResult_t weft_comm_link_peers(struct weftComm *c, const unsigned char *want, char *err, size_t len) {
  int n = c->nranks, r = c->rank;
  weftResult_t res = weftSuccess;
  for (int i = 1; i < n && res == weftSuccess; i++)
    if (!want || want[(r + i) % n]) res = weft_comm_link_send(c, (r + i) % n, err, len);
  for (int i = 1; i < n && res == weftSuccess; i++)
    if (!want || want[(r + n - i) % n]) res = weft_comm_link_recv(c, (r + n - i) % n, err, len);
  return res;
}

weftResult_t weft_comm_link_all(struct weftComm *c) {
  char err[WEFT_ERRMSG_LEN];
  weftResult_t res = weft_comm_link_peers(c, NULL, err, sizeof err);
  if (res != weftSuccess) return weft_error(NULL, res, "%s", err);
  char berr[WEFT_SOCK_ERRLEN];
  if ((res = weft_bootstrap_barrier(c->bootstrap, berr)) != weftSuccess) return weft_error(NULL, res, "%s", berr);
  return weftSuccess;
}
