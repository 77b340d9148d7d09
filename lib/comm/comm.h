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
#include "tune/cost.h"

#define WEFT_TUNE_BUCKETS 40 /* sizes 1 B .. 512 GiB by powers of two */

#define WEFT_COMM_MAGIC 0x7765667443304d4dULL

struct bootstrap;
struct weft_engine;
struct weft_nodeseg;

#define WEFT_MAX_NETS 6

#define WEFT_MAX_STREAMS 64

typedef struct {
  const weftNet_t *net;
  void *ctx;
  void *listen;
  int host_local; /* its weftNetProperties_t.hostLocal: every peer it reaches shares this host's memory */
} weft_net_inst;

struct weftComm {
  uint64_t magic;
  int rank, nranks;
  int timeout_ms;
  weft_log_sink log; /* level, callback, last error (comm_log.h) */
  char algo_override[16]; /* "" = tuner decides */
  struct {                 /* read once at init so every call sees the same values */
    size_t direct_threshold; /* WEFT_DIRECT_THRESHOLD: bytes x (n-1) for one-shot allreduce */
    size_t tree_threshold;   /* WEFT_TREE_THRESHOLD */
    size_t rooted_threshold; /* WEFT_TREE_THRESHOLD_ROOTED */
    size_t chunk_bytes;      /* WEFT_CHUNK_SIZE, 0 = per-algorithm default */
    double spin_us;          /* WEFT_SPIN_US: busy-wait before sleeping */
    double yield_after_us;   /* of that, pure spinning before yielding the CPU
                              * every round: 0 when this node has more ranks of
                              * the comm than CPUs to run them */
    size_t stripe_min;       /* WEFT_STRIPE_MIN: smallest part of a message split over streams */
    int wan_streams;         /* WEFT_WAN_STREAMS: streams per inter-site peer, 0 = from the link */
    int forced;              /* weft_algo parsed from algo_override, 0 = none */
    int use_model;           /* several nodes: the cost model's table decides */
    int has_rules;           /* the topology file has tuning rules */
    uint8_t table[8][WEFT_TUNE_BUCKETS]; /* weft_algo per collective kind and log2 size */
    weft_cost_model model;
    size_t pipe_bytes; /* WEFT_HIER_PIPE: pipeline piece of the hierarchical allreduce */
  } tune;
  struct {               /* WAN codec (tune/codec_policy.c) */
    int id;              /* weft_codec_id between sites, or the auto table below decides */
    int is_auto;         /* WEFT_CODEC=auto: per size from the cost model */
    char want[16];       /* WEFT_CODEC / config codec, "" = from the topology file */
    char source[48];     /* where the choice came from, for the log */
    size_t min_bytes;    /* WEFT_CODEC_MIN: smaller messages go uncoded */
    weft_codec_params params;
    uint8_t table[WEFT_TUNE_BUCKETS]; /* auto: codec per log2 size */
  } codec;
  struct weft_ef_entry { /* error-feedback residuals per call shape (topk) */
    size_t count;
    int dt;
    float *resid;
  } ef[16];
  int nef;
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

  /* Called by weft_comm_fail so that layers above the communicator that
   * keep their own shared state (the node segment) release their waiters. */
  void (*on_fail)(struct weftComm *comm);
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
/* Opens the transports and connects to every peer (connect.c). */
weftResult_t weft_comm_connect(struct weftComm *comm);
/* Closes every peer connection (idempotent). */
void weft_comm_close_peers(struct weftComm *comm);
/* Closes the connections and frees the peer table. */
void weft_comm_free_peers(struct weftComm *comm);
/* Closes listeners and finalizes transports. */
void weft_comm_close_nets(struct weftComm *comm);
/* weft_comm_fail, weft_comm_peer_name, weft_comm_exec_view: comm/exec_view.h */

#endif
