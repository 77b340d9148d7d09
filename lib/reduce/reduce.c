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
 * The operand order is kept in every variant (NaN-propagating min/max are not
 * commutative in which NaN or which signed zero they return).
 *
 * Integers wrap: sum and product are computed in the unsigned type of the
 * same width. fp16/bf16 are converted in stack blocks to float, reduced with
 * the float kernel, and rounded back (to nearest even) once.
 */
#include "reduce/reduce.h"

/* ---- element operations -------------------------------------------------------- */
/* x, y: operands of type T; UT: unsigned type of the same width. */
#define WEFT_OP_ISUM(T, UT, x, y) ((T)((UT)(x) + (UT)(y)))
#define WEFT_OP_IPROD(T, UT, x, y) ((T)(UT)((UT)(x) * (UT)(y)))
#define WEFT_OP_IMAX(T, UT, x, y) ((x) > (y) ? (x) : (y))
#define WEFT_OP_IMIN(T, UT, x, y) ((x) < (y) ? (x) : (y))
#define WEFT_OP_FSUM(T, UT, x, y) ((x) + (y))
#define WEFT_OP_FPROD(T, UT, x, y) ((x) * (y))
/* NaN-propagating: a NaN in x is returned as is; a NaN in y fails both
 * comparisons and is returned as well. */
#define WEFT_OP_FMAX(T, UT, x, y) (((x) != (x) || (x) > (y)) ? (x) : (y))
#define WEFT_OP_FMIN(T, UT, x, y) (((x) != (x) || (x) < (y)) ? (x) : (y))

typedef void (*weft_kernel_fn)(void *dst, const void *a, const void *b, size_t n);

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

/* All five ops of one type (avg reduces as sum). */
#define WEFT_INT_KERNELS(TAG, T, UT)                   \
  WEFT_REDUCE_KERNEL(k_##TAG##_sum, T, UT, WEFT_OP_ISUM)   \
  WEFT_REDUCE_KERNEL(k_##TAG##_prod, T, UT, WEFT_OP_IPROD) \
  WEFT_REDUCE_KERNEL(k_##TAG##_max, T, UT, WEFT_OP_IMAX)   \
  WEFT_REDUCE_KERNEL(k_##TAG##_min, T, UT, WEFT_OP_IMIN)
#define WEFT_FLT_KERNELS(TAG, T)                              \
  WEFT_REDUCE_KERNEL(k_##TAG##_sum, T, T, WEFT_OP_FSUM)   \
  WEFT_REDUCE_KERNEL(k_##TAG##_prod, T, T, WEFT_OP_FPROD) \
  WEFT_REDUCE_KERNEL(k_##TAG##_max, T, T, WEFT_OP_FMAX)   \
  WEFT_REDUCE_KERNEL(k_##TAG##_min, T, T, WEFT_OP_FMIN)

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

/* dst may equal a or b: each block is fully read before it is written. */
static void reduce_via_float(uint16_t *dst, const uint16_t *a, const uint16_t *b, size_t n,
                             weft_kernel_fn fk, weft_to_float_fn to_f, weft_from_float_fn from_f) {
  _Alignas(64) float fa[WEFT_BLOCK];
  _Alignas(64) float fb[WEFT_BLOCK];
  for (size_t off = 0; off < n; off += WEFT_BLOCK) {
    const size_t m = n - off < WEFT_BLOCK ? n - off : WEFT_BLOCK;
    to_f(fa, a + off, m);
    to_f(fb, b + off, m);
    fk(fa, fa, fb, m);
    from_f(dst + off, fa, m);
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
  /* nranks < 1 is meaningless (and INT_MIN / -1 would be UB): leave buf alone. */
  if (nranks < 1 || count == 0) return;
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
