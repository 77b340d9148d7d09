/* Warming the WAN streams at init, so that the first collective does not pay
 * for TCP's ramp (slow start, or BBR's startup: about ten round trips before
 * a stream fills a long fat link, a second at 134 ms).
 *
 * Between two ranks of different sites that the hierarchical allreduce joins
 * (weft_hier_slow_pair: the pairs that carry its WAN traffic, all at once,
 * so each stream learns the share of the link it will get), when both ends
 * agreed to warm (the row of connect.c):
 *   1. on stream 0, each side sends two pings and echoes the other's
 *      (WARM_SMALL-byte messages, typed by their content since pings and
 *      echoes interleave): the smaller round trip is this link's RTT;
 *   2. on every stream, each side then streams WARM_CHUNK-byte chunks for
 *      weft_wan_warm_ms(RTT, WEFT_WAN_WARMUP_MS) and ends with a chunk whose
 *      first word says "last"; the receiver reads until it.
 * Both stages go through the transport's ordinary isend/irecv, so an
 * encrypted link is warmed through its encryption. Init waits for it: at most
 * the cap plus about three round trips and the bytes queued at the cap.
 * A link with RTT under WEFT_WAN_WARM_MIN_RTT sends only the last chunk. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coll/hier.h"
#include "comm/comm.h"
#include "comm/comm_log.h"
#include "comm/netreg.h"
#include "comm/warm.h"
#include "topo/wan_size.h"
#include "util/clock.h"
#include "util/param.h"

#define WARM_SMALL 8
#define WARM_CHUNK ((size_t)128 << 10)
#define WARM_DEPTH 4   /* chunks in flight per stream */
#define WARM_PINGS 2
#define WARM_TAG 0x7761726dULL /* "warm" (matching is by order; the tag only labels) */
enum { MSG_PING = 1, MSG_ECHO = 2 };

typedef struct {
  void *send_ep, *recv_ep;
  void *sreq[WARM_DEPTH]; /* chunks in flight */
  int nsreq, last_sent, last_got;
  void *rreq;
  char *rbuf; /* WARM_CHUNK bytes */
} warm_stream;

typedef struct {
  int peer, ns;
  const weftNet_t *net;
  warm_stream *st;
  /* stage 1, on stream 0 */
  uint32_t small_out[2 * WARM_PINGS][2]; /* the small messages sent, in order */
  void *small_req[2 * WARM_PINGS];
  int small_sent, small_got, pings_sent, echoes_got;
  unsigned pings_in, echoes_in; /* the rounds the peer has pinged and echoed: each at most once */
  int bad; /* the peer sent what the warm-up does not expect */
  uint32_t small_in[2];
  long long ping_at[WARM_PINGS];
  double rtt;
  /* stage 2 */
  long long until_ms; /* 0: not started */
} warm_peer;

typedef struct {
  struct weftComm *c;
  const char *zero, *last; /* chunk payloads: first word 0 (more) or 1 (last) */
  int cap_ms;
} warm_run;

static double now_s(void) { return (double)weft_now_ns() * 1e-9; }

/* Tests a request: 1 done (*req cleared), 0 pending, -1 failed. */
static int poll_req(const weftNet_t *net, void **req, size_t *size) {
  int done = 0;
  size_t got = 0;
  if (net->test(*req, &done, &got, NULL) != weftSuccess) return -1;
  if (!done) return 0;
  *req = NULL;
  if (size) *size = got;
  return 1;
}

/* The next message of s into buf, which must be size bytes: 1 got, 0 not
 * yet (a receive stays posted), -1 failed. */
static int recv_next(warm_peer *w, warm_stream *s, void *buf, size_t size) {
  if (!s->rreq && w->net->irecv(s->recv_ep, buf, size, WARM_TAG, NULL, &s->rreq) != weftSuccess) return -1;
  size_t got = 0;
  int k = poll_req(w->net, &s->rreq, &got);
  if (k > 0 && got != size) return w->bad = 1, -1;
  return k;
}

static int send_small(warm_peer *w, uint32_t kind, uint32_t round) {
  if (w->small_sent >= 2 * WARM_PINGS) return w->bad = 1, -1; /* step_small's checks keep it below */
  uint32_t *m = w->small_out[w->small_sent];
  m[0] = kind;
  m[1] = round;
  if (w->net->isend(w->st[0].send_ep, m, WARM_SMALL, WARM_TAG, NULL, &w->small_req[w->small_sent]) != weftSuccess)
    return -1;
  w->small_sent++;
  if (kind == MSG_PING) w->ping_at[w->pings_sent++] = weft_now_ns();
  return 0;
}

/* Stage 1 on w; 1 when something moved. */
static int step_small(warm_peer *w) {
  int moved = 0;
  for (int i = 0; i < w->small_sent; i++) {
    int k = w->small_req[i] ? poll_req(w->net, &w->small_req[i], NULL) : 0;
    if (k < 0) return -1;
    moved |= k;
  }
  if (w->small_got < 2 * WARM_PINGS) {
    int k = recv_next(w, &w->st[0], w->small_in, WARM_SMALL);
    if (k < 0) return -1;
    if (k) {
      moved = 1;
      w->small_got++;
      uint32_t kind = w->small_in[0], round = w->small_in[1];
      /* the peer's input: a round it pings twice, or an echo of a ping not
       * sent (or echoed before), would overrun small_out and ping_at */
      unsigned bit = round < WARM_PINGS ? 1u << round : 0;
      if (!bit || (kind == MSG_PING && (w->pings_in & bit)) ||
          (kind == MSG_ECHO && (round >= (uint32_t)w->pings_sent || (w->echoes_in & bit))) ||
          (kind != MSG_PING && kind != MSG_ECHO))
        return w->bad = 1, -1;
      if (kind == MSG_PING) {
        w->pings_in |= bit;
        if (send_small(w, MSG_ECHO, round) != 0) return -1;
      } else {
        w->echoes_in |= bit;
        double rtt = (double)(weft_now_ns() - w->ping_at[round]) * 1e-9;
        if (w->echoes_got++ == 0 || rtt < w->rtt) w->rtt = rtt;
      }
    }
  }
  /* the next ping once the last one came back */
  if (w->pings_sent < WARM_PINGS && w->echoes_got == w->pings_sent) {
    if (send_small(w, MSG_PING, (uint32_t)w->pings_sent) != 0) return -1;
    moved = 1;
  }
  return moved;
}

/* Stage 2 on stream s of w; 1 when something moved. */
static int step_chunks(const warm_run *run, warm_peer *w, warm_stream *s, long long now_ms) {
  int moved = 0;
  for (int i = 0; i < s->nsreq; i++) {
    int k = poll_req(w->net, &s->sreq[i], NULL);
    if (k < 0) return -1;
    if (k) {
      s->sreq[i--] = s->sreq[--s->nsreq];
      moved = 1;
    }
  }
  while (!s->last_sent && s->nsreq < WARM_DEPTH) {
    int last = now_ms >= w->until_ms;
    if (w->net->isend(s->send_ep, last ? run->last : run->zero, WARM_CHUNK, WARM_TAG, NULL, &s->sreq[s->nsreq]) !=
        weftSuccess)
      return -1;
    s->nsreq++;
    s->last_sent = last;
    moved = 1;
  }
  while (!s->last_got) {
    int k = recv_next(w, s, s->rbuf, WARM_CHUNK);
    if (k < 0) return -1;
    if (!k) break;
    uint64_t flag;
    memcpy(&flag, s->rbuf, sizeof flag);
    s->last_got = flag != 0;
    moved = 1;
  }
  return moved;
}

/* One pass over w; 1 when it is finished, 0 not yet, -1 failed. */
static int step_peer(const warm_run *run, warm_peer *w, int *moved) {
  int m = step_small(w);
  if (m < 0) return -1;
  *moved |= m;
  if (w->small_got < 2 * WARM_PINGS || w->small_sent < 2 * WARM_PINGS) return 0;
  long long now = weft_now_ms();
  if (!w->until_ms) w->until_ms = now + weft_wan_warm_ms(w->rtt, run->cap_ms);
  int finished = 1;
  for (int k = 0; k < w->ns; k++) {
    warm_stream *s = &w->st[k];
    if ((m = step_chunks(run, w, s, now)) < 0) return -1;
    *moved |= m;
    finished &= s->last_sent && !s->nsreq && s->last_got;
  }
  for (int i = 0; i < w->small_sent; i++) finished &= !w->small_req[i];
  return finished;
}

static int warm_wanted(const struct weftComm *c, const unsigned char *agree, int p) {
  return p != c->rank && agree[p] && agree[c->rank] && c->peers[p].net &&
         weft_hier_slow_pair(&c->layout.sites, c->rank, p);
}

static void free_peers(warm_peer *w, int n) {
  for (int i = 0; i < n; i++) {
    for (int k = 0; w[i].st && k < w[i].ns; k++) free(w[i].st[k].rbuf);
    free(w[i].st);
  }
  free(w);
}

/* Requests still posted when warming fails stay with their endpoints, which
 * the failed init closes. */
static weftResult_t run_all(warm_run *run, warm_peer *w, int n) {
  struct weftComm *c = run->c;
  long long deadline = weft_now_ms() + c->timeout_ms;
  int left = n;
  while (left > 0) {
    int moved = 0;
    left = 0;
    for (int i = 0; i < n; i++) {
      int r = step_peer(run, &w[i], &moved);
      if (r < 0) {
        char pn[128];
        weft_comm_peer_name(c, w[i].peer, pn, sizeof pn);
        return weft_error(NULL, weftRemoteError, "warming the WAN streams to %s: transport %s: %s", pn, w[i].net->name,
                          w[i].bad ? "a message of another size or kind than the warm-up's (a peer of another weft?)"
                                   : w[i].net->lastError(c->nets[weft_net_slot_of(w[i].net)].ctx));
      }
      left += r == 0;
    }
    if (left && weft_now_ms() > deadline)
      return weft_error(NULL, weftTimeout, "warming the WAN streams: no end from %d peers within %d ms (WEFT_TIMEOUT)",
                        left, c->timeout_ms);
    if (left && !moved) nanosleep(&(struct timespec){0, 50000}, NULL);
  }
  return weftSuccess;
}

weftResult_t weft_comm_warm_wan(struct weftComm *c, const unsigned char *agree) {
  if (c->layout.sites.ngroups < 2 || !c->layout.sites.group_of) return weftSuccess;
  int n = 0;
  for (int p = 0; p < c->nranks; p++) n += warm_wanted(c, agree, p);
  if (!n) return weftSuccess;
  warm_run run = {.c = c, .cap_ms = (int)weft_env_int("WEFT_WAN_WARMUP_MS", WEFT_WAN_WARMUP_MS_DEFAULT, 0, 600000)};
  char *bufs = calloc(2, WARM_CHUNK);
  warm_peer *w = calloc((size_t)n, sizeof *w);
  int oom = !bufs || !w;
  weftResult_t res = oom ? weftSystemError : weftSuccess;
  n = 0;
  /* lazy links (comm/link.c): the ones warmed open now */
  unsigned char *want = calloc((size_t)c->nranks, 1);
  if (!want) oom = 1, res = weftSystemError;
  for (int p = 0; p < c->nranks && want; p++) want[p] = (unsigned char)warm_wanted(c, agree, p);
  char why[WEFT_ERRMSG_LEN];
  if (res == weftSuccess && (res = weft_comm_link_peers(c, want, why, sizeof why)) != weftSuccess)
    weft_error(NULL, res, "warming the WAN links: %s", why);
  free(want);
  for (int p = 0; p < c->nranks && res == weftSuccess; p++) {
    if (!warm_wanted(c, agree, p)) continue;
    warm_peer *x = &w[n++];
    x->peer = p;
    x->net = c->peers[p].net;
    x->ns = c->peers[p].nstreams;
    if (!(x->st = calloc((size_t)x->ns, sizeof *x->st))) oom = 1, res = weftSystemError;
    for (int k = 0; k < x->ns && res == weftSuccess; k++) {
      x->st[k].send_ep = weft_peer_ep(&c->peers[p], 1, k);
      x->st[k].recv_ep = weft_peer_ep(&c->peers[p], 0, k);
      if (!(x->st[k].rbuf = malloc(WARM_CHUNK))) oom = 1, res = weftSystemError;
    }
  }
  if (oom) {
    weft_error(NULL, res, "out of memory");
  } else if (res == weftSuccess) {
    uint64_t one = 1;
    memcpy(bufs + WARM_CHUNK, &one, sizeof one);
    run.zero = bufs;
    run.last = bufs + WARM_CHUNK;
    double t0 = now_s();
    res = run_all(&run, w, n);
    if (res == weftSuccess) {
      double worst = 0;
      for (int i = 0; i < n; i++) worst = w[i].rtt > worst ? w[i].rtt : worst;
      WEFT_INFO(c, "WAN streams to %d peer%s warmed in %.0f ms (largest RTT %.1f ms, WEFT_WAN_WARMUP_MS=%d)", n,
                n > 1 ? "s" : "", (now_s() - t0) * 1e3, worst * 1e3, run.cap_ms);
    }
  }
  free_peers(w, w ? n : 0);
  free(bufs);
  return res;
}

int weft_comm_warm_wanted(void) {
  return weft_env_int("WEFT_WAN_WARMUP_MS", WEFT_WAN_WARMUP_MS_DEFAULT, 0, 600000) > 0;
}
