/*
 * weft — cross-vendor, cross-datacenter collective communication.
 *
 * Public API. Shaped like NCCL so that porting is a rename: ncclX -> weftX.
 * Every function returns a weftResult_t; on failure a human-readable message is
 * available from weftGetLastError(comm) (or weftGetLastError(NULL) for calls
 * that have no communicator yet). The library never exits, aborts or prints to
 * stdout, and every blocking wait is bounded by the communicator's timeout.
 *
 * Full reference: docs/api.md.
 */
#ifndef WEFT_H
#define WEFT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define WEFT_API
#else
#define WEFT_API __attribute__((visibility("default")))
#endif

/* The one place the version is written: CMakeLists.txt reads these three lines. */
#define WEFT_MAJOR 0
#define WEFT_MINOR 1
#define WEFT_PATCH 0
/* Encoded as MAJOR*10000 + MINOR*100 + PATCH, as weftGetVersion reports it. */
#define WEFT_VERSION_CODE (WEFT_MAJOR * 10000 + WEFT_MINOR * 100 + WEFT_PATCH)

/* ------------------------------------------------------------------ */
/* Results                                                             */
/* ------------------------------------------------------------------ */
typedef enum {
  weftSuccess = 0,
  weftUnhandledDeviceError = 1, /* a device backend (OpenCL/CUDA) call failed */
  weftSystemError = 2,          /* an OS call failed (socket, memory, thread) */
  weftInternalError = 3,        /* a bug in weft: please report it */
  weftInvalidArgument = 4,      /* bad pointer, dtype, op, root, count or comm */
  weftInvalidUsage = 5,         /* calls that do not match across ranks, misuse of groups */
  weftRemoteError = 6,          /* a peer failed or disconnected; message names the peer */
  weftInProgress = 7,           /* asynchronous operation not complete yet */
  weftTimeout = 8,              /* a wait exceeded the communicator's timeout */
  weftAborted = 9,              /* weftCommAbort was called on the communicator */
  weftNumResults = 10
} weftResult_t;

/* ------------------------------------------------------------------ */
/* Data types and reduction operations (NCCL numbering)                */
/* ------------------------------------------------------------------ */
typedef enum {
  weftInt8 = 0,
  weftChar = 0,
  weftUint8 = 1,
  weftInt32 = 2,
  weftInt = 2,
  weftUint32 = 3,
  weftInt64 = 4,
  weftUint64 = 5,
  weftFloat16 = 6,
  weftHalf = 6,
  weftFloat32 = 7,
  weftFloat = 7,
  weftFloat64 = 8,
  weftDouble = 8,
  weftBfloat16 = 9,
  weftNumTypes = 10
} weftDataType_t;

typedef enum {
  weftSum = 0,
  weftProd = 1,
  weftMax = 2,
  weftMin = 3,
  weftAvg = 4, /* sum, then divided by the number of ranks (integer division for integers) */
  weftNumOps = 5
} weftRedOp_t;

/* ------------------------------------------------------------------ */
/* Opaque handles                                                      */
/* ------------------------------------------------------------------ */
typedef struct weftComm *weftComm_t;
/* A stream orders asynchronous operations. It is either a weft host stream
 * (weftStreamCreate) or, with a device backend, that backend's native queue.
 * NULL means "complete before the call returns". */
typedef struct weftStream *weftStream_t;

#define WEFT_UNIQUE_ID_BYTES 128
/* Root address, port and a 128-bit random secret. Copy it to every rank by any
 * means (MPI_Bcast, a file, an environment variable via weftUniqueIdToString). */
typedef struct {
  char internal[WEFT_UNIQUE_ID_BYTES];
} weftUniqueId;

/* ------------------------------------------------------------------ */
/* Configuration                                                       */
/* ------------------------------------------------------------------ */
typedef enum { weftLogNone = 0, weftLogWarn = 1, weftLogInfo = 2, weftLogTrace = 3 } weftLogLevel_t;
/* Receives every log line the communicator emits at or below its log level. */
typedef void (*weftLogCallback_t)(weftLogLevel_t level, const char *message, void *user);

#define WEFT_CONFIG_UNDEF_INT (-2147483647 - 1)
#define WEFT_CONFIG_MAGIC 0x77656674u

typedef struct {
  size_t size;          /* sizeof(weftConfig_t); set by WEFT_CONFIG_INITIALIZER */
  unsigned int magic;   /* WEFT_CONFIG_MAGIC */
  unsigned int version; /* WEFT_VERSION_CODE */
  int blocking;         /* 1 (default): init returns when connected. 0 is reserved. */
  int timeoutMs;        /* bound on every wait; default WEFT_TIMEOUT or 300000 ms */
  const char *netName;  /* transport to use ("tcp"); default WEFT_NET or the best available */
  const char *algo;     /* algorithm override ("ring", "tree"); default WEFT_ALGO or tuner */
  const char *siteName; /* data-center name of this rank; default WEFT_SITE */
  const char *topoFile; /* topology file; default WEFT_TOPO_FILE */
  const char *codec;    /* codec between sites: none|fp16|bf16|int8|topk|zstd|auto;
                         * default WEFT_CODEC, else the topology file (docs/codecs.md) */
  weftLogCallback_t logCallback; /* default: lines go to stderr */
  void *logUser;
  int logLevel; /* weftLogLevel_t; default WEFT_DEBUG or WARN */
  /* Fields below were added after 0.1.0; weft reads them only when size
   * covers them, so programs built against an older weft.h keep working. */
  const char *device; /* device backend of this rank's buffers, as WEFT_DEVICE:
                       * host|opencl[:platform[:device]]|cuda[:N]|<plugin>[:spec];
                       * default WEFT_DEVICE, else host (docs/devices.md) */
  void *deviceNative; /* a native context/queue the application already has
                       * (cl_command_queue, CUcontext, ...) for the backend to
                       * use instead of opening its own; default NULL */
  const char *crypto; /* authenticated encryption of links: "auto" (links
                       * between sites), "on" (every link but shared memory),
                       * "off"; default WEFT_CRYPTO, else auto (docs/security.md) */
} weftConfig_t;

#define WEFT_CONFIG_INITIALIZER                                                       \
  {                                                                                   \
    sizeof(weftConfig_t), WEFT_CONFIG_MAGIC, WEFT_VERSION_CODE, WEFT_CONFIG_UNDEF_INT, \
        WEFT_CONFIG_UNDEF_INT, NULL, NULL, NULL, NULL, NULL, NULL, NULL,              \
        WEFT_CONFIG_UNDEF_INT, NULL, NULL, NULL                                       \
  }

/* ------------------------------------------------------------------ */
/* Version, errors                                                     */
/* ------------------------------------------------------------------ */
WEFT_API weftResult_t weftGetVersion(int *version);
WEFT_API const char *weftGetErrorString(weftResult_t result);
/* Last error message recorded on comm, or for the calling thread when comm is
 * NULL. Never NULL; "" when there is none. A copy in the calling thread's
 * storage, valid until this thread's fourth next weftGetLastError call. */
WEFT_API const char *weftGetLastError(weftComm_t comm);

/* ------------------------------------------------------------------ */
/* Communicator lifecycle                                              */
/* ------------------------------------------------------------------ */
/* Starts a rendezvous root in the calling process (a background thread that
 * exits once all ranks have joined or the timeout expires) and returns its id. */
WEFT_API weftResult_t weftGetUniqueId(weftUniqueId *uniqueId);
/* Hex text form (2*WEFT_UNIQUE_ID_BYTES+1 bytes incl. NUL) and back. */
WEFT_API weftResult_t weftUniqueIdToString(const weftUniqueId *uniqueId, char *buf, size_t len);
WEFT_API weftResult_t weftUniqueIdFromString(weftUniqueId *uniqueId, const char *text);

WEFT_API weftResult_t weftCommInitRank(weftComm_t *comm, int nranks, weftUniqueId commId, int rank);
WEFT_API weftResult_t weftCommInitRankConfig(weftComm_t *comm, int nranks, weftUniqueId commId,
                                             int rank, weftConfig_t *config);
/* Creates ndev communicators of one clique inside this process (each rank is
 * served by its own progress thread). devlist may be NULL. */
WEFT_API weftResult_t weftCommInitAll(weftComm_t *comms, int ndev, const int *devlist);
/* Rank, size and rendezvous from the launcher's environment:
 * WEFT_RANK/WEFT_NRANKS/WEFT_COMM_ID, Open MPI's OMPI_COMM_WORLD_*, Slurm's
 * SLURM_PROCID/SLURM_NTASKS, torchrun's RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT.
 * See docs/api.md for how the rendezvous address and secret are derived. */
WEFT_API weftResult_t weftCommInitFromEnv(weftComm_t *comm, weftConfig_t *config);

/* Waits for outstanding operations, then frees everything. */
WEFT_API weftResult_t weftCommDestroy(weftComm_t comm);
/* Callable from any thread: fails outstanding and blocked operations with
 * weftAborted, tells the peers this rank aborted (their calls return at once,
 * naming it), then frees the comm. */
WEFT_API weftResult_t weftCommAbort(weftComm_t comm);
/* weftSuccess, or the sticky error that broke the communicator: the first
 * failure known here, also one a peer reported (weftGetLastError names the
 * rank it started at; docs/failures.md). */
WEFT_API weftResult_t weftCommGetAsyncError(weftComm_t comm, weftResult_t *asyncError);
WEFT_API weftResult_t weftCommCount(const weftComm_t comm, int *count);
WEFT_API weftResult_t weftCommUserRank(const weftComm_t comm, int *rank);
/* Writes the device comm's buffers belong to, as WEFT_DEVICE names it ("host",
 * "opencl:0:1", "cuda:1", "cuda" for device 0, a plugin's "name[:spec]"), into
 * name (len bytes incl. NUL; weftInvalidArgument when it does not fit). */
WEFT_API weftResult_t weftCommGetDevice(const weftComm_t comm, char *name, size_t len);

/* What a communicator did since init (weftCommGetStats). Link classes,
 * index of the byte arrays: 0 ranks of this node, 1 other nodes of this
 * site, 2 other sites (the WAN). Bytes are as they went on the wire: after a
 * WAN codec. Calls through the node segment (algorithm "slots") count as
 * calls but move no counted bytes. */
#define WEFT_STATS_LINK_CLASSES 3
#define WEFT_STATS_ALGOS 16
typedef struct {
  uint64_t calls;         /* operations completed (a group counts once) */
  uint64_t failedCalls;   /* operations that failed */
  uint64_t callsByAlgo[WEFT_STATS_ALGOS]; /* completed, per algorithm: weftAlgoName(i) */
  uint64_t bytesSent[WEFT_STATS_LINK_CLASSES];
  uint64_t bytesReceived[WEFT_STATS_LINK_CLASSES];
  uint64_t messagesSent[WEFT_STATS_LINK_CLASSES]; /* message parts (a message split over streams counts per part) */
  uint64_t codecBytesIn;  /* bytes the WAN codec encoded */
  uint64_t codecBytesOut; /* ... and the bytes they became */
  double callSeconds;     /* inside operations, on whichever thread ran them */
  double computeSeconds;  /* of that, local steps: reductions, copies, codecs */
  double codecSeconds;    /* of that, encoding and decoding */
  uint64_t retransmits;   /* always 0: the transports rely on TCP or the fabric for them */
  uint64_t scratchBytes;  /* scratch memory the calls' schedules allocated: it grows while new
                           * kinds of calls come, then stays; growth in a steady loop means
                           * calls fault fresh memory in (slow on some hosts) */
} weftCommStats_t;
/* Copies the counters into *stats: size is sizeof(weftCommStats_t) as the
 * caller was compiled (a smaller, older struct gets its prefix). Counters
 * only grow; subtract two snapshots for an interval. */
WEFT_API weftResult_t weftCommGetStats(const weftComm_t comm, weftCommStats_t *stats, size_t size);
/* The name of algorithm i of callsByAlgo ("ring", "tree", ...), or NULL
 * where no algorithm has that number. */
WEFT_API const char *weftAlgoName(int i);

#define WEFT_SPLIT_NOCOLOR (-1)
/* Collective over comm. Ranks with the same color form a new communicator,
 * ordered by key then by old rank. color == WEFT_SPLIT_NOCOLOR yields NULL. */
WEFT_API weftResult_t weftCommSplit(weftComm_t comm, int color, int key, weftComm_t *newcomm,
                                    weftConfig_t *config);

/* Shrink and grow (docs/failures.md#shrink-and-grow).
 *
 * weftCommShrink: collective over the ranks of comm that are not excluded
 * (excluded ranks must not call it; excludeRanks must be the same list on
 * every caller). Works on a comm that has failed: it uses neither the comm's
 * data connections nor its transports, only its bootstrap listeners and key.
 * The callers agree on who takes part (a coordinator-based two-phase
 * protocol that survives further failures during the agreement), then build
 * a new comm of those ranks, numbered in the order of their old ranks, with
 * the parent's settings (sites, topology file, algorithm, codec, tuning,
 * timeout) and this rank's error-feedback residuals. Ranks that died or do
 * not take part within the comm's timeout are left out; *newcomm's size says
 * how many are in. flags:
 *   WEFT_SHRINK_DEFAULT  leave out excludeRanks (and whoever is found dead);
 *   WEFT_SHRINK_ABORT    also revoke comm first (calls blocked on it in other
 *                        threads return) and leave out, without waiting for
 *                        them, the ranks comm knows to have failed.
 * The parent stays valid (destroy or abort it as usual); a rank that was
 * left out gets an error naming why. */
#define WEFT_SHRINK_DEFAULT 0
#define WEFT_SHRINK_ABORT 1
WEFT_API weftResult_t weftCommShrink(weftComm_t comm, const int *excludeRanks, int nExclude, weftComm_t *newcomm,
                                     weftConfig_t *config, int flags);

/* Grow: a new comm of nranks ranks made of every rank of comm (keeping its
 * rank number) plus joiners (ranks comm->nranks .. nranks-1).
 * weftCommGetGrowId: on one rank of comm; starts the rendezvous for the grow
 * there. Hand the id to the other ranks of comm (e.g. weftBroadcast of its
 * bytes) and to the joiners (any channel, as a unique id).
 * weftCommGrow: every rank of comm calls it with comm and rank -1; each
 * joiner calls it with comm NULL and its rank. Joiners take the comm's
 * settings (topology file, algorithm, codec, tuning thresholds, timeout,
 * crypto) from rank 0; their own config gives their site, device and log.
 * Ranks of comm keep their error-feedback residuals. comm stays valid. */
WEFT_API weftResult_t weftCommGetGrowId(weftComm_t comm, weftUniqueId *growId);
WEFT_API weftResult_t weftCommGrow(weftComm_t comm, int nranks, const weftUniqueId *growId, int rank,
                                   weftComm_t *newcomm, weftConfig_t *config);

/* ------------------------------------------------------------------ */
/* Host streams                                                        */
/* ------------------------------------------------------------------ */
/* Operations enqueued on one stream complete in order, also across comms. */
WEFT_API weftResult_t weftStreamCreate(weftStream_t *stream);
/* Waits (bounded by the longest timeout of the comms involved) for all
 * operations enqueued so far; returns the first error any of them hit. */
WEFT_API weftResult_t weftStreamSynchronize(weftStream_t stream);
/* weftSuccess when idle, weftInProgress while busy, or the first error. */
WEFT_API weftResult_t weftStreamQuery(weftStream_t stream);
/* Synchronizes, then frees the stream. */
WEFT_API weftResult_t weftStreamDestroy(weftStream_t stream);
/* A weft stream on the native queue of comm's device (a cl_command_queue for
 * opencl, a CUstream for cuda): calls on it start after the work enqueued on
 * the queue before them, and work enqueued on the queue after them waits for
 * their results. The queue stays the application's (destroying the stream
 * leaves it). With the host device nativeQueue must be NULL (the result is a
 * host stream, as weftStreamCreate makes). The stream keeps the device
 * open, so it may outlive comm (docs/devices.md). */
WEFT_API weftResult_t weftStreamFromNative(weftStream_t *stream, weftComm_t comm, void *nativeQueue);

/* ------------------------------------------------------------------ */
/* Collectives. sendbuff == recvbuff (or the matching slice) is in-place. */
/* ------------------------------------------------------------------ */
WEFT_API weftResult_t weftAllReduce(const void *sendbuff, void *recvbuff, size_t count,
                                    weftDataType_t datatype, weftRedOp_t op, weftComm_t comm,
                                    weftStream_t stream);
/* recvbuff holds nranks*sendcount elements; in-place when
 * sendbuff == recvbuff + rank*sendcount. */
WEFT_API weftResult_t weftAllGather(const void *sendbuff, void *recvbuff, size_t sendcount,
                                    weftDataType_t datatype, weftComm_t comm, weftStream_t stream);
/* sendbuff holds nranks*recvcount elements; in-place when
 * recvbuff == sendbuff + rank*recvcount. */
WEFT_API weftResult_t weftReduceScatter(const void *sendbuff, void *recvbuff, size_t recvcount,
                                        weftDataType_t datatype, weftRedOp_t op, weftComm_t comm,
                                        weftStream_t stream);
/* sendbuff is read on root only; recvbuff is written on every rank. */
WEFT_API weftResult_t weftBroadcast(const void *sendbuff, void *recvbuff, size_t count,
                                    weftDataType_t datatype, int root, weftComm_t comm,
                                    weftStream_t stream);
/* recvbuff is written on root only (may be NULL elsewhere). */
WEFT_API weftResult_t weftReduce(const void *sendbuff, void *recvbuff, size_t count,
                                 weftDataType_t datatype, weftRedOp_t op, int root, weftComm_t comm,
                                 weftStream_t stream);
/* Block j of sendbuff (count elements) goes to rank j; block i of recvbuff
 * comes from rank i. Not in-place. */
WEFT_API weftResult_t weftAllToAll(const void *sendbuff, void *recvbuff, size_t count,
                                   weftDataType_t datatype, weftComm_t comm, weftStream_t stream);

/* sendbuff (sendcount elements) of rank i lands at recvbuff + i*sendcount on
 * root, which holds nranks*sendcount elements; recvbuff is written on root
 * only (may be NULL elsewhere). In-place on root when
 * sendbuff == recvbuff + root*sendcount. */
WEFT_API weftResult_t weftGather(const void *sendbuff, void *recvbuff, size_t sendcount, weftDataType_t datatype,
                                 int root, weftComm_t comm, weftStream_t stream);
/* Block i of root's sendbuff (recvcount elements each, nranks blocks; read
 * on root only, may be NULL elsewhere) lands in rank i's recvbuff. In-place
 * on root when recvbuff == sendbuff + root*recvcount. */
WEFT_API weftResult_t weftScatter(const void *sendbuff, void *recvbuff, size_t recvcount, weftDataType_t datatype,
                                  int root, weftComm_t comm, weftStream_t stream);
/* Completes on a rank once every rank of comm has called it (with a stream:
 * once every rank's barrier has been reached in its stream's order). */
WEFT_API weftResult_t weftBarrier(weftComm_t comm, weftStream_t stream);

/* The v-variants: blocks of their own sizes. Counts and displacements are
 * in elements, one entry per rank, and must be the same on every rank
 * where the text says so; a block of zero elements is allowed. The arrays
 * are read during the call only (a call in a group or on a stream keeps
 * its own copy). Blocks of one buffer must not overlap.
 *
 * AllGatherV: rank i's sendbuff (recvcounts[i] elements) lands at recvbuff
 * + displs[i] on every rank (recvcounts and displs the same everywhere; as
 * MPI_Allgatherv, with the send count taken from recvcounts[rank]).
 * In-place when sendbuff == recvbuff + displs[rank]. */
WEFT_API weftResult_t weftAllGatherV(const void *sendbuff, void *recvbuff, const size_t *recvcounts,
                                     const size_t *displs, weftDataType_t datatype, weftComm_t comm,
                                     weftStream_t stream);
/* ReduceScatterV: sendbuff holds the blocks back to back, block i of
 * recvcounts[i] elements (as MPI_Reduce_scatter; recvcounts the same
 * everywhere); rank i's recvbuff receives block i reduced over all ranks.
 * In-place when recvbuff == sendbuff + (recvcounts[0] + ... +
 * recvcounts[rank-1]). */
WEFT_API weftResult_t weftReduceScatterV(const void *sendbuff, void *recvbuff, const size_t *recvcounts,
                                         weftDataType_t datatype, weftRedOp_t op, weftComm_t comm,
                                         weftStream_t stream);
/* AllToAllV, MPI_Alltoallv's argument order: sendcounts[j] elements at
 * sendbuff + sdispls[j] go to rank j, and the block from rank i lands at
 * recvbuff + rdispls[i] (recvcounts[i] elements; rank i's sendcounts[me]
 * must equal my recvcounts[i]). Not in place. */
WEFT_API weftResult_t weftAllToAllV(const void *sendbuff, const size_t *sendcounts, const size_t *sdispls,
                                    void *recvbuff, const size_t *recvcounts, const size_t *rdispls,
                                    weftDataType_t datatype, weftComm_t comm, weftStream_t stream);

/* Point-to-point. Matched in call order per (sender, receiver) pair; counts
 * and types must agree. Use a group to post several without deadlocking. */
WEFT_API weftResult_t weftSend(const void *sendbuff, size_t count, weftDataType_t datatype,
                               int peer, weftComm_t comm, weftStream_t stream);
WEFT_API weftResult_t weftRecv(void *recvbuff, size_t count, weftDataType_t datatype, int peer,
                               weftComm_t comm, weftStream_t stream);

/* Operations issued between GroupStart and GroupEnd (per thread, nestable) are
 * launched together at the outermost GroupEnd, which returns once the ones
 * with a NULL stream have completed. */
WEFT_API weftResult_t weftGroupStart(void);
WEFT_API weftResult_t weftGroupEnd(void);

#ifdef __cplusplus
}
#endif
#endif /* WEFT_H */
