/* Communicators: NCCL's init, split, finalize, destroy and queries over
 * weft's, and the checks every call on a comm makes. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nccl_comm.h"

#define NCCL_CONFIG_MAGIC 0xcafebeefu

_Static_assert(sizeof(ncclUniqueId) == sizeof(weftUniqueId), "ncclUniqueId carries a weftUniqueId");

/* Wraps w (taken over: destroyed on failure). */
static ncclResult_t wrap(weftComm_t w, ncclComm_t *out) {
  char dev[256];
  weftResult_t wr = weftCommGetDevice(w, dev, sizeof dev);
  struct ncclComm *c = wr == weftSuccess ? calloc(1, sizeof *c) : NULL;
  if (!c) {
    weftCommDestroy(w);
    return wr != weftSuccess ? weft_nccl_result(wr)
                             : weft_nccl_fail(ncclSystemError, "out of memory creating a communicator");
  }
  c->weft = w;
  c->host = strcmp(dev, "host") == 0;
  c->cuda_device = -1;
  if (strcmp(dev, "cuda") == 0) c->cuda_device = 0;
  else if (strncmp(dev, "cuda:", 5) == 0) c->cuda_device = atoi(dev + 5);
  c->magic = WEFT_NCCL_COMM_MAGIC;
  *out = c;
  return ncclSuccess;
}

/* weft's configuration for an NCCL one: NULL when nothing in it matters to
 * weft. NCCL's fields for CUDA kernels (cgaClusterSize, minCTAs, maxCTAs)
 * and splitShare have no weft counterpart and are ignored. */
static ncclResult_t translate_config(const ncclConfig_t *in, weftConfig_t *out, weftConfig_t **use, const char *fn) {
  *use = NULL;
  if (!in) return ncclSuccess;
  if (in->magic != NCCL_CONFIG_MAGIC || in->size < offsetof(ncclConfig_t, blocking) + sizeof(int))
    return weft_nccl_fail(ncclInvalidArgument, "%s: config was not set up with NCCL_CONFIG_INITIALIZER", fn);
  if (in->blocking != NCCL_CONFIG_UNDEF_INT && in->blocking != 0 && in->blocking != 1)
    return weft_nccl_fail(ncclInvalidArgument, "%s: config blocking is %d, not 0 or 1", fn, in->blocking);
  /* blocking = 0 is honoured by completing the init before returning: a
   * non-blocking NCCL program then reads ncclSuccess at once */
  if (in->size >= offsetof(ncclConfig_t, netName) + sizeof(const char *) && in->netName) {
    *out = (weftConfig_t)WEFT_CONFIG_INITIALIZER;
    /* NCCL's socket transport is weft's tcp; other names go to weft as given */
    out->netName = strcmp(in->netName, "Socket") == 0 || strcmp(in->netName, "socket") == 0 ? "tcp" : in->netName;
    *use = out;
  }
  return ncclSuccess;
}

WEFT_API ncclResult_t ncclGetUniqueId(ncclUniqueId *uniqueId) {
  weft_nccl_begin();
  if (!uniqueId) return weft_nccl_fail(ncclInvalidArgument, "ncclGetUniqueId: uniqueId is NULL");
  weftUniqueId id;
  weftResult_t r = weftGetUniqueId(&id);
  if (r == weftSuccess) memcpy(uniqueId->internal, id.internal, sizeof id.internal);
  return weft_nccl_result(r);
}

WEFT_API ncclResult_t ncclCommInitRankConfig(ncclComm_t *comm, int nranks, ncclUniqueId commId, int rank,
                                             ncclConfig_t *config) {
  weft_nccl_begin();
  if (!comm) return weft_nccl_fail(ncclInvalidArgument, "ncclCommInitRank: comm is NULL");
  *comm = NULL;
  weftConfig_t storage, *wcfg;
  ncclResult_t nr = translate_config(config, &storage, &wcfg, "ncclCommInitRankConfig");
  if (nr != ncclSuccess) return nr;
  weftUniqueId id;
  memcpy(id.internal, commId.internal, sizeof id.internal);
  weftComm_t w;
  weftResult_t r = weftCommInitRankConfig(&w, nranks, id, rank, wcfg);
  if (r != weftSuccess) return weft_nccl_result(r);
  return wrap(w, comm);
}

WEFT_API ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId commId, int rank) {
  return ncclCommInitRankConfig(comm, nranks, commId, rank, NULL);
}

typedef struct {
  ncclComm_t *slot;
  int nranks, rank;
  ncclUniqueId id;
  char device[32]; /* "" : weft's default */
  ncclResult_t res;
  char err[512];
} init_all_arg;

static void *init_all_main(void *p) {
  init_all_arg *a = p;
  weftConfig_t cfg = WEFT_CONFIG_INITIALIZER;
  if (a->device[0]) cfg.device = a->device;
  weftUniqueId id;
  memcpy(id.internal, a->id.internal, sizeof id.internal);
  weftComm_t w;
  weftResult_t r = weftCommInitRankConfig(&w, a->nranks, id, a->rank, &cfg);
  a->res = r == weftSuccess ? wrap(w, a->slot) : weft_nccl_result(r);
  if (a->res != ncclSuccess) snprintf(a->err, sizeof a->err, "rank %d: %s", a->rank, ncclGetLastError(NULL));
  return NULL;
}

/* NCCL's devlist names CUDA devices: it matters when WEFT_DEVICE picks cuda
 * (rank i then opens cuda:devlist[i], or cuda:i without a list); with any
 * other device every rank opens that one. */
static void init_all_device(char *buf, size_t len, int i, const int *devlist) {
  const char *want = getenv("WEFT_DEVICE");
  buf[0] = 0;
  if (want && (strcmp(want, "cuda") == 0 || strncmp(want, "cuda:", 5) == 0))
    snprintf(buf, len, "cuda:%d", devlist ? devlist[i] : i);
}

WEFT_API ncclResult_t ncclCommInitAll(ncclComm_t *comms, int ndev, const int *devlist) {
  weft_nccl_begin();
  if (!comms || ndev < 1) return weft_nccl_fail(ncclInvalidArgument, "ncclCommInitAll: need comms and ndev >= 1");
  for (int i = 0; devlist && i < ndev; i++)
    if (devlist[i] < 0) return weft_nccl_fail(ncclInvalidArgument, "ncclCommInitAll: devlist[%d] is %d", i, devlist[i]);
  ncclUniqueId id;
  ncclResult_t res = ncclGetUniqueId(&id);
  if (res != ncclSuccess) return res;
  init_all_arg *args = calloc((size_t)ndev, sizeof *args);
  pthread_t *th = calloc((size_t)ndev, sizeof *th);
  if (!args || !th) {
    free(args);
    free(th);
    return weft_nccl_fail(ncclSystemError, "ncclCommInitAll: out of memory");
  }
  int started = 0;
  for (int i = 0; i < ndev; i++) comms[i] = NULL;
  for (int i = 0; i < ndev; i++) {
    args[i] = (init_all_arg){.slot = &comms[i], .nranks = ndev, .rank = i, .id = id, .res = ncclSuccess};
    init_all_device(args[i].device, sizeof args[i].device, i, devlist);
    if (pthread_create(&th[i], NULL, init_all_main, &args[i]) != 0) {
      args[i].res = ncclSystemError;
      snprintf(args[i].err, sizeof args[i].err, "ncclCommInitAll: cannot start the thread of rank %d", i);
      break;
    }
    started++;
  }
  for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
  res = ncclSuccess;
  for (int i = 0; i < ndev && res == ncclSuccess; i++)
    if (args[i].res != ncclSuccess) res = weft_nccl_fail(args[i].res, "ncclCommInitAll: %s", args[i].err);
  if (res != ncclSuccess)
    for (int i = 0; i < ndev; i++)
      if (comms[i]) ncclCommDestroy(comms[i]), comms[i] = NULL;
  free(args);
  free(th);
  return res;
}

ncclResult_t weft_nccl_check(const struct ncclComm *comm, const char *fn) {
  if (!comm) return weft_nccl_fail(ncclInvalidArgument, "%s: comm is NULL", fn);
  if (comm->magic != WEFT_NCCL_COMM_MAGIC)
    return weft_nccl_fail(ncclInvalidArgument, "%s: comm is not a live communicator of libweft-nccl", fn);
  return ncclSuccess;
}

/* The weft stream for the program's cudaStream_t (weft_nccl.h). */
static ncclResult_t resolve_stream(struct ncclComm *c, cudaStream_t stream, weftStream_t *ws, const char *fn) {
  if (c->host) { /* NULL blocks; anything else is a weft host stream */
    *ws = (weftStream_t)stream;
    return ncclSuccess;
  }
  for (int i = 0; i < c->nwraps; i++)
    if (c->wraps[i].native == (void *)stream) {
      *ws = c->wraps[i].stream;
      return ncclSuccess;
    }
  if (c->nwraps == c->capwraps) {
    int cap = c->capwraps ? 2 * c->capwraps : 4;
    weft_nccl_wrap *n = realloc(c->wraps, sizeof *n * (size_t)cap);
    if (!n) return weft_nccl_fail(ncclSystemError, "%s: out of memory wrapping a stream", fn);
    c->wraps = n;
    c->capwraps = cap;
  }
  weftResult_t r = weftStreamFromNative(ws, c->weft, (void *)stream);
  if (r != weftSuccess) return weft_nccl_result(r);
  c->wraps[c->nwraps++] = (weft_nccl_wrap){(void *)stream, *ws};
  return ncclSuccess;
}

ncclResult_t weft_nccl_enter(struct ncclComm *comm, const char *fn, cudaStream_t stream, weftStream_t *ws) {
  weft_nccl_begin();
  ncclResult_t r = weft_nccl_check(comm, fn);
  if (r != ncclSuccess) return r;
  if (atomic_load(&comm->finalized))
    return weft_nccl_fail(ncclInvalidUsage, "%s: the communicator was finalized (ncclCommFinalize)", fn);
  atomic_fetch_add(&comm->active, 1);
  r = resolve_stream(comm, stream, ws, fn);
  if (r != ncclSuccess) atomic_fetch_sub(&comm->active, 1);
  return r;
}

void weft_nccl_leave(struct ncclComm *comm) { atomic_fetch_sub(&comm->active, 1); }

/* Waits for the operations queued on the streams libweft-nccl wrapped; the
 * first error wins. */
static weftResult_t sync_wraps(struct ncclComm *c) {
  weftResult_t first = weftSuccess;
  for (int i = 0; i < c->nwraps; i++) {
    weftResult_t r = weftStreamSynchronize(c->wraps[i].stream);
    if (first == weftSuccess) first = r;
  }
  return first;
}

static void free_wraps(struct ncclComm *c) {
  for (int i = 0; i < c->nwraps; i++) weftStreamDestroy(c->wraps[i].stream);
  free(c->wraps);
  c->wraps = NULL;
  c->nwraps = c->capwraps = 0;
}

WEFT_API ncclResult_t ncclCommFinalize(ncclComm_t comm) {
  weft_nccl_begin();
  ncclResult_t r = weft_nccl_check(comm, "ncclCommFinalize");
  if (r != ncclSuccess) return r;
  if (atomic_exchange(&comm->finalized, 1))
    return weft_nccl_fail(ncclInvalidUsage, "ncclCommFinalize: the communicator was already finalized");
  /* operations on a program's weft host streams are the program's to wait
   * for (weftStreamSynchronize); ncclCommDestroy drains whatever is left */
  return weft_nccl_result(sync_wraps(comm));
}

static void release(struct ncclComm *c) {
  c->magic = 0;
  free(c);
}

WEFT_API ncclResult_t ncclCommDestroy(ncclComm_t comm) {
  weft_nccl_begin();
  if (!comm) return ncclSuccess;
  ncclResult_t r = weft_nccl_check(comm, "ncclCommDestroy");
  if (r != ncclSuccess) return r;
  free_wraps(comm); /* each waits for its queue's operations first */
  weftResult_t wr = weftCommDestroy(comm->weft);
  if (wr != weftSuccess) return weft_nccl_result(wr);
  release(comm);
  return ncclSuccess;
}

WEFT_API ncclResult_t ncclCommAbort(ncclComm_t comm) {
  weft_nccl_begin();
  if (!comm) return ncclSuccess;
  ncclResult_t r = weft_nccl_check(comm, "ncclCommAbort");
  if (r != ncclSuccess) return r;
  atomic_store(&comm->finalized, 1); /* new calls are refused from now on */
  /* fails the operations in flight, waits for the calls inside weft */
  weftResult_t wr = weftCommAbort(comm->weft);
  if (wr != weftSuccess) return weft_nccl_result(wr);
  /* a call between our check and weft's sees a freed weft comm only if it
   * raced the abort; wait for ours to leave, briefly, before freeing */
  for (int i = 0; i < 5000 && atomic_load(&comm->active) > 0; i++) nanosleep(&(struct timespec){0, 1000000}, NULL);
  free_wraps(comm); /* their operations have failed: no wait */
  release(comm);
  return ncclSuccess;
}

WEFT_API ncclResult_t ncclCommSplit(ncclComm_t comm, int color, int key, ncclComm_t *newcomm, ncclConfig_t *config) {
  weft_nccl_begin();
  ncclResult_t r = weft_nccl_check(comm, "ncclCommSplit");
  if (r != ncclSuccess) return r;
  if (!newcomm) return weft_nccl_fail(ncclInvalidArgument, "ncclCommSplit: newcomm is NULL");
  *newcomm = NULL;
  weftConfig_t storage, *wcfg;
  if ((r = translate_config(config, &storage, &wcfg, "ncclCommSplit")) != ncclSuccess) return r;
  weftComm_t w = NULL;
  weftResult_t wr = weftCommSplit(comm->weft, color, key, &w, wcfg);
  if (wr != weftSuccess) return weft_nccl_result(wr);
  return w ? wrap(w, newcomm) : ncclSuccess; /* NCCL_SPLIT_NOCOLOR: no comm */
}

WEFT_API ncclResult_t ncclCommShrink(ncclComm_t comm, int *excludeRanksList, int excludeRanksCount, ncclComm_t *newcomm,
                                     ncclConfig_t *config, int shrinkFlags) {
  weft_nccl_begin();
  ncclResult_t r = weft_nccl_check(comm, "ncclCommShrink");
  if (r != ncclSuccess) return r;
  if (!newcomm) return weft_nccl_fail(ncclInvalidArgument, "ncclCommShrink: newcomm is NULL");
  *newcomm = NULL;
  if (shrinkFlags != NCCL_SHRINK_DEFAULT && shrinkFlags != NCCL_SHRINK_ABORT)
    return weft_nccl_fail(ncclInvalidArgument, "ncclCommShrink: shrinkFlags %d is not NCCL_SHRINK_DEFAULT or NCCL_SHRINK_ABORT",
                          shrinkFlags);
  weftConfig_t storage, *wcfg;
  if ((r = translate_config(config, &storage, &wcfg, "ncclCommShrink")) != ncclSuccess) return r;
  weftComm_t w = NULL;
  /* weft checks the list itself (ranges, duplicates) */
  weftResult_t wr = weftCommShrink(comm->weft, excludeRanksList, excludeRanksCount, &w, wcfg,
                                   shrinkFlags == NCCL_SHRINK_ABORT ? WEFT_SHRINK_ABORT : WEFT_SHRINK_DEFAULT);
  if (wr != weftSuccess) return weft_nccl_result(wr);
  return wrap(w, newcomm);
}

WEFT_API ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t *asyncError) {
  weft_nccl_begin();
  ncclResult_t r = weft_nccl_check(comm, "ncclCommGetAsyncError");
  if (r != ncclSuccess) return r;
  if (!asyncError) return weft_nccl_fail(ncclInvalidArgument, "ncclCommGetAsyncError: asyncError is NULL");
  weftResult_t e;
  weftResult_t wr = weftCommGetAsyncError(comm->weft, &e);
  if (wr == weftSuccess) *asyncError = weft_nccl_result(e);
  return weft_nccl_result(wr);
}

WEFT_API ncclResult_t ncclCommCount(const ncclComm_t comm, int *count) {
  weft_nccl_begin();
  ncclResult_t r = weft_nccl_check(comm, "ncclCommCount");
  return r != ncclSuccess ? r : weft_nccl_result(weftCommCount(comm->weft, count));
}

WEFT_API ncclResult_t ncclCommUserRank(const ncclComm_t comm, int *rank) {
  weft_nccl_begin();
  ncclResult_t r = weft_nccl_check(comm, "ncclCommUserRank");
  return r != ncclSuccess ? r : weft_nccl_result(weftCommUserRank(comm->weft, rank));
}

WEFT_API ncclResult_t ncclCommCuDevice(const ncclComm_t comm, int *device) {
  weft_nccl_begin();
  ncclResult_t r = weft_nccl_check(comm, "ncclCommCuDevice");
  if (r != ncclSuccess) return r;
  if (!device) return weft_nccl_fail(ncclInvalidArgument, "ncclCommCuDevice: device is NULL");
  *device = comm->cuda_device;
  return ncclSuccess;
}
