/* OpenCL C source of the opencl backend's reduce kernels.
 *
 * They must give bitwise what weft's host kernels (lib/reduce) give, on any
 * OpenCL device:
 * - elements travel as unsigned integers of their width and are only
 *   reinterpreted (as_float ...) for the one arithmetic operation, so that no
 *   load, store or conversion can touch a NaN payload or flush a denormal;
 * - integers wrap: sum and product in the unsigned type of the width;
 * - floats, every op: weft's NaN rule (lib/reduce/reduce.c), made explicit
 *   on the bits, since OpenCL does not say which NaN x + y returns: if x or y
 *   is NaN, the first NaN operand (x before y) with its quiet bit set; a NaN
 *   made from numbers (inf - inf, 0 * inf) is the positive quiet NaN with a
 *   zero payload (0x7fc00000, 0x7ff8000000000000);
 * - float sum/prod otherwise: the IEEE result, correctly rounded (OpenCL
 *   requires it for + and *) and never contracted (FP_CONTRACT OFF, no
 *   -cl-mad-enable, no fast math);
 * - float min/max otherwise: x > y ? x : y (x < y for min), so of +0/-0 the
 *   second;
 * - fp16/bf16: decoded to float and rounded back to nearest even with
 *   integer code that reproduces lib/reduce/half.c bit for bit, including
 *   subnormals, overflow to infinity and NaN payloads.
 * The backend refuses fp32/bf16 on devices without fp32 denormals and fp64
 * on devices without cl_khr_fp64: there the host kernels reduce. */
#include "ocl.h"

const char weft__ocl_kernel_source[] =
    "#pragma OPENCL FP_CONTRACT OFF\n"
    "#ifdef WEFT_FP64\n"
    "#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n"
    "#endif\n"
    /* ---- integers (U: the unsigned type of the width, S: the signed one) */
    "#define ISUM(U, S, x, y) ((U)((x) + (y)))\n"
    "#define IPROD(U, S, x, y) ((U)((x) * (y)))\n"
    "#define UMAX(U, S, x, y) ((x) > (y) ? (x) : (y))\n"
    "#define UMIN(U, S, x, y) ((x) < (y) ? (x) : (y))\n"
    "#define SMAX(U, S, x, y) (as_##S(x) > as_##S(y) ? (x) : (y))\n"
    "#define SMIN(U, S, x, y) (as_##S(x) < as_##S(y) ? (x) : (y))\n"
    /* ---- fp32 on its bits; F32_NAN: the NaN rule when x or y is NaN */
    "#define F32_ISNAN(w) (((w) & 0x7fffffffu) > 0x7f800000u)\n"
    "#define F32_CANON 0x7fc00000u\n"
    "uint f32_nan(uint x, uint y) { return F32_ISNAN(x) ? x | 0x00400000u : y | 0x00400000u; }\n"
    "uint f32_sum(uint x, uint y) {\n"
    "  if (F32_ISNAN(x) || F32_ISNAN(y)) return f32_nan(x, y);\n"
    "  uint r = as_uint(as_float(x) + as_float(y));\n"
    "  return F32_ISNAN(r) ? F32_CANON : r;\n"
    "}\n"
    "uint f32_prod(uint x, uint y) {\n"
    "  if (F32_ISNAN(x) || F32_ISNAN(y)) return f32_nan(x, y);\n"
    "  uint r = as_uint(as_float(x) * as_float(y));\n"
    "  return F32_ISNAN(r) ? F32_CANON : r;\n"
    "}\n"
    "uint f32_max(uint x, uint y) {\n"
    "  if (F32_ISNAN(x) || F32_ISNAN(y)) return f32_nan(x, y);\n"
    "  return as_float(x) > as_float(y) ? x : y;\n"
    "}\n"
    "uint f32_min(uint x, uint y) {\n"
    "  if (F32_ISNAN(x) || F32_ISNAN(y)) return f32_nan(x, y);\n"
    "  return as_float(x) < as_float(y) ? x : y;\n"
    "}\n"
    /* ---- fp64 on its bits */
    "#ifdef WEFT_FP64\n"
    "#define F64_ISNAN(w) (((w) & 0x7fffffffffffffffUL) > 0x7ff0000000000000UL)\n"
    "#define F64_QUIET 0x0008000000000000UL\n"
    "#define F64_CANON 0x7ff8000000000000UL\n"
    "ulong f64_nan(ulong x, ulong y) { return F64_ISNAN(x) ? x | F64_QUIET : y | F64_QUIET; }\n"
    "ulong f64_sum(ulong x, ulong y) {\n"
    "  if (F64_ISNAN(x) || F64_ISNAN(y)) return f64_nan(x, y);\n"
    "  ulong r = as_ulong(as_double(x) + as_double(y));\n"
    "  return F64_ISNAN(r) ? F64_CANON : r;\n"
    "}\n"
    "ulong f64_prod(ulong x, ulong y) {\n"
    "  if (F64_ISNAN(x) || F64_ISNAN(y)) return f64_nan(x, y);\n"
    "  ulong r = as_ulong(as_double(x) * as_double(y));\n"
    "  return F64_ISNAN(r) ? F64_CANON : r;\n"
    "}\n"
    "ulong f64_max(ulong x, ulong y) {\n"
    "  if (F64_ISNAN(x) || F64_ISNAN(y)) return f64_nan(x, y);\n"
    "  return as_double(x) > as_double(y) ? x : y;\n"
    "}\n"
    "ulong f64_min(ulong x, ulong y) {\n"
    "  if (F64_ISNAN(x) || F64_ISNAN(y)) return f64_nan(x, y);\n"
    "  return as_double(x) < as_double(y) ? x : y;\n"
    "}\n"
    "#endif\n"
    /* ---- binary16 <-> binary32 bits, integer only */
    "uint h2f(ushort hs) {\n"
    "  uint h = hs;\n"
    "  uint sign = (h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;\n"
    "  if (e == 0x1fu) return sign | (m ? 0x7fc00000u | (m << 13) : 0x7f800000u);\n"
    "  if (e != 0u) return sign | ((e + 112u) << 23) | (m << 13);\n"
    "  if (m == 0u) return sign;\n"
    /* subnormal m * 2^-24: the leading bit p of m gives exponent p - 24 */
    "  uint p = 31u - clz(m);\n"
    "  return sign | ((p + 103u) << 23) | ((m << (23u - p)) & 0x7fffffu);\n"
    "}\n"
    "ushort f2h(uint w) {\n"
    "  uint sign = (w >> 16) & 0x8000u, a = w & 0x7fffffffu;\n"
    "  if (a > 0x7f800000u) return (ushort)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));\n"
    "  if (a >= 0x47800000u) return (ushort)(sign | 0x7c00u);\n"
    "  uint e = a >> 23, mant, shift, q;\n"
    "  if (a < 0x38800000u) {\n"
    /* below the normal range: round |f| / 2^-24 to an integer, ties to even */
    "    if (e < 102u) return (ushort)sign;\n"
    "    mant = (a & 0x7fffffu) | 0x800000u;\n"
    "    shift = 126u - e;\n"
    "    q = mant >> shift;\n"
    "  } else {\n"
    "    mant = a;\n"
    "    shift = 13u;\n"
    "    q = (((e - 112u) << 10) | ((a >> 13) & 0x3ffu));\n"
    "  }\n"
    "  uint rem = mant & ((1u << shift) - 1u), halfway = 1u << (shift - 1u);\n"
    "  q += (rem > halfway || (rem == halfway && (q & 1u))) ? 1u : 0u;\n"
    "  return (ushort)(sign | q);\n"
    "}\n"
    /* ---- bfloat16 <-> binary32 bits */
    "uint b2f(ushort h) {\n"
    "  uint w = (uint)h << 16;\n"
    "  return F32_ISNAN(w) ? w | 0x00400000u : w;\n"
    "}\n"
    "ushort f2b(uint w) {\n"
    "  if (F32_ISNAN(w)) return (ushort)((w | 0x00400000u) >> 16);\n"
    "  return (ushort)((w + 0x7fffu + ((w >> 16) & 1u)) >> 16);\n"
    "}\n"
    "#define F16OP(OP, x, y) f2h(f32_##OP(h2f(x), h2f(y)))\n"
    "#define BF16OP(OP, x, y) f2b(f32_##OP(b2f(x), b2f(y)))\n"
    /* ---- kernels: d[od+i] = a[oa+i] op b[ob+i], element offsets, grid-stride */
    "#define KERNEL(NAME, U, EXPR)                                                     \\\n"
    "  __kernel void NAME(__global U *d, ulong od, __global const U *a, ulong oa,      \\\n"
    "                     __global const U *b, ulong ob, ulong n) {                    \\\n"
    "    for (ulong i = get_global_id(0); i < n; i += get_global_size(0)) {            \\\n"
    "      U x = a[oa + i], y = b[ob + i];                                             \\\n"
    "      d[od + i] = EXPR;                                                           \\\n"
    "    }                                                                             \\\n"
    "  }\n"
    "#define INT_KERNELS(TAG, U, S, MAX, MIN)                                  \\\n"
    "  KERNEL(weft_##TAG##_sum, U, ISUM(U, S, x, y))                           \\\n"
    "  KERNEL(weft_##TAG##_prod, U, IPROD(U, S, x, y))                         \\\n"
    "  KERNEL(weft_##TAG##_max, U, MAX(U, S, x, y))                            \\\n"
    "  KERNEL(weft_##TAG##_min, U, MIN(U, S, x, y))\n"
    "INT_KERNELS(i8, uchar, char, SMAX, SMIN)\n"
    "INT_KERNELS(u8, uchar, uchar, UMAX, UMIN)\n"
    "INT_KERNELS(i32, uint, int, SMAX, SMIN)\n"
    "INT_KERNELS(u32, uint, uint, UMAX, UMIN)\n"
    "INT_KERNELS(i64, ulong, long, SMAX, SMIN)\n"
    "INT_KERNELS(u64, ulong, ulong, UMAX, UMIN)\n"
    "KERNEL(weft_f32_sum, uint, f32_sum(x, y))\n"
    "KERNEL(weft_f32_prod, uint, f32_prod(x, y))\n"
    "KERNEL(weft_f32_max, uint, f32_max(x, y))\n"
    "KERNEL(weft_f32_min, uint, f32_min(x, y))\n"
    "KERNEL(weft_f16_sum, ushort, F16OP(sum, x, y))\n"
    "KERNEL(weft_f16_prod, ushort, F16OP(prod, x, y))\n"
    "KERNEL(weft_f16_max, ushort, F16OP(max, x, y))\n"
    "KERNEL(weft_f16_min, ushort, F16OP(min, x, y))\n"
    "KERNEL(weft_bf16_sum, ushort, BF16OP(sum, x, y))\n"
    "KERNEL(weft_bf16_prod, ushort, BF16OP(prod, x, y))\n"
    "KERNEL(weft_bf16_max, ushort, BF16OP(max, x, y))\n"
    "KERNEL(weft_bf16_min, ushort, BF16OP(min, x, y))\n"
    "#ifdef WEFT_FP64\n"
    "KERNEL(weft_f64_sum, ulong, f64_sum(x, y))\n"
    "KERNEL(weft_f64_prod, ulong, f64_prod(x, y))\n"
    "KERNEL(weft_f64_max, ulong, f64_max(x, y))\n"
    "KERNEL(weft_f64_min, ulong, f64_min(x, y))\n"
    "#endif\n";
