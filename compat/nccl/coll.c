/* Collectives, point-to-point and groups: NCCL's calls on weft's. The
 * values of the data types and reduction ops are weft's (weft_nccl.h lays
 * them out as NCCL does), so they pass through; weft checks them. */
#include "nccl_comm.h"

_Static_assert((int)ncclBfloat16 == (int)weftBfloat16 && (int)ncclNumTypes == (int)weftNumTypes,
               "NCCL's data types are weft's");
_Static_assert((int)ncclAvg == (int)weftAvg && (int)ncclNumOps == (int)weftNumOps, "NCCL's ops are weft's");

/* Runs CALL (a weft call that may use `ws`) inside comm's enter/leave. */
#define NCCL_CALL(fn, comm, stream, CALL)                          \
  do {                                                            \
    weftStream_t ws;                                              \
    ncclResult_t nr_ = weft_nccl_enter((comm), (fn), (stream), &ws); \
    if (nr_ != ncclSuccess) return nr_;                           \
    nr_ = weft_nccl_result(CALL);                                 \
    weft_nccl_leave(comm);                                        \
    return nr_;                                                   \
  } while (0)

WEFT_API ncclResult_t ncclAllReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
                                    ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream) {
  NCCL_CALL("ncclAllReduce", comm, stream,
            weftAllReduce(sendbuff, recvbuff, count, (weftDataType_t)datatype, (weftRedOp_t)op, comm->weft, ws));
}

WEFT_API ncclResult_t ncclBroadcast(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
                                    int root, ncclComm_t comm, cudaStream_t stream) {
  NCCL_CALL("ncclBroadcast", comm, stream,
            weftBroadcast(sendbuff, recvbuff, count, (weftDataType_t)datatype, root, comm->weft, ws));
}

WEFT_API ncclResult_t ncclBcast(void *buff, size_t count, ncclDataType_t datatype, int root, ncclComm_t comm,
                                cudaStream_t stream) {
  NCCL_CALL("ncclBcast", comm, stream,
            weftBroadcast(buff, buff, count, (weftDataType_t)datatype, root, comm->weft, ws));
}

WEFT_API ncclResult_t ncclReduce(const void *sendbuff, void *recvbuff, size_t count, ncclDataType_t datatype,
                                 ncclRedOp_t op, int root, ncclComm_t comm, cudaStream_t stream) {
  NCCL_CALL("ncclReduce", comm, stream,
            weftReduce(sendbuff, recvbuff, count, (weftDataType_t)datatype, (weftRedOp_t)op, root, comm->weft, ws));
}

WEFT_API ncclResult_t ncclAllGather(const void *sendbuff, void *recvbuff, size_t sendcount,
                                    ncclDataType_t datatype, ncclComm_t comm, cudaStream_t stream) {
  NCCL_CALL("ncclAllGather", comm, stream,
            weftAllGather(sendbuff, recvbuff, sendcount, (weftDataType_t)datatype, comm->weft, ws));
}

WEFT_API ncclResult_t ncclReduceScatter(const void *sendbuff, void *recvbuff, size_t recvcount,
                                        ncclDataType_t datatype, ncclRedOp_t op, ncclComm_t comm,
                                        cudaStream_t stream) {
  NCCL_CALL("ncclReduceScatter", comm, stream,
            weftReduceScatter(sendbuff, recvbuff, recvcount, (weftDataType_t)datatype, (weftRedOp_t)op,
                              comm->weft, ws));
}

WEFT_API ncclResult_t ncclSend(const void *sendbuff, size_t count, ncclDataType_t datatype, int peer,
                               ncclComm_t comm, cudaStream_t stream) {
  NCCL_CALL("ncclSend", comm, stream, weftSend(sendbuff, count, (weftDataType_t)datatype, peer, comm->weft, ws));
}

WEFT_API ncclResult_t ncclRecv(void *recvbuff, size_t count, ncclDataType_t datatype, int peer, ncclComm_t comm,
                               cudaStream_t stream) {
  NCCL_CALL("ncclRecv", comm, stream, weftRecv(recvbuff, count, (weftDataType_t)datatype, peer, comm->weft, ws));
}

WEFT_API ncclResult_t ncclGroupStart(void) {
  weft_nccl_begin();
  return weft_nccl_result(weftGroupStart());
}

WEFT_API ncclResult_t ncclGroupEnd(void) {
  weft_nccl_begin();
  return weft_nccl_result(weftGroupEnd());
}
