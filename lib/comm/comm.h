/* The communicator: what every layer needs to know about one rank's view. */
#ifndef WEFT_COMM_H
#define WEFT_COMM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "weft.h"
#include "weft_net.h"
#include "comm/exec_view.h"
#include "comm/layout.h"
#include "util/log.h"
#include "codec/codec.h"
#include "tune/tune.h"

#define WEFT_COMM_MAGIC 0x7765667443304d4dULL

struct bootstrap;
struct weft_engine;
struct weft_nodeseg;
struct weft_dev;

#define WEFT_MAX_NETS 6

#define WEFT_MAX_STREAMS 64

#define WEFT_DEV_WHERE_LEN 384

typedef struct {
  const weftNet_t *net;
  void *ctx;
  void *listen;
  int host_local; /* its weftNetProperties_t.hostLocal: every peer it reaches shares this host's memory */
  int encrypts;   /* its weftNetProperties_t.encrypts */
  int connect_retry; /* its weftNetProperties_t.connectRetry */
} weft_net_inst;

struct weft_trace;

/* Which links carry authenticated encryption (docs/security.md). */
typedef enum {
  WEFT_CRYPTO_AUTO = 0, /* links between sites */
  WEFT_CRYPTO_ON,       /* every link but those through shared memory */
  WEFT_CRYPTO_OFF       /* none */
} weft_crypto_mode;

struct weftComm {
  uint64_t magic;
  struct weft_trace *trace; /* WEFT_TRACE (util/trace.h), or NULL */
  weft_comm_stats stats;    /* weftCommGetStats (exec_view.h) */
  int rank, nranks;
  int timeout_ms;
  weft_log_sink log; /* level, callback, last error (comm_log.h) */
  char algo_override[16]; /* "" = tuner decides */
  weft_tuner tune; /* settings, decisions, codec policy, error feedback (tune/tune.h) */
  char site[64];
  char device_want[96];       /* device choice, "name[:spec]" (config, WEFT_DEVICE, parent, "host") */
  void *device_native;        /* config deviceNative (or the parent's) */
  struct weft_dev *device; /* opened at start (api/comm_life.c), closed with the comm */
  char dev_where[WEFT_DEV_WHERE_LEN]; /* this rank's device and its PCI locality (comm/locality.c) */
  char net_local_ip[46]; /* (INET6_ADDRSTRLEN) where the transports listen: the NIC nearest the device, "" = the
                          * bootstrap interface (comm/locality.c) */
  char topo_file[512]; /* WEFT_TOPO_FILE / config topoFile, "" = none */
  uint8_t key[32];      /* the comm key (bootstrap/keys.h); the job secret itself is not kept */
  uint64_t split_count; /* splits done so far, to derive child keys */
  uint64_t shrink_count; /* shrinks done so far, to derive the agreement's and the new comm's keys */

  struct bootstrap *bootstrap;
  char net_force[16];               /* WEFT_NET / config netName, "" = choose per peer */
  int crypto;                       /* weft_crypto_mode: WEFT_CRYPTO / config crypto */
  uint8_t *encrypt;                 /* per rank: 1 when the link to it is encrypted (connect.c) */
  weft_net_inst nets[WEFT_MAX_NETS]; /* indexed like the registry (comm/netreg.h) */
  int connect_eager;                 /* WEFT_CONNECT=eager: every link opened at init, else on first use (link.c) */
  char *net_handles;                 /* per rank: its listeners' handles, one row each (link.c opens links from them) */
  size_t net_handle_row;             /* bytes of a row */
  weftNetKey_t net_key;              /* the comm's link key (never the job secret), for links opened later */
  char net_desc[32];                 /* transports in use, e.g. "shm" or "shm+tcp" */
  weft_peer_conn *peers;
  weft_layout layout; /* nodes and sites (layout.c) */
  struct weft_nodeseg *nodeseg; /* slots shared by all ranks on one host, or NULL (nodeseg.h) */

  struct weft_engine *engine;
  uint32_t coll_seq; /* collectives issued so far (same on every rank) */

  atomic_int aborted;
  atomic_int active_calls; /* 1 while a thread is inside an API call (api.c submit), else 0 */
  _Atomic weftResult_t async_error;

  /* Called by weft_comm_fail_op and weft_fault_raise so that layers above the communicator that
   * keep their own shared state (the node segment) release their waiters. */
  void (*on_fail)(struct weftComm *comm);
  struct weft_fault *fault; /* failure attribution: fault links, the origin (comm/fault.h) */
  int suspect; /* the peer whose connection failed the running op, -1: none (weft_comm_suspect) */
  char last_algo[48];
  int last_algo_id; /* weft_algo of the last call launched */
  int last_codec;   /* weft_codec_id it used */
  int last_self;    /* it was a send/recv to oneself */
};

/* Validates comm (non-NULL, not destroyed) or records an error for the thread. */
weftResult_t weft_comm_check(struct weftComm *comm);
/* Allocates a comm for rank of nranks with its configuration (cfg, the
 * environment, or the parent's for a split); nothing connected yet. */
weftResult_t weft_comm_new(struct weftComm **out, int rank, int nranks, const weftConfig_t *cfg,
                           const struct weftComm *parent);
/* Closes and frees what the comm itself owns, then the comm (the layers
 * above release theirs first: api/comm_life.c). */
void weft_comm_release(struct weftComm *comm);
/* Chooses the transport and streams of every peer, listens and publishes
 * the handles (connect.c); connects every link now when connect_eager,
 * else each on first use (link.c). */
weftResult_t weft_comm_connect(struct weftComm *comm);
/* Opens the links to and from the peers want names (want[p] != 0; NULL:
 * all), every send link first, then the receive links: a connect never
 * waits, and by the time a rank waits for its receive links every peer
 * has connected its own, so no rank waits on one that waits on it (link.c).
 * A schedule's links follow the same rule (exec/run.c link_peers). */
weftResult_t weft_comm_link_peers(struct weftComm *comm, const unsigned char *want, char *err, size_t len);
/* Opens every link to and from every peer, then a barrier (link.c). */
weftResult_t weft_comm_link_all(struct weftComm *comm);
/* "auto", "on" or "off" (weft_crypto_mode). */
const char *weft_comm_crypto_name(int mode);
/* Closes every peer connection (idempotent). */
void weft_comm_close_peers(struct weftComm *comm);
/* Closes the connections and frees the peer table. */
void weft_comm_free_peers(struct weftComm *comm);
/* Closes listeners and finalizes transports. */
void weft_comm_close_nets(struct weftComm *comm);
/* A call on a comm that failed before it (sticky: its async error): records
 * the failure's origin, then "<fn>: communicator already failed". */
weftResult_t weft_comm_failed_call(struct weftComm *comm, weftResult_t sticky, const char *fn);
/* weft_comm_fail_op, weft_comm_suspect, weft_comm_peer_name, weft_comm_exec_view: comm/exec_view.h */

#endif
