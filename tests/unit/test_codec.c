/* Unit tests for the WAN codecs (lib/codec).
 *
 * Numerics: every lossy codec on every datatype it supports, several data
 * distributions (normal, wide range, sparse, special values, outliers,
 * constants, zeros, subnormals) and odd sizes, checked element by element
 * against an fp64 reference with the bounds of docs/codecs.md. Exact expected
 * bytes for small hand-computed inputs, error feedback, zstd round trips,
 * determinism, and malformed input (random bytes, truncation, corrupted
 * fields) that must return -1 without crashing (this suite also runs under
 * ASan/UBSan).
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "float_bits.h"
#include "codec/codec.h"
#include "reduce/reduce.h"

/* ---- helpers ------------------------------------------------------------------------ */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng64(void) { /* xorshift64* */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545F4914F6CDD1Dull;
}
static double urand(void) { return (double)(rng64() >> 11) * 0x1p-53; } /* [0, 1) */
static double nrand(void) {                                             /* N(0, 1) */
  const double u = 1.0 - urand(), v = urand();
  return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static const weftDataType_t float_types[] = {weftFloat, weftFloat16, weftBfloat16, weftDouble};
#define NFLOAT_TYPES (sizeof float_types / sizeof float_types[0])

/* Exact value of element i. */
static double get_elem(const void *buf, weftDataType_t dt, size_t i) {
  switch (dt) {
  case weftFloat: return ((const float *)buf)[i];
  case weftFloat16: return weft_half_to_float(((const uint16_t *)buf)[i]);
  case weftBfloat16: return weft_bf16_to_float(((const uint16_t *)buf)[i]);
  case weftDouble: return ((const double *)buf)[i];
  default: fail_msg("bad dtype"); return 0;
  }
}

static void set_elem(void *buf, weftDataType_t dt, size_t i, double v) {
  switch (dt) {
  case weftFloat: ((float *)buf)[i] = (float)v; break;
  case weftFloat16: ((uint16_t *)buf)[i] = weft_float_to_half((float)v); break;
  case weftBfloat16: ((uint16_t *)buf)[i] = weft_float_to_bf16((float)v); break;
  case weftDouble: ((double *)buf)[i] = v; break;
  default: fail_msg("bad dtype");
  }
}

/* Whether element i of buf holds exactly d rounded to dt (NaN: any NaN). */
static int holds_rounded(const void *buf, weftDataType_t dt, size_t i, float d) {
  switch (dt) {
  case weftFloat: {
    const float y = ((const float *)buf)[i];
    return isnan(d) ? isnan(y) : fbits(y) == fbits(d);
  }
  case weftFloat16: {
    const uint16_t h = ((const uint16_t *)buf)[i];
    return isnan(d) ? isnan(weft_half_to_float(h)) : h == weft_float_to_half(d);
  }
  case weftBfloat16: {
    const uint16_t h = ((const uint16_t *)buf)[i];
    return isnan(d) ? isnan(weft_bf16_to_float(h)) : h == weft_float_to_bf16(d);
  }
  case weftDouble: {
    const double y = ((const double *)buf)[i];
    return isnan(d) ? isnan(y) : memcmp(&y, &(double){(double)d}, sizeof y) == 0;
  }
  default: return 0;
  }
}

/* Rounding error of the output datatype for a float value d (docs/codecs.md). */
static double out_rounding(weftDataType_t dt, double d) {
  switch (dt) {
  case weftFloat16: return ldexp(fabs(d), -11) + 0x1p-25;
  case weftBfloat16: return ldexp(fabs(d), -8) + 0x1p-134;
  default: return 0.0;
  }
}

/* ---- data distributions ---------------------------------------------------------------- */
enum {
  D_NORMAL,
  D_UNIFORM,
  D_WIDE,     /* sign * 2^U(-40, 40): overflow and underflow of fp16 */
  D_SPARSE,   /* 90% zeros */
  D_SPECIAL,  /* NaN, +-Inf, +-0, subnormals, 1e30, 1e300 mixed into normals */
  D_OUTLIER,  /* one huge element per 256-block */
  D_CONSTANT, /* every element 3.3 */
  D_ZEROS,
  D_SUBNORMAL, /* float subnormals */
  D_TINY,      /* 1e-38 .. 1e-36: int8 scales below FLT_MIN */
  D_COUNT
};
static const char *const dist_names[D_COUNT] = {"normal",    "uniform", "wide",     "sparse",
                                                "special",   "outlier", "constant", "zeros",
                                                "subnormal", "tiny"};

static double gen_value(int dist, weftDataType_t dt, size_t i) {
  switch (dist) {
  case D_NORMAL: return nrand();
  case D_UNIFORM: return 2000.0 * urand() - 1000.0;
  case D_WIDE: return (rng64() & 1 ? -1.0 : 1.0) * exp2(80.0 * urand() - 40.0);
  case D_SPARSE: return urand() < 0.9 ? 0.0 : 1e3 * nrand();
  case D_SPECIAL:
    switch (rng64() % 16) {
    case 0: return NAN;
    case 1: return INFINITY;
    case 2: return -INFINITY;
    case 3: return 0.0;
    case 4: return -0.0;
    case 5: return ldexp((double)(rng64() % (1u << 23)), -149);
    case 6: return -1e30;
    case 7: return 1e300; /* beyond float: +Inf once in float */
    default: return nrand();
    }
  case D_OUTLIER:
    if (i % 256 == 17) return (i & 256 ? -1.0 : 1.0) * (dt == weftFloat16 ? 6e4 : 1e30);
    return nrand();
  case D_CONSTANT: return 3.3;
  case D_ZEROS: return 0.0;
  case D_SUBNORMAL: return (rng64() & 1 ? -1.0 : 1.0) * ldexp((double)(rng64() % (1u << 23)), -149);
  case D_TINY: return (rng64() & 1 ? -1.0 : 1.0) * 1e-38 * (1.0 + 99.0 * urand());
  default: return 0.0;
  }
}

static void *gen_data(int dist, weftDataType_t dt, size_t n) {
  void *x = malloc(n * weft_dtype_size(dt) + 1);
  assert_non_null(x);
  for (size_t i = 0; i < n; i++) set_elem(x, dt, i, gen_value(dist, dt, i));
  return x;
}

/* ---- per-codec checks ------------------------------------------------------------------- */
typedef struct {
  weft_codec_id id;
  weftDataType_t dt;
  int dist;
  size_t n;
} run_info;

#define FAILF(ri, i, ...)                                                                 \
  do {                                                                                    \
    print_error("%s on %s, %s data, n=%zu, element %zu: ", weft_codec_name((ri)->id),     \
                weft_dtype_name((ri)->dt), dist_names[(ri)->dist], (ri)->n, (size_t)(i)); \
    print_error(__VA_ARGS__);                                                             \
    print_error("\n");                                                                    \
    fail();                                                                               \
  } while (0)

/* Magnitude order of topk: does element a (value va) rank before b (vb)? */
static int topk_before(float va, size_t a, float vb, size_t b) {
  const int na = isnan(va), nb = isnan(vb);
  if (na != nb) return na;
  if (!na && fabsf(va) != fabsf(vb)) return fabsf(va) > fabsf(vb);
  return a < b;
}

/* Checks d (float decode), y (decode in dt) and the encoded bytes against the
 * input x, element by element. */
static void check_lossy(const run_info *ri, const weft_codec_params *p, const void *x,
                        const unsigned char *enc, size_t len, const float *d, const void *y) {
  const size_t n = ri->n;
  const weftDataType_t dt = ri->dt;
  unsigned char *kept = NULL;
  if (ri->id == WEFT_CODEC_TOPK) {
    /* Parse the documented format: check word, ascending indices, values. */
    const size_t k = weft_codec_topk_k(p, n);
    assert_int_equal(len, 4 + 8 * k);
    kept = calloc(n, 1);
    assert_non_null(kept);
    for (size_t j = 0; j < k; j++) {
      uint32_t ix;
      float v;
      memcpy(&ix, enc + 4 + 4 * j, 4);
      memcpy(&v, enc + 4 + 4 * k + 4 * j, 4);
      assert_true(ix < n);
      if (j > 0) {
        uint32_t prev;
        memcpy(&prev, enc + 4 + 4 * (j - 1), 4);
        assert_true(prev < ix);
      }
      kept[ix] = 1;
      const float xf = (float)get_elem(x, dt, ix);
      if (!(isnan(xf) ? isnan(v) : fbits(v) == fbits(xf)))
        FAILF(ri, ix, "kept value %a, input as float %a", (double)v, (double)xf);
    }
    /* The kept set is exactly the k first in (|x| desc, NaN first, index asc):
     * the last kept element ranks before the first dropped one. */
    size_t worst_kept = SIZE_MAX, best_drop = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
      const float xf = (float)get_elem(x, dt, i);
      if (kept[i]) {
        if (worst_kept == SIZE_MAX ||
            topk_before((float)get_elem(x, dt, worst_kept), worst_kept, xf, i))
          worst_kept = i;
      } else if (best_drop == SIZE_MAX ||
                 topk_before(xf, i, (float)get_elem(x, dt, best_drop), best_drop)) {
        best_drop = i;
      }
    }
    if (worst_kept != SIZE_MAX && best_drop != SIZE_MAX &&
        !topk_before((float)get_elem(x, dt, worst_kept), worst_kept,
                     (float)get_elem(x, dt, best_drop), best_drop))
      FAILF(ri, best_drop, "dropped while element %zu was kept", worst_kept);
  }

  for (size_t i = 0; i < n; i++) {
    const double xr = get_elem(x, dt, i); /* fp64 reference */
    const float xf = (float)xr;           /* x' */
    const float df = d[i];
    if (!holds_rounded(y, dt, i, df))
      FAILF(ri, i, "decode into %s is not the float decode %a rounded", weft_dtype_name(dt),
            (double)df);
    double bound = 0.0;
    switch (ri->id) {
    case WEFT_CODEC_FP16:
      if (isnan(xf)) {
        if (!isnan(df)) FAILF(ri, i, "NaN decoded as %a", (double)df);
        continue;
      }
      if (fabsf(xf) >= 65520.0f) {
        if (df != copysignf(INFINITY, xf))
          FAILF(ri, i, "%a should overflow, got %a", (double)xf, (double)df);
        continue;
      }
      if (weft_half_to_float(weft_float_to_half(df)) != df)
        FAILF(ri, i, "%a is no fp16 value", (double)df);
      bound = ldexp(fabs((double)xf), -11) + 0x1p-25;
      break;
    case WEFT_CODEC_BF16:
      if (isnan(xf)) {
        if (!isnan(df)) FAILF(ri, i, "NaN decoded as %a", (double)df);
        continue;
      }
      if (isinf(xf) || fabsf(xf) >= bitsf(0x7F7F8000u)) {
        if (df != copysignf(INFINITY, xf))
          FAILF(ri, i, "%a should give Inf, got %a", (double)xf, (double)df);
        continue;
      }
      if ((fbits(df) & 0xFFFFu) != 0) FAILF(ri, i, "%a is no bf16 value", (double)df);
      bound = ldexp(fabs((double)xf), -8) + 0x1p-134;
      break;
    case WEFT_CODEC_INT8: {
      const size_t b = i / WEFT_CODEC_INT8_BLOCK;
      const unsigned char *blk = enc + b * (4 + WEFT_CODEC_INT8_BLOCK);
      float scale;
      memcpy(&scale, blk, 4);
      const signed char code = (signed char)blk[4 + i % WEFT_CODEC_INT8_BLOCK];
      if (i % WEFT_CODEC_INT8_BLOCK == 0) { /* the block's scale from its maximum */
        float mx = 0.0f;
        for (size_t j = i; j < n && j < i + WEFT_CODEC_INT8_BLOCK; j++) {
          const float a = fabsf((float)get_elem(x, dt, j));
          if (isfinite(a) && a > mx) mx = a;
        }
        const float want = mx / 127.0f;
        if (want >= FLT_MIN || mx == 0.0f) {
          if (fbits(scale) != fbits(want))
            FAILF(ri, i, "scale %a, want %a", (double)scale, (double)want);
        } else if (!((double)scale >= (double)mx / 127.0 &&
                     (double)scale < (double)mx / 127.0 + 0x1p-149)) {
          FAILF(ri, i, "tiny block scale %a for max %a", (double)scale, (double)mx);
        }
      }
      if (!isfinite(xf)) {
        if (code != -128 || !isnan(df))
          FAILF(ri, i, "non-finite: code %d, decoded %a", code, (double)df);
        continue;
      }
      if (code == -128) FAILF(ri, i, "finite %a got the NaN code", (double)xf);
      bound = (double)scale * (0.5 + 0x1p-12) + 0x1p-149;
      break;
    }
    case WEFT_CODEC_TOPK:
      if (kept[i]) continue; /* checked exactly above */
      if (fbits(df) != 0) FAILF(ri, i, "dropped element decoded as %a", (double)df);
      continue;
    default: fail();
    }
    const double err = fabs((double)df - (double)xf);
    if (!(err <= bound))
      FAILF(ri, i, "x=%a: decoded %a, error %g > bound %g", xr, (double)df, err, bound);
    /* And against the fp64 reference, through the output datatype. */
    const double yr = get_elem(y, dt, i);
    if (isfinite(xr) && isfinite(yr)) {
      const double total =
          (dt == weftDouble ? ldexp(fabs(xr), -24) + 0x1p-150 : 0.0) + bound + out_rounding(dt, df);
      if (!(fabs(yr - xr) <= total))
        FAILF(ri, i, "x=%a: output %a, error %g > total bound %g", xr, yr, fabs(yr - xr), total);
    }
  }
  free(kept);
}

/* Encodes n elements of one distribution, decodes into fp32 and into dt, and
 * checks everything. Also checks determinism (a second encode, same bytes). */
static void run_lossy(weft_codec_id id, weftDataType_t dt, int dist, size_t n,
                      const weft_codec_params *p) {
  const run_info ri = {id, dt, dist, n};
  void *x = gen_data(dist, dt, n);
  const size_t cap = weft_codec_max_bytes(id, p, dt, n);
  assert_true(cap != SIZE_MAX);
  unsigned char *enc = malloc(cap + 1), *enc2 = malloc(cap + 1);
  float *d = malloc(n * sizeof(float) + 1);
  void *y = malloc(n * weft_dtype_size(dt) + 1);
  assert_true(enc && enc2 && d && y);
  size_t len = 0, len2 = 0;
  assert_int_equal(weft_codec_encode(id, p, dt, x, n, enc, cap, &len, NULL), 0);
  assert_int_equal(len, cap); /* fixed size: exact */
  assert_int_equal(weft_codec_decode(id, weftFloat, enc, len, d, n), 0);
  assert_int_equal(weft_codec_decode(id, dt, enc, len, y, n), 0);
  check_lossy(&ri, p, x, enc, len, d, y);
  assert_int_equal(weft_codec_encode(id, p, dt, x, n, enc2, cap, &len2, NULL), 0);
  assert_int_equal(len2, len);
  assert_memory_equal(enc, enc2, len);
  free(x);
  free(enc);
  free(enc2);
  free(d);
  free(y);
}

static void test_lossy_matrix(void **state) {
  (void)state;
  static const size_t small[] = {1, 255, 256, 257};
  static const int big_dists[] = {D_NORMAL, D_SPECIAL, D_OUTLIER};
  static const weft_codec_id lossy[] = {WEFT_CODEC_FP16, WEFT_CODEC_BF16, WEFT_CODEC_INT8,
                                        WEFT_CODEC_TOPK};
  int runs = 0;
  for (size_t c = 0; c < sizeof lossy / sizeof lossy[0]; c++) {
    for (size_t t = 0; t < NFLOAT_TYPES; t++) {
      const weft_codec_id id = lossy[c];
      const weftDataType_t dt = float_types[t];
      if (!weft_codec_supports(id, dt, weftSum)) continue;
      weft_codec_params p;
      weft_codec_params_default(&p);
      p.topk_ratio = 0.1;
      for (size_t s = 0; s < sizeof small / sizeof small[0]; s++)
        for (int dist = 0; dist < D_COUNT; dist++, runs++) run_lossy(id, dt, dist, small[s], &p);
      p.topk_ratio = 0.01;
      for (size_t b = 0; b < sizeof big_dists / sizeof big_dists[0]; b++, runs++)
        run_lossy(id, dt, big_dists[b], 1000003, &p);
    }
  }
  assert_int_equal(runs, 12 * (4 * D_COUNT + 3)); /* 12 (codec, dtype) pairs */
}

/* topk with other ratios, ties and all-equal data. */

/* Encodes x with topk, decodes it, and checks the result as run_lossy does
 * (dist only labels the report). */
static void topk_roundtrip(const float *x, size_t n, const weft_codec_params *p, int dist) {
  const size_t cap = weft_codec_max_bytes(WEFT_CODEC_TOPK, p, weftFloat, n);
  unsigned char *enc = malloc(cap);
  float *d = malloc(n * sizeof *d);
  assert_true(enc && d);
  size_t len;
  assert_int_equal(weft_codec_encode(WEFT_CODEC_TOPK, p, weftFloat, x, n, enc, cap, &len, NULL), 0);
  assert_int_equal(weft_codec_decode(WEFT_CODEC_TOPK, weftFloat, enc, len, d, n), 0);
  const run_info ri = {WEFT_CODEC_TOPK, weftFloat, dist, n};
  check_lossy(&ri, p, x, enc, len, d, d);
  free(enc);
  free(d);
}

static void test_topk_ratios(void **state) {
  (void)state;
  static const double ratios[] = {1e-9, 0.001, 0.3, 0.5, 0.999, 1.0, 7.0};
  static const size_t sizes[] = {1, 2, 3, 255, 256, 257, 4099};
  for (size_t r = 0; r < sizeof ratios / sizeof ratios[0]; r++) {
    weft_codec_params p;
    weft_codec_params_default(&p);
    p.topk_ratio = ratios[r];
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
      for (int dist = 0; dist < D_COUNT; dist++)
        run_lossy(WEFT_CODEC_TOPK, weftFloat, dist, sizes[s], &p);
  }
  /* Large inputs: the sampled fast path (k <= count / 4) and the general one,
   * also where the sample's estimate fails (constant data, zeros). */
  static const double big_ratios[] = {0.0001, 0.01, 0.2, 0.3};
  static const int big_dists[] = {D_NORMAL, D_WIDE, D_SPARSE, D_SPECIAL, D_CONSTANT, D_ZEROS};
  for (size_t r = 0; r < sizeof big_ratios / sizeof big_ratios[0]; r++)
    for (size_t d = 0; d < sizeof big_dists / sizeof big_dists[0]; d++) {
      weft_codec_params p = {.topk_ratio = big_ratios[r], .zstd_level = 1};
      run_lossy(WEFT_CODEC_TOPK, weftFloat, big_dists[d], 300007, &p);
    }

  /* Quantized values: many exact ties between magnitudes. */
  for (int rep = 0; rep < 20; rep++) {
    const size_t n = 1000 + (size_t)rep * 37;
    float *x = malloc(n * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++) x[i] = (float)((int)(rng64() % 9) - 4);
    weft_codec_params p = {.topk_ratio = 0.05 + 0.04 * rep, .zstd_level = 1};
    topk_roundtrip(x, n, &p, D_UNIFORM);
    free(x);
  }
}

/* ---- exact bytes of hand-computed examples ---------------------------------------------- */
static void test_int8_exact_bytes(void **state) {
  (void)state;
  /* max finite |x| = 127 -> scale 1.0: codes are x rounded to nearest even. */
  const float x[10] = {127.0f, -1.5f, 2.5f, 0.25f, NAN, -127.0f, 3.0f, -0.5f, 0.5f, 1.5f};
  const unsigned char want[14] = {0x00, 0x00, 0x80, 0x3F, 0x7F, 0xFE, 0x02,
                                  0x00, 0x80, 0x81, 0x03, 0x00, 0x00, 0x02};
  unsigned char enc[14];
  size_t len = 0;
  assert_int_equal(weft_codec_max_bytes(WEFT_CODEC_INT8, NULL, weftFloat, 10), 14);
  assert_int_equal(
      weft_codec_encode(WEFT_CODEC_INT8, NULL, weftFloat, x, 10, enc, sizeof enc, &len, NULL), 0);
  assert_int_equal(len, 14);
  assert_memory_equal(enc, want, 14);
  float y[10];
  assert_int_equal(weft_codec_decode(WEFT_CODEC_INT8, weftFloat, enc, len, y, 10), 0);
  const float ywant[10] = {127, -2, 2, 0, 0, -127, 3, 0, 0, 2};
  for (int i = 0; i < 10; i++) {
    if (i == 4)
      assert_true(isnan(y[i]));
    else
      assert_true(y[i] == ywant[i]);
  }

  /* Two blocks: all zeros (scale 0, codes 0), then {-31.75, 1}: scale 0.25. */
  float x2[258] = {0};
  x2[256] = -31.75f;
  x2[257] = 1.0f;
  unsigned char enc2[266], want2[266] = {0};
  const unsigned char tail[6] = {0x00, 0x00, 0x80, 0x3E, 0x81, 0x04};
  memcpy(want2 + 260, tail, 6);
  assert_int_equal(
      weft_codec_encode(WEFT_CODEC_INT8, NULL, weftFloat, x2, 258, enc2, sizeof enc2, &len, NULL),
      0);
  assert_int_equal(len, 266);
  assert_memory_equal(enc2, want2, 266);

  /* The same values from double and bf16 input give the same bytes. */
  double xd[10];
  for (int i = 0; i < 10; i++) xd[i] = x[i];
  assert_int_equal(
      weft_codec_encode(WEFT_CODEC_INT8, NULL, weftDouble, xd, 10, enc, sizeof enc, &len, NULL), 0);
  assert_memory_equal(enc, want, 14);
  uint16_t xb[10];
  for (int i = 0; i < 10; i++) xb[i] = weft_float_to_bf16(x[i]);
  assert_int_equal(
      weft_codec_encode(WEFT_CODEC_INT8, NULL, weftBfloat16, xb, 10, enc, sizeof enc, &len, NULL),
      0);
  assert_memory_equal(enc, want, 14);
}

static void test_cast16_exact_bytes(void **state) {
  (void)state;
  const float x[8] = {1.0f, -2.0f, 65504.0f, 65520.0f, 1e-8f, 0x1p-24f, NAN, -INFINITY};
  const uint16_t want16[8] = {0x3C00, 0xC000, 0x7BFF, 0x7C00, 0x0000, 0x0001, 0x7E00, 0xFC00};
  unsigned char enc[16];
  size_t len;
  assert_int_equal(
      weft_codec_encode(WEFT_CODEC_FP16, NULL, weftFloat, x, 8, enc, sizeof enc, &len, NULL), 0);
  assert_int_equal(len, 16);
  for (int i = 0; i < 8; i++) {
    const uint16_t h = (uint16_t)(enc[2 * i] | enc[2 * i + 1] << 8); /* little-endian */
    assert_int_equal(h, want16[i]);
  }
  const float xb[6] = {1.0f, 1.00390625f, 1.01171875f, NAN, -INFINITY, FLT_MAX};
  const uint16_t wantb[6] = {0x3F80, 0x3F80, 0x3F82, 0x7FC0, 0xFF80, 0x7F80};
  assert_int_equal(
      weft_codec_encode(WEFT_CODEC_BF16, NULL, weftFloat, xb, 6, enc, sizeof enc, &len, NULL), 0);
  assert_int_equal(len, 12);
  for (int i = 0; i < 6; i++) {
    const uint16_t h = (uint16_t)(enc[2 * i] | enc[2 * i + 1] << 8);
    assert_int_equal(h, wantb[i]);
  }
  /* Misaligned encoded buffer: same bytes. */
  unsigned char big[40];
  assert_int_equal(
      weft_codec_encode(WEFT_CODEC_BF16, NULL, weftFloat, xb, 6, big + 1, 12, &len, NULL), 0);
  assert_memory_equal(big + 1, enc, 12);
  float y[6];
  assert_int_equal(weft_codec_decode(WEFT_CODEC_BF16, weftFloat, big + 1, 12, y, 6), 0);
  assert_true(y[1] == 1.0f && y[2] == 1.015625f && isnan(y[3]) && y[4] == -INFINITY &&
              y[5] == INFINITY);
}

static void test_topk_exact_bytes(void **state) {
  (void)state;
  /* k = ceil(0.375 * 8) = 3: |-4| at 1, then the tie |3| at 3, 5, 6: lowest indices. */
  const float x[8] = {1, -4, 2, 3, 0, -3, 3, 0.5f};
  const weft_codec_params p = {.topk_ratio = 0.375, .zstd_level = 1};
  const unsigned char want[28] = {0x1B, 0x6D, 0xA6, 0xDA, /* 8 ^ 3*0x9E3779B1 */
                                  1,    0,    0,    0,    3,    0,    0,    0,
                                  5,    0,    0,    0,                            /* indices */
                                  0x00, 0x00, 0x80, 0xC0, 0x00, 0x00, 0x40, 0x40, /* -4, 3 */
                                  0x00, 0x00, 0x40, 0xC0};                        /* -3 */
  unsigned char enc[28];
  size_t len;
  assert_int_equal(weft_codec_topk_k(&p, 8), 3);
  assert_int_equal(
      weft_codec_encode(WEFT_CODEC_TOPK, &p, weftFloat, x, 8, enc, sizeof enc, &len, NULL), 0);
  assert_int_equal(len, 28);
  assert_memory_equal(enc, want, 28);
  float y[8];
  assert_int_equal(weft_codec_decode(WEFT_CODEC_TOPK, weftFloat, enc, len, y, 8), 0);
  const float ywant[8] = {0, -4, 0, 3, 0, -3, 0, 0};
  assert_memory_equal(y, ywant, sizeof y);

  /* NaN ranks above Inf, Inf above finite values. */
  const float z[4] = {INFINITY, 1e30f, NAN, -INFINITY};
  weft_codec_params p1 = {.topk_ratio = 0.25, .zstd_level = 1};
  unsigned char e[20];
  assert_int_equal(
      weft_codec_encode(WEFT_CODEC_TOPK, &p1, weftFloat, z, 4, e, sizeof e, &len, NULL), 0);
  assert_int_equal(len, 12);
  uint32_t ix;
  memcpy(&ix, e + 4, 4);
  assert_int_equal(ix, 2);
  p1.topk_ratio = 0.5;
  assert_int_equal(
      weft_codec_encode(WEFT_CODEC_TOPK, &p1, weftFloat, z, 4, e, sizeof e, &len, NULL), 0);
  assert_int_equal(len, 20);
  memcpy(&ix, e + 4, 4);
  assert_int_equal(ix, 0);
  memcpy(&ix, e + 8, 4);
  assert_int_equal(ix, 2);

  /* All NaNs tie whatever their sign and payload: the lowest index wins. */
  const float nans[3] = {1.0f, bitsf(0x7FC00001u), bitsf(0xFFFFFFFFu)};
  p1.topk_ratio = 0.1; /* k = 1 */
  assert_int_equal(
      weft_codec_encode(WEFT_CODEC_TOPK, &p1, weftFloat, nans, 3, e, sizeof e, &len, NULL), 0);
  assert_int_equal(len, 12);
  memcpy(&ix, e + 4, 4);
  assert_int_equal(ix, 1);
}

/* ---- error feedback --------------------------------------------------------------------- */
/* T steps of the same vector with a residual: sum of decodes + residual_T must
 * equal T * x, up to the float rounding of v = x + residual at each step. */
static void feedback_run(weft_codec_id id, weftDataType_t dt, double ratio, size_t n, int steps) {
  weft_codec_params p;
  weft_codec_params_default(&p);
  p.topk_ratio = ratio;
  void *x = gen_data(D_NORMAL, dt, n);
  const size_t cap = weft_codec_max_bytes(id, &p, dt, n);
  unsigned char *enc = malloc(cap);
  float *r = calloc(n, sizeof *r), *d = malloc(n * sizeof *d);
  double *acc = calloc(n, sizeof *acc), *tol = calloc(n, sizeof *tol);
  assert_true(enc && r && d && acc && tol);
  for (int t = 0; t < steps; t++) {
    for (size_t i = 0; i < n; i++) /* |v - (x + r)| <= 2^-24 |v| */
      tol[i] += ldexp(fabs((double)(float)get_elem(x, dt, i)) + fabs((double)r[i]), -23);
    size_t len;
    assert_int_equal(weft_codec_encode(id, &p, dt, x, n, enc, cap, &len, r), 0);
    assert_int_equal(weft_codec_decode(id, weftFloat, enc, len, d, n), 0);
    for (size_t i = 0; i < n; i++) acc[i] += d[i];
  }
  double maxx = 0.0, maxr = 0.0;
  for (size_t i = 0; i < n; i++) {
    const double xf = (float)get_elem(x, dt, i);
    const double want = steps * xf;
    const double err = fabs(acc[i] + (double)r[i] - want);
    if (!(err <= tol[i] + 1e-30))
      fail_msg("%s %s: element %zu: sum %.9g + residual %.9g vs %d * x = %.9g (tol %g)",
               weft_codec_name(id), weft_dtype_name(dt), i, acc[i], (double)r[i], steps, want,
               tol[i]);
    if (fabs(xf) > maxx) maxx = fabs(xf);
    if (fabs((double)r[i]) > maxr) maxr = fabs((double)r[i]);
  }
  /* The residual stays bounded, so the mean of the decodes approaches x. */
  if (!(maxr <= 2.0 / ratio * maxx))
    fail_msg("%s: residual %g grew past %g", weft_codec_name(id), maxr, 2.0 / ratio * maxx);
  free(x);
  free(enc);
  free(r);
  free(d);
  free(acc);
  free(tol);
}

static void test_error_feedback(void **state) {
  (void)state;
  feedback_run(WEFT_CODEC_TOPK, weftFloat, 0.05, 1000, 200);
  feedback_run(WEFT_CODEC_TOPK, weftFloat, 0.01, 100003, 30);
  feedback_run(WEFT_CODEC_TOPK, weftFloat, 0.01, 300007, 10); /* sampled path */
  feedback_run(WEFT_CODEC_TOPK, weftBfloat16, 0.1, 4099, 50);
  feedback_run(WEFT_CODEC_TOPK, weftDouble, 0.02, 3000, 60);
  feedback_run(WEFT_CODEC_INT8, weftFloat, 1.0, 10007, 50);
  feedback_run(WEFT_CODEC_INT8, weftFloat16, 1.0, 999, 20);
  feedback_run(WEFT_CODEC_FP16, weftFloat, 1.0, 10007, 50);
  feedback_run(WEFT_CODEC_BF16, weftDouble, 1.0, 777, 20);

  /* One step by hand: topk keeps 4, the residual holds the dropped 1 and 2. */
  const float x[3] = {1, 4, 2};
  float r[3] = {0, 0, 0.5f};
  const weft_codec_params p = {.topk_ratio = 0.2, .zstd_level = 1}; /* k = 1 */
  unsigned char enc[12];
  size_t len;
  assert_int_equal(
      weft_codec_encode(WEFT_CODEC_TOPK, &p, weftFloat, x, 3, enc, sizeof enc, &len, r), 0);
  assert_true(r[0] == 1.0f && r[1] == 0.0f && r[2] == 2.5f);
  /* Next step: v = {2, 4, 4.5}: 4.5 is kept (value includes the residual). */
  assert_int_equal(
      weft_codec_encode(WEFT_CODEC_TOPK, &p, weftFloat, x, 3, enc, sizeof enc, &len, r), 0);
  float v;
  memcpy(&v, enc + 8, 4);
  assert_true(v == 4.5f);
  assert_true(r[0] == 2.0f && r[1] == 4.0f && r[2] == 0.0f);

  /* Non-finite values leave no residual behind. */
  const float xs[4] = {NAN, INFINITY, 1e5f, 1.0f};
  float rs[4] = {0, 0, 0, 0.25f};
  unsigned char e16[8];
  assert_int_equal(
      weft_codec_encode(WEFT_CODEC_FP16, NULL, weftFloat, xs, 4, e16, sizeof e16, &len, rs), 0);
  assert_true(rs[0] == 0.0f && rs[1] == 0.0f && rs[2] == 0.0f && rs[3] == 0.0f); /* 1.25 exact */
}

/* More NaN/Inf than k: the dropped ones leave no residual, the finite ones
 * keep theirs; also with a sample that misses every large value (the fast
 * path's estimate fails and the general path runs). */
static void test_topk_edge_paths(void **state) {
  (void)state;
  static const size_t sizes[] = {1000, 300007};
  for (size_t s = 0; s < 2; s++) {
    const size_t n = sizes[s];
    weft_codec_params p = {.topk_ratio = 0.01, .zstd_level = 1};
    const size_t k = weft_codec_topk_k(&p, n);
    float *x = malloc(n * sizeof *x), *r = calloc(n, sizeof *r), *d = malloc(n * sizeof *d);
    unsigned char *enc = malloc(weft_codec_max_bytes(WEFT_CODEC_TOPK, &p, weftFloat, n));
    assert_true(x && r && d && enc);
    /* 20%, or 1.5% on the large input: more than k, yet few enough to fit the
     * fast path's candidate array (2k + n/64). */
    const uint64_t per_mille = s == 0 ? 200 : 15;
    size_t nonfinite = 0, nans = 0;
    for (size_t i = 0; i < n; i++) {
      const uint64_t u = rng64() % 1000;
      x[i] = u < per_mille / 2 ? NAN : u < per_mille ? INFINITY : (float)nrand();
      nonfinite += u < per_mille;
      nans += u < per_mille / 2;
    }
    assert_true(nonfinite > k);
    size_t len;
    assert_int_equal(
        weft_codec_encode(WEFT_CODEC_TOPK, &p, weftFloat, x, n, enc, SIZE_MAX, &len, r), 0);
    assert_int_equal(weft_codec_decode(WEFT_CODEC_TOPK, weftFloat, enc, len, d, n), 0);
    size_t nan_kept = 0;
    for (size_t i = 0; i < n; i++) {
      if (!isfinite(x[i])) {
        if (r[i] != 0.0f)
          fail_msg("n=%zu: residual %g at non-finite element %zu", n, (double)r[i], i);
      } else if (fbits(r[i]) != fbits(x[i])) {
        fail_msg("n=%zu: residual %g at dropped element %zu, want %g", n, (double)r[i], i,
                 (double)x[i]);
      }
      nan_kept += isnan(d[i]);
    }
    assert_int_equal(nan_kept, nans < k ? nans : k); /* NaNs first, then the Infs */
    free(x);
    free(r);
    free(d);
    free(enc);
  }
  /* Large values only at the positions the fast path samples (j * n / 65536):
   * fewer than k elements lie above its estimate. */
  const size_t n = 300007;
  weft_codec_params p = {.topk_ratio = 0.05, .zstd_level = 1};
  float *x = malloc(n * sizeof *x);
  assert_non_null(x);
  for (size_t i = 0; i < n; i++) x[i] = 1.0f + (float)urand();
  for (size_t j = 0; j < 65536; j++)
    x[(size_t)((uint64_t)j * n / 65536)] = 1000.0f + (float)(j % 7);
  topk_roundtrip(x, n, &p, D_OUTLIER);
  free(x);
}

/* ---- zstd -------------------------------------------------------------------------------- */
static void test_zstd(void **state) {
  (void)state;
  if (!weft_codec_available(WEFT_CODEC_ZSTD)) {
    unsigned char b[64];
    size_t len;
    const float x = 1.0f;
    assert_int_equal(
        weft_codec_encode(WEFT_CODEC_ZSTD, NULL, weftFloat, &x, 1, b, sizeof b, &len, NULL), -1);
    assert_int_equal(weft_codec_supports(WEFT_CODEC_ZSTD, weftFloat, weftSum), 0);
    skip();
  }
  static const size_t sizes[] = {0, 1, 257, 100003};
  for (int dt = 0; dt < weftNumTypes; dt++) {
    assert_true(weft_codec_supports(WEFT_CODEC_ZSTD, (weftDataType_t)dt, weftMax));
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
      const size_t n = sizes[s], bytes = n * weft_dtype_size((weftDataType_t)dt);
      unsigned char *x = malloc(bytes + 1), *y = malloc(bytes + 1);
      const size_t cap = weft_codec_max_bytes(WEFT_CODEC_ZSTD, NULL, (weftDataType_t)dt, n);
      unsigned char *enc = malloc(cap), *enc2 = malloc(cap);
      assert_true(x && y && enc && enc2);
      for (size_t i = 0; i < bytes; i++)
        x[i] = (unsigned char)(i % 3 ? rng64() : 0); /* NaN patterns too */
      size_t len, len2;
      assert_int_equal(
          weft_codec_encode(WEFT_CODEC_ZSTD, NULL, (weftDataType_t)dt, x, n, enc, cap, &len, NULL),
          0);
      assert_true(len <= cap);
      assert_int_equal(weft_codec_decode(WEFT_CODEC_ZSTD, (weftDataType_t)dt, enc, len, y, n), 0);
      if (bytes) assert_memory_equal(x, y, bytes);
      assert_int_equal(weft_codec_encode(WEFT_CODEC_ZSTD, NULL, (weftDataType_t)dt, x, n, enc2, cap,
                                         &len2, NULL),
                       0);
      assert_int_equal(len, len2);
      assert_memory_equal(enc, enc2, len);
      /* Truncated or one element short: -1. */
      if (len > 8)
        assert_int_equal(weft_codec_decode(WEFT_CODEC_ZSTD, (weftDataType_t)dt, enc, len - 1, y, n),
                         -1);
      if (n)
        assert_int_equal(weft_codec_decode(WEFT_CODEC_ZSTD, (weftDataType_t)dt, enc, len, y, n - 1),
                         -1);
      free(x);
      free(y);
      free(enc);
      free(enc2);
    }
  }
  /* Compressible data shrinks; every level round-trips. */
  const size_t n = 1 << 18;
  float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
  const size_t cap = weft_codec_max_bytes(WEFT_CODEC_ZSTD, NULL, weftFloat, n);
  unsigned char *enc = malloc(cap);
  assert_true(x && y && enc);
  for (size_t i = 0; i < n; i++) x[i] = (float)(i / 64 % 1024) * 0.125f;
  static const int levels[] = {-100, -5, 0, 1, 3, 9, 1000};
  for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++) {
    const weft_codec_params p = {.topk_ratio = 0.01, .zstd_level = levels[l]};
    const size_t m = levels[l] > 9 ? n / 16 : n; /* the slow levels on less */
    size_t len;
    assert_int_equal(weft_codec_encode(WEFT_CODEC_ZSTD, &p, weftFloat, x, m, enc, cap, &len, NULL),
                     0);
    /* the fast negative levels trade ratio for speed */
    if (!(len < m * sizeof(float) / (levels[l] < 1 ? 2 : 8)))
      fail_msg("zstd level %d: %zu bytes from %zu", levels[l], len, m * sizeof(float));
    memset(y, 0, n * sizeof *y);
    assert_int_equal(weft_codec_decode(WEFT_CODEC_ZSTD, weftFloat, enc, len, y, m), 0);
    assert_memory_equal(x, y, m * sizeof(float));
  }
  /* Capacity below the header or the frame: -1. */
  size_t len;
  assert_int_equal(weft_codec_encode(WEFT_CODEC_ZSTD, NULL, weftFloat, x, n, enc, 7, &len, NULL),
                   -1);
  assert_int_equal(weft_codec_encode(WEFT_CODEC_ZSTD, NULL, weftFloat, x, n, enc, 20, &len, NULL),
                   -1);
  free(x);
  free(y);
  free(enc);
}

/* ---- malformed input -------------------------------------------------------------------- */
static void test_malformed_random(void **state) {
  (void)state;
  unsigned char *buf = malloc(8192);
  void *dst = malloc(600 * 8);
  assert_true(buf && dst);
  int ok = 0, bad = 0;
  for (int it = 0; it < 20000; it++) {
    const weft_codec_id id = (weft_codec_id)(rng64() % WEFT_CODEC_COUNT);
    const weftDataType_t dt = weft_codec_lossy(id) ? float_types[rng64() % NFLOAT_TYPES]
                                                   : (weftDataType_t)(rng64() % weftNumTypes);
    const size_t count = rng64() % 600;
    size_t len = rng64() % 8192;
    if (it % 4 == 0) { /* the right length for fixed-size codecs, or near it */
      const size_t m = weft_codec_max_bytes(id, NULL, dt, count);
      if (m < 8192) len = m;
      if (id == WEFT_CODEC_TOPK) len = 4 + 8 * (rng64() % (count + 1));
    }
    for (size_t i = 0; i < len; i++) buf[i] = (unsigned char)rng64();
    if (id == WEFT_CODEC_ZSTD && len >= 8 && it % 2) { /* get past the header check */
      const uint64_t b = count * weft_dtype_size(dt);
      memcpy(buf, &b, 8);
      if (len >= 12) memcpy(buf + 8, &(uint32_t){0xFD2FB528u}, 4); /* zstd magic */
    }
    const int rc = weft_codec_decode(id, dt, buf, len, dst, count);
    assert_true(rc == 0 || rc == -1);
    rc == 0 ? ok++ : bad++;
    if (weft_codec_fixed_size(id) && id != WEFT_CODEC_TOPK &&
        len != weft_codec_max_bytes(id, NULL, dt, count))
      assert_int_equal(rc, -1);
  }
  assert_true(bad > 0);
  assert_true(ok > 0); /* random bytes of the right size are valid fp16/bf16/none */
  /* NULL pointers, invalid ids and datatypes. */
  assert_int_equal(weft_codec_decode(WEFT_CODEC_INT8, weftFloat, NULL, 8, dst, 1), -1);
  assert_int_equal(weft_codec_decode(WEFT_CODEC_INT8, weftFloat, buf, 5, NULL, 1), -1);
  assert_int_equal(weft_codec_decode(WEFT_CODEC_COUNT, weftFloat, buf, 5, dst, 1), -1);
  assert_int_equal(weft_codec_decode((weft_codec_id)-1, weftFloat, buf, 5, dst, 1), -1);
  assert_int_equal(weft_codec_decode(WEFT_CODEC_NONE, weftNumTypes, buf, 5, dst, 1), -1);
  assert_int_equal(weft_codec_decode(WEFT_CODEC_INT8, weftInt32, buf, 5, dst, 1), -1);
  free(buf);
  free(dst);
}

/* Valid encodings, then cut or corrupted. */
static void test_malformed_mutations(void **state) {
  (void)state;
  const size_t n = 1000;
  float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
  assert_true(x && y);
  for (size_t i = 0; i < n; i++) x[i] = (float)nrand();
  weft_codec_params p;
  weft_codec_params_default(&p);
  p.topk_ratio = 0.05;
  for (int c = 0; c < WEFT_CODEC_COUNT; c++) {
    const weft_codec_id id = (weft_codec_id)c;
    if (!weft_codec_available(id)) continue;
    const size_t cap = weft_codec_max_bytes(id, &p, weftFloat, n);
    unsigned char *enc = malloc(cap), *mut = malloc(cap);
    assert_true(enc && mut);
    size_t len;
    assert_int_equal(weft_codec_encode(id, &p, weftFloat, x, n, enc, cap, &len, NULL), 0);
    /* Every shorter length fails. */
    for (size_t l = 0; l < len; l++) {
      memcpy(mut, enc, l);
      if (weft_codec_decode(id, weftFloat, mut, l, y, n) != -1)
        fail_msg("%s: decode of %zu of %zu bytes succeeded", weft_codec_name(id), l, len);
    }
    /* Wrong count. */
    assert_int_equal(weft_codec_decode(id, weftFloat, enc, len, y, n - 1), -1);
    assert_int_equal(weft_codec_decode(id, weftFloat, enc, len, y, n + 1), -1);
    /* Random byte flips: no crash. */
    for (int it = 0; it < 2000; it++) {
      memcpy(mut, enc, len);
      for (int f = 0; f < 1 + it % 4; f++)
        mut[rng64() % len] ^= (unsigned char)(1u << (rng64() % 8));
      const int rc = weft_codec_decode(id, weftFloat, mut, len, y, n);
      assert_true(rc == 0 || rc == -1);
    }
    free(enc);
    free(mut);
  }
  /* topk: indices out of order, repeated, out of range; a wrong check word. */
  const size_t k = weft_codec_topk_k(&p, n),
               cap = weft_codec_max_bytes(WEFT_CODEC_TOPK, &p, weftFloat, n);
  unsigned char *enc = malloc(cap), *mut = malloc(cap);
  assert_true(enc && mut);
  size_t len;
  assert_int_equal(weft_codec_encode(WEFT_CODEC_TOPK, &p, weftFloat, x, n, enc, cap, &len, NULL),
                   0);
  assert_int_equal(weft_codec_decode(WEFT_CODEC_TOPK, weftFloat, enc, len, y, n), 0);
  uint32_t a, b;
  memcpy(mut, enc, len);
  memcpy(&a, mut + 4, 4);
  memcpy(&b, mut + 8, 4);
  memcpy(mut + 4, &b, 4);
  memcpy(mut + 8, &a, 4);
  assert_int_equal(weft_codec_decode(WEFT_CODEC_TOPK, weftFloat, mut, len, y, n), -1);
  memcpy(mut, enc, len);
  memcpy(mut + 8, &a, 4);
  assert_int_equal(weft_codec_decode(WEFT_CODEC_TOPK, weftFloat, mut, len, y, n), -1);
  memcpy(mut, enc, len);
  memcpy(mut + 4 + 4 * (k - 1), &(uint32_t){(uint32_t)n}, 4);
  assert_int_equal(weft_codec_decode(WEFT_CODEC_TOPK, weftFloat, mut, len, y, n), -1);
  memcpy(mut, enc, len);
  mut[0] ^= 1;
  assert_int_equal(weft_codec_decode(WEFT_CODEC_TOPK, weftFloat, mut, len, y, n), -1);
  /* Cut at an entry boundary: the check word no longer matches k. */
  assert_int_equal(weft_codec_decode(WEFT_CODEC_TOPK, weftFloat, enc, len - 8, y, n), -1);
  free(enc);
  free(mut);
  /* int8: negative, Inf and NaN scales. */
  unsigned char e8[4 + 3];
  const float x3[3] = {1, 2, 3};
  assert_int_equal(
      weft_codec_encode(WEFT_CODEC_INT8, NULL, weftFloat, x3, 3, e8, sizeof e8, &len, NULL), 0);
  static const uint32_t bad_scales[] = {0xBF800000u, 0x80000000u, 0x7F800000u, 0x7FC00000u,
                                        0xFFFFFFFFu};
  for (size_t s = 0; s < sizeof bad_scales / sizeof bad_scales[0]; s++) {
    memcpy(e8, &bad_scales[s], 4);
    assert_int_equal(weft_codec_decode(WEFT_CODEC_INT8, weftFloat, e8, len, y, 3), -1);
  }
  free(x);
  free(y);
}

/* ---- API surface ------------------------------------------------------------------------- */
static void test_registry(void **state) {
  (void)state;
  static const char *const want[] = {"none", "fp16", "bf16", "int8", "topk", "zstd"};
  for (int i = 0; i < WEFT_CODEC_COUNT; i++) {
    assert_string_equal(weft_codec_name((weft_codec_id)i), want[i]);
    weft_codec_id id = WEFT_CODEC_COUNT;
    assert_int_equal(weft_codec_parse(want[i], &id), 0);
    assert_int_equal(id, i);
    assert_true(weft_codec_throughput((weft_codec_id)i) > 0.0);
  }
  assert_string_equal(weft_codec_name(WEFT_CODEC_COUNT), "?");
  weft_codec_id id;
  assert_int_equal(weft_codec_parse("INT8", &id), 0);
  assert_int_equal(id, WEFT_CODEC_INT8);
  assert_int_equal(weft_codec_parse("Zstd", &id), 0);
  assert_int_equal(id, WEFT_CODEC_ZSTD);
  assert_int_equal(weft_codec_parse("lz4", &id), -1);
  assert_int_equal(weft_codec_parse("", &id), -1);
  assert_int_equal(weft_codec_parse("int8 ", &id), -1);
  assert_int_equal(weft_codec_parse(NULL, &id), -1);

  weft_codec_params p;
  weft_codec_params_default(&p);
  assert_true(p.topk_ratio == 0.01 && p.zstd_level == 1);
  for (int i = 0; i < WEFT_CODEC_COUNT; i++) {
    const weft_codec_id c = (weft_codec_id)i;
    assert_int_equal(weft_codec_lossy(c), c >= WEFT_CODEC_FP16 && c <= WEFT_CODEC_TOPK);
    assert_int_equal(weft_codec_fixed_size(c), c != WEFT_CODEC_ZSTD);
    if (c != WEFT_CODEC_ZSTD) assert_int_equal(weft_codec_available(c), 1);
  }
  assert_int_equal(weft_codec_lossy(WEFT_CODEC_COUNT), 0);
  assert_int_equal(weft_codec_available(WEFT_CODEC_COUNT), 0);
  assert_int_equal(weft_codec_fixed_size(WEFT_CODEC_COUNT), 0);
  assert_true(weft_codec_throughput(WEFT_CODEC_INT8) >= 2e9);
  assert_true(weft_codec_throughput(WEFT_CODEC_COUNT) == 0.0);
}

static void test_supports(void **state) {
  (void)state;
  for (int c = 0; c < WEFT_CODEC_COUNT; c++) {
    const weft_codec_id id = (weft_codec_id)c;
    for (int dt = 0; dt < weftNumTypes; dt++) {
      for (int op = 0; op < weftNumOps; op++) {
        int want;
        const int isfloat =
            dt == weftFloat || dt == weftFloat16 || dt == weftBfloat16 || dt == weftDouble;
        if (!weft_codec_lossy(id))
          want = weft_codec_available(id);
        else
          want = isfloat && (op == weftSum || op == weftAvg);
        if ((id == WEFT_CODEC_FP16 || id == WEFT_CODEC_BF16) &&
            (dt == weftFloat16 || dt == weftBfloat16))
          want = 0;
        if (weft_codec_supports(id, (weftDataType_t)dt, (weftRedOp_t)op) != want)
          fail_msg("supports(%s, %s, %s) != %d", weft_codec_name(id),
                   weft_dtype_name((weftDataType_t)dt), weft_op_name((weftRedOp_t)op), want);
      }
    }
    assert_int_equal(weft_codec_supports(id, weftNumTypes, weftSum), 0);
    assert_int_equal(weft_codec_supports(id, weftFloat, weftNumOps), 0);
  }
  assert_int_equal(weft_codec_supports(WEFT_CODEC_INT8, weftFloat16, weftAvg), 1);
  assert_int_equal(weft_codec_supports(WEFT_CODEC_FP16, weftFloat16, weftSum), 0);
  assert_int_equal(weft_codec_supports(WEFT_CODEC_BF16, weftBfloat16, weftSum), 0);
  assert_int_equal(weft_codec_supports(WEFT_CODEC_TOPK, weftInt32, weftSum), 0);
  assert_int_equal(weft_codec_supports(WEFT_CODEC_INT8, weftFloat, weftMax), 0);
  assert_int_equal(weft_codec_supports(WEFT_CODEC_NONE, weftInt8, weftProd), 1);
  assert_int_equal(weft_codec_supports(WEFT_CODEC_COUNT, weftFloat, weftSum), 0);
}

static void test_sizes(void **state) {
  (void)state;
  weft_codec_params p;
  weft_codec_params_default(&p);
  assert_int_equal(weft_codec_max_bytes(WEFT_CODEC_NONE, NULL, weftDouble, 3), 24);
  assert_int_equal(weft_codec_max_bytes(WEFT_CODEC_FP16, NULL, weftFloat, 3), 6);
  assert_int_equal(weft_codec_max_bytes(WEFT_CODEC_BF16, NULL, weftDouble, 3), 6);
  assert_int_equal(weft_codec_max_bytes(WEFT_CODEC_INT8, NULL, weftFloat, 0), 0);
  assert_int_equal(weft_codec_max_bytes(WEFT_CODEC_INT8, NULL, weftFloat, 1), 5);
  assert_int_equal(weft_codec_max_bytes(WEFT_CODEC_INT8, NULL, weftFloat, 256), 260);
  assert_int_equal(weft_codec_max_bytes(WEFT_CODEC_INT8, NULL, weftFloat, 257), 265);
  assert_int_equal(weft_codec_max_bytes(WEFT_CODEC_TOPK, NULL, weftFloat, 1000), 4 + 8 * 10);
  assert_int_equal(weft_codec_max_bytes(WEFT_CODEC_TOPK, NULL, weftFloat, 0), 4);
  assert_int_equal(weft_codec_max_bytes(WEFT_CODEC_NONE, NULL, weftNumTypes, 3), SIZE_MAX);
  assert_int_equal(weft_codec_max_bytes(WEFT_CODEC_COUNT, NULL, weftFloat, 3), SIZE_MAX);
  assert_int_equal(weft_codec_max_bytes(WEFT_CODEC_NONE, NULL, weftDouble, SIZE_MAX / 4), SIZE_MAX);
  if (weft_codec_available(WEFT_CODEC_ZSTD))
    assert_true(weft_codec_max_bytes(WEFT_CODEC_ZSTD, NULL, weftFloat, 1000) >= 4008);

  assert_int_equal(weft_codec_topk_k(&p, 0), 0);
  assert_int_equal(weft_codec_topk_k(&p, 1), 1);
  assert_int_equal(weft_codec_topk_k(&p, 100), 1);
  assert_int_equal(weft_codec_topk_k(&p, 101), 2);
  assert_int_equal(weft_codec_topk_k(&p, 1000003), 10001);
  p.topk_ratio = 0.0;
  assert_int_equal(weft_codec_topk_k(&p, 1000), 1);
  p.topk_ratio = NAN;
  assert_int_equal(weft_codec_topk_k(&p, 1000), 1);
  p.topk_ratio = 1.0;
  assert_int_equal(weft_codec_topk_k(&p, 1000), 1000);
  p.topk_ratio = 0.9999;
  assert_int_equal(weft_codec_topk_k(&p, 1000), 1000);
  p.topk_ratio = 0.5;
  assert_int_equal(weft_codec_topk_k(&p, 7), 4);
  assert_int_equal(weft_codec_topk_k(NULL, 1000), 10);

  weft_codec_params_default(&p);
  assert_true(weft_codec_ratio(WEFT_CODEC_NONE, &p, weftFloat) == 1.0);
  assert_true(weft_codec_ratio(WEFT_CODEC_FP16, &p, weftFloat) == 0.5);
  assert_true(weft_codec_ratio(WEFT_CODEC_BF16, &p, weftDouble) == 0.25);
  assert_true(fabs(weft_codec_ratio(WEFT_CODEC_INT8, &p, weftFloat) - 260.0 / 1024.0) < 1e-12);
  assert_true(fabs(weft_codec_ratio(WEFT_CODEC_TOPK, &p, weftFloat) - 0.02) < 1e-12);
  assert_true(fabs(weft_codec_ratio(WEFT_CODEC_TOPK, NULL, weftFloat16) - 0.04) < 1e-12);
  const double zr = weft_codec_ratio(WEFT_CODEC_ZSTD, &p, weftFloat);
  assert_true(zr > 0.0 && zr <= 1.0);

  /* The ratio of fixed-size codecs matches max_bytes for a large count. */
  for (int c = 0; c < WEFT_CODEC_ZSTD; c++)
    for (size_t t = 0; t < NFLOAT_TYPES; t++) {
      const size_t n = 1 << 20;
      const double raw = (double)(n * weft_dtype_size(float_types[t]));
      const double got =
          (double)weft_codec_max_bytes((weft_codec_id)c, &p, float_types[t], n) / raw;
      assert_true(fabs(got - weft_codec_ratio((weft_codec_id)c, &p, float_types[t])) < 1e-5);
    }
}

/* Argument errors of encode, and count 0. */
static void test_encode_args(void **state) {
  (void)state;
  const float x[300] = {1.0f};
  unsigned char enc[4096];
  size_t len = 12345;
  for (int c = 0; c < WEFT_CODEC_COUNT; c++) {
    const weft_codec_id id = (weft_codec_id)c;
    if (!weft_codec_available(id)) continue;
    const size_t need = weft_codec_max_bytes(id, NULL, weftFloat, 300);
    assert_int_equal(weft_codec_encode(id, NULL, weftFloat, x, 300, enc, sizeof enc, NULL, NULL),
                     -1);
    assert_int_equal(weft_codec_encode(id, NULL, weftFloat, NULL, 300, enc, sizeof enc, &len, NULL),
                     -1);
    assert_int_equal(weft_codec_encode(id, NULL, weftFloat, x, 300, NULL, sizeof enc, &len, NULL),
                     -1);
    assert_int_equal(weft_codec_encode(id, NULL, weftNumTypes, x, 300, enc, sizeof enc, &len, NULL),
                     -1);
    if (weft_codec_fixed_size(id))
      assert_int_equal(weft_codec_encode(id, NULL, weftFloat, x, 300, enc, need - 1, &len, NULL),
                       -1);
    /* count 0: the empty encoding decodes to nothing. */
    assert_int_equal(weft_codec_encode(id, NULL, weftFloat, x, 0, enc, sizeof enc, &len, NULL), 0);
    assert_true(len <= weft_codec_max_bytes(id, NULL, weftFloat, 0));
    assert_int_equal(weft_codec_decode(id, weftFloat, enc, len, NULL, 0), 0);
  }
  const int32_t xi[4] = {1, 2, 3, 4};
  for (int c = WEFT_CODEC_FP16; c <= WEFT_CODEC_TOPK; c++)
    assert_int_equal(
        weft_codec_encode((weft_codec_id)c, NULL, weftInt32, xi, 4, enc, sizeof enc, &len, NULL),
        -1);
  assert_int_equal(
      weft_codec_encode(WEFT_CODEC_NONE, NULL, weftInt32, xi, 4, enc, sizeof enc, &len, NULL), 0);
  assert_int_equal(len, 16);
  int32_t yi[4];
  assert_int_equal(weft_codec_decode(WEFT_CODEC_NONE, weftInt32, enc, len, yi, 4), 0);
  assert_memory_equal(xi, yi, sizeof xi);
  assert_int_equal(
      weft_codec_encode(WEFT_CODEC_COUNT, NULL, weftFloat, x, 4, enc, sizeof enc, &len, NULL), -1);
}

/* Lossy bytes do not depend on the input datatype beyond the values: fp32
 * encoded with fp16 decodes into fp16 data (the cast the supports() table
 * refuses for encoding fp16 data still works both ways). */
static void test_cross_dtype(void **state) {
  (void)state;
  const size_t n = 1001;
  float *x = malloc(n * sizeof *x);
  uint16_t *h = malloc(n * sizeof *h);
  double *xd = malloc(n * sizeof *xd);
  unsigned char *e1 = malloc(8 * n + 8), *e2 = malloc(8 * n + 8);
  assert_true(x && h && xd && e1 && e2);
  for (size_t i = 0; i < n; i++) {
    x[i] = (float)nrand();
    xd[i] = x[i];
  }
  for (int c = WEFT_CODEC_FP16; c <= WEFT_CODEC_TOPK; c++) {
    const weft_codec_id id = (weft_codec_id)c;
    size_t l1, l2;
    assert_int_equal(weft_codec_encode(id, NULL, weftFloat, x, n, e1, 8 * n + 8, &l1, NULL), 0);
    assert_int_equal(weft_codec_encode(id, NULL, weftDouble, xd, n, e2, 8 * n + 8, &l2, NULL), 0);
    assert_int_equal(l1, l2);
    assert_memory_equal(e1, e2, l1);
    assert_int_equal(weft_codec_decode(id, weftFloat16, e1, l1, h, n), 0);
  }
  /* fp16 codec on fp16 data: a lossless copy. */
  for (size_t i = 0; i < n; i++) h[i] = weft_float_to_half(x[i]);
  size_t l;
  assert_int_equal(weft_codec_encode(WEFT_CODEC_FP16, NULL, weftFloat16, h, n, e1, 2 * n, &l, NULL),
                   0);
  assert_memory_equal(e1, h, 2 * n);
  free(x);
  free(h);
  free(xd);
  free(e1);
  free(e2);
}

/* decode_add gives the bits of decoding into a buffer and adding it, for
 * every dense lossy codec, odd counts (a short last block), outliers, zeros
 * and non-finite values; it refuses what it does not serve and bad lengths. */
static void test_decode_add(void **state) {
  (void)state;
  const size_t counts[] = {1, 255, 256, 257, 1000, 4099};
  for (size_t ci = 0; ci < sizeof counts / sizeof *counts; ci++) {
    const size_t n = counts[ci];
    float *x = malloc(n * sizeof *x), *acc = malloc(n * sizeof *acc), *want = malloc(n * sizeof *want),
          *dec = malloc(n * sizeof *dec);
    unsigned char *enc = malloc(8 * n + 64);
    assert_true(x && acc && want && dec && enc);
    for (size_t i = 0; i < n; i++) {
      x[i] = (float)nrand() * (i % 97 == 0 ? 1e6f : 1.0f);
      acc[i] = i % 5 == 0 ? 0.0f : (float)nrand();
    }
    if (n > 10) {
      x[3] = NAN;
      x[7] = INFINITY;
      acc[9] = -0.0f;
      x[9] = 0.0f;
    }
    const weft_codec_id ids[] = {WEFT_CODEC_FP16, WEFT_CODEC_BF16, WEFT_CODEC_INT8};
    for (size_t k = 0; k < 3; k++) {
      size_t len;
      assert_true(weft_codec_can_decode_add(ids[k], weftFloat));
      assert_int_equal(weft_codec_encode(ids[k], NULL, weftFloat, x, n, enc, 8 * n + 64, &len, NULL), 0);
      assert_int_equal(weft_codec_decode(ids[k], weftFloat, enc, len, dec, n), 0);
      for (size_t i = 0; i < n; i++) want[i] = acc[i] + dec[i];
      float *got = malloc(n * sizeof *got);
      assert_non_null(got);
      memcpy(got, acc, n * sizeof *got);
      assert_int_equal(weft_codec_decode_add(ids[k], weftFloat, enc, len, got, n), 0);
      assert_memory_equal(got, want, n * sizeof *got);
      assert_int_equal(weft_codec_decode_add(ids[k], weftFloat, enc, len - 1, got, n), -1);
      free(got);
    }
    free(x);
    free(acc);
    free(want);
    free(dec);
    free(enc);
  }
  assert_false(weft_codec_can_decode_add(WEFT_CODEC_TOPK, weftFloat));
  assert_false(weft_codec_can_decode_add(WEFT_CODEC_ZSTD, weftFloat));
  assert_false(weft_codec_can_decode_add(WEFT_CODEC_INT8, weftDouble));
  float one = 1.0f;
  assert_int_equal(weft_codec_decode_add(WEFT_CODEC_TOPK, weftFloat, &one, 4, &one, 1), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_registry),
      cmocka_unit_test(test_supports),
      cmocka_unit_test(test_sizes),
      cmocka_unit_test(test_encode_args),
      cmocka_unit_test(test_int8_exact_bytes),
      cmocka_unit_test(test_cast16_exact_bytes),
      cmocka_unit_test(test_topk_exact_bytes),
      cmocka_unit_test(test_lossy_matrix),
      cmocka_unit_test(test_topk_ratios),
      cmocka_unit_test(test_topk_edge_paths),
      cmocka_unit_test(test_cross_dtype),
      cmocka_unit_test(test_decode_add),
      cmocka_unit_test(test_error_feedback),
      cmocka_unit_test(test_zstd),
      cmocka_unit_test(test_malformed_random),
      cmocka_unit_test(test_malformed_mutations),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
