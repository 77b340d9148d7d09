/* ucx transport: UCP active messages between worker-address endpoints, with
 * a plain TCP socket per connection for setup and liveness. (UCX 1.13.)
 *
 * Each init() context owns one ucp_context and one ucp_worker (features AM and
 * WAKEUP), driven only from the calls weft makes (no transport thread). A
 * per-context mutex serializes every use of the worker and of the context's
 * lists, so the worker runs in UCS_THREAD_MODE_SERIALIZED: the engine thread
 * and a thread closing endpoints never touch it at the same time.
 *
 * Connections. UCP's own client-server endpoints (listener + sockaddr) would
 * only use network transports in this UCX (no shared memory, no cma), and a
 * worker address (~200 bytes) does not fit the 128-byte handle, so:
 *   - listen() opens a TCP listener on localAddr; the handle is {magic, addr}.
 *   - connect() connects to it and writes the HMAC hello (common/hello.h)
 *     with a 64-bit endpoint nonce, then returns at once (weft calls every
 *     connect before any accept, so a connect must never wait for the peer):
 *     the send endpoint is "unresolved", and queues its sends, until the
 *     answer {magic, length, host id}, proof of the key (weft_net_reply),
 *     worker address arrives on the socket and proves the key; then it
 *     creates the UCP endpoint and issues the queued sends in order.
 *   - whenever the context makes progress (including inside connect and
 *     accept) it accepts pending sockets, reads hellos, drops those without
 *     the key, and answers the others with its worker address; accept()
 *     hands them out.
 * The socket then stays open for the connection's lifetime, as the liveness
 * signal: a peer that exits or closes its endpoint closes it. A sender that
 * closes after flushing writes a bye {magic, messages sent} first, so the
 * receiver still takes those messages and fails only receives beyond them.
 * Endpoints to other hosts ask UCP for peer error handling too (its error
 * handler fails the endpoint); endpoints within a host do not, because UCP
 * would then leave out the shared-memory transports (see peer_mode).
 *
 * Protocols: the v2 protocols are selected unless UCX_PROTO_ENABLE is set
 * (see weft__ucx_init). After a failure or an abort (transfers cut short by a
 * close), finalize leaves the UCX context allocated: UCX 1.13 aborts in
 * ucp_cleanup on registrations such transfers still hold.
 *
 * Messages. Every message is one DATA active message whose 24-byte header is
 * {nonce, seq, tag}: the nonce names the receive endpoint, seq is the
 * message's position on its send endpoint (receives are matched by position,
 * whatever their tags) and tag is weft's, handed back by test(). UCP picks
 * eager or rendezvous by size. An eager message that meets its posted receive
 * is copied into it inside the callback; a rendezvous message is fetched with
 * ucp_am_recv_data_nbx straight into the posted buffer (zero-copy: cma on one
 * host, the fastest lane otherwise). Messages that arrive before their receive
 * is posted are queued (keeping UCP's descriptor when it lets us, else a
 * copy). A message larger than its receive fails it with weftInvalidUsage and
 * releases the data (the sender completes normally).
 *
 * Encrypted connections (WEFT_NET_CONN_ENCRYPT, common/seal.h). Both ends
 * derive the connection's key from the hello and the answer's nonces. A
 * send seals the message into a bounce buffer (its size plus the 16-byte
 * tag) at position seq, and UCP sends that. A receive opens an eager message
 * from UCP's data straight into the posted buffer, and a rendezvous one after
 * it has landed in a bounce buffer; it opens with its own position, so a
 * message that claims another seq, or was changed, fails the receive with
 * weftRemoteError and is never delivered. A message for a position already
 * delivered (a replay) fails the endpoint as it arrives; one deleted on the
 * way fails the receive waiting for it once later ones have arrived for
 * longer than reordering explains (weft__ucx_check_gap, common/seal.h).
 *
 * Requests are polled with ucp_request_check_status, so UCP never calls back
 * into memory we might have freed.
 *
 * pollFd returns an epoll descriptor holding the worker's wake-up descriptor
 * (armed with ucp_worker_arm) and every socket of the context. */
#include "ucx/ucx.h"
#include "common/net_define.h"
#include "ucx/ucx_impl.h"

static weftResult_t ucx_properties(void *ctxp, int dev, weftNetProperties_t *p) {
  ucx_ctx *c = ctxp;
  (void)dev;
  p->name = "ucx";
  p->bandwidthGbps = c ? c->bw_gbps : 1.0;
  p->latencyUs = c ? c->lat_us : 20.0;
  p->maxStreams = 1;
  p->encrypts = 1;
  /* connect blocks only in the hello's dial, before anything is made: one that
   * got no answer is closed and may be called again (the rest is asynchronous) */
  p->connectRetry = 1;
  return weftSuccess;
}

WEFT_NET_DEFINE(weft_net_ucx) = {
    .abiVersion = WEFT_NET_ABI_VERSION,
    .name = "ucx",
    .init = weft__ucx_init,
    .devices = weft_net_one_device,
    .getProperties = ucx_properties,
    .listen = weft__ucx_listen,
    .connect = weft__ucx_connect,
    .accept = weft__ucx_accept,
    .regMr = NULL,
    .deregMr = NULL,
    .isend = weft__ucx_isend,
    .irecv = weft__ucx_irecv,
    .test = weft__ucx_test,
    .pollFd = weft__ucx_poll_fd,
    .lastError = weft_net_last_error,
    .closeSend = weft__ucx_close_send,
    .closeRecv = weft__ucx_close_recv,
    .closeListen = weft__ucx_close_listen,
    .finalize = weft__ucx_finalize,
};

