/* Communicator lifecycle as the API drives it: init (one rank, all ranks in
 * threads), destroy, abort, and the queries. Initialising a comm wires the
 * layers together: layout and tuning, connections, the node segment, then
 * the progress engine. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/comm_life.h"
#include "bootstrap/bootstrap.h"
#include "bootstrap/keys.h"
#include "comm/comm.h"
#include "comm/comm_log.h"
#include "comm/fault.h"
#include "comm/locality.h"
#include "device/device.h"
#include "exec/engine.h"
#include "nodeseg/box.h"
#include "nodeseg/nodeseg.h"
#include "tune/tune.h"
#include "util/sock.h"
#include "util/clock.h"
#include "util/param.h"
#include "util/trace.h"
#include "topo/graph.h"

void weft_comm_free(struct weftComm *c) {
  weft_engine_stop(c->engine);
  c->engine = NULL;
  weft_fault_free(c); /* its thread may call on_fail, which needs the node segment */
  weft_nodeseg_destroy(c);
  weft_tune_free(&c->tune);
  weft_trace_close(c->trace);
  c->trace = NULL;
  weft_comm_release(c);
}

/* Opens the device the comm's configuration chose, says which it is and
 * where it sits (its NUMA node, the NIC nearest it). */
static weftResult_t open_device(struct weftComm *c) {
  char err[WEFT_ERRMSG_LEN];
  weftResult_t res = weft_dev_open(c->device_want, c->device_native, &c->log, &c->device, err, sizeof err);
  if (res != weftSuccess) return weft_error(NULL, res, "rank %d/%d: %s", c->rank, c->nranks, err);
  char desc[400];
  weft_dev_describe(c->device, desc, sizeof desc);
  WEFT_INFO(c, "rank %d uses device %s", c->rank, desc);
  weft_comm_locality(c);
  return weftSuccess;
}

/* WEFT_TRACE=path: this rank's timeline (util/trace.h); a path that cannot
 * be written fails init, since the user asked for the file. */
static weftResult_t open_trace(struct weftComm *c) {
  const char *path = weft_env("WEFT_TRACE");
  if (!path || !path[0]) return weftSuccess;
  char err[WEFT_ERRMSG_LEN];
  const char *site = weft_graph_site_name(c->layout.graph, weft_graph_site_of_rank(c->layout.graph, c->rank));
  if (!(c->trace = weft_trace_open(path, c->rank, c->nranks, site, err, sizeof err)))
    return weft_error(NULL, weftInvalidArgument, "rank %d: %s", c->rank, err);
  WEFT_INFO(c, "tracing to %s (WEFT_TRACE)", path);
  return weftSuccess;
}

/* Opens the device, connects, then starts the progress thread: the comm is
 * usable after this. */
weftResult_t weft_comm_start(struct weftComm *c) {
  weftResult_t res = open_device(c);
  if (res == weftSuccess) res = weft_layout_build(c);
  const weft_tune_inputs tin = {c->rank,          c->nranks, &c->layout.nodes, &c->layout.sites,
                                c->layout.graph, &c->log,   c->layout.devs};
  if (res == weftSuccess && weft_tune_init(&c->tune, &tin) != 0)
    res = weft_error(NULL, weftSystemError, "out of memory");
  if (res == weftSuccess) weft_comm_choose_nic(c);
  if (res == weftSuccess) res = weft_comm_connect(c);
  if (res == weftSuccess) res = weft_nodeseg_create(c);
  if (res == weftSuccess && c->nodeseg) weft_tune_segment(&c->tune, c->nodeseg->max_bytes, c->nodeseg->n, c->nodeseg->box ? WEFT_BOX_MAX_BYTES : 0);
  c->on_fail = weft_nodeseg_mark_gone;
  if (res == weftSuccess) res = open_trace(c);
  if (res == weftSuccess) res = weft_fault_start(c);
  if (res != weftSuccess) return res;
  weft_exec_view view;
  weft_comm_exec_view(c, &view);
  if ((res = weft_engine_start(&view, &c->engine)) != weftSuccess)
    return weft_error(NULL, res, "cannot start the progress thread");
  c->magic = WEFT_COMM_MAGIC;
  WEFT_INFO(c, "communicator ready: %d ranks, transport %s, timeout %d ms%s%s", c->nranks, c->net_desc,
            c->timeout_ms, c->algo_override[0] ? ", algorithm forced to " : "", c->algo_override);
  return weftSuccess;
}

WEFT_API weftResult_t weftCommInitRankConfig(weftComm_t *comm, int nranks, weftUniqueId commId,
                                             int rank, weftConfig_t *config) {
  if (!comm) return weft_error(NULL, weftInvalidArgument, "weftCommInitRank: comm is NULL");
  *comm = NULL;
  if (nranks < 1) return weft_error(NULL, weftInvalidArgument, "weftCommInitRank: nranks %d < 1", nranks);
  if (rank < 0 || rank >= nranks)
    return weft_error(NULL, weftInvalidArgument, "weftCommInitRank: rank %d not in [0, %d)", rank, nranks);
  weft_id_internal id;
  memcpy(&id, commId.internal, sizeof id);
  if (id.magic != WEFT_ID_MAGIC)
    return weft_error(NULL, weftInvalidArgument, "weftCommInitRank: commId is not from weftGetUniqueId");
  struct weftComm *c;
  weftResult_t res = weft_comm_new(&c, rank, nranks, config, NULL);
  if (res != weftSuccess) return res;
  char err[WEFT_SOCK_ERRLEN];
  if (weft_key_from_secret(id.secret, c->key) != 0) {
    weft_comm_free(c);
    return weft_error(NULL, weftSystemError, "weftCommInitRank: cannot derive the communicator key (libcrypto)");
  }
  res = weft_bootstrap_init(&id, rank, nranks, c->timeout_ms, &c->bootstrap, err);
  if (res != weftSuccess) weft_error(NULL, res, "rank %d/%d: %s", rank, nranks, err);
  else res = weft_comm_start(c);
  if (res != weftSuccess) {
    weft_comm_free(c);
    return res;
  }
  *comm = c;
  return weftSuccess;
}

WEFT_API weftResult_t weftCommInitRank(weftComm_t *comm, int nranks, weftUniqueId commId, int rank) {
  return weftCommInitRankConfig(comm, nranks, commId, rank, NULL);
}

typedef struct {
  weftComm_t *slot;
  int nranks, rank;
  weftUniqueId id;
  weftResult_t res;
  char err[WEFT_ERRMSG_LEN];
} init_all_arg;

static void *init_all_main(void *p) {
  init_all_arg *a = p;
  a->res = weftCommInitRank(a->slot, a->nranks, a->id, a->rank);
  if (a->res != weftSuccess) snprintf(a->err, sizeof a->err, "%s", weft_thread_error());
  return NULL;
}

WEFT_API weftResult_t weftCommInitAll(weftComm_t *comms, int ndev, const int *devlist) {
  (void)devlist; /* host backend: every rank is the host */
  if (!comms || ndev < 1)
    return weft_error(NULL, weftInvalidArgument, "weftCommInitAll: need comms and ndev >= 1");
  weftUniqueId id;
  weftResult_t res = weftGetUniqueId(&id);
  if (res != weftSuccess) return res;
  init_all_arg *args = calloc((size_t)ndev, sizeof *args);
  pthread_t *th = calloc((size_t)ndev, sizeof *th);
  if (!args || !th) {
    free(args);
    free(th);
    return weft_error(NULL, weftSystemError, "out of memory");
  }
  int started = 0;
  for (int i = 0; i < ndev; i++) comms[i] = NULL;
  for (int i = 0; i < ndev; i++) {
    args[i] = (init_all_arg){&comms[i], ndev, i, id, weftSuccess, ""};
    if (pthread_create(&th[i], NULL, init_all_main, &args[i]) != 0) {
      args[i].res = weft_error(NULL, weftSystemError, "weftCommInitAll: cannot start thread %d", i);
      break;
    }
    started++;
  }
  for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
  res = weftSuccess;
  for (int i = 0; i < ndev; i++)
    if (args[i].res != weftSuccess && res == weftSuccess) {
      res = args[i].res;
      weft_set_thread_error(args[i].err);
    }
  if (res != weftSuccess)
    for (int i = 0; i < started; i++)
      if (args[i].res == weftSuccess) weftCommDestroy(comms[i]), comms[i] = NULL;
  free(args);
  free(th);
  return res;
}

WEFT_API weftResult_t weftCommDestroy(weftComm_t comm) {
  if (!comm) return weftSuccess; /* as free(NULL) */
  weftResult_t r = weft_comm_check(comm);
  if (r != weftSuccess) return r;
  weft_comm_free(comm); /* weft_engine_stop drains outstanding ops first */
  return weftSuccess;
}

WEFT_API weftResult_t weftCommAbort(weftComm_t comm) {
  if (!comm) return weftSuccess;
  weftResult_t r = weft_comm_check(comm);
  if (r != weftSuccess) return r;
  atomic_store(&comm->aborted, 1);
  /* peers learn at once that this rank aborted, whether or not a call runs here */
  weft_fault_origin_of(comm, comm->rank, WEFT_FAULT_ABORTED, weftAborted, "weftCommAbort was called");
  /* Let calls blocked in other threads notice the flag and leave. */
  long long deadline = weft_now_ms() + comm->timeout_ms + 1000;
  while (atomic_load(&comm->active_calls) > 0 && weft_now_ms() < deadline) usleep(1000);
  if (atomic_load(&comm->active_calls) > 0) {
    return weft_error(comm, weftInternalError, "weftCommAbort: the call in another thread did not return in time; "
                      "comm not freed");
  }
  weft_comm_free(comm);
  return weftSuccess;
}

WEFT_API weftResult_t weftCommGetAsyncError(weftComm_t comm, weftResult_t *asyncError) {
  weftResult_t r = weft_comm_check(comm);
  if (r != weftSuccess) return r;
  if (!asyncError) return weft_error(comm, weftInvalidArgument, "weftCommGetAsyncError: asyncError is NULL");
  *asyncError = atomic_load(&comm->async_error);
  if (*asyncError == weftSuccess && atomic_load(&comm->aborted)) *asyncError = weftAborted;
  return weftSuccess;
}

WEFT_API weftResult_t weftCommCount(const weftComm_t comm, int *count) {
  weftResult_t r = weft_comm_check(comm);
  if (r != weftSuccess) return r;
  if (!count) return weft_error(comm, weftInvalidArgument, "weftCommCount: count is NULL");
  *count = comm->nranks;
  return weftSuccess;
}

WEFT_API weftResult_t weftCommUserRank(const weftComm_t comm, int *rank) {
  weftResult_t r = weft_comm_check(comm);
  if (r != weftSuccess) return r;
  if (!rank) return weft_error(comm, weftInvalidArgument, "weftCommUserRank: rank is NULL");
  *rank = comm->rank;
  return weftSuccess;
}

WEFT_API weftResult_t weftCommGetDevice(const weftComm_t comm, char *name, size_t len) {
  weftResult_t r = weft_comm_check(comm);
  if (r != weftSuccess) return r;
  if (!name || len == 0) return weft_error(comm, weftInvalidArgument, "weftCommGetDevice: name is NULL or len is 0");
  const weft_dev *d = comm->device;
  int n = snprintf(name, len, "%s%s%s", d ? d->name : "host", d && d->spec[0] ? ":" : "", d ? d->spec : "");
  if (n < 0 || (size_t)n >= len)
    return weft_error(comm, weftInvalidArgument, "weftCommGetDevice: the name needs %d bytes, len is %zu", n + 1, len);
  return weftSuccess;
}

WEFT_API const char *weftGetLastError(weftComm_t comm) {
  if (!comm || comm->magic != WEFT_COMM_MAGIC) return weft_thread_error();
  /* the comm's message may be rewritten at any time by its progress or fault
   * thread: the caller reads a copy of this thread's, taken under the lock
   * (four in turn, so that one printf may show several comms' messages) */
  static _Thread_local char copy[4][WEFT_ERRMSG_LEN];
  static _Thread_local unsigned next;
  char *buf = copy[next++ % 4];
  weft_log_sink_last_error(&comm->log, buf, WEFT_ERRMSG_LEN);
  return buf;
}

