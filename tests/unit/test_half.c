/* Unit tests for the binary16 / bfloat16 conversions in lib/reduce/half.c.
 *
 * The library's conversions are checked against reference implementations
 * written here independently (exact double arithmetic with frexp/ldexp/rint,
 * no bit tricks), and against hard-coded bit patterns.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "float_bits.h"
#include "reduce/reduce.h"

/* ---- helpers ------------------------------------------------------------------------ */
/* Fails the test with a message naming the input when got != want. */
#define CHECK_BITS(got, want, what, input)                                                     \
  do {                                                                                         \
    const uint32_t got_ = (uint32_t)(got), want_ = (uint32_t)(want);                           \
    if (got_ != want_) {                                                                       \
      print_error("%s(0x%08x): got 0x%08x, want 0x%08x\n", (what), (unsigned)(input),          \
                  (unsigned)got_, (unsigned)want_);                                            \
      assert_int_equal(got_, want_);                                                           \
    }                                                                                          \
  } while (0)

/* Small deterministic PRNG (xorshift64*). */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rng32(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

/* ---- reference conversions -------------------------------------------------------------- */
/* binary16 -> float bits, by decoding the fields. NaN: quiet bit set, payload kept. */
static uint32_t ref_half_to_float_bits(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  const int e = (h >> 10) & 0x1F;
  const int m = h & 0x3FF;
  if (e == 31) {
    if (m == 0) return sign | 0x7F800000u;
    return sign | 0x7FC00000u | ((uint32_t)m << 13);
  }
  double v = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
  return sign | fbits((float)v); /* exact: at most 11 significant bits */
}

/* float -> binary16 bits, rounding to nearest even with rint() on an exact
 * double scaled so that one half ulp is 1. */
static uint16_t ref_float_to_half(float f) {
  const uint32_t w = fbits(f);
  const uint16_t sign = (uint16_t)((w >> 16) & 0x8000u);
  if (isnan(f)) return (uint16_t)(sign | 0x7E00u | ((w >> 13) & 0x3FFu));
  const double v = fabs((double)f);
  if (v >= 65520.0) return (uint16_t)(sign | 0x7C00u); /* includes Inf */
  if (v < 0x1p-14) {
    const double r = rint(v * 0x1p24); /* 0..1024; 1024 is the smallest normal */
    return (uint16_t)(sign | (uint16_t)r);
  }
  int e;
  (void)frexp(v, &e); /* v in [2^(e-1), 2^e) */
  int E = e - 1;
  double r = rint(ldexp(v, 10 - E)); /* in [1024, 2048] */
  if (r == 2048.0) {
    r = 1024.0;
    E++;
  }
  return (uint16_t)(sign | (uint16_t)((E + 15) << 10) | (uint16_t)(r - 1024.0));
}

static uint16_t ref_float_to_bf16(float f) {
  const uint32_t w = fbits(f);
  const uint16_t sign = (uint16_t)((w >> 16) & 0x8000u);
  if (isnan(f)) return (uint16_t)((w >> 16) | 0x0040u);
  const double v = fabs((double)f);
  if (v >= ldexp(2.0 - 0x1p-8, 127)) return (uint16_t)(sign | 0x7F80u); /* includes Inf */
  if (v < 0x1p-126) {
    const double r = rint(v * 0x1p133); /* 0..128; 128 is the smallest normal */
    return (uint16_t)(sign | (uint16_t)r);
  }
  int e;
  (void)frexp(v, &e);
  int E = e - 1;
  double r = rint(ldexp(v, 7 - E)); /* in [128, 256] */
  if (r == 256.0) {
    r = 128.0;
    E++;
  }
  return (uint16_t)(sign | (uint16_t)((E + 127) << 7) | (uint16_t)(r - 128.0));
}

static int half_is_nan(uint16_t h) { return (h & 0x7C00u) == 0x7C00u && (h & 0x3FFu) != 0; }
static int bf16_is_nan(uint16_t h) { return (h & 0x7F80u) == 0x7F80u && (h & 0x7Fu) != 0; }

/* ---- binary16 --------------------------------------------------------------------------- */
static void test_half_to_float_exhaustive(void **state) {
  (void)state;
  for (uint32_t i = 0; i < 65536; i++) {
    const uint16_t h = (uint16_t)i;
    CHECK_BITS(fbits(weft_half_to_float(h)), ref_half_to_float_bits(h), "half_to_float", h);
  }
}

static void test_half_roundtrip_exhaustive(void **state) {
  (void)state;
  int nans = 0;
  for (uint32_t i = 0; i < 65536; i++) {
    const uint16_t h = (uint16_t)i;
    const uint16_t back = weft_float_to_half(weft_half_to_float(h));
    if (half_is_nan(h)) {
      nans++;
      CHECK_BITS(back, h | 0x0200u, "half roundtrip (NaN quieted)", h);
    } else {
      CHECK_BITS(back, h, "half roundtrip", h);
    }
  }
  assert_int_equal(nans, 2 * 1023);
}

static void test_half_to_float_values(void **state) {
  (void)state;
  assert_int_equal(fbits(weft_half_to_float(0x0000)), 0x00000000u);
  assert_int_equal(fbits(weft_half_to_float(0x8000)), 0x80000000u);
  assert_int_equal(fbits(weft_half_to_float(0x3C00)), fbits(1.0f));
  assert_int_equal(fbits(weft_half_to_float(0xC000)), fbits(-2.0f));
  assert_int_equal(fbits(weft_half_to_float(0x0001)), fbits(0x1p-24f));
  assert_int_equal(fbits(weft_half_to_float(0x8001)), fbits(-0x1p-24f));
  assert_int_equal(fbits(weft_half_to_float(0x03FF)), fbits(0x1.ff8p-15f));
  assert_int_equal(fbits(weft_half_to_float(0x0400)), fbits(0x1p-14f));
  assert_int_equal(fbits(weft_half_to_float(0x7BFF)), fbits(65504.0f));
  assert_int_equal(fbits(weft_half_to_float(0x3555)), fbits(0x1.554p-2f));
  assert_int_equal(fbits(weft_half_to_float(0x7C00)), fbits(INFINITY));
  assert_int_equal(fbits(weft_half_to_float(0xFC00)), fbits(-INFINITY));
  assert_int_equal(fbits(weft_half_to_float(0x7E00)), 0x7FC00000u);
  assert_int_equal(fbits(weft_half_to_float(0xFE00)), 0xFFC00000u);
  assert_int_equal(fbits(weft_half_to_float(0x7D00)), 0x7FE00000u); /* sNaN quieted */
  assert_int_equal(fbits(weft_half_to_float(0x7C01)), 0x7FC02000u); /* sNaN quieted */
}

static void test_float_to_half_values(void **state) {
  (void)state;
  assert_int_equal(weft_float_to_half(0.0f), 0x0000);
  assert_int_equal(weft_float_to_half(-0.0f), 0x8000);
  assert_int_equal(weft_float_to_half(1.0f), 0x3C00);
  assert_int_equal(weft_float_to_half(-2.0f), 0xC000);
  assert_int_equal(weft_float_to_half(0.1f), 0x2E66);
  assert_int_equal(weft_float_to_half(1.0f / 3.0f), 0x3555);
  /* round to nearest even at 1.0: ulp is 2^-10 */
  assert_int_equal(weft_float_to_half(1.0f + 0x1p-11f), 0x3C00);      /* tie, even down */
  assert_int_equal(weft_float_to_half(1.0f + 3 * 0x1p-11f), 0x3C02);  /* tie, even up */
  assert_int_equal(weft_float_to_half(1.0f + 0x1p-11f + 0x1p-23f), 0x3C01);
  assert_int_equal(weft_float_to_half(1.0f + 0x1p-11f - 0x1p-23f), 0x3C00);
  /* overflow: max finite 65504, halfway to 65536 is 65520 (ties to even = Inf) */
  assert_int_equal(weft_float_to_half(65504.0f), 0x7BFF);
  assert_int_equal(weft_float_to_half(65519.0f), 0x7BFF);
  assert_int_equal(weft_float_to_half(nextafterf(65520.0f, 0.0f)), 0x7BFF);
  assert_int_equal(weft_float_to_half(65520.0f), 0x7C00);
  assert_int_equal(weft_float_to_half(-65520.0f), 0xFC00);
  assert_int_equal(weft_float_to_half(1e6f), 0x7C00);
  assert_int_equal(weft_float_to_half(3.4e38f), 0x7C00);
  assert_int_equal(weft_float_to_half(-1e6f), 0xFC00);
  assert_int_equal(weft_float_to_half(INFINITY), 0x7C00);
  assert_int_equal(weft_float_to_half(-INFINITY), 0xFC00);
  /* subnormals */
  assert_int_equal(weft_float_to_half(0x1p-24f), 0x0001);
  assert_int_equal(weft_float_to_half(-0x1p-24f), 0x8001);
  assert_int_equal(weft_float_to_half(0x1p-25f), 0x0000);            /* tie to even 0 */
  assert_int_equal(weft_float_to_half(-0x1p-25f), 0x8000);           /* keeps the sign */
  assert_int_equal(weft_float_to_half(nextafterf(0x1p-25f, 1.0f)), 0x0001);
  assert_int_equal(weft_float_to_half(0x1.8p-24f), 0x0002);          /* tie 1|2 -> 2 */
  assert_int_equal(weft_float_to_half(0x1.4p-23f), 0x0002);          /* 2.5 ulp -> 2 */
  assert_int_equal(weft_float_to_half(0x1.ff8p-15f), 0x03FF);        /* largest subnormal */
  assert_int_equal(weft_float_to_half(0x1.ffcp-15f), 0x0400);        /* tie -> smallest normal */
  assert_int_equal(weft_float_to_half(0x1p-14f), 0x0400);
  assert_int_equal(weft_float_to_half(1e-10f), 0x0000);
  assert_int_equal(weft_float_to_half(-1e-10f), 0x8000);
  assert_int_equal(weft_float_to_half(0x1p-149f), 0x0000);           /* float subnormal */
  assert_int_equal(weft_float_to_half(-0x1p-149f), 0x8000);
  /* NaN: quiet, sign kept, top payload bits kept */
  assert_int_equal(weft_float_to_half(bitsf(0x7FC00000u)), 0x7E00);
  assert_int_equal(weft_float_to_half(bitsf(0xFFC00000u)), 0xFE00);
  assert_int_equal(weft_float_to_half(bitsf(0x7F800001u)), 0x7E00);  /* sNaN, low payload */
  assert_int_equal(weft_float_to_half(bitsf(0x7FA00000u)), 0x7F00);  /* sNaN, payload kept */
  assert_int_equal(weft_float_to_half(bitsf(0xFFFFFFFFu)), 0xFFFF);
  assert_true(half_is_nan(weft_float_to_half(NAN)));
}

/* Every half value, the midpoints to its successor, and one float ulp on
 * either side of each midpoint, for both signs. */
static void test_float_to_half_midpoints(void **state) {
  (void)state;
  for (uint16_t h = 0; h < 0x7C00; h++) {
    for (int neg = 0; neg < 2; neg++) {
      const uint16_t s = neg ? 0x8000 : 0;
      const float lo = weft_half_to_float(h); /* exact, checked above */
      const double hi = h == 0x7BFF ? 65536.0 : (double)bitsf(ref_half_to_float_bits(h + 1));
      const float mid = (float)(((double)lo + hi) / 2); /* exact: 12 significant bits */
      const float sg = neg ? -1.0f : 1.0f;
      const uint16_t even = (h & 1) ? (uint16_t)(h + 1) : h; /* 0x7BFF+1 is Inf */
      CHECK_BITS(weft_float_to_half(sg * lo), s | h, "float_to_half(exact)", fbits(sg * lo));
      CHECK_BITS(weft_float_to_half(sg * mid), s | even, "float_to_half(mid)", fbits(sg * mid));
      const float above = nextafterf(mid, INFINITY), below = nextafterf(mid, 0.0f);
      CHECK_BITS(weft_float_to_half(sg * above), s | (h + 1), "float_to_half(mid+)",
                 fbits(sg * above));
      CHECK_BITS(weft_float_to_half(sg * below), s | h, "float_to_half(mid-)", fbits(sg * below));
      /* the reference agrees on all of these */
      CHECK_BITS(ref_float_to_half(sg * mid), s | even, "ref_float_to_half(mid)", fbits(sg * mid));
      CHECK_BITS(ref_float_to_half(sg * above), s | (h + 1), "ref_float_to_half(mid+)",
                 fbits(sg * above));
    }
  }
}

/* All floats whose low 13 bits (the ones binary16 drops from a normal) are
 * one of the rounding-critical patterns, i.e. every sign/exponent/top-10
 * mantissa combination, plus random floats. */
static void test_float_to_half_vs_reference(void **state) {
  (void)state;
  static const uint32_t lows[] = {0x0000, 0x0001, 0x0FFF, 0x1000, 0x1001, 0x1FFF, 0x0800};
  for (uint32_t top = 0; top < (1u << 19); top++) {
    for (size_t j = 0; j < sizeof lows / sizeof lows[0]; j++) {
      const uint32_t w = (top << 13) | lows[j];
      CHECK_BITS(weft_float_to_half(bitsf(w)), ref_float_to_half(bitsf(w)), "float_to_half", w);
    }
  }
  for (int i = 0; i < 2000000; i++) {
    const uint32_t w = rng32();
    CHECK_BITS(weft_float_to_half(bitsf(w)), ref_float_to_half(bitsf(w)), "float_to_half", w);
  }
}

/* ---- bfloat16 --------------------------------------------------------------------------- */
static void test_bf16_to_float_exhaustive(void **state) {
  (void)state;
  int nans = 0;
  for (uint32_t i = 0; i < 65536; i++) {
    const uint16_t h = (uint16_t)i;
    const uint32_t want = bf16_is_nan(h) ? (i << 16) | 0x00400000u : i << 16;
    CHECK_BITS(fbits(weft_bf16_to_float(h)), want, "bf16_to_float", h);
    const uint16_t back = weft_float_to_bf16(weft_bf16_to_float(h));
    if (bf16_is_nan(h)) {
      nans++;
      CHECK_BITS(back, h | 0x0040u, "bf16 roundtrip (NaN quieted)", h);
    } else {
      CHECK_BITS(back, h, "bf16 roundtrip", h);
    }
  }
  assert_int_equal(nans, 2 * 127);
}

static void test_bf16_values(void **state) {
  (void)state;
  assert_int_equal(fbits(weft_bf16_to_float(0x3F80)), fbits(1.0f));
  assert_int_equal(fbits(weft_bf16_to_float(0x8000)), 0x80000000u);
  assert_int_equal(fbits(weft_bf16_to_float(0x7F81)), 0x7FC10000u); /* sNaN quieted */

  assert_int_equal(weft_float_to_bf16(1.0f), 0x3F80);
  assert_int_equal(weft_float_to_bf16(0.1f), 0x3DCD);
  assert_int_equal(weft_float_to_bf16(1.0f / 3.0f), 0x3EAB);
  assert_int_equal(weft_float_to_bf16(0.0f), 0x0000);
  assert_int_equal(weft_float_to_bf16(-0.0f), 0x8000);
  /* round to nearest even */
  assert_int_equal(weft_float_to_bf16(bitsf(0x3F808000u)), 0x3F80); /* tie, even down */
  assert_int_equal(weft_float_to_bf16(bitsf(0x3F818000u)), 0x3F82); /* tie, even up */
  assert_int_equal(weft_float_to_bf16(bitsf(0x3F808001u)), 0x3F81);
  assert_int_equal(weft_float_to_bf16(bitsf(0x3F807FFFu)), 0x3F80);
  assert_int_equal(weft_float_to_bf16(bitsf(0xBF818000u)), 0xBF82);
  /* overflow */
  assert_int_equal(weft_float_to_bf16(bitsf(0x7F7F7FFFu)), 0x7F7F);
  assert_int_equal(weft_float_to_bf16(bitsf(0x7F7F8000u)), 0x7F80); /* tie, odd -> Inf */
  assert_int_equal(weft_float_to_bf16(bitsf(0x7F7FFFFFu)), 0x7F80); /* FLT_MAX */
  assert_int_equal(weft_float_to_bf16(bitsf(0xFF7FFFFFu)), 0xFF80);
  assert_int_equal(weft_float_to_bf16(INFINITY), 0x7F80);
  assert_int_equal(weft_float_to_bf16(-INFINITY), 0xFF80);
  /* subnormals */
  assert_int_equal(weft_float_to_bf16(bitsf(0x00008000u)), 0x0000); /* tie to even 0 */
  assert_int_equal(weft_float_to_bf16(bitsf(0x80008000u)), 0x8000);
  assert_int_equal(weft_float_to_bf16(bitsf(0x00008001u)), 0x0001);
  assert_int_equal(weft_float_to_bf16(bitsf(0x00018000u)), 0x0002); /* tie 1|2 -> 2 */
  assert_int_equal(weft_float_to_bf16(bitsf(0x007FFFFFu)), 0x0080); /* up to smallest normal */
  assert_int_equal(weft_float_to_bf16(bitsf(0x00000001u)), 0x0000);
  /* NaN: quiet, never rounded into Inf */
  assert_int_equal(weft_float_to_bf16(bitsf(0x7FC00000u)), 0x7FC0);
  assert_int_equal(weft_float_to_bf16(bitsf(0x7F800001u)), 0x7FC0);
  assert_int_equal(weft_float_to_bf16(bitsf(0x7F80FFFFu)), 0x7FC0);
  assert_int_equal(weft_float_to_bf16(bitsf(0x7F810000u)), 0x7FC1);
  assert_int_equal(weft_float_to_bf16(bitsf(0xFF800001u)), 0xFFC0);
  assert_int_equal(weft_float_to_bf16(bitsf(0x7FFFFFFFu)), 0x7FFF);
}

/* Every bf16 value with the low 16 bits in rounding-critical patterns, and
 * random floats, against the rint()-based reference and against the direct
 * tie-to-even expectation. */
static void test_float_to_bf16_vs_reference(void **state) {
  (void)state;
  static const uint32_t lows[] = {0x0000, 0x0001, 0x7FFF, 0x8000, 0x8001, 0xFFFF, 0x4000};
  for (uint32_t top = 0; top < 65536; top++) {
    for (size_t j = 0; j < sizeof lows / sizeof lows[0]; j++) {
      const uint32_t w = (top << 16) | lows[j];
      const float f = bitsf(w);
      const uint16_t got = weft_float_to_bf16(f);
      CHECK_BITS(got, ref_float_to_bf16(f), "float_to_bf16", w);
      if (!bf16_is_nan((uint16_t)top) && (top & 0x7FFFu) != 0x7F80u) {
        const uint32_t l = lows[j];
        const uint32_t up = l > 0x8000 || (l == 0x8000 && (top & 1));
        CHECK_BITS(got, top + up, "float_to_bf16(direct)", w);
      }
    }
  }
  for (int i = 0; i < 2000000; i++) {
    const uint32_t w = rng32();
    CHECK_BITS(weft_float_to_bf16(bitsf(w)), ref_float_to_bf16(bitsf(w)), "float_to_bf16", w);
  }
}

/* ---- bulk == scalar ---------------------------------------------------------------------- */
#define NFLOATS (1u << 20)

static float *make_test_floats(void) {
  float *f = malloc(NFLOATS * sizeof *f);
  assert_non_null(f);
  static const uint32_t specials[] = {
      0x00000000u, 0x80000000u, 0x7F800000u, 0xFF800000u, 0x7FC00000u, 0xFFC00000u,
      0x7F800001u, 0x7FA00000u, 0x477FF000u, 0x477FEFFFu, 0x33000000u, 0x33000001u,
      0x3F808000u, 0x3F818000u, 0x7F7F8000u, 0x00008000u, 0x00000001u, 0x387FC000u};
  const size_t ns = sizeof specials / sizeof specials[0];
  for (size_t i = 0; i < NFLOATS; i++) {
    uint32_t w;
    switch (i % 4) {
    case 0: w = rng32(); break;
    case 1: w = specials[(i / 4) % ns]; break;
    /* values in and around the binary16 range, low bits at rounding points */
    case 2: /* exponents around the binary16 range, exact halves or ties */
      w = (rng32() & 0x807FE000u) | ((100u + rng32() % 46u) << 23) | ((rng32() & 1) ? 0x1000u : 0);
      break;
    default: w = (rng32() & 0xFFFF0000u) | ((rng32() & 1) ? 0x8000u : 0x7FFFu); break;
    }
    f[i] = bitsf(w);
  }
  return f;
}

static void test_bulk_equals_scalar(void **state) {
  (void)state;
  uint16_t *h = malloc(65536 * sizeof *h);
  float *out = malloc(65536 * sizeof *out);
  assert_non_null(h);
  assert_non_null(out);
  for (uint32_t i = 0; i < 65536; i++) h[i] = (uint16_t)i;

  /* widening: whole table, then short and misaligned runs (vector tails) */
  static const size_t offs[][2] = {{0, 65536}, {1, 65535}, {3, 7}, {5, 1}, {0, 0}, {17, 255}};
  for (size_t k = 0; k < sizeof offs / sizeof offs[0]; k++) {
    const size_t o = offs[k][0], n = offs[k][1];
    memset(out, 0xA5, 65536 * sizeof *out);
    weft_half_to_float_n(out + o, h + o, n);
    for (size_t i = 0; i < 65536; i++) {
      const uint32_t want = (i >= o && i < o + n) ? fbits(weft_half_to_float(h[i])) : 0xA5A5A5A5u;
      CHECK_BITS(fbits(out[i]), want, "half_to_float_n", i);
    }
    memset(out, 0xA5, 65536 * sizeof *out);
    weft_bf16_to_float_n(out + o, h + o, n);
    for (size_t i = 0; i < 65536; i++) {
      const uint32_t want = (i >= o && i < o + n) ? fbits(weft_bf16_to_float(h[i])) : 0xA5A5A5A5u;
      CHECK_BITS(fbits(out[i]), want, "bf16_to_float_n", i);
    }
  }
  free(h);
  free(out);

  /* narrowing */
  float *f = make_test_floats();
  uint16_t *o16 = malloc(NFLOATS * sizeof *o16);
  assert_non_null(o16);
  static const size_t noffs[][2] = {{0, NFLOATS}, {1, NFLOATS - 1}, {3, 7}, {5, 1}, {0, 0}, {9, 1000}};
  for (size_t k = 0; k < sizeof noffs / sizeof noffs[0]; k++) {
    const size_t o = noffs[k][0], n = noffs[k][1];
    memset(o16, 0xA5, NFLOATS * sizeof *o16);
    weft_float_to_half_n(o16 + o, f + o, n);
    for (size_t i = 0; i < NFLOATS; i++) {
      const uint32_t want = (i >= o && i < o + n) ? weft_float_to_half(f[i]) : 0xA5A5u;
      CHECK_BITS(o16[i], want, "float_to_half_n", fbits(f[i]));
    }
    memset(o16, 0xA5, NFLOATS * sizeof *o16);
    weft_float_to_bf16_n(o16 + o, f + o, n);
    for (size_t i = 0; i < NFLOATS; i++) {
      const uint32_t want = (i >= o && i < o + n) ? weft_float_to_bf16(f[i]) : 0xA5A5u;
      CHECK_BITS(o16[i], want, "float_to_bf16_n", fbits(f[i]));
    }
  }
  /* and the bulk results are right, not just equal to the scalar ones */
  weft_float_to_half_n(o16, f, NFLOATS);
  for (size_t i = 0; i < NFLOATS; i++) CHECK_BITS(o16[i], ref_float_to_half(f[i]), "float_to_half_n", fbits(f[i]));
  weft_float_to_bf16_n(o16, f, NFLOATS);
  for (size_t i = 0; i < NFLOATS; i++) CHECK_BITS(o16[i], ref_float_to_bf16(f[i]), "float_to_bf16_n", fbits(f[i]));
  free(f);
  free(o16);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_half_to_float_exhaustive),
      cmocka_unit_test(test_half_roundtrip_exhaustive),
      cmocka_unit_test(test_half_to_float_values),
      cmocka_unit_test(test_float_to_half_values),
      cmocka_unit_test(test_float_to_half_midpoints),
      cmocka_unit_test(test_float_to_half_vs_reference),
      cmocka_unit_test(test_bf16_to_float_exhaustive),
      cmocka_unit_test(test_bf16_values),
      cmocka_unit_test(test_float_to_bf16_vs_reference),
      cmocka_unit_test(test_bulk_equals_scalar),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
