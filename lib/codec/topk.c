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
 * non-negative floats), NaN mapped to 0x7F800001. The k-th key is found by a
 * three-level radix select (11 + 12 + 8 bits of histograms), O(n) and no sort;
 * one more pass emits every key above the threshold and, in index order, as
 * many keys equal to it as are still needed, which yields ascending indices. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
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

/* Threshold key T and how many elements equal to T to take (lowest indices
 * first) so that exactly k elements are selected, 1 <= k <= n. */
static void select_threshold(const float *vals, size_t n, size_t k, uint32_t *t_out,
                             size_t *eq_out) {
  uint32_t h1[2048], h2[4096], h3[256];
  memset(h1, 0, sizeof h1);
  for (size_t i = 0; i < n; i++) h1[key_of(vals[i]) >> 20]++;
  size_t need = k;
  const uint32_t b1 = find_bucket(h1, 2048, &need);

  /* Keys of bucket b1: gathered once when they fit in memory, else rescanned. */
  const size_t nc = h1[b1];
  uint32_t *cand = malloc(nc * sizeof *cand);
  if (cand) {
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
      const uint32_t key = key_of(vals[i]);
      if ((key >> 20) == b1) cand[j++] = key;
    }
  }
  memset(h2, 0, sizeof h2);
  if (cand) {
    for (size_t j = 0; j < nc; j++) h2[(cand[j] >> 8) & 0xFFF]++;
  } else {
    for (size_t i = 0; i < n; i++) {
      const uint32_t key = key_of(vals[i]);
      if ((key >> 20) == b1) h2[(key >> 8) & 0xFFF]++;
    }
  }
  const uint32_t b2 = find_bucket(h2, 4096, &need);
  const uint32_t hi = (b1 << 12) | b2; /* key >> 8 of the threshold */

  memset(h3, 0, sizeof h3);
  if (cand) {
    for (size_t j = 0; j < nc; j++)
      if ((cand[j] >> 8) == hi) h3[cand[j] & 0xFF]++;
  } else {
    for (size_t i = 0; i < n; i++) {
      const uint32_t key = key_of(vals[i]);
      if ((key >> 8) == hi) h3[key & 0xFF]++;
    }
  }
  free(cand);
  const uint32_t b3 = find_bucket(h3, 256, &need);
  *t_out = (hi << 8) | b3;
  *eq_out = need;
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

  uint32_t t;
  size_t eq_need;
  select_threshold(vals, count, k, &t, &eq_need);

  unsigned char *idx_out = out + 4;
  unsigned char *val_out = out + 4 + 4 * k;
  size_t j = 0;
  for (size_t i = 0; i < count; i++) {
    const float v = vals[i];
    const uint32_t key = key_of(v);
    int take = key > t;
    if (key == t && eq_need > 0) {
      take = 1;
      eq_need--;
    }
    if (take) {
      const uint32_t i32 = (uint32_t)i;
      memcpy(idx_out + 4 * j, &i32, 4);
      memcpy(val_out + 4 * j, &v, 4);
      j++;
    }
    /* residual = v - decoded: 0 where kept (stored exactly), v where dropped
     * (0 if v is not finite). */
    if (residual) residual[i] = (take || key >= UINT32_C(0x7F800000)) ? 0.0f : v;
  }
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
