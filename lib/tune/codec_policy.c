/* Which codec the links between sites use, and the error-feedback store.
 *
 * One codec serves every WAN hop of a communicator, because every rank must
 * decode the same bytes to end with the same bits. It comes from, first to
 * last: WEFT_CODEC or the config's codec; the topology file's WAN links
 * (when they differ, the one that compresses most); none. `auto` lets the
 * cost model pick, per message size, between none, bf16 and int8 (lossy
 * codecs are only used when asked for: `auto` is such a request). Codecs
 * apply only to the hierarchical allreduce between sites, to messages of at
 * least WEFT_CODEC_MIN bytes whose type and operation the codec supports,
 * and to the hierarchical reduce-scatter (all codecs but topk, which needs
 * the error feedback only the allreduce keeps). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "comm/comm.h"
#include "comm/comm_log.h"
#include "util/param.h"
#include "reduce/reduce.h"
#include "topo/graph.h"
#include "tune/graph_model.h"
#include "tune/tune.h"

/* Per log2 size, the codec among none, bf16 and int8 whose hierarchical
 * allreduce the model predicts fastest (for fp32 data). */
static void auto_table(struct weftComm *c) {
  static const weft_codec_id cand[] = {WEFT_CODEC_NONE, WEFT_CODEC_BF16, WEFT_CODEC_INT8};
  weft_cost_model m = c->tune.model;
  for (int b = 0; b < WEFT_TUNE_BUCKETS; b++) {
    double best = 0;
    c->codec.table[b] = WEFT_CODEC_NONE;
    for (size_t i = 0; i < sizeof cand / sizeof *cand; i++) {
      weft_cost out;
      m.wan_ratio = weft_codec_ratio(cand[i], &c->codec.params, weftFloat);
      m.codec_bw = cand[i] ? weft_codec_throughput(cand[i]) : 0;
      if (weft_cost_predict(&m, COLL_ALLREDUCE, ALGO_HIER, (size_t)1 << b, &out) != 0) continue;
      if (i == 0 || out.time < best) best = out.time, c->codec.table[b] = (uint8_t)cand[i];
    }
  }
}

void weft_codec_policy_init(struct weftComm *c) {
  weft_codec_params_default(&c->codec.params);
  const char *tr = weft_env("WEFT_TOPK_RATIO");
  double ratio = tr ? strtod(tr, NULL) : 0;
  if (ratio > 0 && ratio <= 1) c->codec.params.topk_ratio = ratio;
  else if (tr) WEFT_WARN(c, "WEFT_TOPK_RATIO=%s ignored: it must be in (0, 1]", tr);
  c->codec.params.zstd_level = (int)weft_env_int("WEFT_ZSTD_LEVEL", c->codec.params.zstd_level);
  c->codec.min_bytes = weft_env_size("WEFT_CODEC_MIN", 64 << 10);
  c->tune.pipe_bytes = weft_env_size("WEFT_HIER_PIPE", 4 << 20);
  c->tune.model.pipe_bytes = c->tune.pipe_bytes;
  c->codec.id = WEFT_CODEC_NONE;
  c->codec.is_auto = 0;
  char name[16];
  snprintf(name, sizeof name, "%s", c->codec.want);
  snprintf(c->codec.source, sizeof c->codec.source, "WEFT_CODEC or the config");
  if (!name[0]) weft_graph_wan_codec(c->layout.graph, name, sizeof name, c->codec.source, sizeof c->codec.source);
  c->tune.model.wan_ratio = 1;
  c->tune.model.codec_bw = 0;
  if (!name[0] || c->layout.sites.ngroups <= 1) return;
  weft_codec_id id = WEFT_CODEC_NONE;
  if (!strcasecmp(name, "auto")) {
    c->codec.is_auto = 1;
    auto_table(c);
  } else if (weft_codec_parse(name, &id) == 0 && weft_codec_available(id)) {
    c->codec.id = id;
  }
  /* the model sees the codec on the WAN (the auto table has its own per size) */
  c->tune.model.wan_ratio = id ? weft_codec_ratio(id, &c->codec.params, weftFloat) : 1;
  c->tune.model.codec_bw = id ? weft_codec_throughput(id) : 0;
  WEFT_INFO(c, "WAN codec %s (from %s) for allreduce between sites of %zu bytes and more", name, c->codec.source,
            c->codec.min_bytes);
}

void weft_codec_choose(const struct weftComm *comm, weft_call *c) {
  c->codec = WEFT_CODEC_NONE;
  c->codec_params = &comm->codec.params;
  c->pipe_bytes = comm->tune.pipe_bytes;
  const weft_layout *l = &comm->layout;
  c->wan = c->groups == &l->sites && l->sites.ngroups > 1;
  size_t bytes = c->count * weft_dtype_size(c->dt);
  int rs = c->kind == COLL_REDUCESCATTER;
  if ((c->kind != COLL_ALLREDUCE && !rs) || l->sites.ngroups <= 1 || bytes < comm->codec.min_bytes) return;
  int id = comm->codec.is_auto ? comm->codec.table[weft_tune_bucket(bytes)] : comm->codec.id;
  if (!id || !weft_codec_supports((weft_codec_id)id, c->dt, c->op)) return;
  if (rs && id == WEFT_CODEC_TOPK) return; /* no error feedback there: topk would just drop data */
  /* codecs ride on the hierarchical algorithm, unless WEFT_ALGO said otherwise */
  if (comm->tune.forced == ALGO_NONE) c->algo = ALGO_HIER;
  if (c->algo != ALGO_HIER || c->groups != &l->sites) return;
  c->codec = id;
}

float *weft_ef_get(struct weftComm *comm, size_t count, weftDataType_t dt) {
  pthread_mutex_lock(&comm->log.mu);
  float *r = NULL;
  for (int i = 0; i < comm->nef && !r; i++)
    if (comm->ef[i].count == count && comm->ef[i].dt == (int)dt) r = comm->ef[i].resid;
  /* a bounded number of shapes: their residuals live as long as the comm,
   * since an op still in flight may use them */
  if (!r && comm->nef < (int)(sizeof comm->ef / sizeof *comm->ef) && (r = calloc(count ? count : 1, sizeof(float)))) {
    comm->ef[comm->nef++] = (struct weft_ef_entry){count, (int)dt, r};
    WEFT_INFO(comm, "error feedback: residuals for %zu elements of %s kept with the communicator", count,
              weft_dtype_name(dt));
  }
  pthread_mutex_unlock(&comm->log.mu);
  return r;
}

void weft_ef_free(struct weftComm *comm) {
  for (int i = 0; i < comm->nef; i++) free(comm->ef[i].resid);
  comm->nef = 0;
}
