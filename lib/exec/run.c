/* Runs a schedule: releases steps as their dependencies finish, posts sends
 * and receives per peer and stream in schedule order, runs reductions and copies on
 * this thread, and sleeps in poll() on the transport's descriptors when
 * nothing can move. Bounded by the comm's timeout and its abort flag. */
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/run.h"

#include "codec/codec.h"
#include "coll/sig.h"
#include "nodeseg/box.h"
#include "nodeseg/nodeseg.h"
#include "util/clock.h"
#include "util/spin.h"
#include "util/ticks.h"
#include "nodeseg/slots_run.h"
#include "reduce/reduce.h"
#include "util/sock.h"
#include "util/trace.h"

enum { S_WAIT = 0, S_READY, S_FLIGHT, S_DONE };

/* How long a run waits without progress before it takes the links peers
 * opened to this rank, and how often after that. */
#define LINK_POLL_US 1000.0

/* A message to a peer with several streams is cut into parts; parts go to
 * the peer's streams round-robin, in message order, so each stream carries
 * a fixed sequence both ends agree on. Each stream is posted in order on its
 * own: a message waiting for its data holds up only its own stream, not the
 * messages behind it on the others. Each part is one transport request.
 * The run's state (weft_run, run.h) lives with its caller, so a run can stop
 * and go on later. */
typedef weft_run run_t;
typedef weft_run_queue stream_queue;

static int is_net(const weft_step *st) { return st->kind == ST_SEND || st->kind == ST_RECV; }

/* Parts a message of step st is cut into: one per stream of its peer, each
 * at least stripe_min bytes. Both ends compute it from the capacity. */
static int nparts_of(const run_t *R, const weft_step *st) {
  int ns = R->peers[st->msg.peer].nstreams;
  if (ns <= 1) return 1;
  size_t cap = st->msg.cap ? st->msg.cap : st->msg.n, np = (cap + R->v->stripe_min - 1) / R->v->stripe_min;
  return np < 1 ? 1 : np > (size_t)ns ? ns : (int)np;
}

static void part_range(const weft_step *st, int np, int k, size_t *off, size_t *len) {
  size_t cap = st->msg.cap ? st->msg.cap : st->msg.n, ps = (cap + (size_t)np - 1) / (size_t)np;
  ps = (ps + 63) & ~(size_t)63;
  *off = (size_t)k * ps < cap ? (size_t)k * ps : cap;
  *len = cap - *off < ps ? cap - *off : ps;
}

static const char *step_name(int kind) {
  switch (kind) {
    case ST_SEND: return "send";
    case ST_RECV: return "recv";
    case ST_REDUCE: return "reduce";
    case ST_COPY: return "copy";
    case ST_AVG: return "avg";
    case ST_ENCODE: return "encode";
    case ST_DECODE: return "decode";
    case ST_DECODE_ADD: return "decode+reduce";
    case ST_SLOTS: return "node segment";
    case ST_BOX_SEND: return "box send";
    case ST_BOX_RECV: return "box recv";
    default: return "step";
  }
}

static int link_class(const run_t *R, int p) {
  const weft_exec_view *v = R->v;
  if (v->site_of && v->site_of[p] != v->site_of[v->rank]) return WEFT_LINK_CLASS_WAN;
  if (v->node_of && v->node_of[p] != v->node_of[v->rank]) return WEFT_LINK_CLASS_SITE;
  return WEFT_LINK_CLASS_NODE;
}

/* weftCommGetStats: a finished part of a message, counted on its link class. */
static void count_part(run_t *R, int part, size_t size) {
  const weft_step *st = &R->s->steps[R->pstep[part]];
  int i = R->pstep[part], cls = link_class(R, st->msg.peer);
  weft_comm_stats *x = R->v->stats;
  if (st->kind == ST_RECV) {
    atomic_fetch_add_explicit(&x->received[cls], size, memory_order_relaxed);
    return;
  }
  size_t off, len;
  part_range(st, R->pbase[i + 1] - R->pbase[i], part - R->pbase[i], &off, &len);
  size_t n = st->msg.n > off ? st->msg.n - off : 0;
  atomic_fetch_add_explicit(&x->sent[cls], n < len ? n : len, memory_order_relaxed);
  atomic_fetch_add_explicit(&x->messages[cls], 1, memory_order_relaxed);
}

/* Tracing: a finished part of a message, on its link's lane. */
static void trace_part(run_t *R, int part, size_t bytes) {
  const weft_step *st = &R->s->steps[R->pstep[part]];
  int p = st->msg.peer, wan = R->v->site_of && R->v->site_of[p] != R->v->site_of[R->v->rank];
  int lane = weft_trace_link_lane(R->tr, p, st->kind == ST_SEND, R->pstream[part], wan);
  double now = weft_trace_now_us();
  char args[96];
  snprintf(args, sizeof args, "\"peer\":%d,\"bytes\":%zu", p, bytes);
  weft_trace_span(R->tr, lane, step_name(st->kind), wan ? "wan" : "net", R->tpart[part], now - R->tpart[part], args);
}

/* Per-stream queues of the parts of one kind: part streams are assigned
 * round-robin per peer in step order (a running counter per peer), then
 * each stream's parts are listed in order (CSR). cnt: n ints of scratch. */
static void queue_build(run_t *R, stream_queue *q, int kind, int nst, int *cnt) {
  weft_sched *s = R->s;
  memset(cnt, 0, sizeof(int) * (size_t)R->n);
  memset(q->ptr, 0, sizeof(int) * ((size_t)nst + 1));
  for (int i = 0; i < s->nsteps; i++) {
    const weft_step *st = &s->steps[i];
    if (st->kind != kind) continue;
    int ns = R->peers[st->msg.peer].nstreams;
    for (int part = R->pbase[i]; part < R->pbase[i + 1]; part++) {
      R->pstream[part] = cnt[st->msg.peer]++ % ns;
      q->ptr[R->sbase[st->msg.peer] + R->pstream[part] + 1]++;
    }
  }
  for (int g = 0; g < nst; g++) q->ptr[g + 1] += q->ptr[g];
  memcpy(q->next, q->ptr, sizeof(int) * (size_t)nst);
  for (int i = 0; i < s->nsteps; i++) {
    if (s->steps[i].kind != kind) continue;
    for (int part = R->pbase[i]; part < R->pbase[i + 1]; part++)
      q->idx[q->next[R->sbase[s->steps[i].msg.peer] + R->pstream[part]]++] = part;
  }
  memcpy(q->next, q->ptr, sizeof(int) * (size_t)nst);
}

/* Points R's arrays into R->m (np parts, nst streams). */
static void carve(run_t *R, size_t ns, size_t nn, size_t np, size_t nst) {
  R->reqs = R->m->mem;
  int *p = (int *)(R->reqs + np);
  R->stack = p, p += ns;
  R->box = p, p += ns;
  R->infl = p, p += np + ns;
  R->sbase = p, p += nn + 1;
  R->sq.idx = p, p += np + 1;
  R->rq.idx = p, p += np + 1;
  R->sq.ptr = p, p += nst + 1;
  R->rq.ptr = p, p += nst + 1;
  R->sq.next = p, p += nst;
  R->rq.next = p, p += nst;
  R->pbase = p, p += ns + 1;
  R->pstep = p, p += np;
  R->pstream = p, p += np;
  R->left = p;
}

/* Carves the run's bookkeeping out of memory kept with the schedule's op, so
 * a reused schedule runs without allocating; a rearmed plan (same steps,
 * same peers) also keeps its queues and parts and only rewinds the cursors. */
static int run_alloc(run_t *R, weft_sched *s, int n) {
  weft_run_mem *m = R->m;
  size_t ns = (size_t)s->nsteps, nn = (size_t)n, np = 0, nst = 0;
  if (m->built && m->gen == s->gen) {
    nst = (size_t)m->nstreams;
    carve(R, ns, nn, (size_t)m->nparts, nst);
    memcpy(R->sq.next, R->sq.ptr, sizeof(int) * nst);
    memcpy(R->rq.next, R->rq.ptr, sizeof(int) * nst);
    return 0;
  }
  for (int p = 0; p < n; p++) nst += (size_t)R->peers[p].nstreams;
  for (int i = 0; i < s->nsteps; i++)
    if (is_net(&s->steps[i])) np += (size_t)nparts_of(R, &s->steps[i]);
  size_t need = np * sizeof(void *) +
                sizeof(int) * (2 * ns + (np + ns) + (nn + 1) + 2 * (np + 1) + 2 * (nst + 1) + 2 * nst + (ns + 1) +
                               2 * np + ns + nn);
  if (m->cap < need) {
    void *p = realloc(m->mem, need);
    if (!p) return -1;
    m->mem = p;
    m->cap = need;
  }
  carve(R, ns, nn, np, nst);
  R->sbase[0] = 0;
  for (int p = 0; p < n; p++) R->sbase[p + 1] = R->sbase[p] + R->peers[p].nstreams;
  R->pbase[0] = 0;
  for (int i = 0; i < s->nsteps; i++) {
    int k = is_net(&s->steps[i]) ? nparts_of(R, &s->steps[i]) : 0;
    R->pbase[i + 1] = R->pbase[i] + k;
    for (int j = R->pbase[i]; j < R->pbase[i + 1]; j++) R->pstep[j] = i;
  }
  int *cnt = R->left + ns; /* n ints past the end of left */
  queue_build(R, &R->sq, ST_SEND, (int)nst, cnt);
  queue_build(R, &R->rq, ST_RECV, (int)nst, cnt);
  m->nparts = np > 0 ? (int)np : 0;
  m->gen = s->gen;
  m->nstreams = (int)nst;
  m->built = 1;
  return 0;
}

void weft_run_mem_free(weft_run_mem *m) {
  free(m->mem);
  *m = (weft_run_mem){0};
}

static void step_where(run_t *R, const weft_step *st, char *buf, size_t len) {
  char peer[128];
  weft_comm_peer_name(R->v->comm, st->msg.peer, peer, sizeof peer);
  int send = st->kind == ST_SEND || st->kind == ST_BOX_SEND;
  snprintf(buf, len, "%s %s %zu bytes (%s call #%u)", send ? "send to" : "receive from",
           peer, st->msg.n, weft_coll_name((weft_coll_kind)(st->msg.tag >> 60)), (unsigned)(st->msg.tag & 0xffff));
}

static weftResult_t net_fail(run_t *R, const weft_step *st, weftResult_t res, void *ep) {
  char where[256];
  step_where(R, st, where, sizeof where);
  const weftNet_t *net = R->peers[st->msg.peer].net;
  snprintf(R->err, R->errlen, "%s failed: %s", where, ep && net ? net->lastError(ep) : "connection closed");
  weft_comm_suspect(R->v->comm, st->msg.peer);
  return res == weftInvalidUsage || res == weftSystemError ? res : weftRemoteError;
}

static void *part_ep(run_t *R, int part) {
  const weft_step *st = &R->s->steps[R->pstep[part]];
  return weft_peer_ep(&R->peers[st->msg.peer], st->kind == ST_SEND, R->pstream[part]);
}

/* Posts one part of a step whose data is ready. */
static weftResult_t post_part(run_t *R, int part) {
  int i = R->pstep[part];
  weft_step *st = &R->s->steps[i];
  const weft_peer_conn *pc = &R->peers[st->msg.peer];
  int np = R->pbase[i + 1] - R->pbase[i];
  if (st->state == S_READY) { /* its first part */
    st->state = S_FLIGHT;
    R->left[i] = np;
    if (st->msg.len && st->kind == ST_SEND) st->msg.n = *st->msg.len < st->msg.cap ? *st->msg.len : st->msg.cap;
    if (st->msg.len && st->kind == ST_RECV) *st->msg.len = 0;
  }
  void *ep = weft_peer_ep(pc, st->kind == ST_SEND, R->pstream[part]);
  if (!ep) return net_fail(R, st, weftRemoteError, NULL);
  size_t off, len;
  part_range(st, np, part - R->pbase[i], &off, &len);
  weftResult_t res;
  if (st->kind == ST_SEND) {
    size_t n = st->msg.n > off ? st->msg.n - off : 0; /* n < cap: trailing parts are short or empty */
    res = pc->net->isend(ep, (const char *)st->msg.src + off, n < len ? n : len, st->msg.tag, NULL, &R->reqs[part]);
  } else {
    res = pc->net->irecv(ep, (char *)st->msg.dst + off, len, st->msg.tag, NULL, &R->reqs[part]);
  }
  if (res != weftSuccess) return net_fail(R, st, res, ep);
  if (R->tr) R->tpart[part] = weft_trace_now_us();
  R->infl[R->ninfl++] = part;
  return weftSuccess;
}

/* Posts, in order, the parts at the head of stream g whose steps are ready. */
static weftResult_t issue(run_t *R, stream_queue *q, int g) {
  while (q->next[g] < q->ptr[g + 1]) {
    int part = q->idx[q->next[g]], state = R->s->steps[R->pstep[part]].state;
    if (state != S_READY && state != S_FLIGHT) break;
    weftResult_t res = post_part(R, part);
    if (res != weftSuccess) return res;
    q->next[g]++;
  }
  return weftSuccess;
}

static int is_box(const weft_step *st) { return st->kind == ST_BOX_SEND || st->kind == ST_BOX_RECV; }

static weftResult_t make_ready(run_t *R, int i) {
  weft_step *st = &R->s->steps[i];
  st->state = S_READY;
  if (is_box(st)) { /* tried every round, in step order (a box is a queue) */
    int k = R->nbox++;
    for (; k > 0 && R->box[k - 1] > i; k--) R->box[k] = R->box[k - 1];
    R->box[k] = i;
    return weftSuccess;
  }
  if (!is_net(st)) {
    R->stack[R->nstack++] = i;
    return weftSuccess;
  }
  stream_queue *q = st->kind == ST_SEND ? &R->sq : &R->rq;
  for (int part = R->pbase[i]; part < R->pbase[i + 1]; part++) {
    weftResult_t res = issue(R, q, R->sbase[st->msg.peer] + R->pstream[part]);
    if (res != weftSuccess) return res;
  }
  return weftSuccess;
}

/* Tells the hook what step st wrote on the host. */
static void note_write(run_t *R, int i, const weft_step *st) {
  switch (st->kind) {
    case ST_RECV: R->hook->wrote(R->hook, st->msg.dst, st->msg.cap ? st->msg.cap : st->msg.n); break;
    case ST_COPY: R->hook->wrote(R->hook, st->copy.dst, st->copy.n); break;
    case ST_REDUCE:
      if (R->hooked_step != i)
        R->hook->wrote(R->hook, st->reduce.dst, st->reduce.count * weft_dtype_size((weftDataType_t)st->reduce.dt));
      break;
    case ST_AVG:
      R->hook->wrote(R->hook, st->avg.buf, st->avg.count * weft_dtype_size((weftDataType_t)st->avg.dt));
      break;
    case ST_SEND: break;
    default: R->hook->wrote(R->hook, NULL, 0); /* codecs, the node segment: anything */
  }
}

static weftResult_t complete(run_t *R, int i) {
  weft_step *st = &R->s->steps[i];
  if (R->hook) note_write(R, i, st);
  st->state = S_DONE;
  R->ndone++;
  for (int e = st->succ; e >= 0; e = R->s->edges[e].next) {
    int to = R->s->edges[e].to;
    if (--R->s->steps[to].npending == 0) {
      weftResult_t res = make_ready(R, to);
      if (res != weftSuccess) return res;
    }
  }
  return weftSuccess;
}

/* Runs a local step; on failure R->err says why. */
static weftResult_t run_compute(run_t *R, weft_step *st) {
  switch (st->kind) {
    case ST_REDUCE: {
      const weft_step_reduce *x = &st->reduce;
      if (R->hook) {
        int done = 0;
        weftResult_t res = R->hook->reduce(R->hook, x, &done, R->err, R->errlen);
        if (res != weftSuccess) return res;
        if (done) {
          R->hooked_step = (int)(st - R->s->steps);
          break;
        }
      }
      weft_reduce(x->dst, x->a, x->b, x->count, (weftDataType_t)x->dt, (weftRedOp_t)x->op);
      break;
    }
    case ST_COPY:
      if (st->copy.n && st->copy.dst != st->copy.src) memmove(st->copy.dst, st->copy.src, st->copy.n);
      break;
    case ST_AVG: weft_avg_finish(st->avg.buf, st->avg.count, (weftDataType_t)st->avg.dt, st->avg.nranks); break;
    case ST_ENCODE: {
      const weft_step_codec *x = &st->codec;
      size_t out = 0;
      if (weft_codec_encode((weft_codec_id)x->codec, x->params, (weftDataType_t)x->dt, x->src, x->count, x->dst,
                            x->cap, &out, x->resid) != 0) {
        snprintf(R->err, R->errlen, "codec %s: cannot encode %zu elements (out of memory)",
                 weft_codec_name((weft_codec_id)x->codec), x->count);
        return weftSystemError;
      }
      if (x->len) *x->len = out;
      if (R->v->stats) {
        atomic_fetch_add_explicit(&R->v->stats->codec_in, x->count * weft_dtype_size((weftDataType_t)x->dt),
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&R->v->stats->codec_out, out, memory_order_relaxed);
      }
      break;
    }
    case ST_DECODE:
    case ST_DECODE_ADD: {
      const weft_step_codec *x = &st->codec;
      size_t in = x->len ? *x->len : x->cap;
      weft_codec_id id = (weft_codec_id)x->codec;
      weftDataType_t dt = (weftDataType_t)x->dt;
      if (st->kind == ST_DECODE ? weft_codec_decode(id, dt, x->src, in, x->dst, x->count) != 0
                                : weft_codec_decode_add(id, dt, x->src, in, x->dst, x->count) != 0) {
        snprintf(R->err, R->errlen, "codec %s: received %zu bytes that do not decode to %zu elements",
                 weft_codec_name(id), in, x->count);
        return weftRemoteError;
      }
      break;
    }
    default: break;
  }
  return weftSuccess;
}

static weftResult_t mismatch(run_t *R, const weft_step *st, uint64_t tag, size_t size, size_t want) {
  char why[400], peer[128];
  weft_comm_peer_name(R->v->comm, st->msg.peer, peer, sizeof peer);
  if (tag != st->msg.tag) {
    /* the peer's count travels only as a hash in the tag: its message's
     * size, where the transport says it, is the measure of it */
    weft_sig_explain(st->msg.tag, tag, R->s->call_count, WEFT_SIG_COUNT_UNKNOWN, why, sizeof why);
    int unknown = size == st->msg.n + 1; /* too large, size not known (weft_net.h) */
    if (size && size != st->msg.n)
      snprintf(why + strlen(why), sizeof why - strlen(why), " (its message: %s%zu bytes where this rank's has %zu)",
               unknown ? "more than " : "", unknown ? st->msg.n : size, st->msg.n);
  } else {
    snprintf(why, sizeof why, "expected %zu bytes, received %zu", want, size);
  }
  snprintf(R->err, R->errlen, "mismatched calls with %s: %s", peer, why);
  return weftInvalidUsage;
}

/* Whether a receive's result says the peer's call differs from this one's:
 * the transport refused the message and its tag is another call's. */
static int recv_mismatch(const weft_step *st, weftResult_t res, uint64_t tag) {
  return res == weftInvalidUsage && st->kind == ST_RECV && tag && tag != st->msg.tag;
}

/* Part `failed` failed with res. A mismatch is often what broke the link:
 * some providers close a connection on a truncated receive (tcp;ofi_rxm),
 * and the send in flight on it then fails first. So the receives still in
 * flight are tested once, and a mismatch one of them reports is the error
 * of the call; else the transport's. A receive completed here is released
 * by its transport and never touched again: the call ends. */
static weftResult_t fail_part(run_t *R, int failed, weftResult_t res) {
  weft_step *st = &R->s->steps[R->pstep[failed]];
  for (int k = 0; k < R->ninfl && res != weftInvalidUsage; k++) {
    int part = R->infl[k];
    weft_step *rs = &R->s->steps[R->pstep[part]];
    if (part == failed || rs->kind != ST_RECV) continue;
    int done = 0;
    size_t size = 0;
    uint64_t tag = 0;
    weftResult_t r = R->peers[rs->msg.peer].net->test(R->reqs[part], &done, &size, &tag);
    if (recv_mismatch(rs, r, tag)) return mismatch(R, rs, tag, size, 0);
  }
  return net_fail(R, st, res, part_ep(R, failed));
}

/* Tests every part in flight; sets *progressed if any step finished. */
static weftResult_t test_inflight(run_t *R, int *progressed) {
  for (int k = 0; k < R->ninfl; k++) {
    int part = R->infl[k], i = R->pstep[part];
    weft_step *st = &R->s->steps[i];
    const weftNet_t *net = R->peers[st->msg.peer].net;
    int done = 0;
    size_t size = 0;
    uint64_t tag = 0;
    weftResult_t res = net->test(R->reqs[part], &done, &size, &tag);
    if (recv_mismatch(st, res, tag)) return mismatch(R, st, tag, size, 0);
    if (res != weftSuccess) return fail_part(R, part, res);
    if (!done) continue;
    /* kept in the order posted, so that each endpoint's oldest request is
     * tested first in a round (a transport may move an endpoint only from
     * there, weft_net.h): what it completes for the later ones is then seen
     * in the same round */
    memmove(&R->infl[k], &R->infl[k + 1], sizeof *R->infl * (size_t)(R->ninfl - k - 1));
    R->ninfl--, k--;
    if (st->kind == ST_RECV) {
      size_t off, len;
      part_range(st, R->pbase[i + 1] - R->pbase[i], part - R->pbase[i], &off, &len);
      if (tag != st->msg.tag || (st->msg.len ? size > len : size != len)) return mismatch(R, st, tag, size, len);
      if (st->msg.len) *st->msg.len += size;
    }
    if (R->v->stats) count_part(R, part, size);
    if (R->tr) trace_part(R, part, size);
    *progressed = 1;
    if (--R->left[i] > 0) continue;
    if ((res = complete(R, i)) != weftSuccess) return res;
  }
  return weftSuccess;
}

/* Sleeps until a descriptor of an in-flight transfer is ready, up to ms.
 * Each endpoint is asked once: a large call has hundreds of parts in flight
 * on one endpoint, and pollFd may cost a system call (shm drains its
 * doorbell), so asking per part made every sleep hundreds of calls. */
static void wait_net(run_t *R, int ms) {
  struct pollfd pf[64];
  void *asked[64];
  int np = 0, na = 0;
  for (int k = 0; k < R->ninfl && np < 64; k++) {
    weft_step *st = &R->s->steps[R->pstep[R->infl[k]]];
    const weftNet_t *net = R->peers[st->msg.peer].net;
    void *ep = part_ep(R, R->infl[k]);
    int seen = 0;
    for (int j = 0; j < na && !seen; j++) seen = asked[j] == ep;
    if (seen) continue;
    if (na < 64) asked[na++] = ep;
    short ev = 0;
    int fd = net->pollFd ? net->pollFd(ep, &ev) : WEFT_NET_POLL_NONE;
    if (fd == WEFT_NET_POLL_READY) return;
    int dup = 0;
    for (int j = 0; j < np; j++)
      if (pf[j].fd == fd && pf[j].events == ev) dup = 1;
    if (fd >= 0 && !dup) pf[np++] = (struct pollfd){fd, ev, 0};
  }
  if (np == 0) {
    sched_yield();
    return;
  }
  poll(pf, (nfds_t)np, ms);
}

static weft_box_op box_op_of(const weft_step *st) {
  return (weft_box_op){.send = st->kind == ST_BOX_SEND, .peer = st->msg.peer, .src = st->msg.src,
                       .dst = st->msg.dst, .bytes = st->msg.n, .tag = st->msg.tag};
}

/* Tries the box steps once each (one waits behind an earlier one of the
 * same box); sets *progressed if any finished. */
static weftResult_t try_boxes(run_t *R, int *progressed) {
  for (int k = 0; k < R->nbox; k++) {
    const weft_step *st = &R->s->steps[R->box[k]];
    int blocked = 0;
    for (int j = 0; j < k && !blocked; j++) {
      const weft_step *e = &R->s->steps[R->box[j]];
      blocked = e->kind == st->kind && e->msg.peer == st->msg.peer;
    }
    if (blocked) continue;
    weft_box_op op = box_op_of(st);
    weftResult_t res = weft_box_try(R->v->comm, &op, R->err, R->errlen);
    if (res != weftSuccess) return res;
    if (!op.done) continue;
    int i = R->box[k];
    memmove(R->box + k, R->box + k + 1, sizeof(int) * (size_t)(R->nbox - k - 1));
    R->nbox--, k--;
    if (R->v->stats) {
      weft_comm_stats *x = R->v->stats;
      atomic_fetch_add_explicit(op.send ? &x->sent[WEFT_LINK_CLASS_NODE] : &x->received[WEFT_LINK_CLASS_NODE],
                                op.bytes, memory_order_relaxed);
      if (op.send) atomic_fetch_add_explicit(&x->messages[WEFT_LINK_CLASS_NODE], 1, memory_order_relaxed);
    }
    *progressed = 1;
    if ((res = complete(R, i)) != weftSuccess) return res;
  }
  return weftSuccess;
}

/* st sends to or receives from a peer over a link not open yet. */
static int step_needs_link(const weft_exec_view *v, const weft_step *st) {
  return (st->kind == ST_SEND || st->kind == ST_RECV) && st->msg.peer != v->rank &&
         !weft_peer_linked(&v->peers[st->msg.peer], st->kind == ST_SEND);
}

int weft_run_needs_links(const weft_exec_view *v, const weft_sched *s, const weft_run_mem *m) {
  if (m->nparts > 0 && m->gen == s->gen) return 0;
  for (int i = 0; i < s->nsteps; i++)
    if (step_needs_link(v, &s->steps[i])) return 1;
  return 0;
}

/* Opens the links s needs that are not open yet (comm/link.c): every send
 * link first, then the receive links, as weft_comm_link_peers does
 * (comm/comm.h says why). A rearmed plan ran before over the same links:
 * skipped. */
static weftResult_t link_peers(const weft_exec_view *v, const weft_sched *s, const weft_run_mem *m, char *err,
                               size_t errlen) {
  if (m->nparts > 0 && m->gen == s->gen) return weftSuccess;
  static const int passes[2] = {ST_SEND, ST_RECV};
  weftResult_t res = weftSuccess;
  for (int k = 0; k < 2; k++)
    for (int i = 0; i < s->nsteps && res == weftSuccess; i++) {
      const weft_step *st = &s->steps[i];
      int send = passes[k] == ST_SEND;
      if ((int)st->kind != passes[k] || !step_needs_link(v, st)) continue;
      res = send ? weft_comm_link_send(v->comm, st->msg.peer, err, errlen)
                 : weft_comm_link_recv(v->comm, st->msg.peer, err, errlen);
    }
  return res;
}

weftResult_t weft_run_begin(weft_run *R, const weft_exec_view *v, weft_sched *s, weft_run_mem *m, uint64_t sig,
                            char *err, size_t errlen) {
  memset(R, 0, sizeof *R);
  R->v = v;
  R->peers = v->peers;
  R->s = s;
  R->m = m;
  R->n = v->nranks;
  R->sig = sig;
  R->err = err;
  R->errlen = errlen;
  R->hooked_step = -1;
  err[0] = 0;
  if (v->stats && s->fresh_bytes) atomic_fetch_add_explicit(&v->stats->scratch, s->fresh_bytes, memory_order_relaxed);
  s->fresh_bytes = 0;
  if (s->nsteps == 0) return weftSuccess;
  weftResult_t res = link_peers(v, s, m, err, errlen);
  if (res != weftSuccess) return res;
  if (run_alloc(R, s, R->n) != 0) {
    snprintf(err, errlen, "out of memory for a schedule of %d steps", s->nsteps);
    return weftSystemError;
  }
  /* tracing costs its own allocation, off the untraced path */
  if (v->trace && (R->tpart = calloc((size_t)m->nparts + 1, sizeof(double)))) R->tr = v->trace;
  /* announce the call (or, for groups and point-to-point, that this is none
   * a peer can compare with: a stale announcement could match a later number) */
  if (v->nodeseg) weft_nodeseg_note_call(v->nodeseg, sig, s->call_count);
  for (int i = 0; i < s->nsteps && res == weftSuccess; i++)
    if (s->steps[i].npending == 0) res = make_ready(R, i);
  if (res != weftSuccess) {
    free(R->tpart);
    R->tpart = NULL;
  }
  return res;
}

static weftResult_t run_steps(run_t *R0, double until_us);

weftResult_t weft_run_continue(weft_run *R, double budget_us, char *err, size_t errlen) {
  R->err = err;
  R->errlen = errlen;
  err[0] = 0;
  weftResult_t res = R->ndone < R->s->nsteps ? run_steps(R, budget_us < 0 ? 0 : weft_now_us() + budget_us)
                                             : weftSuccess;
  if (res != weftInProgress) {
    free(R->tpart);
    R->tpart = NULL;
  }
  return res;
}

weftResult_t weft_run_sched_hooked(const weft_exec_view *v, weft_sched *s, weft_run_mem *m, uint64_t sig,
                                   weft_run_hook *hook, char *err, size_t errlen) {
  run_t R;
  weftResult_t res = weft_run_begin(&R, v, s, m, sig, err, errlen);
  R.hook = hook;
  return res == weftSuccess ? weft_run_continue(&R, -1, err, errlen) : res;
}

weftResult_t weft_run_sched(const weft_exec_view *v, weft_sched *s, weft_run_mem *m, uint64_t sig, char *err,
                            size_t errlen) {
  return weft_run_sched_hooked(v, s, m, sig, NULL, err, errlen);
}

/* The run proper: posts, tests, computes until every step is done, or
 * until_us > 0 has passed (then weftInProgress, R0 saved to go on from). */
static weftResult_t run_steps(run_t *R0, double until_us) {
  run_t R = *R0;
  const weft_exec_view *v = R.v;
  weft_sched *s = R.s;
  char *err = R.err;
  size_t errlen = R.errlen;
  uint64_t sig = R.sig;
  weftResult_t res = weftSuccess;
  double idle_since = R.idle_since;
  unsigned idle = R.idle, iter = R.iter;
  int yielding = R.yielding; /* spun past yield_after_us: yield the CPU every round */
  while (res == weftSuccess && R.ndone < s->nsteps) {
    int progressed = 0;
    while (R.nstack > 0 && res == weftSuccess) {
      int i = R.stack[--R.nstack];
      const weft_step *st = &s->steps[i];
      double t0 = R.tr ? weft_trace_now_us() : 0;
      uint64_t c0 = v->stats && st->kind != ST_SLOTS ? weft_ticks() : 0;
      if (st->kind == ST_SLOTS) { /* may stop part-way when the run has a deadline */
        res = weft_slots_run_until(v->comm, &s->steps[i].slots, &R.slots, until_us, R.err, R.errlen);
        if (res == weftInProgress) R.stack[R.nstack++] = i; /* goes on from R.slots */
      } else {
        res = run_compute(&R, &s->steps[i]);
      }
      if (res != weftSuccess) break;
      if (c0) {
        uint64_t dt = weft_ticks() - c0;
        atomic_fetch_add_explicit(&v->stats->compute_ticks, dt, memory_order_relaxed);
        if (st->kind == ST_ENCODE || st->kind == ST_DECODE || st->kind == ST_DECODE_ADD)
          atomic_fetch_add_explicit(&v->stats->codec_ticks, dt, memory_order_relaxed);
      }
      if (R.tr)
        weft_trace_span(R.tr, WEFT_LANE_COMPUTE, step_name(st->kind), "compute", t0, weft_trace_now_us() - t0, NULL);
      res = complete(&R, i);
      progressed = 1;
    }
    if (res != weftSuccess) break;
    if ((res = test_inflight(&R, &progressed)) != weftSuccess) break;
    if (R.nbox && (res = try_boxes(&R, &progressed)) != weftSuccess) break;
    if (!progressed || (++iter & 255) == 0) {
      if (atomic_load(v->aborted)) {
        snprintf(err, errlen, "aborted by weftCommAbort");
        res = weftAborted;
        break;
      }
      /* revoked: a failure is known (comm/fault.h); leave instead of waiting for the timeout */
      weftResult_t failed = atomic_load(v->async_error);
      if (failed != weftSuccess) {
        snprintf(err, errlen, "interrupted: the communicator failed");
        res = failed;
        break;
      }
    }
    if (progressed) {
      idle = 0;
      yielding = 0;
      /* a run with a deadline looks at the clock now and then while it moves */
      if (until_us > 0 && (iter & 15) == 0 && weft_now_us() >= until_us) {
        res = weftInProgress;
        break;
      }
      continue;
    }
    if (R.ninfl == 0 && R.nstack == 0 && R.nbox == 0) {
      snprintf(err, errlen, "schedule stalled with %d of %d steps done", R.ndone, s->nsteps);
      res = weftInternalError;
      break;
    }
    /* while only spinning, the clock is read every 64 idle rounds: a round
     * without it is a few loads, so a message that arrives is seen sooner */
    weft_spin_pause();
    if (++idle < 16 || (!yielding && idle > 16 && (idle & 63) != 0)) continue;
    double now = weft_now_us();
    if (idle == 16) idle_since = now;
    if (now - idle_since > v->timeout_ms * 1000.0) {
      char where[256];
      step_where(&R, &s->steps[R.ninfl ? R.pstep[R.infl[0]] : R.box[0]], where, sizeof where);
      snprintf(err, errlen, "no progress for %d ms (WEFT_TIMEOUT) waiting to %s", v->timeout_ms, where);
      res = weftTimeout;
      break;
    }
    /* a peer on this host in another call of the same number: a mismatch
     * (it may wait in the node segment, where no message tells us) */
    if (sig && v->nodeseg && now - idle_since > 100 && weft_nodeseg_mismatch(v->comm, sig, err, errlen)) {
      res = weftInvalidUsage;
      break;
    }
    if (until_us > 0 && now >= until_us) {
      res = weftInProgress;
      break;
    }
    /* stalled a while: maybe on a peer whose send waits for this rank to
     * take its link (comm/link.c) */
    if (now - idle_since > LINK_POLL_US && now - R.links_polled > LINK_POLL_US) {
      R.links_polled = now;
      if ((res = weft_comm_link_poll(v->comm, err, errlen)) != weftSuccess) break;
    }
    /* spin a little (yielding, for oversubscribed hosts), then sleep in poll();
     * a run with a deadline never sleeps past it */
    if (now - idle_since < v->spin_us || until_us > 0) {
      if (now - idle_since >= v->yield_after_us) {
        yielding = 1;
        sched_yield();
      }
      continue;
    }
    if (R.nbox) { /* nobody rings for a box: sleep in short slices, and watch its peer */
      weft_box_op op = box_op_of(&s->steps[R.box[0]]);
      if ((res = weft_box_idle(v->comm, &op, R.ninfl ? 0 : 1000, err, errlen)) != weftSuccess) break;
      if (R.ninfl) wait_net(&R, 1);
      continue;
    }
    wait_net(&R, 10);
  }
  R.idle_since = idle_since;
  R.idle = idle;
  R.iter = iter;
  R.yielding = yielding;
  *R0 = R;
  return res;
}
