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

weftResult_t weft_launch(weft_pending *calls, int ncalls) {
  weft_op **ops = calloc((size_t)ncalls, sizeof *ops);
  int *counts = calloc((size_t)ncalls, sizeof *counts);
  int nops = 0;
  weftResult_t res = weftSuccess;
  if (!ops || !counts) {
    free(ops);
    free(counts);
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
      nops++;
    }
    weft_call c = calls[i].call;
    int coll = c.kind != COLL_SEND && c.kind != COLL_RECV;
    c.tag = weft_sig_tag(&c, coll ? ++comm->coll_seq : 0);
    weft_tune(comm, &c);
    snprintf(comm->last_algo, sizeof comm->last_algo, "%s/%s", weft_algo_name(c.algo), comm->net->name);
    if (coll_build(&ops[k]->sched, &c, comm->rank, comm->nranks) != 0 || ops[k]->sched.oom)
      res = weft_error(comm, weftSystemError, "out of memory building the schedule of %s", weft_coll_name(c.kind));
    describe(ops[k], &c, ++counts[k]);
  }
  if (res != weftSuccess) {
    for (int k = 0; k < nops; k++) engine_op_free(ops[k]);
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
  return res;
}

const char *weft_debug_last_algo(weftComm_t comm) {
  if (!comm || comm->magic != WEFT_COMM_MAGIC) return "";
  return comm->last_algo;
}
