/* Communicator lifecycle: init, split, destroy, abort, queries. */
#include "comm/comm.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bootstrap/bootstrap.h"
#include "util/log.h"
#include "comm/netreg.h"
#include "nodeseg/nodeseg.h"
#include "util/param.h"
#include "exec/engine.h"
#include "tune/tune.h"

weftResult_t weft_comm_check(struct weftComm *comm) {
  if (!comm) return weft_error(NULL, weftInvalidArgument, "comm is NULL");
  if (comm->magic != WEFT_COMM_MAGIC)
    return weft_error(NULL, weftInvalidArgument, "comm %p is not a valid communicator (destroyed?)", (void *)comm);
  return weftSuccess;
}

void weft_comm_peer_name(struct weftComm *comm, int peer, char *buf, size_t len) {
  if (comm->bootstrap && peer >= 0 && peer < comm->nranks)
    snprintf(buf, len, "rank %d (%s pid %d)", peer, comm->bootstrap->peers[peer].host,
             (int)comm->bootstrap->peers[peer].pid);
  else
    snprintf(buf, len, "rank %d", peer);
}

void weft_comm_fail(struct weftComm *comm, weftResult_t res) {
  weftResult_t expect = weftSuccess;
  atomic_compare_exchange_strong(&comm->async_error, &expect, res);
  weft_nodeseg_mark_gone(comm); /* and those waiting in the node segment see that */
  weft_comm_close_peers(comm); /* peers blocked on us see the connection drop */
}

static weftResult_t read_config(struct weftComm *c, const weftConfig_t *cfg, const struct weftComm *parent) {
  if (cfg && (cfg->magic != WEFT_CONFIG_MAGIC || cfg->size < sizeof(size_t) * 2))
    return weft_error(NULL, weftInvalidArgument,
                      "config was not initialized with WEFT_CONFIG_INITIALIZER");
  c->timeout_ms = parent ? parent->timeout_ms : weft_env_timeout_ms();
  c->log_level = parent ? parent->log_level : weft_log_default_level();
  c->tune.direct_threshold = weft_env_size("WEFT_DIRECT_THRESHOLD", 64 << 10);
  c->tune.tree_threshold = weft_env_size("WEFT_TREE_THRESHOLD", 64 << 10);
  c->tune.rooted_threshold = weft_env_size("WEFT_TREE_THRESHOLD_ROOTED", 256 << 10);
  c->tune.chunk_bytes = weft_env_size("WEFT_CHUNK_SIZE", 0);
  c->tune.spin_us = (double)weft_env_int("WEFT_SPIN_US", 50);
  c->tune.stripe_min = weft_env_size("WEFT_STRIPE_MIN", 256 << 10);
  if (c->tune.stripe_min < 4096) c->tune.stripe_min = 4096;
  c->tune.wan_streams = weft_env_int("WEFT_WAN_STREAMS", 0);
  if (c->tune.wan_streams < 0 || c->tune.wan_streams > WEFT_MAX_STREAMS)
    return weft_error(NULL, weftInvalidArgument, "WEFT_WAN_STREAMS must be 0 (from the link) to %d, got %d",
                      WEFT_MAX_STREAMS, c->tune.wan_streams);
  if (parent) {
    weft_tune_inherit(&c->tune, &parent->tune);
    c->log_cb = parent->log_cb;
    c->log_user = parent->log_user;
    memcpy(c->algo_override, parent->algo_override, sizeof c->algo_override);
    memcpy(c->site, parent->site, sizeof c->site);
    memcpy(c->topo_file, parent->topo_file, sizeof c->topo_file);
  } else {
    const char *a = weft_env("WEFT_ALGO");
    if (a) snprintf(c->algo_override, sizeof c->algo_override, "%s", a);
    const char *site = weft_env("WEFT_SITE"), *topo = weft_env("WEFT_TOPO_FILE");
    if (site) snprintf(c->site, sizeof c->site, "%s", site);
    if (topo) snprintf(c->topo_file, sizeof c->topo_file, "%s", topo);
  }
  const char *net = weft_env("WEFT_NET"), *codec = parent ? parent->tune.codec.want : weft_env("WEFT_CODEC");
  if (cfg && cfg->codec) codec = cfg->codec;
  if (codec && codec[0]) {
    weft_codec_id id;
    if (strcasecmp(codec, "auto") != 0 && weft_codec_parse(codec, &id) != 0)
      return weft_error(NULL, weftInvalidArgument,
                        "unknown codec '%s' (WEFT_CODEC: none, fp16, bf16, int8, topk, zstd or auto)", codec);
    if (strcasecmp(codec, "auto") != 0 && !weft_codec_available(id))
      return weft_error(NULL, weftInvalidArgument, "codec '%s' is not available: this libweft was built without it",
                        codec);
    snprintf(c->tune.codec.want, sizeof c->tune.codec.want, "%s", codec);
  }
  if (cfg) {
    if (cfg->timeoutMs != WEFT_CONFIG_UNDEF_INT) {
      if (cfg->timeoutMs <= 0)
        return weft_error(NULL, weftInvalidArgument, "config timeoutMs must be > 0 (got %d)", cfg->timeoutMs);
      c->timeout_ms = cfg->timeoutMs;
    }
    if (cfg->logLevel != WEFT_CONFIG_UNDEF_INT) c->log_level = cfg->logLevel;
    if (cfg->logCallback) {
      c->log_cb = cfg->logCallback;
      c->log_user = cfg->logUser;
    }
    if (cfg->algo) snprintf(c->algo_override, sizeof c->algo_override, "%s", cfg->algo);
    if (cfg->siteName) snprintf(c->site, sizeof c->site, "%s", cfg->siteName);
    if (cfg->topoFile) snprintf(c->topo_file, sizeof c->topo_file, "%s", cfg->topoFile);
    if (cfg->netName) net = cfg->netName;
    if (cfg->blocking == 0)
      return weft_error(NULL, weftInvalidArgument, "nonblocking communicator init is not supported yet");
  }
  c->tune.forced = weft_algo_parse(c->algo_override[0] ? c->algo_override : NULL);
  if (c->algo_override[0] && c->tune.forced == ALGO_NONE)
    return weft_error(NULL, weftInvalidArgument, "unknown algorithm '%s' (WEFT_ALGO: ring, tree, rhd, direct, hier or slots)",
                      c->algo_override);
  char err[512];
  if (weft_net_registry_init(err, sizeof err) != weftSuccess) return weft_error(NULL, weftInvalidUsage, "%s", err);
  if (net && !weft_net_find(net))
    return weft_error(NULL, weftInvalidArgument, "unknown transport '%s' (WEFT_NET: this libweft has %s)", net,
                      weft_net_names());
  if (net) snprintf(c->net_force, sizeof c->net_force, "%s", net);
  return weftSuccess;
}

static weftResult_t comm_alloc(struct weftComm **out, int rank, int nranks, const weftConfig_t *cfg,
                               const struct weftComm *parent) {
  struct weftComm *c = calloc(1, sizeof *c);
  if (!c) return weft_error(NULL, weftSystemError, "out of memory");
  c->rank = rank;
  c->nranks = nranks;
  pthread_mutex_init(&c->err_mu, NULL);
  weftResult_t r = read_config(c, cfg, parent);
  if (r == weftSuccess) c->peers = calloc((size_t)nranks, sizeof *c->peers);
  if (r == weftSuccess && !c->peers) r = weft_error(NULL, weftSystemError, "out of memory");
  if (r != weftSuccess) {
    pthread_mutex_destroy(&c->err_mu);
    free(c->peers);
    free(c);
    return r;
  }
  *out = c;
  return weftSuccess;
}

static void comm_free(struct weftComm *c) {
  weft_engine_stop(c);
  weft_nodeseg_destroy(c);
  weft_comm_close_peers(c);
  weft_comm_close_nets(c);
  weft_bootstrap_close(c->bootstrap);
  weft_layout_free(&c->layout);
  weft_tune_free(&c->tune);
  pthread_mutex_destroy(&c->err_mu);
  weft_comm_free_peers(c);
  c->magic = 0;
  free(c);
}

/* Connects, then starts the progress thread: the comm is usable after this. */
static weftResult_t comm_start(struct weftComm *c) {
  weftResult_t res = weft_layout_build(c);
  const weft_tune_inputs tin = {c->rank, c->nranks, &c->layout.nodes, &c->layout.sites, c->layout.graph, c};
  if (res == weftSuccess && weft_tune_init(&c->tune, &tin) != 0)
    res = weft_error(NULL, weftSystemError, "out of memory");
  if (res == weftSuccess) res = weft_comm_connect(c);
  if (res == weftSuccess) res = weft_nodeseg_create(c);
  if (res == weftSuccess && c->nodeseg) weft_tune_segment(&c->tune, c->nodeseg->max_bytes, c->nodeseg->n);
  if (res != weftSuccess) return res;
  if ((res = weft_engine_start(c)) != weftSuccess) return weft_error(NULL, res, "cannot start the progress thread");
  c->magic = WEFT_COMM_MAGIC;
  WEFT_INFO(c, "communicator ready: %d ranks, transport %s, timeout %d ms%s%s", c->nranks, c->net_desc,
            c->timeout_ms, c->algo_override[0] ? ", algorithm forced to " : "", c->algo_override);
  return weftSuccess;
}

WEFT_API weftResult_t weftCommInitRankConfig(weftComm_t *comm, int nranks, weftUniqueId commId,
                                             int rank, weftConfig_t *config) {
  if (!comm) return weft_error(NULL, weftInvalidArgument, "weftCommInitRank: comm is NULL");
  *comm = NULL;
  if (nranks < 1) return weft_error(NULL, weftInvalidArgument, "weftCommInitRank: nranks %d < 1", nranks);
  if (rank < 0 || rank >= nranks)
    return weft_error(NULL, weftInvalidArgument, "weftCommInitRank: rank %d not in [0, %d)", rank, nranks);
  weft_id_internal id;
  memcpy(&id, commId.internal, sizeof id);
  if (id.magic != WEFT_ID_MAGIC)
    return weft_error(NULL, weftInvalidArgument, "weftCommInitRank: commId is not from weftGetUniqueId");
  struct weftComm *c;
  weftResult_t res = comm_alloc(&c, rank, nranks, config, NULL);
  if (res != weftSuccess) return res;
  memcpy(c->secret, id.secret, sizeof c->secret);
  char err[WEFT_SOCK_ERRLEN];
  res = weft_bootstrap_init(&id, rank, nranks, c->timeout_ms, &c->bootstrap, err);
  if (res != weftSuccess) weft_error(NULL, res, "rank %d/%d: %s", rank, nranks, err);
  else res = comm_start(c);
  if (res != weftSuccess) {
    comm_free(c);
    return res;
  }
  *comm = c;
  return weftSuccess;
}

WEFT_API weftResult_t weftCommInitRank(weftComm_t *comm, int nranks, weftUniqueId commId, int rank) {
  return weftCommInitRankConfig(comm, nranks, commId, rank, NULL);
}

typedef struct {
  weftComm_t *slot;
  int nranks, rank;
  weftUniqueId id;
  weftResult_t res;
  char err[WEFT_ERRMSG_LEN];
} init_all_arg;

static void *init_all_main(void *p) {
  init_all_arg *a = p;
  a->res = weftCommInitRank(a->slot, a->nranks, a->id, a->rank);
  if (a->res != weftSuccess) snprintf(a->err, sizeof a->err, "%s", weft_thread_error());
  return NULL;
}

WEFT_API weftResult_t weftCommInitAll(weftComm_t *comms, int ndev, const int *devlist) {
  (void)devlist; /* host backend: every rank is the host */
  if (!comms || ndev < 1)
    return weft_error(NULL, weftInvalidArgument, "weftCommInitAll: need comms and ndev >= 1");
  weftUniqueId id;
  weftResult_t res = weftGetUniqueId(&id);
  if (res != weftSuccess) return res;
  init_all_arg *args = calloc((size_t)ndev, sizeof *args);
  pthread_t *th = calloc((size_t)ndev, sizeof *th);
  if (!args || !th) {
    free(args);
    free(th);
    return weft_error(NULL, weftSystemError, "out of memory");
  }
  int started = 0;
  for (int i = 0; i < ndev; i++) comms[i] = NULL;
  for (int i = 0; i < ndev; i++) {
    args[i] = (init_all_arg){&comms[i], ndev, i, id, weftSuccess, ""};
    if (pthread_create(&th[i], NULL, init_all_main, &args[i]) != 0) {
      args[i].res = weft_error(NULL, weftSystemError, "weftCommInitAll: cannot start thread %d", i);
      break;
    }
    started++;
  }
  for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
  res = weftSuccess;
  for (int i = 0; i < ndev; i++)
    if (args[i].res != weftSuccess && res == weftSuccess) {
      res = args[i].res;
      weft_set_thread_error(args[i].err);
    }
  if (res != weftSuccess)
    for (int i = 0; i < started; i++)
      if (args[i].res == weftSuccess) weftCommDestroy(comms[i]), comms[i] = NULL;
  free(args);
  free(th);
  return res;
}

WEFT_API weftResult_t weftCommDestroy(weftComm_t comm) {
  if (!comm) return weftSuccess; /* as free(NULL) */
  weftResult_t r = weft_comm_check(comm);
  if (r != weftSuccess) return r;
  comm_free(comm); /* weft_engine_stop drains outstanding ops first */
  return weftSuccess;
}

WEFT_API weftResult_t weftCommAbort(weftComm_t comm) {
  if (!comm) return weftSuccess;
  weftResult_t r = weft_comm_check(comm);
  if (r != weftSuccess) return r;
  atomic_store(&comm->aborted, 1);
  /* Let calls blocked in other threads notice the flag and leave. */
  long long deadline = weft_now_ms() + comm->timeout_ms + 1000;
  while (atomic_load(&comm->active_calls) > 0 && weft_now_ms() < deadline) usleep(1000);
  if (atomic_load(&comm->active_calls) > 0) {
    return weft_error(comm, weftInternalError, "weftCommAbort: %d calls did not return in time; comm not freed",
                      atomic_load(&comm->active_calls));
  }
  comm_free(comm);
  return weftSuccess;
}

WEFT_API weftResult_t weftCommGetAsyncError(weftComm_t comm, weftResult_t *asyncError) {
  weftResult_t r = weft_comm_check(comm);
  if (r != weftSuccess) return r;
  if (!asyncError) return weft_error(comm, weftInvalidArgument, "weftCommGetAsyncError: asyncError is NULL");
  *asyncError = atomic_load(&comm->async_error);
  if (*asyncError == weftSuccess && atomic_load(&comm->aborted)) *asyncError = weftAborted;
  return weftSuccess;
}

WEFT_API weftResult_t weftCommCount(const weftComm_t comm, int *count) {
  weftResult_t r = weft_comm_check(comm);
  if (r != weftSuccess) return r;
  if (!count) return weft_error(comm, weftInvalidArgument, "weftCommCount: count is NULL");
  *count = comm->nranks;
  return weftSuccess;
}

WEFT_API weftResult_t weftCommUserRank(const weftComm_t comm, int *rank) {
  weftResult_t r = weft_comm_check(comm);
  if (r != weftSuccess) return r;
  if (!rank) return weft_error(comm, weftInvalidArgument, "weftCommUserRank: rank is NULL");
  *rank = comm->rank;
  return weftSuccess;
}

WEFT_API const char *weftGetLastError(weftComm_t comm) {
  if (!comm || comm->magic != WEFT_COMM_MAGIC) return weft_thread_error();
  return comm->last_error;
}

/* ---- split ---------------------------------------------------------------- */

typedef struct {
  int32_t color, key, rank;
  weft_rank_info info;
} split_entry;

static int split_cmp(const void *a, const void *b) {
  const split_entry *x = a, *y = b;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  return x->rank < y->rank ? -1 : x->rank > y->rank;
}

WEFT_API weftResult_t weftCommSplit(weftComm_t comm, int color, int key, weftComm_t *newcomm,
                                    weftConfig_t *config) {
  weftResult_t res = weft_comm_check(comm);
  if (res != weftSuccess) return res;
  if (!newcomm) return weft_error(comm, weftInvalidArgument, "weftCommSplit: newcomm is NULL");
  *newcomm = NULL;
  if (color < 0 && color != WEFT_SPLIT_NOCOLOR)
    return weft_error(comm, weftInvalidArgument, "weftCommSplit: color %d must be >= 0 or WEFT_SPLIT_NOCOLOR", color);
  weftResult_t sticky = atomic_load(&comm->async_error);
  if (sticky != weftSuccess) return weft_error(comm, sticky, "weftCommSplit: communicator already failed");
  int n = comm->nranks;
  char err[WEFT_SOCK_ERRLEN];
  split_entry *all = calloc((size_t)n, sizeof *all);
  weft_rank_info *table = calloc((size_t)n, sizeof *table);
  if (!all || !table) {
    free(all);
    free(table);
    return weft_error(comm, weftSystemError, "out of memory");
  }
  int lfd = -1;
  split_entry *me = &all[comm->rank];
  me->color = color;
  me->key = key;
  me->rank = comm->rank;
  if (color != WEFT_SPLIT_NOCOLOR &&
      weft_bootstrap_prepare_listener(&comm->bootstrap->peers[comm->rank].addr, &me->info, &lfd, err) != 0) {
    /* still take part in the exchange so the others do not wait for us */
    me->color = -2;
    res = weftSystemError;
  }
  weftResult_t xr = weft_bootstrap_allgather(comm->bootstrap, all, sizeof *all, err);
  uint64_t split_id = ++comm->split_count;
  if (xr != weftSuccess) res = weft_error(comm, xr, "weftCommSplit: %s", err);
  else if (res != weftSuccess) res = weft_error(comm, res, "weftCommSplit: %s", err);
  for (int i = 0; i < n && res == weftSuccess; i++)
    if (all[i].color == -2) res = weft_error(comm, weftRemoteError, "weftCommSplit: rank %d failed to prepare", i);
  if (res != weftSuccess || color == WEFT_SPLIT_NOCOLOR) {
    if (lfd >= 0) close(lfd);
    free(all);
    free(table);
    return res;
  }
  int m = 0;
  for (int i = 0; i < n; i++)
    if (all[i].color == color) all[m++] = all[i];
  qsort(all, (size_t)m, sizeof *all, split_cmp);
  int newrank = 0;
  for (int i = 0; i < m; i++) {
    table[i] = all[i].info;
    table[i].rank = i;
    if (all[i].rank == comm->rank) newrank = i;
  }
  struct weftComm *c;
  res = comm_alloc(&c, newrank, m, config, comm);
  if (res == weftSuccess) {
    /* child secret: the parent's, mixed with the split number and color */
    memcpy(c->secret, comm->secret, 16);
    uint64_t mix[2] = {split_id * 0x9E3779B97F4A7C15ULL, (uint64_t)(uint32_t)color * 0xC2B2AE3D27D4EB4FULL + 1};
    for (int i = 0; i < 16; i++) c->secret[i] ^= ((uint8_t *)mix)[i];
    res = weft_bootstrap_from_table(lfd, table, newrank, m, c->secret, c->timeout_ms, &c->bootstrap, err);
    lfd = -1;
    if (res != weftSuccess) weft_error(comm, res, "weftCommSplit: %s", err);
    else res = comm_start(c);
    if (res != weftSuccess) comm_free(c);
    else *newcomm = c;
  }
  if (lfd >= 0) close(lfd);
  free(all);
  free(table);
  return res;
}
