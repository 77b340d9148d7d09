#include "core/launch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coll/sig.h"
#include "core/comm.h"
#include "core/introspect.h"
#include "core/log.h"
#include "core/stream.h"
#include "exec/engine.h"
#include "reduce/reduce.h"
#include "tune/tune.h"

static void describe(weft_op *op, const weft_call *c, int ncalls) {
  if (ncalls == 1)
    snprintf(op->desc, sizeof op->desc, "%s(count %zu, %s%s%s, %s)", weft_coll_name(c->kind), c->count,
             weft_dtype_name(c->dt), c->kind == COLL_ALLREDUCE || c->kind == COLL_REDUCE ||
             c->kind == COLL_REDUCESCATTER ? ", " : "",
             c->kind == COLL_ALLREDUCE || c->kind == COLL_REDUCE || c->kind == COLL_REDUCESCATTER
                 ? weft_op_name(c->op) : "", weft_algo_name(c->algo));
  else
    snprintf(op->desc, sizeof op->desc, "group of %d calls", ncalls);
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
    sched_copy(&op->sched, r->recvbuf, s->sendbuf, sb, NODEP, NODEP);
    si++;
    ri++;
  }
}

weftResult_t weft_launch(weft_pending *calls, int ncalls) {
  weft_op **ops = calloc((size_t)ncalls, sizeof *ops);
  int *counts = calloc((size_t)ncalls, sizeof *counts);
  int nops = 0, nself = 0;
  uint32_t *seq0 = calloc((size_t)ncalls, sizeof *seq0); /* to undo numbering if the launch fails */
  weftResult_t res = weftSuccess;
  if (!ops || !counts || !seq0) {
    free(ops);
    free(counts);
    free(seq0);
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
      if (!(ops[k] = engine_op_new(comm))) {
        res = weft_error(comm, weftSystemError, "out of memory");
        break;
      }
      ops[k]->stream = calls[i].stream;
      seq0[k] = comm->coll_seq;
      nops++;
    }
    if (is_self_p2p(&calls[i])) {
      nself++;
      snprintf(comm->last_algo, sizeof comm->last_algo, "p2p/self");
      describe(ops[k], &calls[i].call, ++counts[k]);
      continue;
    }
    weft_call c = calls[i].call;
    int coll = c.kind != COLL_SEND && c.kind != COLL_RECV;
    c.tag = weft_sig_tag(&c, coll ? ++comm->coll_seq : 0);
    weft_tune(comm, &c);
    snprintf(comm->last_algo, sizeof comm->last_algo, "%s/%s", weft_algo_name(c.algo), comm->net_desc);
    if (coll_build(&ops[k]->sched, &c, comm->rank, comm->nranks) != 0 || ops[k]->sched.oom)
      res = weft_error(comm, weftSystemError, "out of memory building the schedule of %s", weft_coll_name(c.kind));
    describe(ops[k], &c, ++counts[k]);
    WEFT_TRACE(comm, "launch %s: count %zu, %s, %s, chunk %zu, tag %016llx", weft_coll_name(c.kind), c.count,
               weft_dtype_name(c.dt), comm->last_algo, c.chunk_bytes, (unsigned long long)c.tag);
  }
  for (int k = 0; k < nops && nself && res == weftSuccess; k++) res = pair_self(ops[k], calls, ncalls);
  if (res != weftSuccess) {
    for (int k = 0; k < nops; k++) {
      ops[k]->comm->coll_seq = seq0[k]; /* nothing ran: the next calls keep matching */
      engine_op_free(ops[k]);
    }
  } else if (nops == 1 && !ops[0]->stream) {
    res = engine_run_blocking(ops[0]->comm, ops[0]);
  } else {
    int *waits = counts; /* reuse: 1 if someone waits on ops[k] */
    for (int k = 0; k < nops; k++) {
      waits[k] = ops[k]->stream == NULL;
      if (ops[k]->stream) ops[k]->ticket = stream_enqueue(ops[k]->stream, ops[k]->comm->timeout_ms);
      engine_submit(ops[k]->comm, ops[k]); /* stream ops may be freed from here on */
    }
    for (int k = 0; k < nops; k++) {
      if (!waits[k]) continue;
      weftResult_t r = engine_wait(ops[k]->comm, ops[k]);
      if (res == weftSuccess) res = r;
    }
  }
  free(ops);
  free(counts);
  free(seq0);
  return res;
}

const char *weft_debug_last_algo(weftComm_t comm) {
  if (!comm || comm->magic != WEFT_COMM_MAGIC) return "";
  return comm->last_algo;
}
