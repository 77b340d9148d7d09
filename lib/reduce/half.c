/* IEEE binary16 ("half") and bfloat16 <-> binary32 conversions.
 *
 * All conversions are exact IEEE: round-to-nearest-even, binary16 subnormals,
 * overflow to +-Inf, signed zero preserved, NaN stays NaN (quieted, sign and
 * the top payload bits kept).
 *
 * The scalar helpers are branch-free (only selects) so that the bulk loops,
 * which simply call them per element, auto-vectorize at -O3. The binary16
 * paths use the float-arithmetic technique of Fabian Giesen / Marat Dukhan's
 * FP16 library: the FPU does the rounding, which requires the default
 * round-to-nearest mode and no -ffast-math / -fassociative-math (the build
 * uses neither). The float intermediates never need float subnormals for a
 * result that matters, so flush-to-zero / denormals-are-zero modes are fine.
 */
#include <string.h>

#include "reduce/reduce.h"

static inline uint32_t f32_bits(float f) {
  uint32_t w;
  memcpy(&w, &f, sizeof w);
  return w;
}

static inline float f32_from_bits(uint32_t w) {
  float f;
  memcpy(&f, &w, sizeof f);
  return f;
}

/* ---- binary16 -> binary32 ------------------------------------------------- */
static inline float half_to_float_inline(uint16_t h) {
  const uint32_t w = (uint32_t)h << 16;
  const uint32_t sign = w & UINT32_C(0x80000000);
  const uint32_t two_w = w + w; /* exponent and mantissa, sign shifted out */

  /* Normal, Inf and NaN: put the 5-bit exponent and 10-bit mantissa in the
   * float fields, bias the exponent by +224 and scale by 2^-112 (net +112 =
   * 127 - 15). Exponent 31 becomes 255, so Inf stays Inf and NaN stays NaN;
   * the multiplication quiets a signaling NaN. */
  const uint32_t exp_offset = UINT32_C(0xE0) << 23;
  const float normalized = f32_from_bits((two_w >> 4) + exp_offset) * 0x1.0p-112f;

  /* Zero and subnormal: the value is m * 2^-24 for the 10-bit mantissa m.
   * Placing m in the low mantissa bits of 0.5 (whose ulp is 2^-24) gives
   * 0.5 + m * 2^-24 exactly; subtracting 0.5 is exact as well. */
  const uint32_t magic_mask = UINT32_C(126) << 23;
  const float denormalized = f32_from_bits((two_w >> 17) | magic_mask) - 0.5f;

  /* Select with a mask rather than ?: so that the compiler cannot sink the
   * float arithmetic into a branch (which blocks vectorization). */
  const uint32_t denorm_cutoff = UINT32_C(1) << 27; /* exponent field == 0 */
  const uint32_t is_denorm = 0u - (uint32_t)(two_w < denorm_cutoff);
  const uint32_t bits =
      sign | (f32_bits(denormalized) & is_denorm) | (f32_bits(normalized) & ~is_denorm);
  return f32_from_bits(bits);
}

/* ---- binary32 -> binary16 ------------------------------------------------- */
static inline uint16_t float_to_half_inline(float f) {
  const uint32_t w = f32_bits(f);
  const uint32_t sign = w & UINT32_C(0x80000000);
  const uint32_t nonsign_w = w & UINT32_C(0x7FFFFFFF);

  /* |f| * 2^112 overflows to Inf exactly when |f| >= 2^16, larger than any
   * value that rounds to a finite half; the second scale brings the rest back
   * to |f| * 4 (exact: both are powers of two and no underflow happens for the
   * magnitudes that matter). */
  float base = (f32_from_bits(nonsign_w) * 0x1.0p+112f) * 0x1.0p-110f;

  /* With |f| in [2^e, 2^(e+1)), base = |f| * 4 and adding 2^(e+15) leaves
   * room for exactly 10 fraction bits of f in the 24-bit float significand,
   * so the FPU rounds f to half precision, to nearest even. Below the half
   * normal range (e < -14) e is clamped to -14, which rounds to a multiple of
   * 2^-24, the subnormal spacing. The result's exponent and mantissa fields
   * then hold the half's fields, offset by 2^(e+15). */
  int32_t bias = (int32_t)(nonsign_w & UINT32_C(0x7F800000));
  bias = bias < INT32_C(0x38800000) ? INT32_C(0x38800000) : bias;
  base = f32_from_bits((uint32_t)bias + UINT32_C(0x07800000)) + base;

  /* The result is assembled in the upper 16 bits of a 32-bit word and
   * narrowed once at the end: it is the same arithmetic, but it keeps
   * compilers from narrowing each intermediate separately in vector code. */
  const uint32_t bits = f32_bits(base);
  const uint32_t exp_bits = (bits << 3) & UINT32_C(0x7C000000);
  const uint32_t mantissa_bits = (bits << 16) & UINT32_C(0x0FFF0000);
  const uint32_t nonsign = exp_bits + mantissa_bits; /* carry into exponent is right */

  /* NaN: quiet, keep the top 9 payload bits. */
  const uint32_t nan_bits = UINT32_C(0x7E000000) | ((nonsign_w << 3) & UINT32_C(0x03FF0000));
  const uint32_t is_nan = 0u - (uint32_t)((int32_t)nonsign_w > INT32_C(0x7F800000));
  return (uint16_t)((sign | (nan_bits & is_nan) | (nonsign & ~is_nan)) >> 16);
}

/* ---- bfloat16 ---------------------------------------------------------------- */
static inline float bf16_to_float_inline(uint16_t h) {
  uint32_t w = (uint32_t)h << 16;
  /* Quiet a signaling NaN (keeps the payload). */
  const uint32_t is_nan = (int32_t)(w & UINT32_C(0x7FFFFFFF)) > INT32_C(0x7F800000);
  w |= is_nan ? UINT32_C(0x00400000) : 0u;
  return f32_from_bits(w);
}

static inline uint16_t float_to_bf16_inline(float f) {
  const uint32_t w = f32_bits(f);
  /* Round to nearest even on the low 16 bits. A carry out of the mantissa
   * bumps the exponent, which is exactly right, including the overflow of the
   * largest finite values to Inf. */
  const uint32_t rounded = w + UINT32_C(0x7FFF) + ((w >> 16) & 1u);
  /* NaN must not be rounded (a small payload would carry into Inf, or lose
   * its NaN-ness): truncate and set the quiet bit. */
  const uint32_t quieted = w | UINT32_C(0x00400000);
  const uint32_t is_nan = 0u - (uint32_t)((int32_t)(w & UINT32_C(0x7FFFFFFF)) > INT32_C(0x7F800000));
  /* Select on the 32-bit values and narrow once, which vectorizes best. */
  return (uint16_t)(((quieted & is_nan) | (rounded & ~is_nan)) >> 16);
}

/* ---- public scalar API -------------------------------------------------------- */
uint16_t weft_float_to_half(float f) { return float_to_half_inline(f); }
float weft_half_to_float(uint16_t h) { return half_to_float_inline(h); }
uint16_t weft_float_to_bf16(float f) { return float_to_bf16_inline(f); }
float weft_bf16_to_float(uint16_t h) { return bf16_to_float_inline(h); }

/* ---- bulk ----------------------------------------------------------------------- */
void weft_half_to_float_n(float *restrict dst, const uint16_t *restrict src, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = half_to_float_inline(src[i]);
}

void weft_float_to_half_n(uint16_t *restrict dst, const float *restrict src, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = float_to_half_inline(src[i]);
}

void weft_bf16_to_float_n(float *restrict dst, const uint16_t *restrict src, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = bf16_to_float_inline(src[i]);
}

void weft_float_to_bf16_n(uint16_t *restrict dst, const float *restrict src, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = float_to_bf16_inline(src[i]);
}
