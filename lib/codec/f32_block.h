/* The float32 block pipeline the lossy codecs share: loading a block of a
 * float datatype as float32, storing it back rounded, error-feedback
 * residuals. */
#ifndef WEFT_CODEC_F32_BLOCK_H
#define WEFT_CODEC_F32_BLOCK_H

#include <stddef.h>

#include "weft.h"

/* Elements per conversion block of the float32 pipeline. */
#define WEFT_CODEC_BLOCK 256
/* 1 for weftFloat, weftFloat16, weftBfloat16, weftDouble. */
int weft_codec_float_dtype(weftDataType_t dt);
/* f[i] = float(src[off + i]) for i < n; dt a float datatype. */
void weft_codec_load_f32(float *restrict f, weftDataType_t dt, const void *src, size_t off,
                         size_t n);
/* dst[off + i] = f[i] rounded to dt (nearest even) for i < n. */
void weft_codec_store_f32(void *dst, size_t off, weftDataType_t dt, const float *restrict f,
                          size_t n);
/* residual[i] = v[i] - d[i], or 0 where that is not finite. */
void weft_codec_residual_update(float *restrict residual, const float *restrict v,
                                const float *restrict d, size_t n);

#endif
