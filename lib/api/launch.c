#include "api/launch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "coll/sig.h"
#include "nodeseg/slots.h"
#include "comm/comm.h"
#include "api/introspect.h"
#include "util/log.h"
#include "exec/stream.h"
#include "exec/engine.h"
#include "reduce/reduce.h"
#include "tune/tune.h"

/* Remembers what the op is for error messages (formatted only on error). */
static void describe(weft_op *op, const weft_call *c) {
  if (op->ncalls++ == 0) op->first = *c;
}

static int is_self_p2p(const weft_pending *p) {
  return (p->call.kind == COLL_SEND || p->call.kind == COLL_RECV) && p->call.root == p->comm->rank;
}

/* Sends to oneself become copies into the matching receives from oneself,
 * paired in call order within the group. */
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
    weft_sched_copy(&op->sched, r->recvbuf, s->sendbuf, sb, NODEP, NODEP);
    si++;
    ri++;
  }
}

/* What makes two calls build the same schedule (the tag aside). */
static void plan_key(const weft_call *c, uint64_t key[6]) {
  key[0] = (uint64_t)c->kind | (uint64_t)c->dt << 8 | (uint64_t)c->op << 16 | (uint64_t)c->algo << 24 |
           (uint64_t)(uint32_t)c->root << 32;
  key[1] = c->count;
  key[2] = (uint64_t)(uintptr_t)c->sendbuf;
  key[3] = (uint64_t)(uintptr_t)c->recvbuf;
  key[4] = c->chunk_bytes;
  key[5] = (uint64_t)(uintptr_t)c->groups ^ (uint64_t)c->codec << 56;
}

/* Tunes c; a claimed op repeating the call tuned last time (same kind,
 * type, op, root and count) takes that tuning instead of redoing it. */
static void tune_call(weftComm_t comm, const weft_op *op, weft_call *c) {
  weft_engine *e = comm->engine;
  const weft_call *t = &e->own_tuned;
  if (op == e->own && e->own_tuned_valid && t->kind == c->kind && t->dt == c->dt && t->op == c->op &&
      t->root == c->root && t->count == c->count) {
    const void *sb = c->sendbuf;
    void *rb = c->recvbuf;
    uint64_t tag = c->tag;
    *c = *t;
    c->sendbuf = sb;
    c->recvbuf = rb;
    c->tag = tag;
    return;
  }
  weft_tune(&comm->tune, c);
  if (c->codec == WEFT_CODEC_TOPK) c->ef = weft_ef_get(&comm->tune, c->count, c->dt, comm);
  if (op == e->own) {
    e->own_tuned = *c;
    e->own_tuned_valid = 1;
  }
}

/* A blocking call through the node segment runs here, on the caller's
 * thread that holds the engine: no schedule, no executor. */
static weftResult_t run_slots(weftComm_t comm, weft_op *op, const weft_call *c) {
  describe(op, c);
  char why[WEFT_ERRMSG_LEN];
  return weft_engine_claimed_done(comm, op, weft_slots_run(comm, c, why, sizeof why), why);
}

/* A group of up to 8 sends and receives to other ranks (a halo exchange, a
 * pipeline stage, the sendrecv of a ring); the caller checks that it is
 * blocking and on one comm. Repeated with the same calls, it reuses the
 * schedule built the first time: point-to-point tags carry no sequence
 * number, so the plan runs again as it is. */
static int p2p_group(const weft_pending *calls, int ncalls) {
  if (ncalls < 2 || ncalls > 8) return 0;
  for (int i = 0; i < ncalls; i++)
    if ((calls[i].call.kind != COLL_SEND && calls[i].call.kind != COLL_RECV) || is_self_p2p(&calls[i])) return 0;
  return 1;
}

/* Runs a p2p group through op (the claimed engine's own op) from its cached
 * plan if the group is the one it was built for; returns 0 if not. */
static int run_cached_group(weft_op *op, const weft_pending *calls, int ncalls, weftResult_t *res) {
  weft_sched *s = &op->sched;
  if (!s->plan_valid || s->group_n != ncalls) return 0;
  for (int i = 0; i < ncalls; i++) {
    uint64_t key[6];
    plan_key(&calls[i].call, key);
    if (memcmp(key, s->group_key[i], sizeof key) != 0) return 0;
  }
  weftComm_t comm = op->comm;
  weft_sched_rearm(s, 0);
  comm->last_algo_id = ALGO_P2P;
  comm->last_codec = 0;
  comm->last_self = 0;
  op->first = calls[0].call;
  op->ncalls = ncalls;
  *res = weft_engine_run_blocking(comm, op);
  return 1;
}

weftResult_t weft_launch(weft_pending *calls, int ncalls) {
  /* one op per communicator; small launches (the common case) stay on the stack */
  weft_op *ops_small[8];
  int waits_small[8];
  uint32_t seq_small[8];
  int big = ncalls > 8;
  weft_op **ops = big ? calloc((size_t)ncalls, sizeof *ops) : ops_small;
  int *waits = big ? calloc((size_t)ncalls, sizeof *waits) : waits_small;
  uint32_t *seq0 = big ? calloc((size_t)ncalls, sizeof *seq0) : seq_small; /* to undo numbering on failure */
  int nops = 0, nself = 0;
  weftResult_t res = weftSuccess;
  /* blocking calls on one communicator run on this thread if its engine is idle */
  int blocking = 1;
  for (int i = 0; i < ncalls; i++)
    if (calls[i].stream || calls[i].comm != calls[0].comm) blocking = 0;
  int p2p = blocking && p2p_group(calls, ncalls);
  if (!ops || !waits || !seq0) {
    if (big) {
      free(ops);
      free(waits);
      free(seq0);
    }
    return weft_error(NULL, weftSystemError, "out of memory launching %d calls", ncalls);
  }
  for (int i = 0; i < ncalls && res == weftSuccess; i++) {
    weftComm_t comm = calls[i].comm;
    int k = 0;
    while (k < nops && ops[k]->comm != comm) k++;
    if (k == nops) {
      weftResult_t sticky = atomic_load(&comm->async_error);
      if (sticky != weftSuccess) {
        res = weft_error(comm, sticky, "communicator already failed: %s", comm->last_error);
        break;
      }
      ops[k] = blocking ? weft_engine_claim(comm, ncalls == 1 || p2p) : NULL;
      if (!ops[k] && !(ops[k] = weft_engine_op_new(comm))) {
        res = weft_error(comm, weftSystemError, "out of memory");
        break;
      }
      if (p2p && ops[k]->claimed && run_cached_group(ops[k], calls, ncalls, &res)) return res;
      ops[k]->stream = calls[i].stream;
      seq0[k] = comm->coll_seq;
      nops++;
      /* several calls, or a send to oneself (paired into copies later): no plan cache */
      if (ncalls > 1 || is_self_p2p(&calls[i])) weft_sched_reset(&ops[k]->sched);
    }
    if (is_self_p2p(&calls[i])) {
      nself++;
      comm->last_algo_id = ALGO_P2P;
      comm->last_self = 1;
      describe(ops[k], &calls[i].call);
      continue;
    }
    weft_call c = calls[i].call;
    int coll = c.kind != COLL_SEND && c.kind != COLL_RECV;
    c.tag = weft_sig_tag(&c, coll ? ++comm->coll_seq : 0);
    tune_call(comm, ops[k], &c);
    comm->last_algo_id = c.algo;
    comm->last_codec = c.codec;
    comm->last_self = 0;
    if (ncalls == 1 && ops[k]->claimed && c.algo == ALGO_SLOTS) return run_slots(comm, ops[k], &c);
    weft_sched *s = &ops[k]->sched;
    uint64_t key[6];
    plan_key(&c, key);
    if (ncalls == 1 && s->plan_valid && memcmp(s->plan_key, key, sizeof key) == 0) {
      weft_sched_rearm(s, c.tag); /* the same call as last time on this op: reuse its schedule */
    } else {
      if (ncalls == 1) weft_sched_reset(s);
      if (weft_coll_build(s, &c, comm->rank, comm->nranks) != 0 || s->oom) {
        res = weft_error(comm, weftSystemError, "out of memory building the schedule of %s", weft_coll_name(c.kind));
      } else if (ncalls == 1) {
        memcpy(s->plan_key, key, sizeof key);
        s->plan_valid = 1;
      }
    }
    if (ncalls == 1) s->sig = coll ? c.tag : 0;
    describe(ops[k], &c);
    if (comm->log_level >= weftLogTrace)
      WEFT_TRACE(comm, "launch %s: count %zu, %s, %s, chunk %zu, tag %016llx", weft_coll_name(c.kind), c.count,
               weft_dtype_name(c.dt), comm->last_algo, c.chunk_bytes, (unsigned long long)c.tag);
  }
  for (int k = 0; k < nops && nself && res == weftSuccess; k++) res = pair_self(ops[k], calls, ncalls);
  if (res == weftSuccess && ncalls == 1) ops[0]->sched.group_n = 0;
  if (res == weftSuccess && p2p && ops[0]->claimed && !ops[0]->sched.oom) { /* keep the group's plan */
    weft_sched *s = &ops[0]->sched;
    for (int i = 0; i < ncalls; i++) plan_key(&calls[i].call, s->group_key[i]);
    memset(s->plan_key, 0, sizeof s->plan_key); /* no single call matches it */
    s->group_n = ncalls;
    s->plan_valid = 1;
  }
  if (res != weftSuccess) {
    for (int k = 0; k < nops; k++) {
      ops[k]->comm->coll_seq = seq0[k]; /* nothing ran: the next calls keep matching */
      ops[k]->sched.plan_valid = 0;
      weft_engine_op_free(ops[k]);
    }
  } else if (nops == 1 && !ops[0]->stream) {
    res = weft_engine_run_blocking(ops[0]->comm, ops[0]);
  } else {
    for (int k = 0; k < nops; k++) {
      waits[k] = ops[k]->stream == NULL;
      if (ops[k]->stream) ops[k]->ticket = weft_stream_enqueue(ops[k]->stream, ops[k]->comm->timeout_ms);
      weft_engine_submit(ops[k]->comm, ops[k]); /* stream ops may be freed from here on */
    }
    for (int k = 0; k < nops; k++) {
      if (!waits[k]) continue;
      weftResult_t r = weft_engine_wait(ops[k]->comm, ops[k]);
      if (res == weftSuccess) res = r;
    }
  }
  if (big) {
    free(ops);
    free(waits);
    free(seq0);
  }
  return res;
}

const char *weft_debug_last_algo(weftComm_t comm) {
  if (!comm || comm->magic != WEFT_COMM_MAGIC) return "";
  snprintf(comm->last_algo, sizeof comm->last_algo, "%s/%s%s%s", weft_algo_name((weft_algo)comm->last_algo_id),
           comm->last_self ? "self" : comm->net_desc, comm->last_codec ? "/" : "",
           comm->last_codec ? weft_codec_name((weft_codec_id)comm->last_codec) : "");
  return comm->last_algo;
}
