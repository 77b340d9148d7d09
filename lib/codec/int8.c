/* int8 codec: blocks of 256 elements, one float32 scale each.
 *
 * Format, per block (the last one short): a little-endian float32 scale =
 * max|finite x| / 127 rounded to nearest (0 for a block without a non-zero
 * finite element; rounded up instead when below FLT_MIN = 2^-126), then one int8
 * code per element: q = x / scale rounded to nearest (ties to even), clamped
 * to [-127, 127]; -128 marks a non-finite element (decodes to NaN).
 * Decoding gives q * scale (float32).
 *
 * Speed: plain loops that gcc/clang auto-vectorize on baseline SSE2 (see
 * lib/reduce/reduce.c). The block maximum is taken on the integer bit patterns
 * of |x| (monotonic for non-negative floats; an integer max reduction
 * vectorizes where a float one with NaN semantics does not), and rounding uses
 * the 1.5 * 2^23 trick instead of a libm call (exact round-to-nearest-even for
 * |y| <= 2^22, which |y| <= 127 is). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "codec/codec.h"
#include "codec/codecs.h"
#include "codec/f32_block.h"

#define BLK WEFT_CODEC_INT8_BLOCK
#define ROUND_MAGIC 0x1.8p23f

size_t weft_int8_bytes(size_t count) { return (count + BLK - 1) / BLK * sizeof(float) + count; }

/* Bit pattern of max |x| over the finite elements (0 if none). */
static uint32_t absmax_bits(const float *restrict x, size_t n) {
  int32_t m = 0;
  for (size_t i = 0; i < n; i++) {
    uint32_t w;
    memcpy(&w, &x[i], sizeof w);
    int32_t a = (int32_t)(w & UINT32_C(0x7FFFFFFF));
    a = a < INT32_C(0x7F800000) ? a : 0; /* Inf and NaN do not count */
    m = a > m ? a : m;
  }
  return (uint32_t)m;
}

/* q[i] = clamp(round(x[i] * inv)), -128 for non-finite x[i]. inv = 1/scale,
 * which is finite because scale is 0 (then inv = 0) or a normal float. Selects
 * are written as bit masks so that the loop has no control flow and
 * vectorizes. */
static void quantize(const float *restrict x, size_t n, float inv, signed char *restrict q) {
  for (size_t i = 0; i < n; i++) {
    uint32_t w;
    memcpy(&w, &x[i], sizeof w);
    const int32_t nonfinite = -(int32_t)((int32_t)(w & UINT32_C(0x7FFFFFFF)) > INT32_C(0x7F7FFFFF));
    /* y = x * inv, |y| <= 127 * (1 + 2^-22) for finite x, which rounds into
     * [-127, 127] (see encode_block); +0 for Inf and NaN, so that no NaN or
     * Inf is ever converted to an integer. */
    float y = x[i] * inv;
    uint32_t yb;
    memcpy(&yb, &y, sizeof yb);
    yb &= ~(uint32_t)nonfinite;
    memcpy(&y, &yb, sizeof y);
    y = (y + ROUND_MAGIC) - ROUND_MAGIC; /* round to nearest, ties to even */
    const int32_t c = (int32_t)y;
    q[i] = (signed char)((c & ~nonfinite) | (-128 & nonfinite));
  }
}

/* Subnormal scale (1/scale would overflow): the same in double, scalar. Rare:
 * only blocks whose largest element is below 127 * 2^-126. */
static void quantize_tiny(const float *restrict x, size_t n, float scale, signed char *restrict q) {
  const double s = (double)scale;
  for (size_t i = 0; i < n; i++) {
    const float xi = x[i];
    if (!(fabsf(xi) <= FLT_MAX)) {
      q[i] = -128;
      continue;
    }
    double y = rint((double)xi / s);
    y = y > 127.0 ? 127.0 : (y < -127.0 ? -127.0 : y);
    q[i] = (signed char)(int)y;
  }
}

static void dequantize(const signed char *restrict q, size_t n, float scale, float *restrict y) {
  for (size_t i = 0; i < n; i++) {
    const int32_t c = q[i];
    const float v = (float)c * scale;
    uint32_t vb;
    memcpy(&vb, &v, sizeof vb);
    const uint32_t nan = 0u - (uint32_t)(c == -128);
    vb = (vb & ~nan) | (UINT32_C(0x7FC00000) & nan); /* code -128: quiet NaN */
    memcpy(&y[i], &vb, sizeof vb);
  }
}

/* Encodes one block of n elements into out (scale, then n codes).
 *
 * With a normal scale, scale = RN(mx / 127) and inv = RN(1 / scale) are each
 * within a relative 2^-24, so x * inv stays below 127 * (1 + 2^-22) < 127.5
 * in magnitude and rounds into [-127, 127]: no clamp is needed. A scale below
 * FLT_MIN (1 / scale could overflow, and the rounding of a subnormal is
 * coarse) is rounded up instead, so that |x| / scale <= 127 still holds. */
static void encode_block(const float *restrict x, size_t n, unsigned char *restrict out) {
  const uint32_t mb = absmax_bits(x, n);
  float mx;
  memcpy(&mx, &mb, sizeof mx);
  float scale = mx / 127.0f;
  const int tiny = mx > 0.0f && scale < FLT_MIN;
  if (tiny) {
    const double s = (double)mx / 127.0;
    scale = (float)s;
    if ((double)scale < s) scale = nextafterf(scale, INFINITY);
  }
  memcpy(out, &scale, sizeof scale);
  signed char *q = (signed char *)(out + sizeof scale);
  if (tiny)
    quantize_tiny(x, n, scale, q);
  else
    quantize(x, n, scale == 0.0f ? 0.0f : 1.0f / scale, q);
}

int weft_int8_encode(weftDataType_t dt, const void *src, size_t count, void *dst, float *residual) {
  unsigned char *out = dst;
  _Alignas(64) float v[BLK];
  _Alignas(64) float d[BLK];
  for (size_t off = 0; off < count; off += BLK) {
    const size_t m = count - off < BLK ? count - off : BLK;
    unsigned char *blk = out + off / BLK * (sizeof(float) + BLK);
    const float *x;
    if (dt == weftFloat && !residual) {
      x = (const float *)src + off;
    } else {
      weft_codec_load_f32(v, dt, src, off, m);
      if (residual) {
        const float *restrict r = residual + off;
        for (size_t i = 0; i < m; i++) v[i] += r[i];
      }
      x = v;
    }
    encode_block(x, m, blk);
    if (residual) {
      float scale;
      memcpy(&scale, blk, sizeof scale);
      dequantize((const signed char *)(blk + sizeof scale), m, scale, d);
      weft_codec_residual_update(residual + off, v, d, m);
    }
  }
  return 0;
}

int weft_int8_decode(weftDataType_t dt, const void *src, size_t len, void *dst, size_t count) {
  if (len != weft_int8_bytes(count)) return -1;
  const unsigned char *in = src;
  _Alignas(64) float f[BLK];
  for (size_t off = 0; off < count; off += BLK) {
    const size_t m = count - off < BLK ? count - off : BLK;
    const unsigned char *blk = in + off / BLK * (sizeof(float) + BLK);
    uint32_t sb;
    memcpy(&sb, blk, sizeof sb);
    if (sb >= UINT32_C(0x7F800000)) return -1; /* negative, Inf or NaN scale */
    float scale;
    memcpy(&scale, &sb, sizeof scale);
    const signed char *q = (const signed char *)(blk + sizeof scale);
    if (dt == weftFloat) {
      dequantize(q, m, scale, (float *)dst + off);
    } else {
      dequantize(q, m, scale, f);
      weft_codec_store_f32(dst, off, dt, f, m);
    }
  }
  return 0;
}
