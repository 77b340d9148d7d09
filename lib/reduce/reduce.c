/* Host reduction kernels for every weft datatype and operation.
 *
 * One macro (WEFT_REDUCE_KERNEL) instantiates the kernel for a (type, op)
 * pair as plain loops that gcc/clang -O3 auto-vectorize. Each kernel comes in
 * aliasing-specific variants so that every loop can use restrict pointers
 * (no runtime alias checks, and dst == a / dst == b stay on the vector path):
 *   _oop  dst, a, b distinct          dst[i] = a[i] op b[i]
 *   _ipa  dst == a                    dst[i] = dst[i] op b[i]
 *   _ipb  dst == b                    dst[i] = a[i] op dst[i]
 *   _ipab dst == a == b               dst[i] = dst[i] op dst[i]
 * The operand order is kept in every variant (min/max are not commutative in
 * which signed zero they return).
 *
 * Float NaN results follow one rule (weft_reduce in reduce.h), not the
 * hardware: when both operands of x + y are NaN, x86 returns the first source
 * of the instruction, and the compiler may swap the operands of a commutative
 * + or *; a NaN made from numbers (Inf - Inf, 0 * Inf) is negative on x86 and
 * positive elsewhere. Explicit per-element NaN tests would keep the loops
 * from vectorizing, so the float kernels run in blocks (WEFT_FLT_BLOCK): the
 * plain vector loop, which also adds up a flag per element in a few
 * independent lanes (a NaN flag makes its lane NaN), and, only in a block
 * whose lanes end NaN, the rule applied to each element with a NaN result or
 * operand. In place, the loop keeps a copy of the operand it overwrites in a
 * stack block, so that the rule can still read it.
 *
 * Integers wrap: sum and product are computed in the unsigned type of the
 * same width. fp16/bf16 are converted in stack blocks to float, reduced with
 * the float kernel, and rounded back (to nearest even) once.
 */
#include <string.h>

#include "reduce/reduce.h"

/* ---- element operations -------------------------------------------------------- */
/* x, y: operands of type T; UT: unsigned type of the same width. */
#define WEFT_OP_ISUM(T, UT, x, y) ((T)((UT)(x) + (UT)(y)))
#define WEFT_OP_IPROD(T, UT, x, y) ((T)(UT)((UT)(x) * (UT)(y)))
#define WEFT_OP_IMAX(T, UT, x, y) ((x) > (y) ? (x) : (y))
#define WEFT_OP_IMIN(T, UT, x, y) ((x) < (y) ? (x) : (y))
#define WEFT_OP_FSUM(T, UT, x, y) ((x) + (y))
#define WEFT_OP_FPROD(T, UT, x, y) ((x) * (y))
/* Of +0 and -0 the second is returned. With a NaN operand the value is not
 * the result (it may be y, a number, for a NaN x): the float kernels then
 * apply the NaN rule, which they notice from the flag (WEFT_FLAG_*). */
#define WEFT_OP_FMAX(T, UT, x, y) ((x) > (y) ? (x) : (y))
#define WEFT_OP_FMIN(T, UT, x, y) ((x) < (y) ? (x) : (y))
/* Flags: NaN whenever x op y must go through the NaN rule, and may be NaN
 * otherwise too (Inf - Inf in a flag only costs a look at the block). Sum and
 * product are NaN exactly when an operand is or the operation is invalid:
 * their result is the flag; min/max flag NaN operands with x + y. */
#define WEFT_FLAG_RESULT(x, y, r) (r)
#define WEFT_FLAG_OPERANDS(x, y, r) ((x) + (y))

typedef void (*weft_kernel_fn)(void *dst, const void *a, const void *b, size_t n);

/* The entry point of kernel NAME: picks the aliasing variant for dst, a, b. */
#define WEFT_REDUCE_DISPATCH(NAME, T)                                                   \
  static void NAME(void *dst, const void *a, const void *b, size_t n) {                 \
    if (dst == a && dst == b)                                                           \
      NAME##_ipab((T *)dst, n);                                                         \
    else if (dst == a)                                                                  \
      NAME##_ipa((T *)dst, (const T *)b, n);                                            \
    else if (dst == b)                                                                  \
      NAME##_ipb((T *)dst, (const T *)a, n);                                            \
    else                                                                                \
      NAME##_oop((T *)dst, (const T *)a, (const T *)b, n);                              \
  }

/* Instantiates kernel NAME for element type T (unsigned twin UT) and element
 * operation OP, plus its aliasing variants and a dispatching entry point. */
#define WEFT_REDUCE_KERNEL(NAME, T, UT, OP)                                             \
  static void NAME##_oop(T *restrict d, const T *restrict a, const T *restrict b,       \
                         size_t n) {                                                    \
    for (size_t i = 0; i < n; i++) {                                                    \
      const T x = a[i], y = b[i];                                                       \
      d[i] = OP(T, UT, x, y);                                                           \
    }                                                                                   \
  }                                                                                     \
  static void NAME##_ipa(T *restrict d, const T *restrict b, size_t n) {                \
    for (size_t i = 0; i < n; i++) {                                                    \
      const T x = d[i], y = b[i];                                                       \
      d[i] = OP(T, UT, x, y);                                                           \
    }                                                                                   \
  }                                                                                     \
  static void NAME##_ipb(T *restrict d, const T *restrict a, size_t n) {                \
    for (size_t i = 0; i < n; i++) {                                                    \
      const T x = a[i], y = d[i];                                                       \
      d[i] = OP(T, UT, x, y);                                                           \
    }                                                                                   \
  }                                                                                     \
  static void NAME##_ipab(T *restrict d, size_t n) {                                    \
    for (size_t i = 0; i < n; i++) {                                                    \
      const T x = d[i], y = d[i];                                                       \
      d[i] = OP(T, UT, x, y);                                                           \
    }                                                                                   \
  }                                                                                     \
  WEFT_REDUCE_DISPATCH(NAME, T)

/* ---- floats: plain vector loop, then the NaN rule where a result is NaN ---------------- */
/* Bytes per block: large enough that the per-block work (the lane sums, the
 * test) stays small (2 KiB blocks cost about 15% more in place), small enough
 * that the block, its operands and the kept copy stay in L1 and the copy on
 * the stack. Lanes: independent sums, one 64-byte line of T, enough to hide
 * the latency of the adds that flag a NaN. */
#define WEFT_NAN_BLOCK_BYTES 8192
#define WEFT_NAN_LANES_BYTES 64

/* Instantiates, for float type T with bits UT (TAG f32 or f64):
 *   nan_rule_TAG(x, y): the NaN rule for a NaN result of x op y: the first NaN
 *     operand with its quiet bit set, else (a NaN made from numbers) CANON,
 *     the positive quiet NaN with a zero payload;
 *   nan_fix_TAG(r, x, y, m): r[i] = nan_rule(x[i], y[i]) where r[i], x[i] or
 *     y[i] is NaN (min/max of a NaN may have given a number). */
#define WEFT_NAN_RULE(TAG, T, UT, QUIET, CANON)                                         \
  static T nan_rule_##TAG(T x, T y) {                                                   \
    UT xb, yb, rb;                                                                      \
    memcpy(&xb, &x, sizeof xb);                                                         \
    memcpy(&yb, &y, sizeof yb);                                                         \
    rb = x != x ? xb | (QUIET) : y != y ? yb | (QUIET) : (CANON);                       \
    memcpy(&x, &rb, sizeof x);                                                          \
    return x;                                                                           \
  }                                                                                     \
  static void nan_fix_##TAG(T *restrict r, const T *x, const T *y, size_t m) {          \
    for (size_t i = 0; i < m; i++)                                                      \
      if (r[i] != r[i] || x[i] != x[i] || y[i] != y[i]) r[i] = nan_rule_##TAG(x[i], y[i]); \
  }

WEFT_NAN_RULE(f32, float, uint32_t, UINT32_C(0x00400000), UINT32_C(0x7FC00000))
WEFT_NAN_RULE(f64, double, uint64_t, UINT64_C(0x0008000000000000), UINT64_C(0x7FF8000000000000))

/* One block of a float kernel: d[i] = x op y for i < m, where x, y are
 * LOAD_X(i), LOAD_Y(i) and KEEP(i, v) saves the operand that d overwrites (in
 * place); then the NaN rule (nan_fix, from FIX_X, FIX_Y) if a result may be
 * NaN. The results are also added up in LANES independent sums: a NaN result
 * makes its lane's sum NaN, in one vector add per vector of results, which
 * costs much less than a compare and OR (the sum can also become NaN without
 * a NaN result, from infinities or an overflow: nan_fix then finds nothing to
 * do). Elements past the last whole group of LANES go to lane 0. */
#define WEFT_FLT_BLOCK(T, TAG, OP, FLAG, LOAD_X, LOAD_Y, KEEP, FIX_X, FIX_Y)            \
  {                                                                                     \
    enum { LANES = WEFT_NAN_LANES_BYTES / sizeof(T) };                                  \
    T acc[LANES] = {0};                                                                 \
    size_t i = 0;                                                                       \
    for (; i + LANES <= m; i += LANES)                                                  \
      for (size_t k = 0; k < LANES; k++) {                                              \
        const T x = LOAD_X(i + k), y = LOAD_Y(i + k), r = OP(T, T, x, y);               \
        KEEP(i + k, x, y);                                                              \
        db[i + k] = r;                                                                  \
        acc[k] += FLAG(x, y, r);                                                        \
      }                                                                                 \
    for (; i < m; i++) {                                                                \
      const T x = LOAD_X(i), y = LOAD_Y(i), r = OP(T, T, x, y);                         \
      KEEP(i, x, y);                                                                    \
      db[i] = r;                                                                        \
      acc[0] += FLAG(x, y, r);                                                          \
    }                                                                                   \
    for (size_t w = LANES / 2; w > 0; w /= 2)                                           \
      for (size_t k = 0; k < w; k++) acc[k] += acc[k + w];                              \
    if (acc[0] != acc[0]) nan_fix_##TAG(db, FIX_X, FIX_Y, m);                           \
  }

/* The blocks of one aliasing variant: PROLOGUE sets db (and ab, bb) to the
 * block at off, of m elements. */
#define WEFT_FLT_BLOCKS(T, PROLOGUE, BLOCK)                                             \
  for (size_t off = 0; off < n; off += WEFT_NAN_BLOCK_BYTES / sizeof(T)) {              \
    const size_t bn = WEFT_NAN_BLOCK_BYTES / sizeof(T);                                 \
    const size_t m = n - off < bn ? n - off : bn;                                       \
    PROLOGUE                                                                            \
    BLOCK                                                                               \
  }

#define WEFT_AT_A(j) ab[j]
#define WEFT_AT_B(j) bb[j]
#define WEFT_AT_D(j) db[j]
#define WEFT_KEEP_NONE(j, x, y) ((void)0)
#define WEFT_KEEP_X(j, x, y) (kept[j] = (x))
#define WEFT_KEEP_Y(j, x, y) (kept[j] = (y))

/* Instantiates float kernel NAME (element op OP on type T, NaN helpers of
 * TAG). In place, the operand that dst overwrites is kept in a stack block
 * (a store per element, in L1) so that the NaN rule can still read it. */
#define WEFT_FLT_REDUCE_KERNEL(NAME, TAG, T, OP, FLAG)                                    \
  static void NAME##_oop(T *restrict d, const T *restrict a, const T *restrict b,       \
                         size_t n) {                                                    \
    WEFT_FLT_BLOCKS(T, T *restrict db = d + off; const T *restrict ab = a + off;        \
                    const T *restrict bb = b + off;,                                    \
                    WEFT_FLT_BLOCK(T, TAG, OP, FLAG, WEFT_AT_A, WEFT_AT_B, WEFT_KEEP_NONE,    \
                                   ab, bb))                                             \
  }                                                                                     \
  static void NAME##_ipa(T *restrict d, const T *restrict b, size_t n) {                \
    _Alignas(64) T kept[WEFT_NAN_BLOCK_BYTES / sizeof(T)];                              \
    WEFT_FLT_BLOCKS(T, T *restrict db = d + off; const T *restrict bb = b + off;,       \
                    WEFT_FLT_BLOCK(T, TAG, OP, FLAG, WEFT_AT_D, WEFT_AT_B, WEFT_KEEP_X,       \
                                   kept, bb))                                           \
  }                                                                                     \
  static void NAME##_ipb(T *restrict d, const T *restrict a, size_t n) {                \
    _Alignas(64) T kept[WEFT_NAN_BLOCK_BYTES / sizeof(T)];                              \
    WEFT_FLT_BLOCKS(T, T *restrict db = d + off; const T *restrict ab = a + off;,       \
                    WEFT_FLT_BLOCK(T, TAG, OP, FLAG, WEFT_AT_A, WEFT_AT_D, WEFT_KEEP_Y,       \
                                   ab, kept))                                           \
  }                                                                                     \
  static void NAME##_ipab(T *restrict d, size_t n) {                                    \
    _Alignas(64) T kept[WEFT_NAN_BLOCK_BYTES / sizeof(T)];                              \
    WEFT_FLT_BLOCKS(T, T *restrict db = d + off;,                                       \
                    WEFT_FLT_BLOCK(T, TAG, OP, FLAG, WEFT_AT_D, WEFT_AT_D, WEFT_KEEP_X,       \
                                   kept, kept))                                         \
  }                                                                                     \
  WEFT_REDUCE_DISPATCH(NAME, T)

/* All five ops of one type (avg reduces as sum). */
#define WEFT_INT_KERNELS(TAG, T, UT)                   \
  WEFT_REDUCE_KERNEL(k_##TAG##_sum, T, UT, WEFT_OP_ISUM)   \
  WEFT_REDUCE_KERNEL(k_##TAG##_prod, T, UT, WEFT_OP_IPROD) \
  WEFT_REDUCE_KERNEL(k_##TAG##_max, T, UT, WEFT_OP_IMAX)   \
  WEFT_REDUCE_KERNEL(k_##TAG##_min, T, UT, WEFT_OP_IMIN)
#define WEFT_FLT_KERNELS(TAG, T)                                       \
  WEFT_FLT_REDUCE_KERNEL(k_##TAG##_sum, TAG, T, WEFT_OP_FSUM, WEFT_FLAG_RESULT)   \
  WEFT_FLT_REDUCE_KERNEL(k_##TAG##_prod, TAG, T, WEFT_OP_FPROD, WEFT_FLAG_RESULT) \
  WEFT_FLT_REDUCE_KERNEL(k_##TAG##_max, TAG, T, WEFT_OP_FMAX, WEFT_FLAG_OPERANDS) \
  WEFT_FLT_REDUCE_KERNEL(k_##TAG##_min, TAG, T, WEFT_OP_FMIN, WEFT_FLAG_OPERANDS)

WEFT_INT_KERNELS(i8, int8_t, uint8_t)
WEFT_INT_KERNELS(u8, uint8_t, uint8_t)
WEFT_INT_KERNELS(i32, int32_t, uint32_t)
WEFT_INT_KERNELS(u32, uint32_t, uint32_t)
WEFT_INT_KERNELS(i64, int64_t, uint64_t)
WEFT_INT_KERNELS(u64, uint64_t, uint64_t)
WEFT_FLT_KERNELS(f32, float)
WEFT_FLT_KERNELS(f64, double)

/* ---- 16-bit floats: blocks through float -------------------------------------------- */
#define WEFT_BLOCK 256

typedef void (*weft_to_float_fn)(float *dst, const uint16_t *src, size_t n);
typedef void (*weft_from_float_fn)(uint16_t *dst, const float *src, size_t n);

/* dst may equal a or b: each block is fully read before it is written. The
 * float kernel runs out of place (its cheaper variant). The conversions
 * quiet a NaN and keep its payload, so the float NaN rule gives the 16-bit
 * one: the first NaN operand quieted, or the positive quiet NaN. */
static void reduce_via_float(uint16_t *dst, const uint16_t *a, const uint16_t *b, size_t n,
                             weft_kernel_fn fk, weft_to_float_fn to_f, weft_from_float_fn from_f) {
  _Alignas(64) float fa[WEFT_BLOCK];
  _Alignas(64) float fb[WEFT_BLOCK];
  _Alignas(64) float fd[WEFT_BLOCK];
  for (size_t off = 0; off < n; off += WEFT_BLOCK) {
    const size_t m = n - off < WEFT_BLOCK ? n - off : WEFT_BLOCK;
    to_f(fa, a + off, m);
    to_f(fb, b + off, m);
    fk(fd, fa, fb, m);
    from_f(dst + off, fd, m);
  }
}

/* ---- dispatch tables -------------------------------------------------------------- */
#define WEFT_OPS_ROW(TAG) {k_##TAG##_sum, k_##TAG##_prod, k_##TAG##_max, k_##TAG##_min, k_##TAG##_sum}

/* Indexed [dtype][op]; the fp16/bf16 rows hold the float kernels they use. */
static const weft_kernel_fn kernels[weftNumTypes][weftNumOps] = {
    [weftInt8] = WEFT_OPS_ROW(i8),       [weftUint8] = WEFT_OPS_ROW(u8),
    [weftInt32] = WEFT_OPS_ROW(i32),     [weftUint32] = WEFT_OPS_ROW(u32),
    [weftInt64] = WEFT_OPS_ROW(i64),     [weftUint64] = WEFT_OPS_ROW(u64),
    [weftFloat16] = WEFT_OPS_ROW(f32),   [weftFloat32] = WEFT_OPS_ROW(f32),
    [weftFloat64] = WEFT_OPS_ROW(f64),   [weftBfloat16] = WEFT_OPS_ROW(f32),
};

void weft_reduce(void *dst, const void *a, const void *b, size_t count, weftDataType_t dt,
                 weftRedOp_t op) {
  if ((unsigned)dt >= (unsigned)weftNumTypes || (unsigned)op >= (unsigned)weftNumOps) return;
  if (count == 0) return;
  const weft_kernel_fn k = kernels[dt][op];
  switch (dt) {
  case weftFloat16:
    reduce_via_float(dst, a, b, count, k, weft_half_to_float_n, weft_float_to_half_n);
    break;
  case weftBfloat16:
    reduce_via_float(dst, a, b, count, k, weft_bf16_to_float_n, weft_float_to_bf16_n);
    break;
  default:
    k(dst, a, b, count);
    break;
  }
}

/* ---- average ------------------------------------------------------------------------- */
/* Instantiates avg_TAG: buf[i] = buf[i] / DIV, where DIV is nranks converted
 * to the type the division is done in (C truncates toward zero). */
#define WEFT_AVG_KERNEL(TAG, T, DT)                                      \
  static void avg_##TAG(T *restrict buf, size_t n, int nranks) {         \
    const DT div = (DT)nranks;                                           \
    for (size_t i = 0; i < n; i++) buf[i] = (T)((DT)buf[i] / div);       \
  }

WEFT_AVG_KERNEL(i8, int8_t, int32_t)
WEFT_AVG_KERNEL(u8, uint8_t, uint32_t)
WEFT_AVG_KERNEL(i32, int32_t, int32_t)
WEFT_AVG_KERNEL(u32, uint32_t, uint32_t)
WEFT_AVG_KERNEL(i64, int64_t, int64_t)
WEFT_AVG_KERNEL(u64, uint64_t, uint64_t)
WEFT_AVG_KERNEL(f32, float, float)
WEFT_AVG_KERNEL(f64, double, double)

static void avg_via_float(uint16_t *buf, size_t n, int nranks, weft_to_float_fn to_f,
                          weft_from_float_fn from_f) {
  _Alignas(64) float f[WEFT_BLOCK];
  for (size_t off = 0; off < n; off += WEFT_BLOCK) {
    const size_t m = n - off < WEFT_BLOCK ? n - off : WEFT_BLOCK;
    to_f(f, buf + off, m);
    avg_f32(f, m, nranks);
    from_f(buf + off, f, m);
  }
}

void weft_avg_finish(void *buf, size_t count, weftDataType_t dt, int nranks) {
  /* nranks < 1 is meaningless (and INT_MIN / -1 would be UB): leave buf alone.
   * Dividing by 1 would change nothing but a signaling NaN's quiet bit: one
   * rank's result is its input, bit for bit. A NaN sum of several ranks is
   * already quiet, and x / n returns it as is. */
  if (nranks <= 1 || count == 0) return;
  switch (dt) {
  case weftInt8: avg_i8(buf, count, nranks); break;
  case weftUint8: avg_u8(buf, count, nranks); break;
  case weftInt32: avg_i32(buf, count, nranks); break;
  case weftUint32: avg_u32(buf, count, nranks); break;
  case weftInt64: avg_i64(buf, count, nranks); break;
  case weftUint64: avg_u64(buf, count, nranks); break;
  case weftFloat32: avg_f32(buf, count, nranks); break;
  case weftFloat64: avg_f64(buf, count, nranks); break;
  case weftFloat16: avg_via_float(buf, count, nranks, weft_half_to_float_n, weft_float_to_half_n); break;
  case weftBfloat16: avg_via_float(buf, count, nranks, weft_bf16_to_float_n, weft_float_to_bf16_n); break;
  default: break;
  }
}

/* ---- names ------------------------------------------------------------------------------ */

static const char *const op_names[weftNumOps] = {
    [weftSum] = "sum", [weftProd] = "prod", [weftMax] = "max", [weftMin] = "min", [weftAvg] = "avg",
};

static const struct {
  const char *name;
  weftDataType_t dt;
} dtype_aliases[] = {
    {"char", weftChar},       {"int", weftInt},         {"fp16", weftFloat16},
    {"float16", weftFloat16}, {"fp32", weftFloat32},    {"float32", weftFloat32},
    {"fp64", weftFloat64},    {"float64", weftFloat64}, {"bf16", weftBfloat16},
};

const char *weft_op_name(weftRedOp_t op) {
  return (unsigned)op < (unsigned)weftNumOps ? op_names[op] : "?";
}

/* ASCII case-insensitive equality (locale independent). */
static int name_eq(const char *s, const char *name) {
  for (;; s++, name++) {
    char c = *s;
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (c != *name) return 0;
    if (c == '\0') return 1;
  }
}

int weft_dtype_parse(const char *name) {
  if (name == NULL) return -1;
  for (int i = 0; i < weftNumTypes; i++)
    if (name_eq(name, weft_dtype_name((weftDataType_t)i))) return i;
  for (size_t i = 0; i < sizeof dtype_aliases / sizeof dtype_aliases[0]; i++)
    if (name_eq(name, dtype_aliases[i].name)) return (int)dtype_aliases[i].dt;
  return -1;
}

int weft_op_parse(const char *name) {
  if (name == NULL) return -1;
  for (int i = 0; i < weftNumOps; i++)
    if (name_eq(name, op_names[i])) return i;
  return -1;
}
