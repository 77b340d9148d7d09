/* reduce_bench: throughput of the host reduction kernels (weft_reduce).
 *
 * Usage: reduce_bench [max_elements] [min_seconds_per_point] [min_elements] [ops]
 *   max_elements defaults to 64M (1<<26); sizes run from min_elements
 *   (default 1M) up by powers of two. Small sizes (e.g. 4096 .. 65536) stay in
 *   the caches and show the kernels' arithmetic rather than memory bandwidth.
 *   ops: comma-separated list of sum, prod, max, min (default sum).
 *
 * For each dtype (float, double, bfloat16, half), op and size, times
 * out-of-place dst = a op b and in-place a = a op b (as the collectives use
 * it) and prints GB/s counted as bytes touched per call:
 * 3 * count * sizeof(element) (two buffers read, one written).
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "reduce/reduce.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fill(void *buf, size_t count, weftDataType_t dt, unsigned seed) {
  for (size_t i = 0; i < count; i++) {
    const float v = (float)((i * 2654435761u + seed) % 1000) / 64.0f;
    switch (dt) {
    case weftFloat32: ((float *)buf)[i] = v; break;
    case weftFloat64: ((double *)buf)[i] = v; break;
    case weftFloat16: ((uint16_t *)buf)[i] = weft_float_to_half(v); break;
    case weftBfloat16: ((uint16_t *)buf)[i] = weft_float_to_bf16(v); break;
    default: break;
    }
  }
}

/* Best time of repeated calls over at least min_s seconds (and >= 3 calls). */
static double time_reduce(void *dst, const void *a, const void *b, size_t count, weftDataType_t dt,
                          weftRedOp_t op, double min_s) {
  weft_reduce(dst, a, b, count, dt, op); /* warm-up: page faults, caches */
  double best = 1e30, start = now_s();
  int iters = 0;
  while (iters < 3 || now_s() - start < min_s) {
    const double t0 = now_s();
    weft_reduce(dst, a, b, count, dt, op);
    const double t = now_s() - t0;
    if (t < best) best = t;
    iters++;
  }
  return best;
}

int main(int argc, char **argv) {
  size_t max_count = (size_t)1 << 26;
  double min_s = 0.3;
  if (argc > 1) max_count = (size_t)strtoull(argv[1], NULL, 0);
  if (argc > 2) min_s = strtod(argv[2], NULL);
  size_t min_count = (size_t)1 << 20;
  if (argc > 3) min_count = (size_t)strtoull(argv[3], NULL, 0);
  if (min_count < 1) min_count = 1;
  if (max_count < min_count) max_count = min_count;
  unsigned op_mask = 1u << weftSum;
  if (argc > 4) {
    char list[128];
    snprintf(list, sizeof list, "%s", argv[4]);
    op_mask = 0;
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
      const int op = weft_op_parse(t);
      if (op < 0) {
        fprintf(stderr, "reduce_bench: unknown op '%s'\n", t);
        return 2;
      }
      op_mask |= 1u << op;
    }
  }

  static const weftDataType_t types[] = {weftFloat32, weftFloat64, weftBfloat16, weftFloat16};
  printf("# weft_reduce, GB/s = 3 * count * elemsize / best time\n");
  printf("%-9s %-5s %12s %12s %10s %10s\n", "dtype", "op", "count", "bytes", "oop GB/s", "inpl GB/s");
  for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
    const weftDataType_t dt = types[t];
    const size_t sz = weft_dtype_size(dt);
    void *a = malloc(max_count * sz), *b = malloc(max_count * sz), *d = malloc(max_count * sz);
    if (!a || !b || !d) {
      fprintf(stderr, "reduce_bench: out of memory for %zu elements\n", max_count);
      free(a);
      free(b);
      free(d);
      return 1;
    }
    fill(a, max_count, dt, 1);
    fill(b, max_count, dt, 2);
    memset(d, 0, max_count * sz);
    for (int op = 0; op < weftNumOps; op++) {
      if (!(op_mask & (1u << op))) continue;
      for (size_t count = min_count; count <= max_count; count *= 2) {
        const double bytes = 3.0 * (double)count * (double)sz;
        fill(a, count, dt, 1); /* in-place runs overwrite a: start each point afresh */
        const double oop = time_reduce(d, a, b, count, dt, (weftRedOp_t)op, min_s);
        const double inpl = time_reduce(a, a, b, count, dt, (weftRedOp_t)op, min_s);
        printf("%-9s %-5s %12zu %12.0f %10.2f %10.2f\n", weft_dtype_name(dt), weft_op_name((weftRedOp_t)op),
               count, bytes, bytes / oop * 1e-9, bytes / inpl * 1e-9);
        fflush(stdout);
      }
    }
    free(a);
    free(b);
    free(d);
  }
  return 0;
}
