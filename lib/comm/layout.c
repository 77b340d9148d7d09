#include "comm/layout.h"
#include "coll/algo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootstrap/bootstrap.h"
#include "comm/comm.h"
#include "comm/comm_log.h"
#include "device/device.h"
#include "util/clock.h"
#include "util/param.h"
#include "topo/dump.h"
#include "topo/file.h"
#include "topo/graph.h"
#include "topo/hw.h"
#include "tune/graph_model.h"
#include "tune/tune.h"

static void dump_topology(struct weftComm *c, const char *path) {
  char err[512];
  weft_hwinfo hw;
  if (weft_hw_discover(&hw, err, sizeof err) == 0)
    weft_graph_set_node_hw(c->layout.graph, weft_graph_node_of_rank(c->layout.graph, c->rank), &hw);
  if (weft_topo_dump_path(c->layout.graph, path, err, sizeof err) != 0)
    WEFT_WARN(c, "WEFT_TOPO_DUMP_FILE: %s", err);
  else
    WEFT_INFO(c, "topology written to %s", path);
}

/* Copy bandwidth of a discrete device, measured once: a 4 MiB buffer of the
 * device copied to the host and back (a few ms). 0 when the backend cannot
 * make buffers (memAlloc) or the copies fail: the tuner then assumes. */
#define PROBE_BYTES (4u << 20)
static double measure_copy_gbps(struct weftComm *c) {
  weft_dev *d = c->device;
  void *buf = NULL, *host = malloc(PROBE_BYTES);
  double gbps = 0;
  char err[256];
  if (host && d->ops->memAlloc && d->ops->memFree && d->ops->memAlloc(d->ctx, PROBE_BYTES, &buf) == weftSuccess) {
    memset(host, 1, PROBE_BYTES);
    /* the first copy pays for first touches: not timed */
    if (weft_dev_copy_sync(d, buf, 0, host, PROBE_BYTES, 0, c->timeout_ms, err, sizeof err) == weftSuccess) {
      double t0 = weft_now_us();
      if (weft_dev_copy_sync(d, buf, 0, host, PROBE_BYTES, 1, c->timeout_ms, err, sizeof err) == weftSuccess &&
          weft_dev_copy_sync(d, buf, 0, host, PROBE_BYTES, 0, c->timeout_ms, err, sizeof err) == weftSuccess) {
        double us = weft_now_us() - t0;
        gbps = us > 0 ? 2.0 * PROBE_BYTES / (us * 1e3) : 0;
      }
    }
    d->ops->memFree(d->ctx, buf);
  }
  free(host);
  return gbps;
}

/* Speed of the backend's reduce kernel, measured once when the tuner may use
 * it (WEFT_DEVICE_REDUCE not off) and the backend does not say: fp32 sums of
 * 1 MiB operands in a device buffer, one untimed (it may build the kernels),
 * then four, GB/s of results as weft_devtable_measure_host_reduce counts
 * them. 0 when the device cannot (memAlloc, fp32 refused) or fails. */
#define RPROBE_BYTES (1u << 20)
/* reps fp32 sums of buf's first two MiB into its third, then a wait. */
static int probe_reduces(weft_dev *d, void *stream, void *buf, int reps, int timeout_ms) {
  size_t n = RPROBE_BYTES / sizeof(float);
  for (int k = 0; k < reps; k++)
    if (d->ops->reduce(d->ctx, stream, buf, 2 * RPROBE_BYTES, buf, 0, buf, RPROBE_BYTES, n, weftFloat32, weftSum) !=
        weftSuccess)
      return 0;
  void *ev = NULL;
  char err[256];
  if (d->ops->eventRecord(d->ctx, stream, &ev) != weftSuccess) return 0;
  int ok = weft_dev_wait(d, ev, timeout_ms, NULL, "measuring the reduce kernel", err, sizeof err) == weftSuccess;
  d->ops->eventDestroy(d->ctx, ev);
  return ok;
}

static double measure_reduce_gbps(struct weftComm *c) {
  weft_dev *d = c->device;
  void *buf = NULL, *stream = NULL;
  double gbps = 0;
  if (!d->ops->memAlloc || !d->ops->memFree || d->ops->memAlloc(d->ctx, 3 * RPROBE_BYTES, &buf) != weftSuccess)
    return 0;
  if (d->ops->streamCreate(d->ctx, &stream) == weftSuccess) {
    if (probe_reduces(d, stream, buf, 1, c->timeout_ms)) {
      double t0 = weft_now_us();
      if (probe_reduces(d, stream, buf, 4, c->timeout_ms)) {
        double us = weft_now_us() - t0;
        gbps = us > 0 ? 4.0 * RPROBE_BYTES / (us * 1e3) : 0;
      }
    }
    d->ops->streamDestroy(d->ctx, stream);
  }
  d->ops->memFree(d->ctx, buf);
  return gbps;
}

/* This rank's entry of the device table. */
static void own_device(struct weftComm *c, weft_dev_entry *e) {
  weft_dev *d = c->device;
  memset(e, 0, sizeof *e);
  snprintf(e->backend, sizeof e->backend, "%s", d ? d->name : "host");
  if (weft_dev_is_host(d)) return;
  e->kind = weft_dev_maps(d) ? WEFT_DEVK_UNIFIED : WEFT_DEVK_DISCRETE;
  /* measured only where auto may pick the kernels: a discrete device (a
   * unified one maps, and its host kernels then reduce in place; the probe
   * also trips PoCL on SVM buffers: pocl_util.c refcount assertion) */
  if (weft_dev_reduces(d))
    e->reduce_gbps = d->props.reduceGBps > 0 ? d->props.reduceGBps
                     : weft_tune_device_reduce_mode() == WEFT_DEVRED_AUTO && e->kind == WEFT_DEVK_DISCRETE
                         ? measure_reduce_gbps(c)
                         : 0;
  e->copy_gbps = d->props.copyGBps > 0 ? d->props.copyGBps : e->kind == WEFT_DEVK_DISCRETE ? measure_copy_gbps(c) : 0;
}

/* What each rank tells the others at init: its site name, its device's
 * line for people (comm/locality.c) and its device table entry. */
typedef struct {
  char site[64];
  char where[WEFT_DEV_WHERE_LEN];
  unsigned char dev[WEFT_DEV_WIRE_BYTES];
} rank_card;

weftResult_t weft_layout_build(struct weftComm *c) {
  int n = c->nranks;
  weft_layout *l = &c->layout;
  char err[1024];
  rank_card *cards = calloc((size_t)n, sizeof *cards);
  l->devs = calloc((size_t)n, sizeof *l->devs);
  weft_rank_desc *desc = calloc((size_t)n, sizeof *desc);
  weft_topo *file = NULL;
  l->mem = calloc(WEFT_GRAPH_GROUPS_MEM(n), sizeof(int));
  weftResult_t res = weftSuccess;
  if (!cards || !desc || !l->mem || !l->devs) res = weft_error(NULL, weftSystemError, "out of memory");
  if (res == weftSuccess) {
    snprintf(cards[c->rank].site, sizeof cards->site, "%s", c->site);
    memcpy(cards[c->rank].where, c->dev_where, sizeof cards->where);
    own_device(c, &l->devs[c->rank]);
    weft_dev_entry_pack(&l->devs[c->rank], cards[c->rank].dev);
    if (n > 1 && (res = weft_bootstrap_allgather(c->bootstrap, cards, sizeof *cards, err)) != weftSuccess)
      weft_error(NULL, res, "%s", err);
  }
  /* what peers sent is checked before use */
  for (int r = 0; r < n && res == weftSuccess; r++) {
    if (!memchr(cards[r].site, 0, sizeof cards->site)) {
      res = weft_error(NULL, weftRemoteError, "rank %d sent a site name that is not terminated", r);
      break;
    }
    cards[r].where[sizeof cards->where - 1] = 0;
    char why[160];
    if (weft_dev_entry_unpack(cards[r].dev, &l->devs[r], why, sizeof why) != 0)
      res = weft_error(NULL, weftRemoteError, "rank %d sent a bad device entry: %s", r, why);
  }
  /* every rank reads the file: it must be the same everywhere */
  if (res == weftSuccess && c->topo_file[0] &&
      weft_topo_parse_file(c->topo_file, weft_algo_rule_names(), &file, err, sizeof err) != 0)
    res = weft_error(NULL, weftInvalidArgument, "topology file: %s", err);
  if (res == weftSuccess) {
    for (int r = 0; r < n; r++)
      desc[r] = (weft_rank_desc){c->bootstrap->peers[r].host, c->bootstrap->peers[r].host_id, cards[r].site};
    if (weft_graph_build(desc, n, file, &l->graph, err, sizeof err) != 0)
      res = weft_error(NULL, weftInvalidArgument, "topology: %s", err);
    else if (c->rank == 0 && weft_graph_file_mismatch(l->graph, file, err, sizeof err))
      weft_log_to(&c->log, weftLogWarn, "topology file %s: %s", c->topo_file, err);
  }
  for (int r = 0; res == weftSuccess && r < n; r++) {
    if (cards[r].where[0]) weft_graph_set_rank_where(l->graph, r, cards[r].where); /* display only */
  }
  if (res == weftSuccess) {
    weft_graph_groups(l->graph, &l->nodes, &l->sites, l->mem);
    int site = weft_graph_site_of_rank(l->graph, c->rank);
    WEFT_INFO(c, "layout: %d ranks on %d nodes in %d sites%s%s (this rank: node %d, site %s)", n, l->nodes.ngroups,
              l->sites.ngroups, file ? ", topology file " : "", file ? c->topo_file : "", l->nodes.group_of[c->rank],
              weft_graph_site_name(l->graph, site));
    const char *dump = weft_env("WEFT_TOPO_DUMP_FILE");
    if (dump && c->rank == 0) dump_topology(c, dump);
  }
  weft_topo_free(file);
  free(cards);
  free(desc);
  return res;
}

void weft_layout_free(weft_layout *l) {
  weft_graph_free(l->graph);
  free(l->mem);
  free(l->devs);
  memset(l, 0, sizeof *l);
}
