/*
 * weft_nccl.h — NCCL's C API (names, types, values) on top of weft.
 *
 * A program written for NCCL builds against this header and links with
 * -lweft-nccl instead of -lnccl. The installed <weft/nccl.h> includes this
 * file, so with -I<prefix>/include/weft (pkg-config weft-nccl adds it) an
 * unchanged `#include <nccl.h>` finds it.
 *
 * Types and values are laid out as NCCL 2.18 lays them out (result codes,
 * data types, reduction ops, ncclUniqueId, ncclConfig_t), so that a program
 * compiled against NVIDIA's nccl.h also runs when linked to libweft-nccl.
 *
 * Streams: NCCL takes a cudaStream_t. Here it means
 *   - NULL: on a host comm, the call returns when the operation is complete;
 *     on a device comm (WEFT_DEVICE=cuda...), the device's default stream,
 *     as in NCCL;
 *   - on a host comm, a weftStream_t cast to cudaStream_t
 *     (ncclStreamFromWeft below): the call returns once queued, and
 *     weftStreamSynchronize waits for it;
 *   - on a device comm, the device's native queue (a cudaStream_t/CUstream
 *     for cuda, a cl_command_queue for opencl), wrapped once per comm with
 *     weftStreamFromNative.
 * Full reference: docs/nccl.md.
 */
#ifndef WEFT_NCCL_H
#define WEFT_NCCL_H

#include <limits.h>
#include <stddef.h>

#include "weft.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The NCCL API level this header provides (ncclCommSplit came with 2.18). */
#define NCCL_MAJOR 2
#define NCCL_MINOR 18
#define NCCL_PATCH 3
#define NCCL_SUFFIX ""
/* NCCL's encoding: releases before 2.9 used MAJOR*1000+MINOR*100+PATCH. */
#define NCCL_VERSION(X, Y, Z) \
  (((X) <= 2 && (Y) <= 8) ? (X) * 1000 + (Y) * 100 + (Z) : (X) * 10000 + (Y) * 100 + (Z))
#define NCCL_VERSION_CODE NCCL_VERSION(NCCL_MAJOR, NCCL_MINOR, NCCL_PATCH)
/* Set by this header only: a program may test it to use weft's extras. */
#define WEFT_NCCL_VERSION_CODE WEFT_VERSION_CODE

/* CUDA's own definition of cudaStream_t; repeating a typedef with the same
 * type is valid C11 and C++, so cuda_runtime.h may come before or after. */
typedef struct CUstream_st *cudaStream_t;

/* A weft host stream passed where NCCL wants a cudaStream_t (host comms). */
#define ncclStreamFromWeft(weftStream) ((cudaStream_t)(weftStream))

typedef struct ncclComm *ncclComm_t;

#define NCCL_UNIQUE_ID_BYTES 128
typedef struct {
  char internal[NCCL_UNIQUE_ID_BYTES];
} ncclUniqueId;

typedef enum {
  ncclSuccess = 0,
  ncclUnhandledCudaError = 1, /* the device backend failed */
  ncclSystemError = 2,
  ncclInternalError = 3,
  ncclInvalidArgument = 4,
  ncclInvalidUsage = 5,
  ncclRemoteError = 6, /* a peer failed, left, or did not answer in time (weftTimeout) */
  ncclInProgress = 7,
  ncclNumResults = 8
} ncclResult_t;

typedef enum {
  ncclInt8 = 0,
  ncclChar = 0,
  ncclUint8 = 1,
  ncclInt32 = 2,
  ncclInt = 2,
  ncclUint32 = 3,
  ncclInt64 = 4,
  ncclUint64 = 5,
  ncclFloat16 = 6,
  ncclHalf = 6,
  ncclFloat32 = 7,
  ncclFloat = 7,
  ncclFloat64 = 8,
  ncclDouble = 8,
  ncclBfloat16 = 9,
  ncclNumTypes = 10
} ncclDataType_t;

typedef enum {
  ncclSum = 0,
  ncclProd = 1,
  ncclMax = 2,
  ncclMin = 3,
  ncclAvg = 4,
  ncclNumOps = 5,
  /* keeps the enum int-sized, as in NCCL, where custom ops follow ncclNumOps */
  ncclMaxRedOp = 0x7fffffff
} ncclRedOp_t;

#define NCCL_CONFIG_UNDEF_INT INT_MIN
#define NCCL_CONFIG_UNDEF_PTR NULL
#define NCCL_SPLIT_NOCOLOR (-1)

/* NCCL 2.18's layout. libweft-nccl reads netName (when size covers it) and
 * checks size, magic and version; the other fields tune CUDA kernels that
 * weft does not have and are accepted and ignored (docs/nccl.md). */
typedef struct ncclConfig_v21700 {
  size_t size;
  unsigned int magic;
  unsigned int version;
  int blocking;
  int cgaClusterSize;
  int minCTAs;
  int maxCTAs;
  const char *netName;
  int splitShare;
} ncclConfig_t;

#define NCCL_CONFIG_INITIALIZER                                                                  \
  {                                                                                              \
    sizeof(ncclConfig_t), 0xcafebeef, NCCL_VERSION(NCCL_MAJOR, NCCL_MINOR, NCCL_PATCH),          \
        NCCL_CONFIG_UNDEF_INT, NCCL_CONFIG_UNDEF_INT, NCCL_CONFIG_UNDEF_INT, NCCL_CONFIG_UNDEF_INT, \
        NCCL_CONFIG_UNDEF_PTR, NCCL_CONFIG_UNDEF_INT                                             \
  }

/* ---- version, errors ---- */
WEFT_API ncclResult_t ncclGetVersion(int *version);
WEFT_API const char *ncclGetErrorString(ncclResult_t result);
/* The message of the last failure on this thread (comm may be NULL). */
WEFT_API const char *ncclGetLastError(ncclComm_t comm);

/* ---- communicators ---- */
WEFT_API ncclResult_t ncclGetUniqueId(ncclUniqueId *uniqueId);
WEFT_API ncclResult_t ncclCommInitRank(ncclComm_t *comm, int nranks, ncclUniqueId commId, int rank);
WEFT_API ncclResult_t ncclCommInitRankConfig(ncclComm_t *comm, int nranks, ncclUniqueId commId, int rank,
                                             ncclConfig_t *config);
WEFT_API ncclResult_t ncclCommInitAll(ncclComm_t *comms, int ndev, const int *devlist);
WEFT_API ncclResult_t ncclCommFinalize(ncclComm_t comm);
WEFT_API ncclResult_t ncclCommDestroy(ncclComm_t comm);
WEFT_API ncclResult_t ncclCommAbort(ncclComm_t comm);
WEFT_API ncclResult_t ncclCommSplit(ncclComm_t comm, int color, int key, ncclComm_t *newcomm,
                                    ncclConfig_t *config);
/* NCCL 2.27's shrink (weftCommShrink, docs/failures.md): a new comm of the
 * live ranks not in excludeRanksList, renumbered; after a failure pass
 * NCCL_SHRINK_ABORT (revokes comm, leaves out the ranks known to have failed
 * without waiting for them). */
#define NCCL_SHRINK_DEFAULT 0x00
#define NCCL_SHRINK_ABORT 0x01
WEFT_API ncclResult_t ncclCommShrink(ncclComm_t comm, int *excludeRanksList, int excludeRanksCount, ncclComm_t *newcomm,
                                     ncclConfig_t *config, int shrinkFlags);
WEFT_API ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t *asyncError);
WEFT_API ncclResult_t ncclCommCount(const ncclComm_t comm, int *count);
/* The CUDA device number of a cuda comm; -1 for a host (or other) comm. */
WEFT_API ncclResult_t ncclCommCuDevice(const ncclComm_t comm, int *device);
WEFT_API ncclResult_t ncclCommUserRank(const ncclComm_t comm, int *rank);

/* ---- collectives (count in elements; sendbuff == recvbuff is in-place) ---- */
WEFT_API ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
                                    ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream);
WEFT_API ncclResult_t ncclBroadcast(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
                                    int root, ncclComm_t comm, cudaStream_t stream);
/* In-place broadcast of buff. */
WEFT_API ncclResult_t ncclBcast(void *buff, size_t count, ncclDataType_t datatype, int root, ncclComm_t comm,
                                cudaStream_t stream);
WEFT_API ncclResult_t ncclReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
                                 ncclRedOp_t op, int root, ncclComm_t comm, cudaStream_t stream);
WEFT_API ncclResult_t ncclAllGather(const void *sendbuff, void *recvbuff, size_t sendcount,
                                    ncclDataType_t datatype, ncclComm_t comm, cudaStream_t stream);
WEFT_API ncclResult_t ncclReduceScatter(const void *sendbuff, void *recvbuff, size_t recvcount,
                                        ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm,
                                        cudaStream_t stream);
WEFT_API ncclResult_t ncclSend(const void *sendbuff, size_t count, ncclDataType_t datatype, int peer,
                               ncclComm_t comm, cudaStream_t stream);
WEFT_API ncclResult_t ncclRecv(void *recvbuff, size_t count, ncclDataType_t datatype, int peer, ncclComm_t comm,
                               cudaStream_t stream);

/* ---- groups ---- */
WEFT_API ncclResult_t ncclGroupStart(void);
WEFT_API ncclResult_t ncclGroupEnd(void);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_NCCL_H */
