/* ofi transport: libfabric reliable-datagram (FI_EP_RDM) tagged messages.
 *
 * Provider. WEFT_OFI_PROVIDER names the libfabric provider ("tcp;ofi_rxm",
 * "shm", "sockets", "udp;ofi_rxd", "verbs;ofi_rxm", ...; "auto" takes the
 * first one fi_getinfo offers). The default is "tcp;ofi_rxm": it works on
 * every host and between hosts, while the auto order depends on the
 * libfabric build. WEFT_OFI_DOMAIN optionally names the domain (NIC).
 * Each init() context opens one fabric, domain, address vector, completion
 * queue and endpoint; every weft endpoint of the context shares them.
 *
 * Connections. listen() opens a TCP socket (util/sock.h) and publishes a
 * handle with its address and, when it fits, the fabric endpoint's name.
 * connect() opens a TCP connection to it and sends a hello {key, connId};
 * it does not wait for an answer (weft connects to every peer before it
 * accepts any). accept() checks the key (other connections are dropped),
 * assigns the connection an endpoint id unique in its context, and answers
 * with {endpoint id, fabric address}; the sender reads that answer without
 * blocking before its first message leaves. The TCP connection then stays
 * open as the liveness channel: RDM endpoints report nothing when a peer
 * dies, so test() looks at the socket every WEFT_OFI_LIVENESS_US (2 ms) for
 * end-of-file. Closing an endpoint sends a "bye" with the number of
 * messages it completed, in order: the peer completes the sends the closer
 * received, keeps waiting for messages the closer sent, and fails the rest
 * with weftRemoteError. A peer that vanishes without a bye fails every
 * request still in flight on that connection.
 *
 * Messages. Fabric tag = endpoint id (20 bits) | message sequence number of
 * the connection (28 bits, wraps) | chunk index (15 bits) | last-chunk bit,
 * with only the last-chunk bit ignored by receives. The receive for the
 * k-th message of a connection therefore matches exactly the k-th send,
 * which gives weft's in-order matching whatever order the provider keeps.
 * On an encrypted connection (common/seal.h) a receive whose message does not
 * come while a later one has completed fails once that gap outlasts what
 * reordering explains (a message deleted on the way; check_gap in data.c).
 * The sender's 64-bit weft tag travels as remote CQ data when the provider
 * has cq_data_size >= 8, else in band, as the first entry of a 2-entry iov.
 * Messages larger than the provider's max_msg_size (or WEFT_OFI_MAX_MSG)
 * travel as several chunks; a receive posts one receive per chunk of its
 * buffer and cancels those beyond the chunk marked last. Payloads go from
 * and to the caller's buffers (no copy) except under FI_MR_LOCAL, where
 * payloads of at most 4 KiB go through registered staging slots and larger
 * ones are registered for the duration of the operation (or use the
 * regMr() handle weft passes).
 *
 * Progress happens in test() (and isend/irecv): it reads the shared CQ and
 * completes whichever requests finished. pollFd() returns the CQ's wait fd
 * (FI_WAIT_FD, after fi_trywait) when the provider has one. */
#include "ofi/ofi.h"
#include "common/net_define.h"
#include "ofi/ofi_impl.h"

static weftResult_t ofi_properties(void *ctxp, int dev, weftNetProperties_t *p) {
  ofi_ctx *c = ctxp;
  (void)dev;
  p->name = "ofi";
  /* Providers built on sockets or shared memory score below weft's own tcp so
   * that they are used only when asked for (WEFT_NET=ofi). */
  p->bandwidthGbps = c && c->rdma ? 25.0 : 1.0;
  p->latencyUs = c && c->rdma ? 3.0 : 30.0;
  p->maxStreams = 1;
  p->encrypts = 1;
  /* connect blocks only in the hello's dial, before anything is made: one that
   * got no answer is closed and may be called again (the rest is asynchronous) */
  p->connectRetry = 1;
  return weftSuccess;
}

WEFT_NET_DEFINE(weft_net_ofi) = {
    .abiVersion = WEFT_NET_ABI_VERSION,
    .name = "ofi",
    .init = weft__ofi_init,
    .devices = weft_net_one_device,
    .getProperties = ofi_properties,
    .listen = weft__ofi_listen,
    .connect = weft__ofi_connect,
    .accept = weft__ofi_accept,
    .regMr = weft__ofi_reg_mr,
    .deregMr = weft__ofi_dereg_mr,
    .isend = weft__ofi_isend,
    .irecv = weft__ofi_irecv,
    .test = weft__ofi_test,
    .pollFd = weft__ofi_poll_fd,
    .lastError = weft_net_last_error,
    .closeSend = weft__ofi_close_ep,
    .closeRecv = weft__ofi_close_ep,
    .closeListen = weft_net_close_listen,
    .finalize = weft__ofi_finalize,
};

