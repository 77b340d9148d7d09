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
 * the error feedback only the allreduce keeps).
 *
 * A codec never forces the hierarchical algorithm: the tuner's table for
 * the allreduces a codec would compress is built with the codec's ratio on
 * the WAN (weft_tune_init), so the hierarchical one wins where compression
 * pays and a latency-bound size keeps the faster uncoded algorithm, as
 * weft-topo explain predicts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <string.h>
#include <strings.h>

#include "util/log.h"
#include "util/param.h"
#include "topo/graph.h"
#include "tune/graph_model.h"
#include "tune/tune.h"
#include "util/call.h"

/* Per log2 size, the codec among none, bf16 and int8 whose hierarchical
 * allreduce the model predicts fastest (for fp32 data). */
static void auto_table(weft_tuner *t) {
  static const weft_codec_id cand[] = {WEFT_CODEC_NONE, WEFT_CODEC_BF16, WEFT_CODEC_INT8};
  weft_cost_model m = t->model;
  for (int b = 0; b < WEFT_TUNE_BUCKETS; b++) {
    double best = 0;
    t->codec.table[b] = WEFT_CODEC_NONE;
    for (size_t i = 0; i < sizeof cand / sizeof *cand; i++) {
      weft_cost out;
      m.wan_ratio = weft_codec_ratio(cand[i], &t->codec.params, weftFloat);
      m.codec_bw = cand[i] ? weft_codec_throughput(cand[i]) : 0;
      if (weft_cost_predict(&m, COLL_ALLREDUCE, ALGO_HIER, (size_t)1 << b, &out) != 0) continue;
      if (i == 0 || out.time < best) best = out.time, t->codec.table[b] = (uint8_t)cand[i];
    }
  }
}

void weft_codec_policy_init(weft_tuner *t, const weft_tune_inputs *in) {
  weft_codec_policy *c = &t->codec;
  weft_codec_params_default(&c->params);
  const char *tr = weft_env("WEFT_TOPK_RATIO");
  double ratio = tr ? strtod(tr, NULL) : 0;
  if (ratio > 0 && ratio <= 1) c->params.topk_ratio = ratio;
  else if (tr) weft_log_to(in->log, weftLogWarn, "WEFT_TOPK_RATIO=%s ignored: it must be in (0, 1]", tr);
  c->params.zstd_level = (int)weft_env_int("WEFT_ZSTD_LEVEL", c->params.zstd_level, -50, 22);
  c->min_bytes = weft_env_size("WEFT_CODEC_MIN", 64 << 10);
  t->pipe_bytes = weft_env_size("WEFT_HIER_PIPE", 4 << 20);
  t->model.pipe_bytes = t->pipe_bytes;
  c->id = WEFT_CODEC_NONE;
  c->is_auto = 0;
  char name[16];
  snprintf(name, sizeof name, "%s", c->want);
  snprintf(c->source, sizeof c->source, "WEFT_CODEC or the config");
  if (!name[0]) weft_graph_wan_codec(in->graph, name, sizeof name, c->source, sizeof c->source);
  t->model.wan_ratio = 1;
  t->model.codec_bw = 0;
  if (!name[0] || t->sites->ngroups <= 1) return;
  weft_codec_id id = WEFT_CODEC_NONE;
  if (!strcasecmp(name, "auto")) {
    c->is_auto = 1;
    auto_table(t);
  } else if (weft_codec_parse(name, &id) == 0 && weft_codec_available(id)) {
    c->id = id;
  }
  /* the model sees the codec on the WAN (the auto table has its own per size) */
  t->model.wan_ratio = id ? weft_codec_ratio(id, &c->params, weftFloat) : 1;
  t->model.codec_bw = id ? weft_codec_throughput(id) : 0;
  weft_log_to(in->log, weftLogInfo, "WAN codec %s (from %s) for the hierarchical allreduce between sites of %zu bytes and more, where the tuner picks it", name, c->source,
            c->min_bytes);
}

int weft_codec_for(const weft_tuner *t, const weft_call *c) {
  size_t bytes = c->count * weft_dtype_size(c->dt);
  int rs = c->kind == COLL_REDUCESCATTER;
  if ((c->kind != COLL_ALLREDUCE && !rs) || t->sites->ngroups <= 1 || bytes < t->codec.min_bytes) return 0;
  int id = t->codec.is_auto ? t->codec.table[weft_tune_bucket(bytes)] : t->codec.id;
  if (!id || !weft_codec_supports((weft_codec_id)id, c->dt, c->op)) return 0;
  if (rs && id == WEFT_CODEC_TOPK) return 0; /* no error feedback there: topk would just drop data */
  return id;
}

void weft_codec_choose(const weft_tuner *t, weft_call *c) {
  c->codec = WEFT_CODEC_NONE;
  c->codec_params = &t->codec.params;
  c->pipe_bytes = t->pipe_bytes;
  c->wan = c->groups == t->sites && t->sites->ngroups > 1;
  /* the codec rides on the hierarchical algorithm between sites, where the
   * tuner (or a rule, or WEFT_ALGO) chose it */
  if (c->algo == ALGO_HIER && c->groups == t->sites) c->codec = weft_codec_for(t, c);
}

float *weft_ef_get(weft_tuner *t, size_t count, weftDataType_t dt, weft_log_sink *log) {
  pthread_mutex_lock(&t->ef.mu);
  float *r = NULL;
  for (int i = 0; i < t->ef.n && !r; i++)
    if (t->ef.e[i].count == count && t->ef.e[i].dt == (int)dt) r = t->ef.e[i].resid;
  /* a bounded number of shapes: their residuals live as long as the comm,
   * since an op still in flight may use them */
  if (!r && t->ef.n < WEFT_EF_SHAPES && (r = calloc(count ? count : 1, sizeof(float)))) {
    t->ef.e[t->ef.n++] = (struct weft_ef_entry){count, (int)dt, r};
    weft_log_to(log, weftLogInfo, "error feedback: residuals for %zu elements of %s kept with the communicator", count,
              weft_dtype_name(dt));
  }
  pthread_mutex_unlock(&t->ef.mu);
  return r;
}

int weft_ef_copy(weft_tuner *t, weft_tuner *src) {
  if (!src->ef.ready || !t->ef.ready) return 0;
  int rc = 0;
  pthread_mutex_lock(&src->ef.mu);
  pthread_mutex_lock(&t->ef.mu);
  for (int i = 0; i < src->ef.n && t->ef.n < WEFT_EF_SHAPES; i++) {
    const struct weft_ef_entry *e = &src->ef.e[i];
    float *r = malloc((e->count ? e->count : 1) * sizeof(float));
    if (!r) {
      rc = -1;
      break;
    }
    memcpy(r, e->resid, (e->count ? e->count : 1) * sizeof(float));
    t->ef.e[t->ef.n++] = (struct weft_ef_entry){e->count, e->dt, r};
  }
  pthread_mutex_unlock(&t->ef.mu);
  pthread_mutex_unlock(&src->ef.mu);
  return rc;
}
