/* Entry points of each codec, dispatched by codec.c (internal to lib/codec). */
#ifndef WEFT_CODECS_H
#define WEFT_CODECS_H

#include <stddef.h>

#include "weft.h"

/* Per-codec entry points; the arguments are checked by codec.c (valid float
 * dtype for lossy codecs, cap >= max bytes, len checked by each decoder). */
int weft_cast16_encode(int bf16, weftDataType_t dt, const void *src, size_t count, void *dst,
                       float *residual);
int weft_cast16_decode(int bf16, weftDataType_t dt, const void *src, size_t len, void *dst,
                       size_t count);
int weft_int8_encode(weftDataType_t dt, const void *src, size_t count, void *dst, float *residual);
int weft_int8_decode(weftDataType_t dt, const void *src, size_t len, void *dst, size_t count);
size_t weft_int8_bytes(size_t count);
int weft_topk_encode(size_t k, weftDataType_t dt, const void *src, size_t count, void *dst,
                     float *residual);
int weft_topk_decode(weftDataType_t dt, const void *src, size_t len, void *dst, size_t count);
size_t weft_topk_bytes(size_t k);
int weft_zstd_encode(int level, const void *src, size_t bytes, void *dst, size_t cap, size_t *len);
int weft_zstd_decode(const void *src, size_t len, void *dst, size_t bytes);
size_t weft_zstd_max_bytes(size_t bytes);

#endif
