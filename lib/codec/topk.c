/* topk codec: keeps the k elements of largest magnitude.
 *
 * Format (little-endian): a u32 check word = (count XOR k * 0x9E3779B1) mod
 * 2^32, then k u32 indices in ascending order, then the k float32 values in
 * the same order. k is recovered from the length ((len - 4) / 8); the check
 * word catches a wrong count and a message cut at an entry boundary. Decoding
 * writes the k values and zeros everywhere else.
 *
 * Selection: the order is |v| descending, then index ascending; NaN ranks
 * above +-Inf (so a NaN is never dropped while fewer than k NaNs exist). The
 * ordering key of an element is the bit pattern of |v| (monotonic for
 * non-negative floats), NaN mapped to 0x7F800001. The k-th key T is found by
 * a three-level radix select (11 + 12 + 8 bits of histograms), O(n) and no
 * sort; then every key above T and, in index order, as many keys equal to T
 * as are still needed are emitted, which yields ascending indices.
 * For k <= count / 4 on large inputs (count >= 2^18), a strided sample of
 * 65536 keys gives a lower bound of T first, and only the elements above it
 * (about k plus a margin) are gathered and selected from: one pass over the
 * data instead of three. If the bound turns out wrong (too few or too many
 * above it) the general path runs; both give the same bytes.
 * Stack use: about 26 KB of histograms. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "codec/codecs.h"
#include "codec/f32_block.h"
#include "reduce/reduce.h"

#define NAN_KEY UINT32_C(0x7F800001)
#define CHECK_MUL UINT32_C(0x9E3779B1)

size_t weft_topk_bytes(size_t k) { return 4 + 8 * k; }

static uint32_t check_word(size_t count, size_t k) {
  return (uint32_t)count ^ (uint32_t)((uint32_t)k * CHECK_MUL);
}

static inline uint32_t key_of(float v) {
  uint32_t w;
  memcpy(&w, &v, sizeof w);
  w &= UINT32_C(0x7FFFFFFF);
  return w > UINT32_C(0x7F800000) ? NAN_KEY : w;
}

/* In a histogram hist[0..nb) counting elements of one bucket range, finds the
 * bucket holding the *need-th largest (1-based) element; on return *need is
 * its rank inside that bucket. */
static uint32_t find_bucket(const uint32_t *hist, uint32_t nb, size_t *need) {
  for (uint32_t b = nb; b-- > 0;) {
    if (hist[b] >= *need) return b;
    *need -= hist[b];
  }
  return 0; /* not reached: the histogram holds at least *need elements */
}

/* Radix select over keys[0..n), 1 <= k <= n: the k-th largest
 * key T, and how many keys equal to T belong to the k largest (the lowest
 * indices among them). Three histogram passes: bits 30-20, 19-8, 7-0. */
static void select_keys(const uint32_t *keys, size_t n, size_t k, uint32_t *t_out, size_t *eq_out) {
  uint32_t h1[2048], h2[4096], h3[256];
  memset(h1, 0, sizeof h1);
  memset(h2, 0, sizeof h2);
  memset(h3, 0, sizeof h3);
  size_t need = k;
  for (size_t i = 0; i < n; i++) h1[keys[i] >> 20]++;
  const uint32_t b1 = find_bucket(h1, 2048, &need);
  for (size_t i = 0; i < n; i++) {
    const uint32_t key = keys[i];
    if ((key >> 20) == b1) h2[(key >> 8) & 0xFFF]++;
  }
  const uint32_t hi = (b1 << 12) | find_bucket(h2, 4096, &need); /* key >> 8 of T */
  for (size_t i = 0; i < n; i++) {
    const uint32_t key = keys[i];
    if ((key >> 8) == hi) h3[key & 0xFF]++;
  }
  *t_out = (hi << 8) | find_bucket(h3, 256, &need);
  *eq_out = need;
}

#define SAMPLE 65536
#define NONFINITE_KEY UINT32_C(0x7F800000)

/* Whether the element with this key is selected: keys above t, and the
 * first *eq_need keys equal to t (counted down). */
static inline int take_one(uint32_t key, uint32_t t, size_t *eq_need) {
  const int eq = (key == t) & (*eq_need > 0);
  *eq_need -= (size_t)eq;
  return (key > t) | eq;
}

/* Candidates that surely contain the k largest: every element whose key is
 * at least a lower bound estimated from a strided sample (a few k more than
 * needed). Fills cidx/ckey (index order, at most cap; cap + 1 slots each)
 * and returns their number, or 0 when the estimate fails (fewer than k above
 * it, or more than cap: many ties), in which case the caller selects over all
 * elements.
 * Non-finite elements are always candidates. Deterministic: the sample
 * positions depend on n only. sample: SAMPLE keys of scratch. */
static size_t gather_candidates(const float *vals, size_t n, size_t k, uint32_t *sample,
                                uint32_t *cidx, uint32_t *ckey, size_t cap) {
  for (size_t j = 0; j < SAMPLE; j++) sample[j] = key_of(vals[(size_t)((uint64_t)j * n / SAMPLE)]);
  /* Rank in the sample whose key lies, with ample margin, below the k-th
   * largest key of the whole: expected q*s above it, plus 4 sigma and 8. */
  const double qs = (double)k / (double)n * SAMPLE;
  const size_t r = (size_t)(qs + 4.0 * sqrt(qs) + 8.0);
  if (r >= SAMPLE) return 0;
  uint32_t tlo;
  size_t eq;
  select_keys(sample, SAMPLE, r, &tlo, &eq);
  if (tlo > NONFINITE_KEY) tlo = NONFINITE_KEY;
  size_t nc = 0;
  for (size_t i = 0; i < n; i++) {
    const uint32_t key = key_of(vals[i]);
    /* Written in any case, kept only if above the bound: no branch to
     * mispredict. The arrays have cap + 1 slots. */
    cidx[nc] = (uint32_t)i;
    ckey[nc] = key;
    nc += (size_t)(key >= tlo);
    if (nc > cap) return 0;
  }
  return nc >= k ? nc : 0;
}

int weft_topk_encode(size_t k, weftDataType_t dt, const void *src, size_t count, void *dst,
                     float *residual) {
  unsigned char *out = dst;
  const uint32_t check = check_word(count, k);
  memcpy(out, &check, sizeof check);
  if (count == 0) return 0;

  /* The values v = float(x) (+ residual): the input itself for fp32 without
   * error feedback; the residual array when there is one (it becomes the new
   * residual in place); a temporary copy otherwise. */
  const float *vals;
  float *tmp = NULL;
  if (residual) {
    _Alignas(64) float f[WEFT_CODEC_BLOCK];
    for (size_t off = 0; off < count; off += WEFT_CODEC_BLOCK) {
      const size_t m = count - off < WEFT_CODEC_BLOCK ? count - off : WEFT_CODEC_BLOCK;
      weft_codec_load_f32(f, dt, src, off, m);
      float *restrict r = residual + off;
      for (size_t i = 0; i < m; i++) r[i] += f[i];
    }
    vals = residual;
  } else if (dt == weftFloat) {
    vals = src;
  } else {
    tmp = malloc(count * sizeof *tmp);
    if (!tmp) return -1;
    weft_codec_load_f32(tmp, dt, src, 0, count);
    vals = tmp;
  }

  unsigned char *idx_out = out + 4;
  unsigned char *val_out = out + 4 + 4 * k;
  uint32_t t;
  size_t eq_need, j = 0;

  /* Fast path (k small against count): select among sampled candidates. */
  uint32_t *scratch = NULL;
  size_t nc = 0;
  if (count >= 4 * SAMPLE && k <= count / 4) {
    const size_t cap = 2 * k + count / 64;
    scratch = malloc((SAMPLE + 2 * (cap + 1)) * sizeof *scratch);
    if (scratch)
      nc = gather_candidates(vals, count, k, scratch, scratch + SAMPLE, scratch + SAMPLE + cap + 1,
                             cap);
    if (nc > 0) {
      const uint32_t *cidx = scratch + SAMPLE, *ckey = scratch + SAMPLE + cap + 1;
      select_keys(ckey, nc, k, &t, &eq_need);
      size_t c = 0;
      for (; c < nc && j < k; c++) {
        const uint32_t key = ckey[c], i = cidx[c];
        const int take = take_one(key, t, &eq_need);
        /* Written in any case, kept only if taken (no branch to mispredict). */
        memcpy(idx_out + 4 * j, &i, 4);
        memcpy(val_out + 4 * j, &vals[i], 4);
        j += (size_t)take;
        /* residual = v - decoded: 0 where kept (stored exactly) or not
         * finite; the other elements keep v, which they already hold. */
        if (residual) residual[i] = (take | (key >= NONFINITE_KEY)) ? 0.0f : residual[i];
      }
      for (; residual && c < nc; c++)
        if (ckey[c] >= NONFINITE_KEY) residual[cidx[c]] = 0.0f;
      free(scratch);
      free(tmp);
      return 0;
    }
    free(scratch);
  }

  /* General path: a histogram of the top 11 key bits over every element,
   * then an exact select among the keys of the bucket that holds the k-th,
   * then one emitting pass. */
  uint32_t h1[2048];
  memset(h1, 0, sizeof h1);
  for (size_t i = 0; i < count; i++) h1[key_of(vals[i]) >> 20]++;
  size_t need = k;
  const uint32_t b1 = find_bucket(h1, 2048, &need);
  uint32_t *bk = malloc(h1[b1] * sizeof *bk); /* h1[b1] >= need >= 1 */
  if (!bk) {
    free(tmp);
    return -1;
  }
  size_t nb = 0;
  for (size_t i = 0; i < count; i++) {
    const uint32_t key = key_of(vals[i]);
    if ((key >> 20) == b1) bk[nb++] = key;
  }
  select_keys(bk, nb, need, &t, &eq_need);
  free(bk);
  size_t i = 0;
  for (; i < count && j < k; i++) {
    const uint32_t key = key_of(vals[i]);
    const int take = take_one(key, t, &eq_need);
    const uint32_t i32 = (uint32_t)i;
    memcpy(idx_out + 4 * j, &i32, 4);
    memcpy(val_out + 4 * j, &vals[i], 4);
    j += (size_t)take;
    if (residual) residual[i] = (take | (key >= NONFINITE_KEY)) ? 0.0f : residual[i];
  }
  for (; residual && i < count; i++)
    if (key_of(vals[i]) >= NONFINITE_KEY) residual[i] = 0.0f;
  free(tmp);
  return 0;
}

static void store_one(void *dst, size_t i, weftDataType_t dt, float v) {
  switch (dt) {
  case weftFloat: ((float *)dst)[i] = v; break;
  case weftFloat16: ((uint16_t *)dst)[i] = weft_float_to_half(v); break;
  case weftBfloat16: ((uint16_t *)dst)[i] = weft_float_to_bf16(v); break;
  case weftDouble: ((double *)dst)[i] = (double)v; break;
  default: break;
  }
}

int weft_topk_decode(weftDataType_t dt, const void *src, size_t len, void *dst, size_t count) {
  if (len < 4 || (len - 4) % 8 != 0) return -1;
  const size_t k = (len - 4) / 8;
  if (k > count) return -1;
  const unsigned char *in = src;
  uint32_t check;
  memcpy(&check, in, sizeof check);
  if (check != check_word(count, k)) return -1;
  const unsigned char *idx_in = in + 4;
  const unsigned char *val_in = in + 4 + 4 * k;
  /* Validate every index before touching dst. */
  uint32_t prev = 0;
  for (size_t j = 0; j < k; j++) {
    uint32_t ix;
    memcpy(&ix, idx_in + 4 * j, 4);
    if (ix >= count || (j > 0 && ix <= prev)) return -1;
    prev = ix;
  }
  if (count) memset(dst, 0, count * weft_dtype_size(dt)); /* +0.0 in every float type */
  for (size_t j = 0; j < k; j++) {
    uint32_t ix;
    float v;
    memcpy(&ix, idx_in + 4 * j, 4);
    memcpy(&v, val_in + 4 * j, 4);
    store_one(dst, ix, dt, v);
  }
  return 0;
}
