/* The communicator: what every layer needs to know about one rank's view. */
#ifndef WEFT_COMM_H
#define WEFT_COMM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "weft.h"
#include "weft_net.h"
#include "comm/layout.h"
#include "codec/codec.h"
#include "tune/tune.h"

#define WEFT_COMM_MAGIC 0x7765667443304d4dULL
#define WEFT_ERRMSG_LEN 512

struct bootstrap;
struct weft_engine;
struct weft_nodeseg;

#define WEFT_MAX_NETS 6

#define WEFT_MAX_STREAMS 64

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

typedef struct {
  const weftNet_t *net;
  void *ctx;
  void *listen;
} weft_net_inst;

struct weftComm {
  uint64_t magic;
  int rank, nranks;
  int timeout_ms;
  int log_level;
  weftLogCallback_t log_cb;
  void *log_user;
  char algo_override[16]; /* "" = tuner decides */
  weft_tuner tune; /* settings, decisions, codec policy, error feedback (tune/tune.h) */
  char site[64];
  char topo_file[512]; /* WEFT_TOPO_FILE / config topoFile, "" = none */
  uint8_t secret[16];
  uint64_t split_count; /* splits done so far, to derive child secrets */

  struct bootstrap *bootstrap;
  char net_force[16];               /* WEFT_NET / config netName, "" = choose per peer */
  weft_net_inst nets[WEFT_MAX_NETS]; /* indexed like the registry (comm/netreg.h) */
  char net_desc[32];                 /* transports in use, e.g. "shm" or "shm+tcp" */
  weft_peer_conn *peers;
  weft_layout layout; /* nodes and sites (layout.c) */
  struct weft_nodeseg *nodeseg; /* slots shared by all ranks on one host, or NULL (nodeseg.h) */

  struct weft_engine *engine;
  uint32_t coll_seq; /* collectives issued so far (same on every rank) */

  atomic_int aborted;
  atomic_int active_calls;
  _Atomic weftResult_t async_error;

  pthread_mutex_t err_mu;
  char last_error[WEFT_ERRMSG_LEN];
  char last_algo[48];
  int last_algo_id; /* weft_algo of the last call launched */
  int last_codec;   /* weft_codec_id it used */
  int last_self;    /* it was a send/recv to oneself */
};

/* Validates comm (non-NULL, not destroyed) or records an error for the thread. */
weftResult_t weft_comm_check(struct weftComm *comm);
/* Marks the comm broken with res (first error wins) and closes its
 * connections so peers notice at once. Safe from the progress thread. */
void weft_comm_fail(struct weftComm *comm, weftResult_t res);
/* Opens the transports and connects to every peer (connect.c). */
weftResult_t weft_comm_connect(struct weftComm *comm);
/* Closes every peer connection (idempotent). */
void weft_comm_close_peers(struct weftComm *comm);
/* Closes the connections and frees the peer table. */
void weft_comm_free_peers(struct weftComm *comm);
/* Closes listeners and finalizes transports. */
void weft_comm_close_nets(struct weftComm *comm);
/* Name of a built-in transport if valid, else NULL. */
/* Describes a peer for error messages: "rank 3 (host:pid)". */
void weft_comm_peer_name(struct weftComm *comm, int peer, char *buf, size_t len);

#endif
