/* Unit tests for the host reduction kernels in lib/reduce/reduce.c.
 *
 * Every (dtype, op) pair is checked element by element against a
 * straightforward scalar reference, for odd counts, misaligned pointers and
 * all aliasing modes (dst separate, dst == a, dst == b, dst == a == b), with
 * guard elements around dst. Hard-coded cases pin down integer wrap-around,
 * NaN propagation, fp16/bf16 rounding and weftAvg.
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
static uint64_t rng_state = 0x243F6A8885A308D3ull;
static uint64_t rng64(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545F4914F6CDD1Dull;
}

static const weftDataType_t all_types[] = {weftInt8,    weftUint8,   weftInt32, weftUint32,
                                           weftInt64,   weftUint64,  weftFloat16, weftFloat32,
                                           weftFloat64, weftBfloat16};
static const weftRedOp_t all_ops[] = {weftSum, weftProd, weftMax, weftMin, weftAvg};
#define NTYPES (sizeof all_types / sizeof all_types[0])
#define NOPS (sizeof all_ops / sizeof all_ops[0])

/* ---- scalar reference ----------------------------------------------------------------- */
/* The NaN rule (reduce.h): the first NaN operand, quieted; a NaN made from
 * numbers is the positive quiet NaN with a zero payload. */
static float ref_fop(weftRedOp_t op, float x, float y) {
  if (isnan(x)) return bitsf(fbits(x) | 0x00400000u);
  if (isnan(y)) return bitsf(fbits(y) | 0x00400000u);
  float r;
  switch (op) {
  case weftSum:
  case weftAvg: r = x + y; break;
  case weftProd: r = x * y; break;
  case weftMax: r = x > y ? x : y; break;
  case weftMin: r = x < y ? x : y; break;
  default: fail(); return 0;
  }
  return isnan(r) ? bitsf(0x7FC00000u) : r;
}

static double dquiet(double d, uint64_t or_bits) {
  uint64_t w = dbits(d) | or_bits;
  memcpy(&d, &w, sizeof d);
  return d;
}

static double ref_dop(weftRedOp_t op, double x, double y) {
  const uint64_t quiet = UINT64_C(0x0008000000000000);
  if (isnan(x)) return dquiet(x, quiet);
  if (isnan(y)) return dquiet(y, quiet);
  double r;
  switch (op) {
  case weftSum:
  case weftAvg: r = x + y; break;
  case weftProd: r = x * y; break;
  case weftMax: r = x > y ? x : y; break;
  case weftMin: r = x < y ? x : y; break;
  default: fail(); return 0;
  }
  return isnan(r) ? dquiet(0.0, UINT64_C(0x7FF8000000000000)) : r;
}

/* Signed integers: exact result in 64 bits (wide enough for 8/32-bit sums
 * and products), then reduced modulo 2^bits; 64-bit types wrap in uint64_t. */
static int64_t ref_sop(weftRedOp_t op, int64_t x, int64_t y, int bits) {
  uint64_t r;
  switch (op) {
  case weftSum:
  case weftAvg: r = (uint64_t)x + (uint64_t)y; break;
  case weftProd: r = (uint64_t)x * (uint64_t)y; break;
  case weftMax: return x > y ? x : y;
  case weftMin: return x < y ? x : y;
  default: fail(); return 0;
  }
  if (bits == 64) return (int64_t)r;
  r &= (UINT64_C(1) << bits) - 1;
  if (r >> (bits - 1)) return (int64_t)r - (INT64_C(1) << bits); /* sign extend */
  return (int64_t)r;
}

static uint64_t ref_uop(weftRedOp_t op, uint64_t x, uint64_t y, int bits) {
  uint64_t r;
  switch (op) {
  case weftSum:
  case weftAvg: r = x + y; break;
  case weftProd: r = x * y; break;
  case weftMax: return x > y ? x : y;
  case weftMin: return x < y ? x : y;
  default: fail(); return 0;
  }
  return bits == 64 ? r : r & ((UINT64_C(1) << bits) - 1);
}

/* out = a op b for one element of type dt. */
static void ref_elem(weftDataType_t dt, weftRedOp_t op, void *out, const void *a, const void *b) {
  switch (dt) {
#define INT_CASE(DT, T, SIGNED, BITS)                                                 \
  case DT: {                                                                          \
    T x, y, r;                                                                        \
    memcpy(&x, a, sizeof x);                                                          \
    memcpy(&y, b, sizeof y);                                                          \
    r = SIGNED ? (T)ref_sop(op, (int64_t)x, (int64_t)y, BITS)                         \
               : (T)ref_uop(op, (uint64_t)x, (uint64_t)y, BITS);                      \
    memcpy(out, &r, sizeof r);                                                        \
    break;                                                                            \
  }
    INT_CASE(weftInt8, int8_t, 1, 8)
    INT_CASE(weftUint8, uint8_t, 0, 8)
    INT_CASE(weftInt32, int32_t, 1, 32)
    INT_CASE(weftUint32, uint32_t, 0, 32)
    INT_CASE(weftInt64, int64_t, 1, 64)
    INT_CASE(weftUint64, uint64_t, 0, 64)
#undef INT_CASE
  case weftFloat32: {
    float x, y, r;
    memcpy(&x, a, sizeof x);
    memcpy(&y, b, sizeof y);
    r = ref_fop(op, x, y);
    memcpy(out, &r, sizeof r);
    break;
  }
  case weftFloat64: {
    double x, y, r;
    memcpy(&x, a, sizeof x);
    memcpy(&y, b, sizeof y);
    r = ref_dop(op, x, y);
    memcpy(out, &r, sizeof r);
    break;
  }
  case weftFloat16:
  case weftBfloat16: {
    uint16_t x, y, r;
    memcpy(&x, a, sizeof x);
    memcpy(&y, b, sizeof y);
    if (dt == weftFloat16)
      r = weft_float_to_half(ref_fop(op, weft_half_to_float(x), weft_half_to_float(y)));
    else
      r = weft_float_to_bf16(ref_fop(op, weft_bf16_to_float(x), weft_bf16_to_float(y)));
    memcpy(out, &r, sizeof r);
    break;
  }
  default: fail();
  }
}

/* Element equality: exact bits, NaNs included (the reference follows the NaN rule). */
static int elem_equal(weftDataType_t dt, weftRedOp_t op, const void *got, const void *want) {
  (void)op;
  return memcmp(got, want, weft_dtype_size(dt)) == 0;
}

static void fill_random(weftDataType_t dt, void *buf, size_t n) {
  unsigned char *p = buf;
  for (size_t i = 0; i < n; i++) {
    const uint64_t r = rng64();
    switch (dt) {
    case weftFloat32: {
      /* mostly ordinary values (so sums and products are not all Inf), with
       * some special ones mixed in */
      float f;
      switch (r % 16) {
      case 0: f = bitsf((uint32_t)(r >> 32)); break; /* any bit pattern */
      case 1: f = (r >> 8) & 1 ? -0.0f : 0.0f; break;
      case 2: f = (r >> 8) & 1 ? NAN : -INFINITY; break;
      default: f = (float)((int64_t)(r >> 20) % 2000001 - 1000000) / 1024.0f; break;
      }
      memcpy(p + 4 * i, &f, 4);
      break;
    }
    case weftFloat64: {
      double d;
      uint64_t bits = rng64();
      switch (r % 16) {
      case 0: memcpy(&d, &bits, 8); break;
      case 1: d = (r >> 8) & 1 ? -0.0 : 0.0; break;
      case 2: d = (r >> 8) & 1 ? (double)NAN : (double)INFINITY; break;
      default: d = (double)((int64_t)(r >> 20) % 2000001 - 1000000) / 1024.0; break;
      }
      memcpy(p + 8 * i, &d, 8);
      break;
    }
    case weftFloat16:
    case weftBfloat16: {
      uint16_t h = (uint16_t)(r >> 40); /* any bit pattern: Inf, NaN, subnormals */
      if (r % 4 != 0) {                  /* mostly values of moderate magnitude */
        const float f = (float)((int64_t)(r >> 20) % 20001 - 10000) / 64.0f;
        h = dt == weftFloat16 ? weft_float_to_half(f) : weft_float_to_bf16(f);
      }
      memcpy(p + 2 * i, &h, 2);
      break;
    }
    default: {
      const size_t sz = weft_dtype_size(dt);
      uint64_t v = r;
      /* integers: full range, but also many small ones so products do not
       * always wrap to 0 */
      if (r % 3 == 0) v = (uint64_t)((int64_t)(r >> 32) % 100);
      memcpy(p + sz * i, &v, sz); /* little-endian low bytes */
      break;
    }
    }
  }
}

/* ---- exhaustive-ish comparison against the reference ----------------------------------- */
#define GUARD 8

/* mode 0: dst separate, 1: dst == a, 2: dst == b, 3: dst == a == b */
static void check_case(weftDataType_t dt, weftRedOp_t op, size_t count, int mode, size_t off) {
  const size_t sz = weft_dtype_size(dt);
  const size_t total = count + 2 * GUARD + off;
  unsigned char *a = malloc(total * sz), *b = malloc(total * sz), *d = malloc(total * sz);
  unsigned char *want = malloc((count + 1) * sz);
  assert_non_null(a);
  assert_non_null(b);
  assert_non_null(d);
  assert_non_null(want);
  fill_random(dt, a, total);
  fill_random(dt, b, total);
  memset(d, 0xA5, total * sz);

  unsigned char *pa = a + (GUARD + off) * sz, *pb = b + (GUARD + off) * sz;
  unsigned char *pd = d + (GUARD + off) * sz;
  if (mode == 1 || mode == 3) memcpy(pd, pa, count * sz);
  if (mode == 2) memcpy(pd, pb, count * sz);
  for (size_t i = 0; i < count; i++) {
    const void *x = mode == 1 || mode == 3 ? pd + i * sz : pa + i * sz;
    const void *y = mode == 2 ? pd + i * sz : mode == 3 ? x : pb + i * sz;
    ref_elem(dt, op, want + i * sz, x, y);
  }

  const void *srca = (mode == 1 || mode == 3) ? pd : pa;
  const void *srcb = mode == 2 ? pd : mode == 3 ? pd : pb;
  weft_reduce(pd, srca, srcb, count, dt, op);

  for (size_t i = 0; i < count; i++) {
    if (!elem_equal(dt, op, pd + i * sz, want + i * sz)) {
      uint64_t g = 0, w = 0, x = 0, y = 0;
      memcpy(&g, pd + i * sz, sz);
      memcpy(&w, want + i * sz, sz);
      memcpy(&x, pa + i * sz, sz);
      memcpy(&y, pb + i * sz, sz);
      print_error("%s %s count=%zu mode=%d off=%zu: element %zu: got 0x%llx want 0x%llx "
                  "(a=0x%llx b=0x%llx)\n",
                  weft_dtype_name(dt), weft_op_name(op), count, mode, off, i,
                  (unsigned long long)g, (unsigned long long)w, (unsigned long long)x,
                  (unsigned long long)y);
      fail();
    }
  }
  /* nothing written outside [0, count) */
  for (size_t i = 0; i < total; i++) {
    if (d + i * sz >= pd && d + i * sz < pd + count * sz) continue;
    for (size_t k = 0; k < sz; k++) {
      if (d[i * sz + k] != 0xA5) {
        print_error("%s %s count=%zu mode=%d: guard element %zu overwritten\n", weft_dtype_name(dt),
                    weft_op_name(op), count, mode, i);
        fail();
      }
    }
  }
  free(a);
  free(b);
  free(d);
  free(want);
}

static const size_t counts[] = {0, 1, 7, 255, 256, 257, 1000003};
#define NCOUNTS (sizeof counts / sizeof counts[0])

static void test_all_types_ops_vs_reference(void **state) {
  (void)state;
  for (size_t t = 0; t < NTYPES; t++)
    for (size_t o = 0; o < NOPS; o++)
      for (size_t c = 0; c < NCOUNTS; c++)
        for (int mode = 0; mode < 4; mode++)
          check_case(all_types[t], all_ops[o], counts[c], mode, (c + (size_t)mode) % 3);
}

/* ---- integer wrap-around ------------------------------------------------------------------ */
#define REDUCE1(T, DT, OP, X, Y, WANT)                   \
  do {                                                   \
    T a_[1] = {X}, b_[1] = {Y}, d_[1] = {0};             \
    weft_reduce(d_, a_, b_, 1, DT, OP);                  \
    assert_true(d_[0] == (T)(WANT));                     \
  } while (0)

static void test_integer_wrap(void **state) {
  (void)state;
  REDUCE1(int8_t, weftInt8, weftSum, 127, 1, -128);
  REDUCE1(int8_t, weftInt8, weftSum, -128, -1, 127);
  REDUCE1(int8_t, weftInt8, weftProd, 16, 16, 0);
  REDUCE1(int8_t, weftInt8, weftProd, -128, -1, -128);
  REDUCE1(int8_t, weftInt8, weftProd, 100, 3, 44);
  REDUCE1(int8_t, weftInt8, weftAvg, 100, 100, -56);
  REDUCE1(uint8_t, weftUint8, weftSum, 255, 1, 0);
  REDUCE1(uint8_t, weftUint8, weftProd, 16, 17, 16);
  REDUCE1(uint8_t, weftUint8, weftProd, 255, 255, 1);
  REDUCE1(int32_t, weftInt32, weftSum, INT32_MAX, 1, INT32_MIN);
  REDUCE1(int32_t, weftInt32, weftSum, INT32_MIN, INT32_MIN, 0);
  REDUCE1(int32_t, weftInt32, weftProd, 65536, 65536, 0);
  REDUCE1(int32_t, weftInt32, weftProd, 0x10001, 0x10001, 0x20001);
  REDUCE1(int32_t, weftInt32, weftProd, INT32_MIN, -1, INT32_MIN);
  REDUCE1(int32_t, weftInt32, weftProd, 46341, 46341, -2147479015);
  REDUCE1(uint32_t, weftUint32, weftSum, UINT32_MAX, 2, 1);
  REDUCE1(uint32_t, weftUint32, weftProd, 0x80000000u, 2, 0);
  REDUCE1(int64_t, weftInt64, weftSum, INT64_MAX, 1, INT64_MIN);
  REDUCE1(int64_t, weftInt64, weftProd, INT64_MIN, -1, INT64_MIN);
  REDUCE1(int64_t, weftInt64, weftProd, INT64_C(0x100000000), INT64_C(0x100000000), 0);
  REDUCE1(int64_t, weftInt64, weftProd, INT64_C(3037000500), INT64_C(3037000500), INT64_C(-9223372036709301616));
  REDUCE1(uint64_t, weftUint64, weftSum, UINT64_MAX, 2, 1);
  REDUCE1(uint64_t, weftUint64, weftProd, UINT64_C(0x8000000000000000), 2, 0);
  /* signed vs unsigned comparison */
  REDUCE1(int8_t, weftInt8, weftMax, -1, 1, 1);
  REDUCE1(uint8_t, weftUint8, weftMax, 0xFF, 1, 0xFF);
  REDUCE1(int32_t, weftInt32, weftMin, INT32_MIN, INT32_MAX, INT32_MIN);
  REDUCE1(uint32_t, weftUint32, weftMin, 0x80000000u, 1, 1);
  REDUCE1(int64_t, weftInt64, weftMin, -1, 0, -1);
  REDUCE1(uint64_t, weftUint64, weftMax, UINT64_MAX, 0, UINT64_MAX);

  /* the same through the vector path: a long array of INT32_MAX + 1 */
  enum { N = 1001 };
  int32_t *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
  assert_non_null(a);
  assert_non_null(b);
  for (int i = 0; i < N; i++) {
    a[i] = INT32_MAX - (i % 3);
    b[i] = 1 + (i % 3);
  }
  weft_reduce(a, a, b, N, weftInt32, weftSum);
  for (int i = 0; i < N; i++) assert_int_equal(a[i], INT32_MIN);
  free(a);
  free(b);
}

/* ---- NaN propagation ------------------------------------------------------------------------ */
static void test_nan_propagation(void **state) {
  (void)state;
  enum { N = 300 };
  static const weftRedOp_t ops[] = {weftMin, weftMax, weftSum, weftProd};
  for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
    const weftRedOp_t op = ops[o];
    float fa[N], fb[N], fd[N];
    double da[N], db[N], dd[N];
    uint16_t ha[N], hb[N], hd[N], ba[N], bb[N], bd[N];
    for (int i = 0; i < N; i++) {
      /* NaN in a at i%3==0, NaN in b at i%3==1, none at i%3==2 */
      /* small integers, exact in fp16 and bf16 */
      const float x = i % 3 == 0 ? NAN : (float)(i % 50), y = i % 3 == 1 ? NAN : (float)(50 - i % 50);
      fa[i] = x;
      fb[i] = y;
      da[i] = x;
      db[i] = y;
      ha[i] = weft_float_to_half(x);
      hb[i] = weft_float_to_half(y);
      ba[i] = weft_float_to_bf16(x);
      bb[i] = weft_float_to_bf16(y);
    }
    weft_reduce(fd, fa, fb, N, weftFloat32, op);
    weft_reduce(dd, da, db, N, weftFloat64, op);
    weft_reduce(hd, ha, hb, N, weftFloat16, op);
    weft_reduce(bd, ba, bb, N, weftBfloat16, op);
    for (int i = 0; i < N; i++) {
      if (i % 3 != 2) {
        assert_true(isnan(fd[i]));
        assert_true(isnan(dd[i]));
        assert_int_equal(hd[i] & 0x7E00, 0x7E00); /* quiet NaN */
        assert_int_not_equal(hd[i] & 0x3FF, 0);
        assert_int_equal(bd[i] & 0x7FC0, 0x7FC0);
      } else {
        const float x = (float)(i % 50), y = (float)(50 - i % 50);
        const float want = op == weftMin ? (x < y ? x : y)
                           : op == weftMax ? (x > y ? x : y)
                           : op == weftSum ? x + y
                                           : x * y;
        assert_true(fd[i] == want);
        assert_true(dd[i] == (double)want);
        assert_int_equal(hd[i], weft_float_to_half(want));
        assert_int_equal(bd[i], weft_float_to_bf16(want));
      }
    }
  }
  /* min/max return the NaN operand itself */
  float a1 = bitsf(0x7FC12345u), b1 = 1.0f, d1;
  weft_reduce(&d1, &a1, &b1, 1, weftFloat32, weftMin);
  assert_int_equal(fbits(d1), 0x7FC12345u);
  weft_reduce(&d1, &b1, &a1, 1, weftFloat32, weftMax);
  assert_int_equal(fbits(d1), 0x7FC12345u);
  /* Inf is not NaN: ordinary ordering */
  float inf = INFINITY, ninf = -INFINITY;
  weft_reduce(&d1, &inf, &ninf, 1, weftFloat32, weftMin);
  assert_true(d1 == -INFINITY);
  weft_reduce(&d1, &ninf, &inf, 1, weftFloat32, weftMax);
  assert_true(d1 == INFINITY);
  double dn = NAN, d2 = -5.0, dr;
  weft_reduce(&dr, &d2, &dn, 1, weftFloat64, weftMin);
  assert_true(isnan(dr));
  weft_reduce(&dr, &dn, &d2, 1, weftFloat64, weftMax);
  assert_true(isnan(dr));
}

/* ---- the NaN rule, bit for bit --------------------------------------------------------------- */
/* reduce.h: when an operand is NaN the result is the first NaN operand (a
 * before b) with its quiet bit set, sign and payload kept; a NaN made from
 * non-NaN operands (Inf - Inf, 0 * Inf) is the positive quiet NaN with a zero
 * payload. This must hold whatever code path an element takes: vector body or
 * loop tail, any alignment, any aliasing of dst with a or b. */
typedef struct {
  weftDataType_t dt;
  uint64_t sign, exp_mask, mant_mask, quiet, canon;
} nan_fmt;

static const nan_fmt nan_fmts[] = {
    {weftFloat16, 0x8000, 0x7C00, 0x03FF, 0x0200, 0x7E00},
    {weftBfloat16, 0x8000, 0x7F80, 0x007F, 0x0040, 0x7FC0},
    {weftFloat32, 0x80000000, 0x7F800000, 0x007FFFFF, 0x00400000, 0x7FC00000},
    {weftFloat64, UINT64_C(0x8000000000000000), UINT64_C(0x7FF0000000000000), UINT64_C(0x000FFFFFFFFFFFFF), UINT64_C(0x0008000000000000),
     UINT64_C(0x7FF8000000000000)},
};

static int nan_bits(const nan_fmt *f, uint64_t w) {
  return (w & f->exp_mask) == f->exp_mask && (w & f->mant_mask) != 0;
}

static uint64_t value_bits(const nan_fmt *f, double v) {
  switch (f->dt) {
  case weftFloat16: return weft_float_to_half((float)v);
  case weftBfloat16: return weft_float_to_bf16((float)v);
  case weftFloat32: return fbits((float)v);
  default: return dbits(v);
  }
}

/* A NaN with random sign, random payload, quiet or signaling. */
static uint64_t random_nan(const nan_fmt *f) {
  const uint64_t r = rng64();
  uint64_t payload = r & f->mant_mask;
  if (payload == 0) payload = 1;
  return (r >> 63 ? f->sign : 0) | f->exp_mask | payload;
}

/* One operand pair: both NaN, one NaN, a pair whose sum or product is a
 * new NaN, or ordinary numbers. */
static void nan_pair(const nan_fmt *f, weftRedOp_t op, uint64_t *x, uint64_t *y) {
  const uint64_t r = rng64();
  const uint64_t inf = f->exp_mask, sign = f->sign;
  *x = value_bits(f, (double)((int)(r >> 8) % 200 - 100) / 8);
  *y = value_bits(f, (double)((int)(r >> 24) % 200 - 100) / 8);
  switch (r % 6) {
  case 0: *x = random_nan(f); *y = random_nan(f); break;
  case 1: *x = random_nan(f); break;
  case 2: *y = random_nan(f); break;
  case 3:
    if (op == weftProd) *x = (r >> 40) & 1 ? 0 : sign, *y = inf | ((r >> 41) & 1 ? sign : 0);
    else *x = inf, *y = inf | sign;
    if ((r >> 42) & 1) { const uint64_t t = *x; *x = *y; *y = t; }
    break;
  default: break;
  }
}

static uint64_t nan_rule_want(const nan_fmt *f, weftRedOp_t op, uint64_t x, uint64_t y) {
  if (nan_bits(f, x)) return x | f->quiet;
  if (nan_bits(f, y)) return y | f->quiet;
  const size_t sz = weft_dtype_size(f->dt);
  uint64_t w = 0;
  ref_elem(f->dt, op, &w, &x, &y); /* little-endian: the low bytes */
  w &= sz == 8 ? ~UINT64_C(0) : (UINT64_C(1) << (8 * sz)) - 1;
  return nan_bits(f, w) ? f->canon : w;
}

static void nan_rule_case(const nan_fmt *f, weftRedOp_t op, size_t count, int mode, size_t off) {
  const size_t sz = weft_dtype_size(f->dt);
  enum { MAXN = 80 };
  _Alignas(64) unsigned char a[MAXN * 8], b[MAXN * 8], d[MAXN * 8];
  uint64_t want[MAXN];
  memset(d, 0xA5, sizeof d);
  for (size_t i = 0; i < count; i++) {
    uint64_t x, y;
    nan_pair(f, op, &x, &y);
    if (mode == 3) y = x;
    memcpy(a + (off + i) * sz, &x, sz);
    memcpy(b + (off + i) * sz, &y, sz);
    want[i] = nan_rule_want(f, op, x, y);
  }
  unsigned char *pa = a + off * sz, *pb = b + off * sz, *pd = d + off * sz;
  if (mode == 1 || mode == 3) memcpy(pd, pa, count * sz);
  if (mode == 2) memcpy(pd, pb, count * sz);
  weft_reduce(pd, mode == 1 || mode == 3 ? pd : pa, mode == 2 || mode == 3 ? pd : pb, count, f->dt, op);
  for (size_t i = 0; i < count; i++) {
    uint64_t got = 0, x = 0, y = 0;
    memcpy(&got, pd + i * sz, sz);
    memcpy(&x, pa + i * sz, sz);
    memcpy(&y, pb + i * sz, sz);
    if (got != want[i]) {
      print_error("%s %s count=%zu mode=%d off=%zu: element %zu: got 0x%llx want 0x%llx (a=0x%llx b=0x%llx)\n",
                  weft_dtype_name(f->dt), weft_op_name(op), count, mode, off, i, (unsigned long long)got,
                  (unsigned long long)want[i], (unsigned long long)x, (unsigned long long)y);
      fail();
    }
  }
  for (size_t i = 0; i < sizeof d; i++)
    if ((i < off * sz || i >= (off + count) * sz) && d[i] != 0xA5) fail_msg("byte %zu outside dst written", i);
}

static void test_nan_rule_bitwise(void **state) {
  (void)state;
  for (size_t t = 0; t < sizeof nan_fmts / sizeof nan_fmts[0]; t++)
    for (size_t o = 0; o < NOPS; o++)
      for (size_t count = 1; count <= 67; count++)
        for (int mode = 0; mode < 4; mode++)
          for (size_t off = 0; off < 4; off++) nan_rule_case(&nan_fmts[t], all_ops[o], count, mode, off);
}

/* The same array reduced out of place, with dst == a and with dst == b
 * gives the same bits, long enough for every vector width. */
static void test_nan_inplace_equals_outofplace(void **state) {
  (void)state;
  enum { N = 1029 };
  for (size_t t = 0; t < sizeof nan_fmts / sizeof nan_fmts[0]; t++) {
    const nan_fmt *f = &nan_fmts[t];
    const size_t sz = weft_dtype_size(f->dt);
    for (size_t o = 0; o < NOPS; o++) {
      unsigned char *a = malloc(N * sz), *b = malloc(N * sz), *oop = malloc(N * sz), *ipa = malloc(N * sz),
                    *ipb = malloc(N * sz);
      assert_true(a && b && oop && ipa && ipb);
      for (size_t i = 0; i < N; i++) {
        uint64_t x, y;
        nan_pair(f, all_ops[o], &x, &y);
        memcpy(a + i * sz, &x, sz);
        memcpy(b + i * sz, &y, sz);
      }
      memcpy(ipa, a, N * sz);
      memcpy(ipb, b, N * sz);
      weft_reduce(oop, a, b, N, f->dt, all_ops[o]);
      weft_reduce(ipa, ipa, b, N, f->dt, all_ops[o]);
      weft_reduce(ipb, a, ipb, N, f->dt, all_ops[o]);
      assert_memory_equal(oop, ipa, N * sz);
      assert_memory_equal(oop, ipb, N * sz);
      free(a);
      free(b);
      free(oop);
      free(ipa);
      free(ipb);
    }
  }
}

/* ---- fp16/bf16 specifics ---------------------------------------------------------------------- */
static void test_half_bf16_rounding(void **state) {
  (void)state;
  /* fp16: 2048 + 1 = 2049 is a tie between 2048 and 2050: even -> 2048;
   * 2050 + 1 = 2051 -> 2052. 65504 + 65504 overflows to Inf. */
  uint16_t a[6] = {0x6800, 0x6801, 0x7BFF, 0x0001, 0x3C00, 0x8000};
  uint16_t b[6] = {0x3C00, 0x3C00, 0x7BFF, 0x0001, 0xBC00, 0x8000};
  uint16_t d[6];
  weft_reduce(d, a, b, 6, weftFloat16, weftSum);
  assert_int_equal(d[0], 0x6800);
  assert_int_equal(d[1], 0x6802);
  assert_int_equal(d[2], 0x7C00);
  assert_int_equal(d[3], 0x0002); /* subnormal + subnormal */
  assert_int_equal(d[4], 0x0000); /* 1 + -1 = +0 */
  assert_int_equal(d[5], 0x8000); /* -0 + -0 = -0 */
  weft_reduce(d, a, b, 6, weftFloat16, weftProd);
  assert_int_equal(d[0], 0x6800); /* 2048 * 1 */
  assert_int_equal(d[2], 0x7C00); /* 65504^2 */
  assert_int_equal(d[3], 0x0000); /* 2^-48 underflows to +0 */
  assert_int_equal(d[4], 0xBC00);
  weft_reduce(d, a, b, 6, weftFloat16, weftMin);
  assert_int_equal(d[4], 0xBC00);
  weft_reduce(d, a, b, 6, weftFloat16, weftMax);
  assert_int_equal(d[4], 0x3C00);

  /* bf16: 1 + 2^-8 is a tie -> 1; (1 + 2^-7) + 2^-8 -> 1 + 2^-6 */
  uint16_t e[4] = {0x3F80, 0x3F81, 0x7F7F, 0xC040};
  uint16_t f[4] = {0x3B80, 0x3B80, 0x7F7F, 0x4040};
  weft_reduce(d, e, f, 4, weftBfloat16, weftSum);
  assert_int_equal(d[0], 0x3F80);
  assert_int_equal(d[1], 0x3F82);
  assert_int_equal(d[2], 0x7F80); /* overflow to Inf */
  assert_int_equal(d[3], 0x0000); /* -3 + 3 */
  weft_reduce(d, e, f, 4, weftBfloat16, weftProd);
  assert_int_equal(d[3], 0xC110); /* -9 */

  /* the float sum 1 + 2^-11 is a tie in fp16 and rounds to even */
  uint16_t x = 0x3C00, y = 0x1000; /* 1 + 2^-11 (fp16) */
  weft_reduce(&x, &x, &y, 1, weftFloat16, weftSum);
  assert_int_equal(x, 0x3C00);
}

/* ---- weftAvg ---------------------------------------------------------------------------------- */
static void test_avg_values(void **state) {
  (void)state;
  int8_t i8[4] = {-128, 127, -7, 7};
  weft_avg_finish(i8, 4, weftInt8, 3);
  assert_int_equal(i8[0], -42);
  assert_int_equal(i8[1], 42);
  assert_int_equal(i8[2], -2);
  assert_int_equal(i8[3], 2);
  uint8_t u8[2] = {255, 7};
  weft_avg_finish(u8, 2, weftUint8, 2);
  assert_int_equal(u8[0], 127);
  assert_int_equal(u8[1], 3);
  int32_t i32[3] = {-7, 7, INT32_MIN};
  weft_avg_finish(i32, 3, weftInt32, 2);
  assert_int_equal(i32[0], -3);
  assert_int_equal(i32[1], 3);
  assert_int_equal(i32[2], -1073741824);
  uint32_t u32[1] = {UINT32_MAX};
  weft_avg_finish(u32, 1, weftUint32, 2);
  assert_int_equal(u32[0], 2147483647u);
  int64_t i64[2] = {INT64_MIN, -5};
  weft_avg_finish(i64, 2, weftInt64, 3);
  assert_true(i64[0] == INT64_C(-3074457345618258602));
  assert_true(i64[1] == -1);
  uint64_t u64[1] = {UINT64_MAX};
  weft_avg_finish(u64, 1, weftUint64, 3);
  assert_true(u64[0] == UINT64_C(6148914691236517205));
  float f32[3] = {1.0f, 10.0f, -0.0f};
  weft_avg_finish(f32, 3, weftFloat32, 4);
  assert_int_equal(fbits(f32[0]), fbits(0.25f));
  assert_int_equal(fbits(f32[1]), fbits(2.5f));
  assert_int_equal(fbits(f32[2]), 0x80000000u);
  float third = 1.0f;
  weft_avg_finish(&third, 1, weftFloat32, 3);
  assert_int_equal(fbits(third), 0x3EAAAAABu);
  double f64[1] = {1.0};
  weft_avg_finish(f64, 1, weftFloat64, 3);
  assert_true(dbits(f64[0]) == UINT64_C(0x3FD5555555555555));
  uint16_t h[3] = {0x3C00, 0x7C00, 0x0001}; /* 1, Inf, 2^-24 */
  weft_avg_finish(h, 3, weftFloat16, 3);
  assert_int_equal(h[0], 0x3555);
  assert_int_equal(h[1], 0x7C00);
  assert_int_equal(h[2], 0x0000); /* 2^-24 / 3 rounds to 0 */
  uint16_t bf[2] = {0x3F80, 0xC040}; /* 1, -3 */
  weft_avg_finish(bf, 2, weftBfloat16, 3);
  assert_int_equal(bf[0], 0x3EAB);
  assert_int_equal(bf[1], 0xBF80);

  /* nranks == 1 changes nothing; nranks < 1 is rejected by leaving buf as is */
  int32_t keep[2] = {-7, 9};
  weft_avg_finish(keep, 2, weftInt32, 1);
  assert_int_equal(keep[0], -7);
  weft_avg_finish(keep, 2, weftInt32, 0);
  weft_avg_finish(keep, 2, weftInt32, -1);
  assert_int_equal(keep[0], -7);
  assert_int_equal(keep[1], 9);
}

/* sum of three "ranks" with weftAvg, then avg_finish, for every type */
static void test_avg_end_to_end(void **state) {
  (void)state;
  int32_t r0[2] = {1, -1}, r1[2] = {2, -2}, r2[2] = {4, -4};
  weft_reduce(r0, r0, r1, 2, weftInt32, weftAvg);
  weft_reduce(r0, r0, r2, 2, weftInt32, weftAvg);
  assert_int_equal(r0[0], 7);
  weft_avg_finish(r0, 2, weftInt32, 3);
  assert_int_equal(r0[0], 2);
  assert_int_equal(r0[1], -2);

  float f0 = 1.0f, f1 = 2.0f, f2 = 4.0f;
  weft_reduce(&f0, &f0, &f1, 1, weftFloat32, weftAvg);
  weft_reduce(&f0, &f0, &f2, 1, weftFloat32, weftAvg);
  weft_avg_finish(&f0, 1, weftFloat32, 3);
  assert_true(f0 == 7.0f / 3.0f);

  uint16_t h0 = 0x3C00, h1 = 0x4000, h2 = 0x4400; /* 1, 2, 4 */
  weft_reduce(&h0, &h0, &h1, 1, weftFloat16, weftAvg);
  weft_reduce(&h0, &h0, &h2, 1, weftFloat16, weftAvg);
  assert_int_equal(h0, 0x4700); /* 7 */
  weft_avg_finish(&h0, 1, weftFloat16, 3);
  assert_int_equal(h0, 0x40AB); /* 7/3 = 2.3333 -> 2.333984375 */
}

/* avg_finish against a scalar reference for every type, odd lengths and
 * several rank counts */
static void test_avg_vs_reference(void **state) {
  (void)state;
  static const int nranks_list[] = {1, 2, 3, 7, 8, 1000};
  static const size_t lens[] = {1, 7, 257, 1001};
  for (size_t t = 0; t < NTYPES; t++) {
    const weftDataType_t dt = all_types[t];
    const size_t sz = weft_dtype_size(dt);
    for (size_t r = 0; r < sizeof nranks_list / sizeof nranks_list[0]; r++) {
      for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
        const int n = nranks_list[r];
        const size_t len = lens[l];
        unsigned char *buf = malloc(len * sz), *orig = malloc(len * sz);
        assert_non_null(buf);
        assert_non_null(orig);
        fill_random(dt, buf, len);
        memcpy(orig, buf, len * sz);
        weft_avg_finish(buf, len, dt, n);
        for (size_t i = 0; i < len; i++) {
          unsigned char want[8];
          const void *x = orig + i * sz;
          switch (dt) {
#define AVG_CASE(DT, T, EXPR)  \
  case DT: {                   \
    T v, q;                    \
    memcpy(&v, x, sizeof v);   \
    q = (T)(EXPR);             \
    memcpy(want, &q, sizeof q); \
    break;                     \
  }
            AVG_CASE(weftInt8, int8_t, (int)v / n)
            AVG_CASE(weftUint8, uint8_t, (unsigned)v / (unsigned)n)
            AVG_CASE(weftInt32, int32_t, v / n)
            AVG_CASE(weftUint32, uint32_t, v / (uint32_t)n)
            AVG_CASE(weftInt64, int64_t, v / (int64_t)n)
            AVG_CASE(weftUint64, uint64_t, v / (uint64_t)n)
            AVG_CASE(weftFloat32, float, v / (float)n)
            AVG_CASE(weftFloat64, double, v / (double)n)
            AVG_CASE(weftFloat16, uint16_t, weft_float_to_half(weft_half_to_float(v) / (float)n))
            AVG_CASE(weftBfloat16, uint16_t, weft_float_to_bf16(weft_bf16_to_float(v) / (float)n))
#undef AVG_CASE
          default: fail();
          }
          if (n == 1) memcpy(want, x, sz); /* untouched, even a signaling NaN */
          if (!elem_equal(dt, weftSum, buf + i * sz, want)) {
            print_error("avg %s nranks=%d len=%zu element %zu\n", weft_dtype_name(dt), n, len, i);
            fail();
          }
        }
        free(buf);
        free(orig);
      }
    }
  }
}

/* ---- names, parsing, invalid arguments ---------------------------------------------------------- */
static void test_names_and_parse(void **state) {
  (void)state;
  static const char *const names[] = {"int8", "uint8", "int32", "uint32", "int64",
                                      "uint64", "half", "float", "double", "bfloat16"};
  static const size_t sizes[] = {1, 1, 4, 4, 8, 8, 2, 4, 8, 2};
  for (int t = 0; t < weftNumTypes; t++) {
    assert_string_equal(weft_dtype_name((weftDataType_t)t), names[t]);
    assert_int_equal(weft_dtype_size((weftDataType_t)t), sizes[t]);
    assert_int_equal(weft_dtype_parse(names[t]), t);
  }
  assert_int_equal(weft_dtype_parse("char"), weftChar);
  assert_int_equal(weft_dtype_parse("int"), weftInt);
  assert_int_equal(weft_dtype_parse("fp16"), weftFloat16);
  assert_int_equal(weft_dtype_parse("float16"), weftFloat16);
  assert_int_equal(weft_dtype_parse("fp32"), weftFloat32);
  assert_int_equal(weft_dtype_parse("float32"), weftFloat32);
  assert_int_equal(weft_dtype_parse("fp64"), weftFloat64);
  assert_int_equal(weft_dtype_parse("float64"), weftFloat64);
  assert_int_equal(weft_dtype_parse("bf16"), weftBfloat16);
  assert_int_equal(weft_dtype_parse("BFloat16"), weftBfloat16);
  assert_int_equal(weft_dtype_parse(""), -1);
  assert_int_equal(weft_dtype_parse("float1"), -1);
  assert_int_equal(weft_dtype_parse("floa"), -1);
  assert_int_equal(weft_dtype_parse("int16"), -1);
  assert_int_equal(weft_dtype_parse(NULL), -1);

  static const char *const ops[] = {"sum", "prod", "max", "min", "avg"};
  for (int o = 0; o < weftNumOps; o++) {
    assert_string_equal(weft_op_name((weftRedOp_t)o), ops[o]);
    assert_int_equal(weft_op_parse(ops[o]), o);
  }
  assert_int_equal(weft_op_parse("SUM"), weftSum);
  assert_int_equal(weft_op_parse("mean"), -1);
  assert_int_equal(weft_op_parse(""), -1);
  assert_int_equal(weft_op_parse(NULL), -1);

  assert_string_equal(weft_dtype_name(weftNumTypes), "?");
  assert_string_equal(weft_dtype_name((weftDataType_t)-1), "?");
  assert_int_equal(weft_dtype_size(weftNumTypes), 0);
  assert_int_equal(weft_dtype_size((weftDataType_t)-1), 0);
  assert_string_equal(weft_op_name(weftNumOps), "?");
  assert_string_equal(weft_op_name((weftRedOp_t)-1), "?");
}

static void test_invalid_args_are_noops(void **state) {
  (void)state;
  int32_t a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8}, d[4] = {9, 9, 9, 9};
  weft_reduce(d, a, b, 4, weftNumTypes, weftSum);
  weft_reduce(d, a, b, 4, (weftDataType_t)-1, weftSum);
  weft_reduce(d, a, b, 4, weftInt32, weftNumOps);
  weft_reduce(d, a, b, 4, weftInt32, (weftRedOp_t)-1);
  weft_reduce(NULL, NULL, NULL, 0, weftInt32, weftSum);
  weft_avg_finish(d, 4, weftNumTypes, 2);
  weft_avg_finish(NULL, 0, weftInt32, 2);
  for (int i = 0; i < 4; i++) assert_int_equal(d[i], 9);
  weft_reduce(d, a, b, 4, weftInt32, weftSum);
  for (int i = 0; i < 4; i++) assert_int_equal(d[i], 6 + 2 * i);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names_and_parse),
      cmocka_unit_test(test_invalid_args_are_noops),
      cmocka_unit_test(test_integer_wrap),
      cmocka_unit_test(test_nan_propagation),
      cmocka_unit_test(test_nan_rule_bitwise),
      cmocka_unit_test(test_nan_inplace_equals_outofplace),
      cmocka_unit_test(test_half_bf16_rounding),
      cmocka_unit_test(test_avg_values),
      cmocka_unit_test(test_avg_end_to_end),
      cmocka_unit_test(test_avg_vs_reference),
      cmocka_unit_test(test_all_types_ops_vs_reference),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
