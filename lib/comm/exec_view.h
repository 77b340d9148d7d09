/* What the executor (lib/exec) sees of a communicator: its peer
 * connections and the few settings a running schedule reads, so the
 * executor needs no part of struct weftComm. The comm fills a view once its
 * connections, node segment and tuning are set, just before its engine
 * starts; nothing in it changes until the engine has stopped, except the
 * peers' endpoints, which the thread running an op opens on first use. */
#ifndef WEFT_EXEC_VIEW_H
#define WEFT_EXEC_VIEW_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "util/log.h"
#include "weft.h"
#include "weft_net.h"

struct weftComm;
struct weft_nodeseg;
struct weft_dev;
struct weft_trace;

typedef struct {
  const weftNet_t *net; /* transport serving this peer (NULL for self) */
  void *send;           /* its send endpoint to the peer (stream 0) */
  void *recv;           /* its receive endpoint from the peer (stream 0) */
  int nstreams;         /* parallel endpoints per direction (>= 1; > 1 on long fat links) */
  void **xsend, **xrecv; /* streams 1 .. nstreams-1, NULL when there is one */
} weft_peer_conn;

/* Endpoint of stream k to (send) or from (recv) a peer. */
static inline void *weft_peer_ep(const weft_peer_conn *pc, int send, int k) {
  if (k == 0) return send ? pc->send : pc->recv;
  void **x = send ? pc->xsend : pc->xrecv;
  return x ? x[k - 1] : NULL;
}

/* Whether every stream to (send) or from (recv) a peer is connected. */
static inline int weft_peer_linked(const weft_peer_conn *pc, int send) {
  for (int k = 0; k < pc->nstreams; k++)
    if (!weft_peer_ep(pc, send, k)) return 0;
  return 1;
}

/* A communicator's counters (weftCommGetStats), kept by whoever runs its
 * ops and read from any thread: relaxed atomics, each exact on its own.
 * Link classes: WEFT_LINK_CLASS_NODE (ranks of this node), _SITE (other
 * nodes of this site), _WAN (other sites). */
enum { WEFT_LINK_CLASS_NODE, WEFT_LINK_CLASS_SITE, WEFT_LINK_CLASS_WAN, WEFT_LINK_CLASSES };
#define WEFT_STATS_ALGOS 16
typedef struct {
  _Atomic uint64_t calls, failed;
  _Atomic uint64_t by_algo[WEFT_STATS_ALGOS];
  _Atomic uint64_t sent[WEFT_LINK_CLASSES], received[WEFT_LINK_CLASSES], messages[WEFT_LINK_CLASSES];
  _Atomic uint64_t codec_in, codec_out;     /* bytes the WAN codec encoded, and what they became */
  _Atomic uint64_t call_ticks, compute_ticks, codec_ticks; /* util/ticks.h */
  _Atomic uint64_t scratch; /* bytes of schedule scratch allocated (weft_sched.fresh_bytes) */
  _Atomic uint64_t device_reduces; /* reduce steps run by the device's kernels (exec/devreduce.c) */
} weft_comm_stats;

typedef struct {
  struct weftComm *comm;         /* opaque: for the functions below and the node segment */
  weft_log_sink *log;            /* the comm's: failures of ops are recorded there */
  struct weft_dev *device;       /* the comm's device (device/device.h): buffers are its own */
  const weft_peer_conn *peers;   /* per rank; endpoints NULL until linked (weft_comm_link_send/recv), and
                                  * again when the comm fails */
  struct weft_nodeseg *nodeseg;  /* or NULL (nodeseg/nodeseg.h) */
  int rank, nranks;
  int timeout_ms;                /* WEFT_TIMEOUT: no progress for this long fails an op */
  double spin_us;                /* busy-wait before sleeping */
  double yield_after_us;         /* of that, pure spinning before yielding every round */
  int oversubscribed;            /* more ranks of the comm on this node than CPUs */
  size_t stripe_min;             /* smallest part of a message split over streams */
  const atomic_int *aborted;     /* weftCommAbort was called */
  _Atomic weftResult_t *async_error; /* the comm's first failure, weftSuccess while none */
  struct weft_trace *trace;      /* WEFT_TRACE's timeline (util/trace.h), or NULL */
  const int *site_of;            /* per rank: its site's number (a link to another site is WAN) */
  const int *node_of;            /* per rank: its node's number */
  weft_comm_stats *stats;        /* the comm's counters */
} weft_exec_view;

/* Fills v from comm (comm/comm.c). */
void weft_comm_exec_view(struct weftComm *comm, weft_exec_view *v);
/* An op failed here with res (what: the op and why). Finds the failure's
 * origin (comm/fault.h: known already, waited for a short while when the
 * failure came through a peer, else this rank or the suspect peer), marks the
 * comm failed, closes its connections so peers notice at once, and writes
 * into msg what the user sees: "rank 2 (host pid 1234) was killed: ...;
 * here: <what>". Returns res. Safe from the progress thread. */
weftResult_t weft_comm_fail_op(struct weftComm *comm, weftResult_t res, const char *what, char *msg, size_t len);
/* The op running now fails because peer's connection failed (a fallback
 * origin when no rank says anything else). */
void weft_comm_suspect(struct weftComm *comm, int peer);
/* Opens the link on which this rank sends to peer, unless it is open
 * (comm/link.c): a connect, which does not wait for the peer. On failure
 * err says why and the peer is the suspect. */
weftResult_t weft_comm_link_send(struct weftComm *comm, int peer, char *err, size_t len);
/* Waits, up to the comm's timeout, until peer has opened the link on which
 * this rank receives from it (it does when its matching call starts);
 * links other peers open meanwhile are kept. Open the send links of a
 * schedule before waiting for its receive links: the peer may be waiting
 * for them. Returns early when the comm fails or is aborted. */
weftResult_t weft_comm_link_recv(struct weftComm *comm, int peer, char *err, size_t len);
/* Takes, without waiting, the links peers have opened to this rank so far.
 * A run that waits calls it now and then: a peer's send waits for this
 * rank to accept its link, also in a call where this rank receives nothing
 * from it (a mismatch, a send the peer makes ahead). */
weftResult_t weft_comm_link_poll(struct weftComm *comm, char *err, size_t len);
/* Describes a peer for error messages: "rank 3 (host:pid)". */
void weft_comm_peer_name(struct weftComm *comm, int peer, char *buf, size_t len);

#endif
