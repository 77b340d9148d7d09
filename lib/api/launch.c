/* Launching calls: one op per communicator, each holding the schedule of
 * its calls, run on this thread or queued on the comm's progress thread.
 *
 * A single blocking call on an idle comm takes the engine's own op, whose
 * plan cache (exec/plancache.h) keeps the tuning and the schedule of the
 * last call: a repeated call is neither tuned nor built again, and one the
 * tuner sends to the node segment runs right here, without a schedule. A
 * blocking point-to-point group of up to 8 calls keeps its plan the same
 * way. */
#include "api/launch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/introspect.h"
#include "codec/codec.h"
#include "coll/sig.h"
#include "comm/comm.h"
#include "device/device.h"
#include "exec/engine.h"
#include "exec/stream.h"
#include "nodeseg/box.h"
#include "nodeseg/nodeseg.h"
#include "nodeseg/slots_run.h"
#include "reduce/reduce.h"
#include "tune/tune.h"
#include "comm/comm_log.h"
#include "util/trace.h"
#include "util/clock.h"
#include "util/ticks.h"

/* The op of one communicator in a launch. */
typedef struct {
  weft_op *op;
  uint32_t seq0; /* its comm's collective count before: restored if nothing runs */
  int waited;    /* no stream: the launch waits for it (a stream op may be
                  * freed as soon as it is submitted) */
} launch_op;

typedef struct {
  weft_pending *calls;
  int ncalls;
  int blocking; /* every call blocking and on one comm: may run on this thread */
  int p2p;      /* ... and a point-to-point group whose plan is kept */
  int ran;      /* a fast path already ran the launch to its end */
  launch_op *ops; /* one per communicator, in order of first call */
  int nops, nself;
  launch_op ops_small[8]; /* the common case: no allocation */
} launch_t;

static int is_self_p2p(const weft_pending *p) {
  return (p->call.kind == COLL_SEND || p->call.kind == COLL_RECV) && p->call.root == p->comm->rank;
}

/* Up to 8 sends and receives to other ranks (a halo exchange, a pipeline
 * stage, the sendrecv of a ring). Point-to-point tags carry no sequence
 * number, so when the same group comes again its plan runs again as it is. */
static int is_p2p_group(const weft_pending *calls, int ncalls) {
  if (ncalls < 2 || ncalls > WEFT_PLAN_GROUP_MAX) return 0;
  for (int i = 0; i < ncalls; i++)
    if ((calls[i].call.kind != COLL_SEND && calls[i].call.kind != COLL_RECV) || is_self_p2p(&calls[i])) return 0;
  return 1;
}

static weftResult_t launch_init(launch_t *L, weft_pending *calls, int ncalls) {
  L->calls = calls;
  L->ncalls = ncalls;
  L->blocking = 1;
  for (int i = 0; i < ncalls; i++)
    if (calls[i].stream || calls[i].comm != calls[0].comm) L->blocking = 0;
  L->p2p = L->blocking && is_p2p_group(calls, ncalls) && weft_dev_is_host(calls[0].comm->device);
  L->ran = 0;
  L->nops = L->nself = 0;
  L->ops = ncalls > 8 ? calloc((size_t)ncalls, sizeof *L->ops) : L->ops_small;
  if (!L->ops) return weft_error(NULL, weftSystemError, "out of memory launching %d calls", ncalls);
  return weftSuccess;
}

static void launch_free(launch_t *L) {
  if (L->ncalls > 8) free(L->ops);
}

/* Remembers what the op is for error messages (formatted only on error). */
static void describe(weft_op *op, const weft_call *c) {
  if (op->ncalls++ == 0) op->first = *c;
}

static void note_algo(weftComm_t comm, int algo, int codec, int self) {
  comm->last_algo_id = algo;
  comm->last_codec = codec;
  comm->last_self = self;
}

/* Runs the p2p group from the plan that op (the claimed engine's own op) kept
 * from its last run, if that plan is this group's; returns 0 if not. */
static int run_kept_group(launch_t *L, weft_op *op, weftResult_t *res) {
  weft_plan_key keys[WEFT_PLAN_GROUP_MAX];
  for (int i = 0; i < L->ncalls; i++) keys[i] = weft_plan_key_of(&L->calls[i].call);
  if (!weft_plan_cache_has_group(&op->plan, keys, L->ncalls)) return 0;
  weft_sched_rearm(&op->sched, 0);
  note_algo(op->comm, ALGO_P2P, 0, 0);
  op->first = L->calls[0].call;
  op->ncalls = L->ncalls;
  *res = weft_engine_run_blocking(op);
  return 1;
}

/* After building a p2p group into the engine's own op: keep its plan. */
static void keep_group_plan(launch_t *L) {
  weft_op *op = L->ops[0].op;
  if (!op->claimed || op->sched.oom) return;
  weft_plan_key keys[WEFT_PLAN_GROUP_MAX];
  for (int i = 0; i < L->ncalls; i++) keys[i] = weft_plan_key_of(&L->calls[i].call);
  weft_plan_cache_set_group(&op->plan, keys, L->ncalls);
}

/* A comm that failed runs no more calls. */
static weftResult_t comm_usable(weftComm_t comm) {
  weftResult_t sticky = atomic_load(&comm->async_error);
  if (sticky != weftSuccess) return weft_comm_failed_call(comm, sticky, "launch");
  return weftSuccess;
}

/* The op of call p's communicator: the one already in the launch, else one
 * taken for it (the engine itself for blocking calls on an idle comm). May
 * run the whole launch from a kept group plan (then sets L->ran). */
static weftResult_t op_for(launch_t *L, const weft_pending *p, weft_op **out) {
  weftComm_t comm = p->comm;
  for (int k = 0; k < L->nops; k++)
    if (L->ops[k].op->comm == comm) return *out = L->ops[k].op, weftSuccess;
  weftResult_t res = comm_usable(comm);
  if (res != weftSuccess) return res;
  weft_op *op = L->blocking ? weft_engine_claim(comm->engine, L->ncalls == 1 || L->p2p) : NULL;
  if (!op && !(op = weft_engine_op_new(comm->engine))) return weft_error(comm, weftSystemError, "out of memory");
  if (L->p2p && op->claimed && run_kept_group(L, op, &res)) {
    L->ran = 1;
    return res;
  }
  op->stream = p->stream;
  L->ops[L->nops++] = (launch_op){op, comm->coll_seq, 0};
  if (p->stream && p->stream->dev) { /* a device queue: after its prior work, before its later work */
    char err[WEFT_ERRMSG_LEN];
    res = weft_devstage_mark(&op->dev, p->stream->dev, p->stream->dev_stream, err, sizeof err);
    if (res != weftSuccess) return weft_error(comm, res, "%s", err);
  }
  /* several calls, or a send to oneself (paired into copies later): no plan cache */
  if (L->ncalls > 1 || is_self_p2p(p)) {
    weft_plan_cache_forget(&op->plan);
    weft_sched_reset(&op->sched);
  }
  *out = op;
  return weftSuccess;
}

static weftResult_t add_device_call(weft_op *op, const weft_call *c, int single);

/* A send or receive to oneself: paired into a copy once all calls are in
 * (on device buffers, between their host views when the op runs). */
static weftResult_t add_self(launch_t *L, weft_op *op, const weft_call *c) {
  L->nself++;
  note_algo(op->comm, ALGO_P2P, 0, 1);
  if (!weft_dev_is_host(op->comm->device)) return add_device_call(op, c, 0);
  describe(op, c);
  return weftSuccess;
}

/* Numbers and tunes a call; the engine's own op repeating the call tuned
 * last time (same kind, type, op, root and count) takes that tuning. */
static void tune_call(weft_op *op, weft_call *c) {
  weftComm_t comm = op->comm;
  int coll = c->kind != COLL_SEND && c->kind != COLL_RECV;
  c->tag = weft_sig_tag(c, coll ? ++comm->coll_seq : 0);
  int own = op == comm->engine->own;
  if (!own || !weft_plan_cache_tuning(&op->plan, c)) {
    weft_tune(&comm->tune, c);
    if (c->codec == WEFT_CODEC_TOPK) c->ef = weft_ef_get(&comm->tune, c->count, c->dt, &comm->log);
    if (own) weft_plan_cache_set_tuning(&op->plan, c);
  }
  note_algo(comm, c->algo, c->codec, 0);
}

/* A blocking call through the node segment runs here, on the caller's
 * thread that holds the engine: no schedule, no executor. */
static weftResult_t run_slots(weft_op *op, const weft_call *c) {
  describe(op, c);
  char why[WEFT_ERRMSG_LEN];
  weft_step_slots a = weft_slots_of_call(c);
  double t0 = op->comm->trace ? weft_trace_now_us() : 0;
  uint64_t c0 = weft_ticks();
  weftResult_t res = weft_slots_run(op->comm, &a, why, sizeof why);
  if (op->comm->trace) weft_engine_trace_op(op, t0, res);
  weft_engine_count_op(op, c0, res);
  return weft_engine_claimed_done(op, res, why);
}

/* Puts c's schedule into op: for a single call, the plan kept from the same
 * call last time if there is one (rearmed with c's tag), else built; a
 * single call on a stream is only recorded, and built on the progress
 * thread when it runs (weft_engine_plan_call), so the caller goes on at
 * once. */
static weftResult_t plan_call(weft_op *op, const weft_call *c, int single) {
  weftComm_t comm = op->comm;
  if (single && op->stream) {
    op->build_at_run = 1;
    return weftSuccess;
  }
  if (single) { /* op->first is c (describe) */
    if (weft_engine_plan_call(op, comm->rank, comm->nranks) == 0) return weftSuccess;
  } else if (weft_coll_build(&op->sched, c, comm->rank, comm->nranks) == 0 && !op->sched.oom) {
    return weftSuccess;
  }
  return weft_error(comm, weftSystemError, "out of memory building the schedule of %s", weft_coll_name(c->kind));
}

/* Adds a call to its comm's op (single: the op's only call): its schedule,
 * or, for a single call in a claimed op that the tuner sent to the node
 * segment, runs it at once and sets *ran. */
/* A call on device buffers: recorded, built on host views when it runs
 * (exec/devstage.h); no plan is kept. */
static weftResult_t add_device_call(weft_op *op, const weft_call *c, int single) {
  weftComm_t comm = op->comm;
  char err[WEFT_ERRMSG_LEN];
  weftResult_t res = weft_devstage_add(&op->dev, comm->device, c, comm->rank, comm->nranks, err, sizeof err);
  if (res != weftSuccess) return weft_error(comm, res, "%s: %s", weft_coll_name(c->kind), err);
  if (single) {
    weft_plan_cache_forget(&op->plan);
    op->sig = c->kind != COLL_SEND && c->kind != COLL_RECV ? c->tag : 0;
  }
  describe(op, c);
  return weftSuccess;
}

static weftResult_t add_call(weft_op *op, const weft_call *call, int single, int *ran) {
  weft_call c = *call;
  if (weft_coll_is_v(c.kind) && !(c.vec = weft_engine_op_keep_vec(op, c.vec, weft_vcall_len(c.kind, op->comm->nranks))))
    return weft_error(op->comm, weftSystemError, "out of memory copying the counts of %s", weft_coll_name(c.kind));
  tune_call(op, &c);
  /* a call split for the staging ranks runs its pieces one after another on
   * every rank, host ranks included (the same messages in the same order);
   * a call in a group is never split (ranks group alike, as NCCL requires) */
  if (!single) c.pieces = 1;
  if (!weft_dev_is_host(op->comm->device) || c.pieces > 1) return add_device_call(op, &c, single);
  if (single && op->claimed && !op->stream && c.algo == ALGO_SLOTS) {
    *ran = 1;
    return run_slots(op, &c);
  }
  describe(op, &c); /* first: what a single call's plan is built from */
  weftResult_t res = plan_call(op, &c, single);
  if (single) op->sig = c.kind != COLL_SEND && c.kind != COLL_RECV ? c.tag : 0;
  weftComm_t comm = op->comm;
  if (comm->log.level >= weftLogTrace)
    WEFT_TRACE(comm, "launch %s: count %zu, %s, %s, chunk %zu, tag %016llx", weft_coll_name(c.kind), c.count,
               weft_dtype_name(c.dt), weft_debug_last_algo(comm), c.chunk_bytes, (unsigned long long)c.tag);
  return res;
}

/* Sends to oneself become copies into the matching receives from oneself,
 * paired in call order within the group (on device buffers the pairs are
 * only checked here: exec/devstage.c copies between their host views). */
static weftResult_t pair_self(weft_op *op, const weft_pending *calls, int ncalls) {
  int si = 0, ri = 0;
  for (;;) {
    while (si < ncalls && !(calls[si].comm == op->comm && is_self_p2p(&calls[si]) && calls[si].call.kind == COLL_SEND)) si++;
    while (ri < ncalls && !(calls[ri].comm == op->comm && is_self_p2p(&calls[ri]) && calls[ri].call.kind == COLL_RECV)) ri++;
    if (si == ncalls && ri == ncalls) return weftSuccess;
    if (si == ncalls || ri == ncalls)
      return weft_error(op->comm, weftInvalidUsage, "a %s to oneself has no matching %s in the same group",
                        si == ncalls ? "receive" : "send", si == ncalls ? "send" : "receive");
    const weft_call *s = &calls[si].call, *r = &calls[ri].call;
    size_t sb = s->count * weft_dtype_size(s->dt), rb = r->count * weft_dtype_size(r->dt);
    if (sb != rb)
      return weft_error(op->comm, weftInvalidUsage, "send to oneself of %zu bytes matched with a receive of %zu bytes",
                        sb, rb);
    if (weft_dev_is_host(op->comm->device)) weft_sched_copy(&op->sched, r->recvbuf, s->sendbuf, sb, NODEP, NODEP);
    si++;
    ri++;
  }
}

static weftResult_t pair_self_all(launch_t *L) {
  weftResult_t res = weftSuccess;
  for (int k = 0; k < L->nops && res == weftSuccess; k++) res = pair_self(L->ops[k].op, L->calls, L->ncalls);
  return res;
}

/* Nothing ran: gives the op back, and the comm its collective count so the
 * next calls keep matching the peers'. */
static void cancel_op(weft_op *op, uint32_t seq0) {
  op->comm->coll_seq = seq0;
  weft_plan_cache_forget(&op->plan);
  weft_engine_op_free(op);
}

static weftResult_t cancel_ops(launch_t *L, weftResult_t res) {
  for (int k = 0; k < L->nops; k++) cancel_op(L->ops[k].op, L->ops[k].seq0);
  return res;
}

/* The common case: one blocking call, in the engine's own op claimed on an
 * idle comm: it runs here, on the caller's thread. */
static weftResult_t launch_one(weft_op *op, const weft_call *call) {
  uint32_t seq0 = op->comm->coll_seq;
  int ran = 0;
  weftResult_t res = add_call(op, call, 1, &ran);
  if (ran) return res;
  if (res != weftSuccess) {
    cancel_op(op, seq0);
    return res;
  }
  return weft_engine_run_blocking(op);
}

/* The engine's own op, if p is one blocking call (not to oneself: paired
 * with nothing, it fails in the general path) and the engine is idle. */
static weftResult_t claim_for_one(const weft_pending *p, weft_op **own) {
  *own = NULL;
  if (p->stream || is_self_p2p(p)) return weftSuccess;
  weftResult_t res = comm_usable(p->comm);
  if (res == weftSuccess) *own = weft_engine_claim(p->comm->engine, 1);
  return res;
}

/* Runs the ops: one blocking op to completion (on this thread if it holds
 * the engine), else all submitted, then the blocking ones waited for. */
static weftResult_t run_ops(launch_t *L) {
  if (L->nops == 1 && !L->ops[0].op->stream) return weft_engine_run_blocking(L->ops[0].op);
  for (int k = 0; k < L->nops; k++) {
    weft_op *op = L->ops[k].op;
    L->ops[k].waited = op->stream == NULL;
    if (op->stream) op->ticket = weft_stream_enqueue(op->stream, op->comm->timeout_ms);
    weft_engine_submit(op); /* a stream op may be freed from here on */
  }
  weftResult_t res = weftSuccess;
  for (int k = 0; k < L->nops; k++) {
    if (!L->ops[k].waited) continue;
    weftResult_t r = weft_engine_wait(L->ops[k].op);
    if (res == weftSuccess) res = r;
  }
  return res;
}

/* The fast path of one small call (WEFT_INLINE_MAX) on a host stream: when
 * the comm's engine is idle and nothing is pending on the stream, the call
 * starts here, on the caller's thread, and the progress thread gets only
 * what is left after the engine's inline budget (weft_engine_run_inline).
 * Sets *done when it took the call (else the general path runs it). Calls
 * on device buffers or device queues, and calls split for staging ranks,
 * always queue. */
static weftResult_t launch_on_stream(const weft_pending *p, int *done) {
  weftComm_t comm = p->comm;
  const weft_call *c = &p->call;
  *done = 0;
  if (comm->engine->inline_us <= 0 || c->count * weft_dtype_size(c->dt) > WEFT_INLINE_MAX || p->stream->dev ||
      !weft_dev_is_host(comm->device) || is_self_p2p(p))
    return weftSuccess;
  weftResult_t res = comm_usable(comm);
  /* the engine's own op, as a blocking call's: its plan stays from call to
   * call, and it costs no trip through the op pool's lock */
  weft_op *op = res == weftSuccess ? weft_engine_claim(comm->engine, 1) : NULL;
  /* behind one op (the rest of the previous call, typically): worth a short
   * wait to start here in turn, rather than queue behind it */
  if (!op && res == weftSuccess && weft_engine_wait_idle(comm->engine, comm->engine->inline_us))
    op = weft_engine_claim(comm->engine, 1);
  if (!op) return *done = res != weftSuccess, res;
  *done = 1;
  uint32_t seq0 = comm->coll_seq;
  int ran = 0, turn = 0;
  op->stream = p->stream;
  res = add_call(op, &p->call, 1, &ran);
  if (res != weftSuccess) {
    cancel_op(op, seq0);
    return res;
  }
  /* the ticket is taken when the call is known good, as in run_ops */
  op->ticket = weft_stream_enqueue_turn(op->stream, comm->timeout_ms, &turn);
  if (turn && !op->dev.ncalls) weft_engine_run_inline(op);
  else weft_engine_hand_over(op); /* runs on the progress thread, after its turn */
  return weftSuccess;
}

/* The fast path of small point-to-point calls: blocking sends and
 * receives (alone or up to BOX_LAUNCH_MAX in a group, one comm, no self
 * sends) that all go through the node segment's boxes run here, on the
 * caller's thread holding the engine: no op, schedule or executor. Returns
 * 0 when the calls are not such (or the engine is busy): the general path
 * then runs them, through the boxes too (ALGO_BOX steps), so both ends
 * agree whichever path each took. */
#define BOX_LAUNCH_MAX 16
static int launch_boxes(const weft_pending *calls, int ncalls, weftResult_t *res) {
  weftComm_t comm = calls[0].comm;
  weft_box_op ops[BOX_LAUNCH_MAX];
  if (ncalls > BOX_LAUNCH_MAX || !comm->nodeseg || !comm->nodeseg->box || !weft_dev_is_host(comm->device)) return 0;
  size_t max = weft_tune_box_max(&comm->tune);
  for (int i = 0; i < ncalls; i++) {
    const weft_call *c = &calls[i].call;
    size_t bytes = c->count * weft_dtype_size(c->dt);
    if (calls[i].stream || calls[i].comm != comm || (c->kind != COLL_SEND && c->kind != COLL_RECV) ||
        c->root == comm->rank || bytes > max)
      return 0;
    ops[i] = (weft_box_op){.send = c->kind == COLL_SEND, .peer = c->root, .src = c->sendbuf, .dst = c->recvbuf,
                           .bytes = bytes, .tag = weft_sig_tag(c, 0)};
  }
  if (atomic_load(&comm->async_error) != weftSuccess) return 0; /* the general path says why */
  weft_op *op = weft_engine_claim(comm->engine, 1);
  if (!op) return 0;
  op->first = calls[0].call;
  op->first.algo = ALGO_BOX;
  op->ncalls = ncalls;
  note_algo(comm, ALGO_BOX, 0, 0);
  char why[WEFT_ERRMSG_LEN];
  double t0 = comm->trace ? weft_trace_now_us() : 0;
  uint64_t c0 = weft_ticks();
  weftResult_t r = weft_box_run(comm, ops, ncalls, why, sizeof why);
  if (comm->trace) weft_engine_trace_op(op, t0, r);
  weft_engine_count_op(op, c0, r);
  *res = weft_engine_claimed_done(op, r, why);
  return 1;
}

weftResult_t weft_launch(weft_pending *calls, int ncalls) {
  weft_op *own = NULL;
  weftResult_t res;
  if ((calls[0].call.kind == COLL_SEND || calls[0].call.kind == COLL_RECV) && launch_boxes(calls, ncalls, &res))
    return res;
  res = ncalls == 1 ? claim_for_one(&calls[0], &own) : weftSuccess;
  if (res != weftSuccess) return res;
  if (own) return launch_one(own, &calls[0].call);
  if (ncalls == 1 && calls[0].stream) {
    int done;
    res = launch_on_stream(&calls[0], &done);
    if (done) return res;
  }
  /* several calls, a stream, or a busy engine: one op per comm */
  launch_t L;
  res = launch_init(&L, calls, ncalls);
  for (int i = 0; i < ncalls && res == weftSuccess && !L.ran; i++) {
    weft_op *op = NULL;
    res = op_for(&L, &calls[i], &op);
    if (res == weftSuccess && !L.ran)
      res = is_self_p2p(&calls[i]) ? add_self(&L, op, &calls[i].call)
                                   : add_call(op, &calls[i].call, ncalls == 1, &L.ran);
  }
  if (!L.ran) {
    if (res == weftSuccess && L.nself) res = pair_self_all(&L);
    if (res == weftSuccess && L.p2p) keep_group_plan(&L);
    res = res == weftSuccess ? run_ops(&L) : cancel_ops(&L, res);
  }
  launch_free(&L);
  return res;
}

const char *weft_debug_last_algo(weftComm_t comm) {
  if (!comm || comm->magic != WEFT_COMM_MAGIC) return "";
  snprintf(comm->last_algo, sizeof comm->last_algo, "%s/%s%s%s", weft_algo_name((weft_algo)comm->last_algo_id),
           comm->last_self ? "self" : comm->net_desc, comm->last_codec ? "/" : "",
           comm->last_codec ? weft_codec_name((weft_codec_id)comm->last_codec) : "");
  return comm->last_algo;
}

unsigned long long weft_debug_device_reduces(weftComm_t comm) {
  if (!comm || comm->magic != WEFT_COMM_MAGIC) return 0;
  return (unsigned long long)atomic_load_explicit(&comm->stats.device_reduces, memory_order_relaxed);
}

struct weft_dev *weft_debug_comm_device(weftComm_t comm) {
  if (!comm || comm->magic != WEFT_COMM_MAGIC) return NULL;
  return comm->device;
}
