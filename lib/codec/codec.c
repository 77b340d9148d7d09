/* Codec registry and dispatch: names, capabilities, sizes, argument checks,
 * the cost-model figures, and the float32 block helpers the lossy codecs share.
 * The codecs themselves are in cast16.c, int8.c, topk.c and zstd.c. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "codec/codec.h"
#include "codec/codecs.h"
#include "codec/f32_block.h"
#include "reduce/reduce.h"

static const char *const names[WEFT_CODEC_COUNT] = {"none", "fp16", "bf16", "int8", "topk", "zstd"};

/* Encode+decode throughput in bytes of fp32 input per second on one core:
 * the best of 34 runs of weft-codec-bench -r 5 (64 MiB of normal fp32 data)
 * on a 2-core AMD EPYC KVM guest, gcc 12 -O3 (docs/codecs.md). none is a
 * memcpy each way; topk at its default ratio 0.01; zstd at level 1. */
static const double throughput[WEFT_CODEC_COUNT] = {
    [WEFT_CODEC_NONE] = 4.6e9, [WEFT_CODEC_FP16] = 3.7e9, [WEFT_CODEC_BF16] = 5.8e9,
    [WEFT_CODEC_INT8] = 3.9e9, [WEFT_CODEC_TOPK] = 3.0e9, [WEFT_CODEC_ZSTD] = 0.44e9,
};
/* zstd level 1 on gradient-like fp32 data (normal values), measured 0.924:
 * the exponent and sign bytes compress, the mantissas do not. */
#define ZSTD_NOMINAL_RATIO 0.92

void weft_codec_params_default(weft_codec_params *p) {
  if (!p) return;
  p->topk_ratio = 0.01;
  p->zstd_level = 1;
}

static const weft_codec_params *params_or_default(const weft_codec_params *p,
                                                  weft_codec_params *tmp) {
  if (p) return p;
  weft_codec_params_default(tmp);
  return tmp;
}

static int valid_id(weft_codec_id id) { return (unsigned)id < (unsigned)WEFT_CODEC_COUNT; }
static int valid_dt(weftDataType_t dt) { return (unsigned)dt < (unsigned)weftNumTypes; }

const char *weft_codec_name(weft_codec_id id) { return valid_id(id) ? names[id] : "?"; }

int weft_codec_parse(const char *name, weft_codec_id *out) {
  if (!name) return -1;
  for (int i = 0; i < WEFT_CODEC_COUNT; i++) {
    if (strcasecmp(name, names[i]) == 0) {
      if (out) *out = (weft_codec_id)i;
      return 0;
    }
  }
  return -1;
}

int weft_codec_available(weft_codec_id id) {
  if (!valid_id(id)) return 0;
#ifndef WEFT_HAVE_ZSTD
  if (id == WEFT_CODEC_ZSTD) return 0;
#endif
  return 1;
}

int weft_codec_lossy(weft_codec_id id) {
  return id == WEFT_CODEC_FP16 || id == WEFT_CODEC_BF16 || id == WEFT_CODEC_INT8 ||
         id == WEFT_CODEC_TOPK;
}


int weft_codec_supports(weft_codec_id id, weftDataType_t dt, weftRedOp_t op) {
  if (!weft_codec_available(id) || !valid_dt(dt) || (unsigned)op >= (unsigned)weftNumOps) return 0;
  if (!weft_codec_lossy(id)) return 1;
  if (!weft_codec_float_dtype(dt) || (op != weftSum && op != weftAvg)) return 0;
  /* A 16-bit codec on 16-bit data loses precision (or range) and saves nothing. */
  if ((id == WEFT_CODEC_FP16 || id == WEFT_CODEC_BF16) && weft_dtype_size(dt) == 2) return 0;
  return 1;
}

int weft_codec_fixed_size(weft_codec_id id) { return valid_id(id) && id != WEFT_CODEC_ZSTD; }

size_t weft_codec_topk_k(const weft_codec_params *p, size_t count) {
  weft_codec_params tmp;
  p = params_or_default(p, &tmp);
  if (count == 0) return 0;
  const double r = p->topk_ratio;
  if (r >= 1.0) return count;
  if (!(r > 0.0)) return 1;                 /* 0, negative or NaN: keep one */
  const double k = ceil(r * (double)count); /* < count + 1, exact for count < 2^53 */
  if (k <= 1.0) return 1;
  if (k >= (double)count) return count;
  return (size_t)k;
}

size_t weft_codec_max_bytes(weft_codec_id id, const weft_codec_params *p, weftDataType_t dt,
                            size_t count) {
  weft_codec_params tmp;
  p = params_or_default(p, &tmp);
  if (!valid_id(id) || !valid_dt(dt)) return SIZE_MAX;
  const size_t es = weft_dtype_size(dt);
  if (count > SIZE_MAX / 8) return SIZE_MAX; /* keeps every product below in range */
  switch (id) {
  case WEFT_CODEC_NONE: return count * es;
  case WEFT_CODEC_FP16:
  case WEFT_CODEC_BF16: return count * 2;
  case WEFT_CODEC_INT8: return weft_int8_bytes(count);
  case WEFT_CODEC_TOPK: return weft_topk_bytes(weft_codec_topk_k(p, count));
  case WEFT_CODEC_ZSTD: return weft_zstd_max_bytes(count * es);
  default: return SIZE_MAX;
  }
}

int weft_codec_encode(weft_codec_id id, const weft_codec_params *p, weftDataType_t dt,
                      const void *src, size_t count, void *dst, size_t cap, size_t *len,
                      float *residual) {
  weft_codec_params tmp;
  p = params_or_default(p, &tmp);
  if (!len || !valid_id(id) || !valid_dt(dt) || !weft_codec_available(id)) return -1;
  if (weft_codec_lossy(id) && !weft_codec_float_dtype(dt)) return -1;
  const size_t need = weft_codec_max_bytes(id, p, dt, count);
  if (need == SIZE_MAX || (id != WEFT_CODEC_ZSTD && cap < need)) return -1;
  if ((count > 0 && !src) || (need > 0 && !dst)) return -1;
  int rc = -1;
  switch (id) {
  case WEFT_CODEC_NONE:
    if (count) memcpy(dst, src, need);
    rc = 0;
    break;
  case WEFT_CODEC_FP16:
  case WEFT_CODEC_BF16:
    rc = weft_cast16_encode(id == WEFT_CODEC_BF16, dt, src, count, dst, residual);
    break;
  case WEFT_CODEC_INT8: rc = weft_int8_encode(dt, src, count, dst, residual); break;
  case WEFT_CODEC_TOPK:
    if (count > UINT32_MAX) return -1; /* indices are 32 bits */
    rc = weft_topk_encode(weft_codec_topk_k(p, count), dt, src, count, dst, residual);
    break;
  case WEFT_CODEC_ZSTD:
    return weft_zstd_encode(p->zstd_level, src, count * weft_dtype_size(dt), dst, cap, len);
  default: return -1;
  }
  if (rc == 0) *len = need;
  return rc;
}

int weft_codec_decode(weft_codec_id id, weftDataType_t dt, const void *src, size_t len, void *dst,
                      size_t count) {
  if (!valid_id(id) || !valid_dt(dt) || !weft_codec_available(id)) return -1;
  if (len > 0 && !src) return -1;
  if (count > 0 && !dst) return -1;
  if (weft_codec_lossy(id) && !weft_codec_float_dtype(dt)) return -1;
  if (count > SIZE_MAX / 8) return -1;
  switch (id) {
  case WEFT_CODEC_NONE:
    if (len != count * weft_dtype_size(dt)) return -1;
    if (len) memcpy(dst, src, len);
    return 0;
  case WEFT_CODEC_FP16:
  case WEFT_CODEC_BF16: return weft_cast16_decode(id == WEFT_CODEC_BF16, dt, src, len, dst, count);
  case WEFT_CODEC_INT8: return weft_int8_decode(dt, src, len, dst, count);
  case WEFT_CODEC_TOPK:
    if (count > UINT32_MAX) return -1;
    return weft_topk_decode(dt, src, len, dst, count);
  case WEFT_CODEC_ZSTD: return weft_zstd_decode(src, len, dst, count * weft_dtype_size(dt));
  default: return -1;
  }
}

int weft_codec_can_decode_add(weft_codec_id id, weftDataType_t dt) {
  return dt == weftFloat && (id == WEFT_CODEC_FP16 || id == WEFT_CODEC_BF16 || id == WEFT_CODEC_INT8);
}

int weft_codec_decode_add(weft_codec_id id, weftDataType_t dt, const void *src, size_t len, float *dst,
                          size_t count) {
  if (!weft_codec_can_decode_add(id, dt) || (len > 0 && !src) || (count > 0 && !dst) || count > SIZE_MAX / 8)
    return -1;
  int int8 = id == WEFT_CODEC_INT8;
  if (len != (int8 ? weft_int8_bytes(count) : count * 2)) return -1;
  const unsigned char *in = src;
  _Alignas(64) float f[WEFT_CODEC_BLOCK];
  _Static_assert(WEFT_CODEC_BLOCK == WEFT_CODEC_INT8_BLOCK, "one int8 scale per decoded block");
  for (size_t off = 0; off < count; off += WEFT_CODEC_BLOCK) {
    const size_t m = count - off < WEFT_CODEC_BLOCK ? count - off : WEFT_CODEC_BLOCK;
    int rc = int8 ? weft_int8_decode(weftFloat, in + off / WEFT_CODEC_BLOCK * (sizeof(float) + WEFT_CODEC_BLOCK),
                                     sizeof(float) + m, f, m)
                  : weft_cast16_decode(id == WEFT_CODEC_BF16, weftFloat, in + off * 2, m * 2, f, m);
    if (rc != 0) return -1;
    float *restrict d = dst + off;
    for (size_t i = 0; i < m; i++) d[i] = d[i] + f[i];
  }
  return 0;
}

double weft_codec_throughput(weft_codec_id id) { return valid_id(id) ? throughput[id] : 0.0; }

double weft_codec_ratio(weft_codec_id id, const weft_codec_params *p, weftDataType_t dt) {
  weft_codec_params tmp;
  p = params_or_default(p, &tmp);
  const double es = valid_dt(dt) ? (double)weft_dtype_size(dt) : 0.0;
  if (!valid_id(id) || es == 0.0) return 1.0;
  double r = 1.0;
  switch (id) {
  case WEFT_CODEC_NONE: r = 1.0; break;
  case WEFT_CODEC_FP16:
  case WEFT_CODEC_BF16: r = 2.0 / es; break;
  case WEFT_CODEC_INT8: r = (1.0 + 4.0 / WEFT_CODEC_INT8_BLOCK) / es; break;
  case WEFT_CODEC_TOPK: {
    const double f = p->topk_ratio >= 1.0 ? 1.0 : (p->topk_ratio > 0.0 ? p->topk_ratio : 0.0);
    r = 8.0 * f / es; /* index + value per kept element */
    break;
  }
  case WEFT_CODEC_ZSTD: r = ZSTD_NOMINAL_RATIO; break;
  default: break;
  }
  return r;
}
