/* The benchmarks' shared data model and output columns (perf_data.h). */
#include "perf_data.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reduce/reduce.h" /* weft_float_to_half & co: the library's own conversions */

const char *const perf_type_names[PD_NTYPES] = {"int8",   "uint8", "int32", "uint32", "int64",
                                                "uint64", "half",  "float", "double", "bfloat16"};
const size_t perf_type_sizes[PD_NTYPES] = {1, 1, 4, 4, 8, 8, 2, 4, 8, 2};
const char *const perf_op_names[PD_NOPS] = {"sum", "prod", "max", "min", "avg"};

int perf_type_parse(const char *s) {
  static const struct {
    const char *alias;
    int t;
  } aliases[] = {{"char", PD_INT8},     {"int", PD_INT32},      {"fp16", PD_HALF},     {"float16", PD_HALF},
                 {"bf16", PD_BF16},     {"fp32", PD_FLOAT},     {"float32", PD_FLOAT}, {"fp64", PD_DOUBLE},
                 {"float64", PD_DOUBLE}, {"uint", PD_UINT32}};
  for (int t = 0; t < PD_NTYPES; t++)
    if (!strcmp(s, perf_type_names[t])) return t;
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    if (!strcmp(s, aliases[i].alias)) return aliases[i].t;
  return -1;
}

int perf_op_parse(const char *s) {
  for (int o = 0; o < PD_NOPS; o++)
    if (!strcmp(s, perf_op_names[o])) return o;
  return -1;
}

int perf_parse_long(const char *s, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  if (!s || !*s) return -1;
  long v = strtol(s, &end, 10);
  if (errno || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

int perf_gen_kind(int has_op, int op) {
  if (!has_op) return PD_GEN_COPY;
  switch (op) {
  case PD_SUM: return PD_GEN_SUM;
  case PD_PROD: return PD_GEN_PROD;
  case PD_AVG: return PD_GEN_AVG;
  default: return PD_GEN_MINMAX;
  }
}

static int dt_is_int(int dt) { return dt != PD_HALF && dt != PD_FLOAT && dt != PD_DOUBLE && dt != PD_BF16; }
static int dt_signed(int dt) { return dt != PD_UINT8 && dt != PD_UINT32 && dt != PD_UINT64; }

double perf_gen(int kind, int dt, int rank, int nranks, size_t i) {
  int sg = dt_signed(dt);
  uint64_t h = (uint64_t)i * 3u + (uint64_t)rank * 5u + 1u;
  switch (kind) {
  case PD_GEN_SUM: {
    int m = dt == PD_BF16 ? 3 : 7; /* bf16 holds integers exactly only up to 256 */
    int v = (int)(h % (uint64_t)m);
    return sg ? v - m / 2 : v;
  }
  case PD_GEN_PROD: {
    if (rank >= 8) return 1;
    int k = (int)(((uint64_t)i + (uint64_t)rank) % 3u);
    return k == 0 ? 1 : k == 1 ? 2 : (sg ? -1 : 1);
  }
  case PD_GEN_MINMAX: {
    int v = (int)(h % 17u);
    return sg ? v - 8 : v;
  }
  case PD_GEN_AVG: { /* ranks pair up with +b/-b around a: the sum is nranks*a */
    int a = (int)(i % 4u) + 1, b = (int)((i / 4u) % 2u);
    if ((nranks & 1) && rank == nranks - 1) return a;
    return (rank & 1) ? a - b : a + b;
  }
  default: {
    uint64_t m, off;
    switch (dt) {
    case PD_INT8: m = 251; off = 125; break;
    case PD_UINT8: m = 251; off = 0; break;
    case PD_BF16: m = 251; off = 125; break;
    case PD_HALF: m = 2039; off = 1019; break;
    default: m = 1000003; off = sg ? 500001 : 0; break;
    }
    h = (uint64_t)rank * 7919u + (uint64_t)i * 7u + 3u;
    return (double)(int64_t)(h % m) - (double)off;
  }
  }
}

double perf_roundtrip(double v, int dt) {
  switch (dt) {
  case PD_INT8: {
    uint8_t u = (uint8_t)(uint64_t)(int64_t)v;
    return u >= 128 ? (double)u - 256.0 : (double)u;
  }
  case PD_UINT8: return (double)(uint8_t)(uint64_t)(int64_t)v;
  case PD_INT32: {
    uint32_t u = (uint32_t)(uint64_t)(int64_t)v;
    return u >= 0x80000000u ? (double)u - 4294967296.0 : (double)u;
  }
  case PD_UINT32: return (double)(uint32_t)(uint64_t)(int64_t)v;
  case PD_INT64: return (double)(int64_t)v;
  case PD_UINT64: return (double)(uint64_t)(int64_t)v;
  case PD_HALF: return weft_half_to_float(weft_float_to_half((float)v));
  case PD_BF16: return weft_bf16_to_float(weft_float_to_bf16((float)v));
  case PD_FLOAT: return (double)(float)v;
  default: return v;
  }
}

void perf_store(void *buf, size_t i, int dt, double v) {
  v = perf_roundtrip(v, dt);
  switch (dt) { /* v is in the type's range now: the casts are exact */
  case PD_INT8: ((int8_t *)buf)[i] = (int8_t)v; break;
  case PD_UINT8: ((uint8_t *)buf)[i] = (uint8_t)v; break;
  case PD_INT32: ((int32_t *)buf)[i] = (int32_t)v; break;
  case PD_UINT32: ((uint32_t *)buf)[i] = (uint32_t)v; break;
  case PD_INT64: ((int64_t *)buf)[i] = (int64_t)v; break;
  case PD_UINT64: ((uint64_t *)buf)[i] = (uint64_t)v; break;
  case PD_HALF: ((uint16_t *)buf)[i] = weft_float_to_half((float)v); break;
  case PD_BF16: ((uint16_t *)buf)[i] = weft_float_to_bf16((float)v); break;
  case PD_FLOAT: ((float *)buf)[i] = (float)v; break;
  default: ((double *)buf)[i] = v; break;
  }
}

double perf_load(const void *buf, size_t i, int dt) {
  switch (dt) {
  case PD_INT8: return ((const int8_t *)buf)[i];
  case PD_UINT8: return ((const uint8_t *)buf)[i];
  case PD_INT32: return ((const int32_t *)buf)[i];
  case PD_UINT32: return ((const uint32_t *)buf)[i];
  case PD_INT64: return (double)((const int64_t *)buf)[i];
  case PD_UINT64: return (double)((const uint64_t *)buf)[i];
  case PD_HALF: return weft_half_to_float(((const uint16_t *)buf)[i]);
  case PD_BF16: return weft_bf16_to_float(((const uint16_t *)buf)[i]);
  case PD_FLOAT: return ((const float *)buf)[i];
  default: return ((const double *)buf)[i];
  }
}

double perf_expect_red(int kind, int op, int dt, int n, size_t i) {
  double acc = perf_gen(kind, dt, 0, n, i);
  for (int q = 1; q < n; q++) {
    double v = perf_gen(kind, dt, q, n, i);
    switch (op) {
    case PD_PROD: acc *= v; break;
    case PD_MAX: acc = v > acc ? v : acc; break;
    case PD_MIN: acc = v < acc ? v : acc; break;
    default: acc += v; break;
    }
  }
  acc = perf_roundtrip(acc, dt);
  if (op == PD_AVG) acc = dt_is_int(dt) ? (double)((int64_t)acc / n) : perf_roundtrip(acc / n, dt);
  return acc;
}

double perf_now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

size_t perf_next_size(size_t size, long factor, size_t step) {
  size_t next = factor > 1 ? size * (size_t)factor : size + step;
  if (next <= size) return size == 0 ? 1 : 0; /* 0 * factor goes on at 1; an overflow ends */
  return next;
}

void perf_print_time(double us, double size, double factor, int checked, uint64_t wrong) {
  char ts[32];
  if (us >= 10000.0)
    snprintf(ts, sizeof ts, "%7.0f", us);
  else if (us >= 100.0)
    snprintf(ts, sizeof ts, "%7.1f", us);
  else
    snprintf(ts, sizeof ts, "%7.2f", us);
  double algbw = us > 0 ? size / 1e9 / (us * 1e-6) : 0.0;
  if (checked)
    printf("  %7s  %6.2f  %6.2f  %5g", ts, algbw, algbw * factor, (double)wrong);
  else
    printf("  %7s  %6.2f  %6.2f  %5s", ts, algbw, algbw * factor, "N/A");
}

void perf_print_columns(int algo_column) {
  printf("# %10s  %12s  %8s  %6s  %6s           out-of-place                       in-place          \n",
         "", "", "", "", "");
  printf("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s %6s  %7s  %6s  %6s %6s%s\n", "size", "count", "type",
         "redop", "root", "time", "algbw", "busbw", "#wrong", "time", "algbw", "busbw", "#wrong",
         algo_column ? "  algo" : "");
  printf("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %5s  %7s  %6s  %6s  %5s\n", "(B)", "(elements)", "", "",
         "", "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)", "");
}
