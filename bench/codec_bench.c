/* weft-codec-bench: throughput and ratio of the WAN codecs (lib/codec).
 *
 * Usage: weft-codec-bench [-s SIZE] [-c CODEC] [-r REPS] [-t TOPK_RATIO] [-l ZSTD_LEVEL]
 *                         [-d DIST] [-e]
 *   -s  bytes of fp32 input (K/M/G suffixes), default 64M
 *   -c  one codec (none, fp16, bf16, int8, topk, zstd), default all available
 *   -r  repetitions, the best time of each phase counts, default 5
 *   -t  topk ratio, default 0.01;  -l  zstd level, default 1
 *   -d  data: normal (default, gradient-like N(0, 1e-3)), uniform ([-1, 1)),
 *       smooth (slowly varying, compressible)
 *   -e  with error feedback (a residual array passed to encode)
 *
 * One thread. GB/s are bytes of fp32 input per second: encode = N / t_enc,
 * decode = N / t_dec, enc+dec = N / (t_enc + t_dec) (the figure the cost
 * model uses, weft_codec_throughput). Ends with a PASS/FAIL line for the
 * int8 bar of DESIGN.md (>= 2 GB/s per core); informational, exits 0.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "codec/codec.h"
#include "util/size.h"

#define INT8_BAR 2.0e9

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static double urand(void) { /* [0, 1) */
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return (double)((rng * 0x2545F4914F6CDD1Dull) >> 11) * 0x1p-53;
}

static void fill(float *x, size_t n, const char *dist) {
  if (strcmp(dist, "uniform") == 0) {
    for (size_t i = 0; i < n; i++) x[i] = (float)(2.0 * urand() - 1.0);
  } else if (strcmp(dist, "smooth") == 0) {
    for (size_t i = 0; i < n; i++) x[i] = (float)((double)(i / 64 % 1024) * 0.125);
  } else {
    for (size_t i = 0; i + 1 < n; i += 2) { /* Box-Muller */
      const double u = 1.0 - urand(), v = urand();
      const double r = sqrt(-2.0 * log(u)) * 1e-3;
      x[i] = (float)(r * cos(2 * M_PI * v));
      x[i + 1] = (float)(r * sin(2 * M_PI * v));
    }
    if (n & 1) x[n - 1] = 0.0f;
  }
}

static void usage(void) {
  fprintf(stderr,
          "usage: weft-codec-bench [-s SIZE] [-c CODEC] [-r REPS] [-t TOPK_RATIO] "
          "[-l ZSTD_LEVEL] [-d normal|uniform|smooth] [-e]\n");
}

int main(int argc, char **argv) {
  size_t bytes = (size_t)64 << 20;
  int reps = 5, only = -1, feedback = 0;
  const char *dist = "normal";
  weft_codec_params p;
  weft_codec_params_default(&p);
  int c;
  while ((c = getopt(argc, argv, "s:c:r:t:l:d:eh")) != -1) {
    weft_codec_id id;
    switch (c) {
    case 's': {
      char why[160] = "";
      if (weft_parse_size_t(optarg, &bytes, why, sizeof why) == 0 && bytes < 4)
        snprintf(why, sizeof why, "size '%s' is below 4 bytes", optarg);
      if (why[0]) {
        fprintf(stderr, "weft-codec-bench: %s\n", why);
        return 2;
      }
      break;
    }
    case 'c':
      if (weft_codec_parse(optarg, &id) != 0) {
        fprintf(stderr, "weft-codec-bench: unknown codec '%s'\n", optarg);
        return 2;
      }
      only = (int)id;
      break;
    case 'r': reps = atoi(optarg) > 0 ? atoi(optarg) : 1; break;
    case 't': p.topk_ratio = strtod(optarg, NULL); break;
    case 'l': p.zstd_level = atoi(optarg); break;
    case 'd': dist = optarg; break;
    case 'e': feedback = 1; break;
    default: usage(); return c == 'h' ? 0 : 2;
    }
  }
  const size_t n = bytes / sizeof(float);
  bytes = n * sizeof(float);
  float *x = malloc(bytes), *y = malloc(bytes), *res = feedback ? calloc(n, sizeof(float)) : NULL;
  size_t cap = 0;
  for (int id = 0; id < WEFT_CODEC_COUNT; id++) {
    const size_t m = weft_codec_max_bytes((weft_codec_id)id, &p, weftFloat, n);
    if (weft_codec_available((weft_codec_id)id) && m != SIZE_MAX && m > cap) cap = m;
  }
  unsigned char *enc = malloc(cap);
  if (!x || !y || !enc || (feedback && !res)) {
    fprintf(stderr, "weft-codec-bench: out of memory for %zu bytes\n", bytes);
    return 1;
  }
  fill(x, n, dist);
  memset(y, 0, bytes);
  memset(enc, 0, cap);

  printf("# weft-codec-bench: %zu bytes fp32 (%zu elements, %s data), best of %d, one thread%s\n",
         bytes, n, dist, reps, feedback ? ", error feedback" : "");
  printf("# topk ratio %g, zstd level %d; GB/s = fp32 input bytes / time\n", p.topk_ratio,
         p.zstd_level);
  printf("%-6s %8s %10s %10s %13s %12s\n", "codec", "ratio", "enc GB/s", "dec GB/s", "enc+dec GB/s",
         "max abs err");
  double int8_gbs = -1.0;
  for (int id = 0; id < WEFT_CODEC_COUNT; id++) {
    const weft_codec_id cid = (weft_codec_id)id;
    if ((only >= 0 && id != only) || !weft_codec_available(cid)) continue;
    size_t len = 0;
    double best_e = 1e30, best_d = 1e30;
    int failed = 0;
    for (int r = 0; r <= reps && !failed; r++) { /* r == 0: warm-up */
      const double t0 = now_s();
      if (weft_codec_encode(cid, &p, weftFloat, x, n, enc, cap, &len, res) != 0) failed = 1;
      const double t1 = now_s();
      if (!failed && weft_codec_decode(cid, weftFloat, enc, len, y, n) != 0) failed = 1;
      const double t2 = now_s();
      if (r > 0) {
        if (t1 - t0 < best_e) best_e = t1 - t0;
        if (t2 - t1 < best_d) best_d = t2 - t1;
      }
    }
    if (failed) {
      printf("%-6s encode/decode failed\n", weft_codec_name(cid));
      continue;
    }
    double maxerr = 0.0;
    for (size_t i = 0; i < n; i++) {
      const double e = fabs((double)y[i] - (double)x[i]);
      if (e > maxerr) maxerr = e;
    }
    const double ge = (double)bytes / best_e / 1e9, gd = (double)bytes / best_d / 1e9;
    const double gb = (double)bytes / (best_e + best_d) / 1e9;
    printf("%-6s %8.4f %10.2f %10.2f %13.2f %12.3g\n", weft_codec_name(cid),
           (double)len / (double)bytes, ge, gd, gb, maxerr);
    if (cid == WEFT_CODEC_INT8) int8_gbs = gb * 1e9;
  }
  if (int8_gbs >= 0.0)
    printf("int8 encode+decode: %.2f GB/s per core, bar %.2f GB/s: %s\n", int8_gbs / 1e9,
           INT8_BAR / 1e9, int8_gbs >= INT8_BAR ? "PASS" : "FAIL");
  free(x);
  free(y);
  free(res);
  free(enc);
  return 0;
}
