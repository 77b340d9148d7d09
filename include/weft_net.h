/*
 * weft transport ABI, version 2 (version 1 passed a 64-bit key that
 * the transports sent in clear; its plugins are refused with a message).
 *
 * A transport moves tagged byte messages between two endpoints; it knows
 * nothing of ranks, collectives or datatypes. weft's progress engine drives it
 * by calling test() on outstanding requests (no transport thread is needed).
 *
 * Connection model (as NCCL's net plugins): every rank listen()s once and
 * publishes the opaque handle through the bootstrap; a rank connect()s to a
 * peer's handle to obtain a send endpoint, and the peer accept()s to obtain
 * the matching receive endpoint. Messages on one send endpoint arrive in
 * order and are matched, in order, against the receives posted on the peer's
 * receive endpoint, whatever their tags: the transport delivers the sender's
 * 64-bit tag with the data and weft compares it with what it expected (that
 * is how calls that do not match across ranks are detected). A message larger
 * than the posted receive fails the receive with weftInvalidUsage.
 *
 * Built-in transports are linked into libweft. An external one is a shared
 * object that exports `const weftNet_t weftNetPlugin_v2` (declare it with
 * WEFT_NET_PLUGIN_EXPORT) and is loaded with WEFT_NET_PLUGIN=/path/to.so; a
 * plugin built for another ABI version is refused with a clear error. A
 * plugin named like a built-in ("tcp", "ucx", ...) replaces it. See
 * docs/transports.md for a skeleton.
 *
 * Security (docs/security.md): weft hands a transport a 32-byte link key
 * derived for the communicator, never the job secret. A connection must prove
 * that it knows the key without sending it (challenge-response, e.g. the
 * HMAC hello of weft's built-in transports) and is dropped otherwise. When
 * weft asks for WEFT_NET_CONN_ENCRYPT, every byte of the connection must be
 * authenticated and encrypted, and a frame that fails its check fails the
 * endpoint with weftRemoteError; a transport that cannot encrypt says so with
 * weftNetProperties_t.encrypts = 0 and weft does not ask it to.
 */
#ifndef WEFT_NET_H
#define WEFT_NET_H

#include <stddef.h>
#include <stdint.h>

#include "weft.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_NET_ABI_VERSION 2
#define WEFT_NET_HANDLE_BYTES 128
#define WEFT_NET_POLL_NONE (-1)
#define WEFT_NET_POLL_READY (-2)

#define WEFT_NET_STR_(x) #x
#define WEFT_NET_STR(x) WEFT_NET_STR_(x)
/* Put before the plugin's `const weftNet_t weftNetPlugin_v2 = {...};`. */
#define WEFT_NET_PLUGIN_EXPORT __attribute__((visibility("default")))

typedef struct {
  const char *name;     /* e.g. "tcp:eth0" */
  double bandwidthGbps; /* nominal per-endpoint bandwidth, 0 if unknown. Between
                         * hosts weft picks, per pair of ranks, the transport
                         * with the highest figure both ranks report. */
  double latencyUs;     /* nominal one-way latency, 0 if unknown */
  int maxStreams;       /* parallel connections worth opening per peer */
  /* Appended fields: weft zeroes the struct before getProperties, so a plugin
   * built before a field existed leaves it 0. */
  int hostLocal;        /* 1: every peer this transport reaches shares this
                         * host's memory (shared-memory transports); weft then
                         * may move small collectives through its own node
                         * segment instead. 0: unknown or not (the default) */
  int encrypts;         /* 1: connect() honours WEFT_NET_CONN_ENCRYPT. 0 (the
                         * default): weft takes another transport for links
                         * that must be encrypted, or fails if this one is forced */
  int connectRetry;     /* 1: a connect() that got no answer in its timeoutMs
                         * returns weftTimeout and leaves nothing behind, so it
                         * may simply be called again. weft then connects in
                         * slices of about a second and looks at weftCommAbort
                         * and the comm's failure between them, instead of
                         * waiting out the whole timeout on a host that never
                         * answers. 0 (the default): one call with the timeout */
} weftNetProperties_t;

#define WEFT_NET_KEY_BYTES 32
/* The link key of a communicator (the same on every rank of it). */
typedef struct {
  uint8_t bytes[WEFT_NET_KEY_BYTES];
} weftNetKey_t;

/* connect() flags, delivered to the acceptor by accept(). */
#define WEFT_NET_CONN_ENCRYPT 1u /* authenticated encryption of every frame */

typedef void (*weftNetLogFn_t)(void *logUser, weftLogLevel_t level, const char *message);

typedef struct {
  uint32_t abiVersion;    /* WEFT_NET_ABI_VERSION of the caller */
  weftNetLogFn_t log;     /* may be NULL */
  void *logUser;
  const char *localAddr;  /* numeric address of the interface weft prefers (hint): the
                           * bootstrap interface, or the NIC nearest the rank's PCI device */
  const char *ifname;     /* WEFT_SOCKET_IFNAME, or NULL */
} weftNetInitArgs_t;

typedef struct weftNet_v2 {
  uint32_t abiVersion; /* WEFT_NET_ABI_VERSION the plugin was built for */
  const char *name;    /* "tcp", "shm", "ucx", "ofi", ... */

  weftResult_t (*init)(const weftNetInitArgs_t *args, void **ctx);
  weftResult_t (*devices)(void *ctx, int *ndev);
  weftResult_t (*getProperties)(void *ctx, int dev, weftNetProperties_t *props);

  /* handle: WEFT_NET_HANDLE_BYTES to publish to peers. key: connections that
   * cannot prove they know it are dropped (the key itself never travels). */
  weftResult_t (*listen)(void *ctx, int dev, const weftNetKey_t *key, void *handle, void **listenComm);
  /* connId and flags (WEFT_NET_CONN_*) are delivered to the acceptor (weft
   * passes the connecting rank in connId). */
  weftResult_t (*connect)(void *ctx, int dev, const void *handle, const weftNetKey_t *key, uint64_t connId,
                          uint32_t flags, int timeoutMs, void **sendComm);
  weftResult_t (*accept)(void *listenComm, int timeoutMs, void **recvComm, uint64_t *connId, uint32_t *flags);

  /* Optional (may be NULL): register memory for faster transfers. */
  weftResult_t (*regMr)(void *comm, void *data, size_t size, void **mhandle);
  weftResult_t (*deregMr)(void *comm, void *mhandle);

  /* Nonblocking; *request is owned by the transport until test() reports done. */
  weftResult_t (*isend)(void *sendComm, const void *data, size_t size, uint64_t tag,
                        void *mhandle, void **request);
  weftResult_t (*irecv)(void *recvComm, void *data, size_t size, uint64_t tag, void *mhandle,
                        void **request);
  /* Makes progress; *done = 1 once complete (the request is then freed),
   * *size = bytes transferred and *tag = the sender's tag (receives). When an
   * incoming message does not fit, returns weftInvalidUsage with *size and
   * *tag describing it (a transport that cannot know the size, as some
   * libfabric providers do not say it, reports the posted size + 1: weft
   * then says "more than" the posted size). Any error fails the request and the endpoint.
   * weft tests every request it has outstanding, round after round, so a
   * transport may move an endpoint only from the test of its oldest request
   * (tcp does: one system call per endpoint and round, not one per request). */
  weftResult_t (*test)(void *request, int *done, size_t *size, uint64_t *tag);

  /* Optional (may be NULL). Called right before the engine sleeps in poll():
   * returns a descriptor and sets *events (POLLIN/POLLOUT) so that it becomes
   * ready when test() on this endpoint can progress. A transport that must
   * arm a wake-up (e.g. a flag in shared memory) does it here; it returns
   * WEFT_NET_POLL_READY if it can progress right away, or WEFT_NET_POLL_NONE
   * if it has no descriptor (the engine then yields instead of sleeping). */
  int (*pollFd)(void *comm, short *events);
  /* Text of the last error on any object the transport handed out (context,
   * listen, send or receive endpoint); never NULL. */
  const char *(*lastError)(void *commOrCtx);

  weftResult_t (*closeSend)(void *sendComm);
  weftResult_t (*closeRecv)(void *recvComm);
  weftResult_t (*closeListen)(void *listenComm);
  weftResult_t (*finalize)(void *ctx);
} weftNet_v2_t;

typedef weftNet_v2_t weftNet_t;

#ifdef __cplusplus
}
#endif
#endif /* WEFT_NET_H */
