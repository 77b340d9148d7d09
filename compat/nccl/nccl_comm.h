/* libweft-nccl's communicator: a weft comm plus what NCCL's calls need and
 * weft's do not have (the device's CUDA number, the weft streams that wrap
 * the native queues the program passes as cudaStream_t, the finalized
 * state). Internal to libweft-nccl; it sees weft only through weft.h. */
#ifndef WEFT_NCCL_COMM_H
#define WEFT_NCCL_COMM_H

#include <stdatomic.h>

#include "weft_nccl.h"

#define WEFT_NCCL_COMM_MAGIC 0x6e63636cu /* "nccl" */

typedef struct {
  void *native;        /* the program's queue (NULL: the device's default stream) */
  weftStream_t stream; /* weftStreamFromNative's wrap of it */
} weft_nccl_wrap;

struct ncclComm {
  unsigned int magic;
  weftComm_t weft;
  int host;        /* buffers are host memory: a stream is a weftStream_t */
  int cuda_device; /* CUDA device number, -1 unless the device is cuda */
  atomic_int finalized;
  atomic_int active; /* calls inside the comm, so that abort waits for them */
  weft_nccl_wrap *wraps;
  int nwraps, capwraps;
};

/* ---- errors (errors.c) ---- */
/* The NCCL result of a weft result (docs/nccl.md: weftTimeout is a remote
 * error, weftAborted a usage error). */
ncclResult_t weft_nccl_result(weftResult_t r);
/* Forgets the message of an earlier libweft-nccl failure: a call's own
 * failure, or else weft's, is what ncclGetLastError reports. */
void weft_nccl_begin(void);
/* Records a failure found by libweft-nccl itself and returns r. */
ncclResult_t weft_nccl_fail(ncclResult_t r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- communicators (comm.c) ---- */
/* Checks comm (fn names the caller in the message). */
ncclResult_t weft_nccl_check(const struct ncclComm *comm, const char *fn);
/* Checks comm, refuses a finalized one, resolves stream (see weft_nccl.h)
 * and counts the call as active; weft_nccl_leave ends it. */
ncclResult_t weft_nccl_enter(struct ncclComm *comm, const char *fn, cudaStream_t stream, weftStream_t *ws);
void weft_nccl_leave(struct ncclComm *comm);

#endif
