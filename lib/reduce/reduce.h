/* Host reduction kernels for every weft datatype and operation. */
#ifndef WEFT_REDUCE_H
#define WEFT_REDUCE_H

#include <stddef.h>
#include <stdint.h>

#include "util/call.h" /* weft_dtype_size, weft_dtype_name */
#include "weft.h"

/* "sum", "prod", "max", "min", "avg"; "?" if invalid. */
const char *weft_op_name(weftRedOp_t op);
/* Parse the names above (plus aliases "half","fp16","bf16","fp32","fp64","double",
 * "int","char","uint8",...); returns -1 if unknown. */
int weft_dtype_parse(const char *name);
int weft_op_parse(const char *name);

/* dst[i] = a[i] op b[i] for i < count. dst may be the same pointer as a or b
 * (no other overlap). weftAvg reduces as weftSum; call weft_avg_finish on the
 * final sum. Integer arithmetic wraps (two's complement) without UB. Floats,
 * every op (the NaN rule, docs/api.md): if a[i] or b[i] is NaN the result is
 * the first NaN of the two (a before b) with its quiet bit set; a NaN made
 * from numbers is the positive quiet NaN with a zero payload; the same bits
 * whatever the aliasing. fp16/bf16 are computed in fp32 and rounded to nearest
 * even once per call. */
void weft_reduce(void *dst, const void *a, const void *b, size_t count, weftDataType_t dt,
                 weftRedOp_t op);
/* buf[i] /= nranks (integer division truncating toward zero for integers;
 * correctly rounded division for floats, fp16/bf16 via fp32). */
void weft_avg_finish(void *buf, size_t count, weftDataType_t dt, int nranks);

/* IEEE binary16 and bfloat16 conversion, round-to-nearest-even, NaN kept NaN
 * (quiet), overflow to +-Inf, subnormals handled exactly. */
uint16_t weft_float_to_half(float f);
float weft_half_to_float(uint16_t h);
uint16_t weft_float_to_bf16(float f);
float weft_bf16_to_float(uint16_t h);
void weft_half_to_float_n(float *dst, const uint16_t *src, size_t n);
void weft_float_to_half_n(uint16_t *dst, const float *src, size_t n);
void weft_bf16_to_float_n(float *dst, const uint16_t *src, size_t n);
void weft_float_to_bf16_n(uint16_t *dst, const float *src, size_t n);

#endif
