/* fp16 and bf16 codecs: every element rounded to a 16-bit float.
 *
 * Format: count little-endian 16-bit words (IEEE binary16 or bfloat16), no
 * header. Values go through float32 (fp64 input is rounded to float first)
 * and are rounded to nearest even by the conversions of lib/reduce/half.c:
 * NaN stays (quiet) NaN, +-Inf stays, fp16 overflow gives +-Inf. */
#include <stdint.h>
#include <string.h>

#include "codec/codec.h"
#include "codec/codecs.h"
#include "codec/f32_block.h"
#include "reduce/reduce.h"

typedef void (*to16_fn)(uint16_t *dst, const float *src, size_t n);
typedef void (*from16_fn)(float *dst, const uint16_t *src, size_t n);

int weft_cast16_encode(int bf16, weftDataType_t dt, const void *src, size_t count, void *dst,
                       float *residual) {
  const to16_fn to16 = bf16 ? weft_float_to_bf16_n : weft_float_to_half_n;
  const from16_fn from16 = bf16 ? weft_bf16_to_float_n : weft_half_to_float_n;
  unsigned char *out = dst;
  /* fp32 input, no error feedback and an aligned output: one pass. */
  if (dt == weftFloat && !residual && ((uintptr_t)dst & 1u) == 0) {
    to16((uint16_t *)dst, (const float *)src, count);
    return 0;
  }
  _Alignas(64) float v[WEFT_CODEC_BLOCK];
  _Alignas(64) float d[WEFT_CODEC_BLOCK];
  _Alignas(64) uint16_t h[WEFT_CODEC_BLOCK];
  for (size_t off = 0; off < count; off += WEFT_CODEC_BLOCK) {
    const size_t m = count - off < WEFT_CODEC_BLOCK ? count - off : WEFT_CODEC_BLOCK;
    weft_codec_load_f32(v, dt, src, off, m);
    if (residual) {
      float *restrict r = residual + off;
      for (size_t i = 0; i < m; i++) v[i] += r[i];
    }
    to16(h, v, m);
    memcpy(out + off * 2, h, m * 2);
    if (residual) {
      from16(d, h, m);
      weft_codec_residual_update(residual + off, v, d, m);
    }
  }
  return 0;
}

int weft_cast16_decode(int bf16, weftDataType_t dt, const void *src, size_t len, void *dst,
                       size_t count) {
  if (len != count * 2) return -1;
  const from16_fn from16 = bf16 ? weft_bf16_to_float_n : weft_half_to_float_n;
  if (dt == weftFloat && ((uintptr_t)src & 1u) == 0) {
    from16((float *)dst, (const uint16_t *)src, count);
    return 0;
  }
  const unsigned char *in = src;
  _Alignas(64) float f[WEFT_CODEC_BLOCK];
  _Alignas(64) uint16_t h[WEFT_CODEC_BLOCK];
  for (size_t off = 0; off < count; off += WEFT_CODEC_BLOCK) {
    const size_t m = count - off < WEFT_CODEC_BLOCK ? count - off : WEFT_CODEC_BLOCK;
    memcpy(h, in + off * 2, m * 2);
    if (dt == weftFloat16 && !bf16) { /* same format: copy */
      memcpy((uint16_t *)dst + off, h, m * 2);
      continue;
    }
    if (dt == weftBfloat16 && bf16) {
      memcpy((uint16_t *)dst + off, h, m * 2);
      continue;
    }
    from16(f, h, m);
    weft_codec_store_f32(dst, off, dt, f, m);
  }
  return 0;
}
