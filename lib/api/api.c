/* Collective and point-to-point entry points: validate, then submit. Bad
 * input returns weftInvalidArgument with a message and changes nothing. */
#include <stdint.h>
#include <stdlib.h>

#include "comm/comm.h"
#include "device/device.h"
#include "api/launch.h"
#include "comm/comm_log.h"
#include "exec/stream.h"
#include "reduce/reduce.h"

typedef struct {
  const char *fn;
  weftComm_t comm;
} api_ctx;

#define FAIL(A, ...) weft_error((A)->comm, weftInvalidArgument, __VA_ARGS__)

static weftResult_t check_common(const api_ctx *a, weftDataType_t dt, weftStream_t stream) {
  weftResult_t r = weft_comm_check(a->comm);
  if (r != weftSuccess) return r;
  if ((unsigned)dt >= weftNumTypes) return FAIL(a, "%s: invalid datatype %d", a->fn, (int)dt);
  if (stream && stream->magic != WEFT_STREAM_MAGIC)
    return FAIL(a, "%s: stream is not a weft stream (weftStreamCreate)", a->fn);
  if (stream && stream->dev && !weft_dev_is_host(a->comm->device) && stream->dev->ops != a->comm->device->ops)
    return FAIL(a, "%s: the stream wraps a %s queue but the communicator's buffers are %s buffers", a->fn,
                stream->dev->name, a->comm->device->name);
  return weftSuccess;
}

static weftResult_t check_op(const api_ctx *a, weftRedOp_t op) {
  if ((unsigned)op >= weftNumOps) return FAIL(a, "%s: invalid reduction op %d", a->fn, (int)op);
  return weftSuccess;
}

static weftResult_t check_root(const api_ctx *a, int root, const char *what) {
  if (root < 0 || root >= a->comm->nranks)
    return FAIL(a, "%s: %s %d not in [0, %d)", a->fn, what, root, a->comm->nranks);
  return weftSuccess;
}

/* bytes = count * elemsize * mult, refusing overflow. */
static weftResult_t check_size(const api_ctx *a, size_t count, weftDataType_t dt, size_t mult, size_t *bytes) {
  size_t b;
  if (__builtin_mul_overflow(count, weft_dtype_size(dt), &b) || __builtin_mul_overflow(b, mult, &b) ||
      b > (size_t)PTRDIFF_MAX)
    return FAIL(a, "%s: count %zu of %s overflows the address space", a->fn, count, weft_dtype_name(dt));
  *bytes = b;
  return weftSuccess;
}

static weftResult_t check_buf(const api_ctx *a, const void *p, size_t bytes, const char *what) {
  if (bytes && !p) return FAIL(a, "%s: %s is NULL", a->fn, what);
  return weftSuccess;
}

/* Buffers must be identical (in-place) or disjoint. */
static weftResult_t check_overlap(const api_ctx *a, const void *x, size_t xb, const void *y, size_t yb,
                                  const void *inplace_at) {
  uintptr_t p = (uintptr_t)x, q = (uintptr_t)y;
  if (!xb || !yb || x == inplace_at) return weftSuccess;
  /* device buffers are handles: one handle is in place, two are disjoint */
  if (!weft_dev_is_host(a->comm->device)) return weftSuccess;
  if (p < q + yb && q < p + xb)
    return FAIL(a, "%s: send and receive buffers overlap without being in-place", a->fn);
  return weftSuccess;
}


static weftResult_t submit(const api_ctx *a, weft_call *c, size_t bytes, weftStream_t stream) {
  weftResult_t r, sticky = atomic_load(&a->comm->async_error);
  /* entered only from 0 (a second thread changes nothing), so leaving is a
   * plain store: a locked decrement there waited for the call's own stores
   * to shared memory to leave the core, tens of ns on an 8-byte call */
  int none = 0;
  if (!atomic_compare_exchange_strong(&a->comm->active_calls, &none, 1)) {
    /* said plainly, not as a mismatch with the peers */
    return weft_error(a->comm, weftInvalidUsage,
                      "%s: another thread is inside a call on this communicator; a communicator takes the calls of "
                      "one thread at a time (as in NCCL): give each thread its own (weftCommSplit) or serialize them",
                      a->fn);
  }
  if (atomic_load(&a->comm->aborted)) r = weft_error(a->comm, weftAborted, "%s: communicator was aborted", a->fn);
  else if (sticky != weftSuccess) r = weft_comm_failed_call(a->comm, sticky, a->fn);
  else if (bytes == 0) r = weftSuccess; /* nothing moves: as NCCL, a no-op */
  else r = weft_submit(a->comm, c, stream);
  atomic_store_explicit(&a->comm->active_calls, 0, memory_order_release);
  return r;
}

static weftResult_t failed(weftResult_t r) {
  weft_group_note_error(r);
  return r;
}

WEFT_API weftResult_t weftAllReduce(const void *sendbuff, void *recvbuff, size_t count, weftDataType_t dt,
                                    weftRedOp_t op, weftComm_t comm, weftStream_t stream) {
  api_ctx a = {"weftAllReduce", comm};
  size_t bytes = 0;
  weftResult_t r;
  if ((r = check_common(&a, dt, stream)) || (r = check_op(&a, op)) || (r = check_size(&a, count, dt, 1, &bytes)) ||
      (r = check_buf(&a, sendbuff, bytes, "sendbuff")) || (r = check_buf(&a, recvbuff, bytes, "recvbuff")) ||
      (r = check_overlap(&a, sendbuff, bytes, recvbuff, bytes, recvbuff)))
    return failed(r);
  weft_call c = {.kind = COLL_ALLREDUCE, .sendbuf = sendbuff, .recvbuf = recvbuff, .count = count, .dt = dt, .op = op};
  return failed(submit(&a, &c, bytes, stream));
}

WEFT_API weftResult_t weftAllGather(const void *sendbuff, void *recvbuff, size_t sendcount, weftDataType_t dt,
                                    weftComm_t comm, weftStream_t stream) {
  api_ctx a = {"weftAllGather", comm};
  size_t bytes = 0, total = 0;
  weftResult_t r;
  if ((r = check_common(&a, dt, stream)) || (r = check_size(&a, sendcount, dt, 1, &bytes)) ||
      (r = check_size(&a, sendcount, dt, (size_t)comm->nranks, &total)) ||
      (r = check_buf(&a, sendbuff, bytes, "sendbuff")) || (r = check_buf(&a, recvbuff, total, "recvbuff")) ||
      (r = check_overlap(&a, sendbuff, bytes, recvbuff, total, (const char *)recvbuff + (size_t)comm->rank * bytes)))
    return failed(r);
  weft_call c = {.kind = COLL_ALLGATHER, .sendbuf = sendbuff, .recvbuf = recvbuff, .count = sendcount, .dt = dt};
  return failed(submit(&a, &c, total, stream));
}

WEFT_API weftResult_t weftReduceScatter(const void *sendbuff, void *recvbuff, size_t recvcount, weftDataType_t dt,
                                        weftRedOp_t op, weftComm_t comm, weftStream_t stream) {
  api_ctx a = {"weftReduceScatter", comm};
  size_t bytes = 0, total = 0;
  weftResult_t r;
  if ((r = check_common(&a, dt, stream)) || (r = check_op(&a, op)) || (r = check_size(&a, recvcount, dt, 1, &bytes)) ||
      (r = check_size(&a, recvcount, dt, (size_t)comm->nranks, &total)) ||
      (r = check_buf(&a, sendbuff, total, "sendbuff")) || (r = check_buf(&a, recvbuff, bytes, "recvbuff")) ||
      (r = check_overlap(&a, recvbuff, bytes, sendbuff, total, (const char *)sendbuff + (size_t)comm->rank * bytes)))
    return failed(r);
  weft_call c = {.kind = COLL_REDUCESCATTER, .sendbuf = sendbuff, .recvbuf = recvbuff, .count = recvcount,
                 .dt = dt, .op = op};
  return failed(submit(&a, &c, total, stream));
}

WEFT_API weftResult_t weftBroadcast(const void *sendbuff, void *recvbuff, size_t count, weftDataType_t dt, int root,
                                    weftComm_t comm, weftStream_t stream) {
  api_ctx a = {"weftBroadcast", comm};
  size_t bytes = 0;
  weftResult_t r;
  if ((r = check_common(&a, dt, stream)) || (r = check_root(&a, root, "root")) ||
      (r = check_size(&a, count, dt, 1, &bytes)) ||
      (r = check_buf(&a, sendbuff, comm->rank == root ? bytes : 0, "sendbuff (at the root)")) ||
      (r = check_buf(&a, recvbuff, bytes, "recvbuff")) ||
      (comm->rank == root && (r = check_overlap(&a, sendbuff, bytes, recvbuff, bytes, recvbuff))))
    return failed(r);
  weft_call c = {.kind = COLL_BROADCAST, .sendbuf = sendbuff, .recvbuf = recvbuff, .count = count, .dt = dt,
                 .root = root};
  return failed(submit(&a, &c, bytes, stream));
}

WEFT_API weftResult_t weftReduce(const void *sendbuff, void *recvbuff, size_t count, weftDataType_t dt,
                                 weftRedOp_t op, int root, weftComm_t comm, weftStream_t stream) {
  api_ctx a = {"weftReduce", comm};
  size_t bytes = 0;
  weftResult_t r;
  if ((r = check_common(&a, dt, stream)) || (r = check_op(&a, op)) || (r = check_root(&a, root, "root")) ||
      (r = check_size(&a, count, dt, 1, &bytes)) || (r = check_buf(&a, sendbuff, bytes, "sendbuff")) ||
      (r = check_buf(&a, recvbuff, comm->rank == root ? bytes : 0, "recvbuff (at the root)")) ||
      (comm->rank == root && (r = check_overlap(&a, sendbuff, bytes, recvbuff, bytes, recvbuff))))
    return failed(r);
  weft_call c = {.kind = COLL_REDUCE, .sendbuf = sendbuff, .recvbuf = recvbuff, .count = count, .dt = dt,
                 .op = op, .root = root};
  return failed(submit(&a, &c, bytes, stream));
}

WEFT_API weftResult_t weftAllToAll(const void *sendbuff, void *recvbuff, size_t count, weftDataType_t dt,
                                   weftComm_t comm, weftStream_t stream) {
  api_ctx a = {"weftAllToAll", comm};
  size_t total = 0;
  weftResult_t r;
  if ((r = check_common(&a, dt, stream)) || (r = check_size(&a, count, dt, (size_t)comm->nranks, &total)) ||
      (r = check_buf(&a, sendbuff, total, "sendbuff")) || (r = check_buf(&a, recvbuff, total, "recvbuff")) ||
      (r = check_overlap(&a, sendbuff, total, recvbuff, total, NULL)))
    return failed(r);
  weft_call c = {.kind = COLL_ALLTOALL, .sendbuf = sendbuff, .recvbuf = recvbuff, .count = count, .dt = dt};
  return failed(submit(&a, &c, total, stream));
}

WEFT_API weftResult_t weftGather(const void *sendbuff, void *recvbuff, size_t sendcount, weftDataType_t dt, int root,
                                 weftComm_t comm, weftStream_t stream) {
  api_ctx a = {"weftGather", comm};
  size_t bytes = 0, total = 0;
  weftResult_t r;
  if ((r = check_common(&a, dt, stream)) || (r = check_root(&a, root, "root")) ||
      (r = check_size(&a, sendcount, dt, 1, &bytes)) ||
      (r = check_size(&a, sendcount, dt, (size_t)comm->nranks, &total)) ||
      (r = check_buf(&a, sendbuff, bytes, "sendbuff")) ||
      (r = check_buf(&a, recvbuff, comm->rank == root ? total : 0, "recvbuff (at the root)")) ||
      (comm->rank == root && (r = check_overlap(&a, sendbuff, bytes, recvbuff, total,
                                                (const char *)recvbuff + (size_t)root * bytes))))
    return failed(r);
  weft_call c = {.kind = COLL_GATHER, .sendbuf = sendbuff, .recvbuf = recvbuff, .count = sendcount, .dt = dt,
                 .root = root};
  return failed(submit(&a, &c, total, stream));
}

WEFT_API weftResult_t weftScatter(const void *sendbuff, void *recvbuff, size_t recvcount, weftDataType_t dt, int root,
                                  weftComm_t comm, weftStream_t stream) {
  api_ctx a = {"weftScatter", comm};
  size_t bytes = 0, total = 0;
  weftResult_t r;
  if ((r = check_common(&a, dt, stream)) || (r = check_root(&a, root, "root")) ||
      (r = check_size(&a, recvcount, dt, 1, &bytes)) ||
      (r = check_size(&a, recvcount, dt, (size_t)comm->nranks, &total)) ||
      (r = check_buf(&a, sendbuff, comm->rank == root ? total : 0, "sendbuff (at the root)")) ||
      (r = check_buf(&a, recvbuff, bytes, "recvbuff")) ||
      (comm->rank == root && (r = check_overlap(&a, recvbuff, bytes, sendbuff, total,
                                                (const char *)sendbuff + (size_t)root * bytes))))
    return failed(r);
  weft_call c = {.kind = COLL_SCATTER, .sendbuf = sendbuff, .recvbuf = recvbuff, .count = recvcount, .dt = dt,
                 .root = root};
  return failed(submit(&a, &c, total, stream));
}

WEFT_API weftResult_t weftBarrier(weftComm_t comm, weftStream_t stream) {
  api_ctx a = {"weftBarrier", comm};
  weftResult_t r = check_common(&a, weftUint8, stream);
  if (r) return failed(r);
  weft_call c = {.kind = COLL_BARRIER, .dt = weftUint8};
  /* moves no user data, but is never the no-op of a 0-byte call */
  return failed(submit(&a, &c, 1, stream));
}

/* The v-variants. Their per-rank arrays are gathered into one vec (see
 * weft_call), which lives until the call returns: the launch copies it into
 * memory its op owns, a group into memory the group owns. */

/* Checks n blocks (counts, displs: elements) inside a buffer and sets
 * *extent to the elements the buffer must hold. */
static weftResult_t check_blocks(const api_ctx *a, const size_t *counts, const size_t *displs, weftDataType_t dt,
                                 const char *cname, const char *dname, size_t *extent) {
  if (!counts || !displs) return FAIL(a, "%s: %s is NULL", a->fn, !counts ? cname : dname);
  size_t e = 0, bytes;
  for (int i = 0; i < a->comm->nranks; i++) {
    size_t end;
    if (__builtin_add_overflow(displs[i], counts[i], &end) || check_size(a, end, dt, 1, &bytes))
      return FAIL(a, "%s: %s[%d] + %s[%d] overflows the address space", a->fn, dname, i, cname, i);
    if (counts[i] && end > e) e = end;
  }
  *extent = e;
  return weftSuccess;
}

static size_t *vec_new(const api_ctx *a, int arrays) {
  size_t *v = malloc(sizeof *v * (size_t)arrays * (size_t)a->comm->nranks);
  if (!v) weft_error(a->comm, weftSystemError, "%s: out of memory copying the counts", a->fn);
  return v;
}

static weftResult_t submit_v(const api_ctx *a, weft_call *c, size_t *vec, size_t bytes, weftStream_t stream) {
  c->vec = vec;
  c->vhash = weft_vcall_hash(vec, weft_vcall_len(c->kind, a->comm->nranks));
  weftResult_t r = submit(a, c, bytes, stream);
  free(vec);
  return r;
}

WEFT_API weftResult_t weftAllGatherV(const void *sendbuff, void *recvbuff, const size_t *recvcounts,
                                     const size_t *displs, weftDataType_t dt, weftComm_t comm, weftStream_t stream) {
  api_ctx a = {"weftAllGatherV", comm};
  size_t extent = 0, ebytes = 0, total = 0, mine = 0;
  weftResult_t r;
  if ((r = check_common(&a, dt, stream)) ||
      (r = check_blocks(&a, recvcounts, displs, dt, "recvcounts", "displs", &extent)))
    return failed(r);
  int n = comm->nranks, me = comm->rank;
  for (int i = 0; i < n; i++)
    if (__builtin_add_overflow(total, recvcounts[i], &total))
      return failed(FAIL(&a, "%s: recvcounts add up past the address space", a.fn));
  size_t es = weft_dtype_size(dt);
  ebytes = extent * es;
  mine = recvcounts[me] * es;
  if ((r = check_buf(&a, sendbuff, mine, "sendbuff")) || (r = check_buf(&a, recvbuff, ebytes, "recvbuff")) ||
      (r = check_overlap(&a, sendbuff, mine, recvbuff, ebytes, (const char *)recvbuff + displs[me] * es)))
    return failed(r);
  size_t *v = vec_new(&a, 2);
  if (!v) return failed(weftSystemError);
  for (int i = 0; i < n; i++) v[i] = recvcounts[i], v[n + i] = displs[i];
  weft_call c = {.kind = COLL_ALLGATHERV, .sendbuf = sendbuff, .recvbuf = recvbuff, .count = total, .dt = dt};
  return failed(submit_v(&a, &c, v, total != 0, stream)); /* all blocks empty: a no-op */
}

WEFT_API weftResult_t weftReduceScatterV(const void *sendbuff, void *recvbuff, const size_t *recvcounts,
                                         weftDataType_t dt, weftRedOp_t op, weftComm_t comm, weftStream_t stream) {
  api_ctx a = {"weftReduceScatterV", comm};
  size_t total = 0, tbytes = 0, mine = 0, before = 0;
  weftResult_t r;
  if ((r = check_common(&a, dt, stream)) || (r = check_op(&a, op))) return failed(r);
  if (!recvcounts) return failed(FAIL(&a, "%s: recvcounts is NULL", a.fn));
  int n = comm->nranks, me = comm->rank;
  for (int i = 0; i < n; i++) {
    if (i == me) before = total;
    if (__builtin_add_overflow(total, recvcounts[i], &total)) total = SIZE_MAX;
  }
  size_t es = weft_dtype_size(dt);
  if ((r = check_size(&a, total, dt, 1, &tbytes))) return failed(r);
  mine = recvcounts[me] * es;
  if ((r = check_buf(&a, sendbuff, tbytes, "sendbuff")) || (r = check_buf(&a, recvbuff, mine, "recvbuff")) ||
      (r = check_overlap(&a, recvbuff, mine, sendbuff, tbytes, (const char *)sendbuff + before * es)))
    return failed(r);
  size_t *v = vec_new(&a, 2);
  if (!v) return failed(weftSystemError);
  /* block i of sendbuff follows block i-1, as MPI_Reduce_scatter's */
  for (int i = 0; i < n; i++) v[i] = recvcounts[i], v[n + i] = i ? v[n + i - 1] + recvcounts[i - 1] : 0;
  weft_call c = {.kind = COLL_REDUCESCATTERV, .sendbuf = sendbuff, .recvbuf = recvbuff, .count = total, .dt = dt,
                 .op = op};
  return failed(submit_v(&a, &c, v, tbytes, stream));
}

WEFT_API weftResult_t weftAllToAllV(const void *sendbuff, const size_t *sendcounts, const size_t *sdispls,
                                    void *recvbuff, const size_t *recvcounts, const size_t *rdispls, weftDataType_t dt,
                                    weftComm_t comm, weftStream_t stream) {
  api_ctx a = {"weftAllToAllV", comm};
  size_t sext = 0, rext = 0, total = 0;
  weftResult_t r;
  if ((r = check_common(&a, dt, stream)) ||
      (r = check_blocks(&a, sendcounts, sdispls, dt, "sendcounts", "sdispls", &sext)) ||
      (r = check_blocks(&a, recvcounts, rdispls, dt, "recvcounts", "rdispls", &rext)))
    return failed(r);
  int n = comm->nranks, me = comm->rank;
  if (sendcounts[me] != recvcounts[me])
    return failed(FAIL(&a, "%s: sendcounts[%d] = %zu but recvcounts[%d] = %zu: the block a rank sends itself is "
                       "the block it receives from itself", a.fn, me, sendcounts[me], me, recvcounts[me]));
  for (int i = 0; i < n; i++)
    if (__builtin_add_overflow(total, recvcounts[i], &total))
      return failed(FAIL(&a, "%s: recvcounts add up past the address space", a.fn));
  size_t es = weft_dtype_size(dt);
  if ((r = check_buf(&a, sendbuff, sext * es, "sendbuff")) || (r = check_buf(&a, recvbuff, rext * es, "recvbuff")) ||
      (r = check_overlap(&a, sendbuff, sext * es, recvbuff, rext * es, NULL)))
    return failed(r);
  size_t *v = vec_new(&a, 4);
  if (!v) return failed(weftSystemError);
  for (int i = 0; i < n; i++)
    v[i] = sendcounts[i], v[n + i] = sdispls[i], v[2 * n + i] = recvcounts[i], v[3 * n + i] = rdispls[i];
  weft_call c = {.kind = COLL_ALLTOALLV, .sendbuf = sendbuff, .recvbuf = recvbuff, .count = total, .dt = dt};
  /* never the no-op of a 0-byte call: a rank whose blocks are all empty
   * still counts the call, as its peers do */
  return failed(submit_v(&a, &c, v, 1, stream));
}

static weftResult_t p2p(const char *fn, weft_coll_kind kind, const void *sb, void *rb, size_t count,
                        weftDataType_t dt, int peer, weftComm_t comm, weftStream_t stream) {
  api_ctx a = {fn, comm};
  size_t bytes = 0;
  weftResult_t r;
  if ((r = check_common(&a, dt, stream)) || (r = check_root(&a, peer, "peer")) ||
      (r = check_size(&a, count, dt, 1, &bytes)) ||
      (r = check_buf(&a, kind == COLL_SEND ? sb : rb, bytes, kind == COLL_SEND ? "sendbuff" : "recvbuff")))
    return failed(r);
  weft_call c = {.kind = kind, .sendbuf = sb, .recvbuf = rb, .count = count, .dt = dt, .root = peer};
  return failed(submit(&a, &c, bytes, stream));
}

WEFT_API weftResult_t weftSend(const void *sendbuff, size_t count, weftDataType_t dt, int peer, weftComm_t comm,
                               weftStream_t stream) {
  return p2p("weftSend", COLL_SEND, sendbuff, NULL, count, dt, peer, comm, stream);
}

WEFT_API weftResult_t weftRecv(void *recvbuff, size_t count, weftDataType_t dt, int peer, weftComm_t comm,
                               weftStream_t stream) {
  return p2p("weftRecv", COLL_RECV, NULL, recvbuff, count, dt, peer, comm, stream);
}
