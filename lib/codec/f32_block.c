#include "codec/f32_block.h"

#include <stdint.h>
#include <string.h>

#include "reduce/reduce.h"

int weft_codec_float_dtype(weftDataType_t dt) {
  return dt == weftFloat || dt == weftFloat16 || dt == weftBfloat16 || dt == weftDouble;
}

void weft_codec_load_f32(float *restrict f, weftDataType_t dt, const void *src, size_t off,
                         size_t n) {
  switch (dt) {
  case weftFloat: memcpy(f, (const float *)src + off, n * sizeof(float)); break;
  case weftFloat16: weft_half_to_float_n(f, (const uint16_t *)src + off, n); break;
  case weftBfloat16: weft_bf16_to_float_n(f, (const uint16_t *)src + off, n); break;
  case weftDouble: {
    const double *restrict d = (const double *)src + off;
    for (size_t i = 0; i < n; i++) f[i] = (float)d[i];
    break;
  }
  default: break;
  }
}

void weft_codec_store_f32(void *dst, size_t off, weftDataType_t dt, const float *restrict f,
                          size_t n) {
  switch (dt) {
  case weftFloat: memcpy((float *)dst + off, f, n * sizeof(float)); break;
  case weftFloat16: weft_float_to_half_n((uint16_t *)dst + off, f, n); break;
  case weftBfloat16: weft_float_to_bf16_n((uint16_t *)dst + off, f, n); break;
  case weftDouble: {
    double *restrict d = (double *)dst + off;
    for (size_t i = 0; i < n; i++) d[i] = (double)f[i];
    break;
  }
  default: break;
  }
}

void weft_codec_residual_update(float *restrict residual, const float *restrict v,
                                const float *restrict d, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const float e = v[i] - d[i];
    /* e - e is 0 for finite e, NaN for +-Inf and NaN. */
    residual[i] = (e - e == 0.0f) ? e : 0.0f;
  }
}
