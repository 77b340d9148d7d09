/* The communicator object: configuration from the config and environment,
 * creation and release of what it owns, failure marking, peer names. Its
 * lifecycle as the API drives it (init, split, destroy) is in lib/api/. */
#include "comm/comm.h"
#include "util/crypto.h"

#include <arpa/inet.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bootstrap/bootstrap.h"
#include "coll/algo.h"
#include "comm/comm_log.h"
#include "comm/fault.h"
#include "comm/netreg.h"
#include "device/device.h"
#include "util/param.h"
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

void weft_comm_suspect(struct weftComm *comm, int peer) { comm->suspect = peer; }

/* Finds or decides the origin of a failure seen here (fault.h). */
static void find_origin(struct weftComm *c, weftResult_t res, const char *what, weft_fault_origin *o) {
  int peer = c->suspect;
  c->suspect = -1;
  memset(o, 0, sizeof *o);
  if (weft_fault_await(c, 0, o)) return;
  if (res == weftAborted && atomic_load(&c->aborted)) {
    weft_fault_origin_of(c, c->rank, WEFT_FAULT_ABORTED, res, "%s", what);
  } else if ((res == weftRemoteError || res == weftTimeout) && weft_fault_await(c, weft_fault_grace_ms(c), o)) {
    return; /* a peer's failure: its origin came */
  } else if (res == weftRemoteError && peer >= 0 && peer != c->rank) {
    weft_fault_origin_of(c, peer, WEFT_FAULT_CLOSED, weftRemoteError, "seen by rank %d: %s", c->rank, what);
  } else {
    weft_fault_origin_of(c, c->rank, res == weftTimeout ? WEFT_FAULT_TIMEOUT : WEFT_FAULT_REPORTED, res, "%s", what);
  }
  weft_fault_await(c, 0, o); /* the first origin known: this one, or one that came meanwhile */
}

weftResult_t weft_comm_failed_call(struct weftComm *c, weftResult_t sticky, const char *fn) {
  weft_fault_origin o;
  if (!weft_fault_await(c, 0, &o)) return weft_error(c, sticky, "%s: communicator already failed", fn);
  char text[WEFT_ERRMSG_LEN];
  weft_fault_describe(&o, text, sizeof text);
  return weft_error(c, sticky, "%s; here: %s: communicator already failed", text, fn);
}

weftResult_t weft_comm_fail_op(struct weftComm *c, weftResult_t res, const char *what, char *msg, size_t len) {
  weft_fault_origin o;
  find_origin(c, res, what, &o);
  if (c->fault) weft_fault_describe(&o, msg, len);
  else snprintf(msg, len, "%s", what); /* fault state could not be allocated */
  if (c->fault && (o.rank != c->rank || strcmp(o.msg, what) != 0))
    snprintf(msg + strlen(msg), len - strlen(msg), "; here: %s", what);
  weftResult_t expect = weftSuccess;
  atomic_compare_exchange_strong(&c->async_error, &expect, res);
  if (c->on_fail) c->on_fail(c); /* e.g. those waiting in the node segment see it */
  weft_comm_close_peers(c);      /* peers blocked on us see the connection drop */
  return res;
}

void weft_comm_exec_view(struct weftComm *c, weft_exec_view *v) {
  *v = (weft_exec_view){.comm = c,
                        .log = &c->log,
                        .device = c->device,
                        .peers = c->peers,
                        .nodeseg = c->nodeseg,
                        .rank = c->rank,
                        .nranks = c->nranks,
                        .timeout_ms = c->timeout_ms,
                        .spin_us = c->tune.spin_us,
                        .yield_after_us = c->tune.yield_after_us,
                        .oversubscribed = c->tune.oversubscribed,
                        .stripe_min = c->tune.stripe_min,
                        .aborted = &c->aborted,
                        .async_error = &c->async_error,
                        .trace = c->trace,
                        .site_of = c->layout.sites.group_of,
                        .node_of = c->layout.nodes.group_of,
                        .stats = &c->stats};
}

/* Whether a config from a program built against an older weft.h has field. */
#define CFG_HAS(cfg, field) ((cfg)->size >= offsetof(weftConfig_t, field) + sizeof((cfg)->field))

/* The device choice: config, else the parent's (a split child opens the same
 * device again), else WEFT_DEVICE, else host. Checked here (syntax, known
 * backend, WEFT_DEVICE_PLUGIN refusals) so that a bad choice fails before
 * the rendezvous; opened in weft_comm_start. */
static weftResult_t read_device(struct weftComm *c, const weftConfig_t *cfg, const struct weftComm *parent) {
  const char *want = NULL, *who = "WEFT_DEVICE";
  if (cfg && CFG_HAS(cfg, device) && cfg->device) want = cfg->device, who = "config device";
  else if (parent) want = parent->device_want, who = "the parent comm's device";
  else want = weft_env("WEFT_DEVICE");
  if (!want) want = "host";
  if (strlen(want) >= sizeof c->device_want)
    return weft_error(NULL, weftInvalidArgument, "%s '%.40s...' is too long", who, want);
  snprintf(c->device_want, sizeof c->device_want, "%s", want);
  c->device_native = parent ? parent->device_native : NULL;
  if (cfg && CFG_HAS(cfg, deviceNative) && cfg->deviceNative) c->device_native = cfg->deviceNative;
  char err[512];
  weft_device_choice choice;
  const weftDevice_t *ops;
  weftResult_t r = weft_device_lookup(want, who, &choice, &ops, err, sizeof err);
  return r == weftSuccess ? r : weft_error(NULL, r, "%s", err);
}

static weftResult_t read_config(struct weftComm *c, const weftConfig_t *cfg, const struct weftComm *parent) {
  if (cfg && (cfg->magic != WEFT_CONFIG_MAGIC || cfg->size < sizeof(size_t) * 2))
    return weft_error(NULL, weftInvalidArgument,
                      "config was not initialized with WEFT_CONFIG_INITIALIZER");
  char why[200];
  /* a refused WEFT_TIMEOUT fails init unless the config sets the timeout */
  int bad_timeout = weft_env_timeout_check(&c->timeout_ms, why, sizeof why) != 0;
  if (parent) c->timeout_ms = parent->timeout_ms;
  if (bad_timeout && !parent && !(cfg && cfg->timeoutMs != WEFT_CONFIG_UNDEF_INT))
    return weft_error(NULL, weftInvalidArgument, "%s", why);
  if (parent) c->log.level = parent->log.level;
  weft_tune_settings_env(&c->tune);
  const char *ws = weft_env("WEFT_WAN_STREAMS");
  int64_t wan = 0;
  if (ws && weft_parse_int(ws, 0, WEFT_MAX_STREAMS, &wan, why, sizeof why) != 0)
    return weft_error(NULL, weftInvalidArgument, "WEFT_WAN_STREAMS: %s (0: from the link, up to %d streams)", why,
                      WEFT_MAX_STREAMS);
  c->tune.wan_streams = (int)wan;
  if (parent) {
    weft_tune_inherit(&c->tune, &parent->tune);
    c->log.cb = parent->log.cb;
    c->log.user = parent->log.user;
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
  /* a split child keeps its parent's choice unless its config says otherwise */
  const char *crypto = parent ? NULL : weft_env("WEFT_CRYPTO"), *crypto_from = "WEFT_CRYPTO";
  if (cfg && CFG_HAS(cfg, crypto) && cfg->crypto) crypto = cfg->crypto, crypto_from = "config crypto";
  if (!crypto && parent) c->crypto = parent->crypto;
  else if (!crypto || !crypto[0] || strcasecmp(crypto, "auto") == 0) c->crypto = WEFT_CRYPTO_AUTO;
  else if (strcasecmp(crypto, "on") == 0) c->crypto = WEFT_CRYPTO_ON;
  else if (strcasecmp(crypto, "off") == 0) c->crypto = WEFT_CRYPTO_OFF;
  else
    return weft_error(NULL, weftInvalidArgument, "%s: '%s' is not auto, on or off", crypto_from, crypto);
  const char *lazy = parent ? NULL : weft_env("WEFT_CONNECT");
  if (parent) c->connect_eager = parent->connect_eager;
  else if (!lazy || !lazy[0] || strcasecmp(lazy, "lazy") == 0) c->connect_eager = 0;
  else if (strcasecmp(lazy, "eager") == 0) c->connect_eager = 1;
  else return weft_error(NULL, weftInvalidArgument, "WEFT_CONNECT: '%s' is not lazy or eager", lazy);
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
    if (cfg->logLevel != WEFT_CONFIG_UNDEF_INT) c->log.level = cfg->logLevel;
    if (cfg->logCallback) {
      c->log.cb = cfg->logCallback;
      c->log.user = cfg->logUser;
    }
    if (cfg->algo) snprintf(c->algo_override, sizeof c->algo_override, "%s", cfg->algo);
    if (cfg->siteName) snprintf(c->site, sizeof c->site, "%s", cfg->siteName);
    if (cfg->topoFile) snprintf(c->topo_file, sizeof c->topo_file, "%s", cfg->topoFile);
    if (cfg->netName) net = cfg->netName;
    if (cfg->blocking == 0)
      return weft_error(NULL, weftInvalidArgument, "nonblocking communicator init is not supported yet");
  }
  c->tune.forced = weft_algo_parse(c->algo_override[0] ? c->algo_override : NULL);
  if (c->algo_override[0] && c->tune.forced == ALGO_NONE) {
    char names[160];
    weft_algo_names(names, sizeof names);
    return weft_error(NULL, weftInvalidArgument, "unknown algorithm '%s' (WEFT_ALGO: %s)", c->algo_override, names);
  }
  char err[512];
  if (weft_net_registry_init(err, sizeof err) != weftSuccess) return weft_error(NULL, weftInvalidUsage, "%s", err);
  if (net && !weft_net_find(net))
    return weft_error(NULL, weftInvalidArgument, "unknown transport '%s' (WEFT_NET: this libweft has %s)", net,
                      weft_net_names());
  if (net) snprintf(c->net_force, sizeof c->net_force, "%s", net);
  return read_device(c, cfg, parent);
}

weftResult_t weft_comm_new(struct weftComm **out, int rank, int nranks, const weftConfig_t *cfg,
                               const struct weftComm *parent) {
  struct weftComm *c = calloc(1, sizeof *c);
  if (!c) return weft_error(NULL, weftSystemError, "out of memory");
  c->rank = rank;
  c->nranks = nranks;
  c->suspect = -1;
  weft_log_sink_init(&c->log, rank, nranks);
  weftResult_t r = read_config(c, cfg, parent);
  if (r == weftSuccess && weft_fault_new(c) != 0) r = weft_error(NULL, weftSystemError, "out of memory");
  if (r == weftSuccess) c->peers = calloc((size_t)nranks, sizeof *c->peers);
  if (r == weftSuccess && !c->peers) r = weft_error(NULL, weftSystemError, "out of memory");
  if (r != weftSuccess) {
    weft_fault_free(c);
    weft_log_sink_fini(&c->log);
    free(c->peers);
    free(c);
    return r;
  }
  *out = c;
  return weftSuccess;
}

void weft_comm_release(struct weftComm *c) {
  weft_fault_free(c);
  weft_comm_close_peers(c);
  weft_comm_close_nets(c);
  weft_bootstrap_close(c->bootstrap);
  weft_layout_free(&c->layout);
  weft_dev_close(c->device); /* a stream on its queue may keep it open */
  weft_log_sink_fini(&c->log);
  weft_comm_free_peers(c);
  free(c->encrypt);
  free(c->net_handles);
  weft_wipe(&c->net_key, sizeof c->net_key);
  c->magic = 0;
  weft_wipe(c->key, sizeof c->key);
  free(c);
}

weft_log_sink *weft_comm_log_sink(struct weftComm *comm) { return comm ? &comm->log : NULL; }
