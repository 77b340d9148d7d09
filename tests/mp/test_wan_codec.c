/* WAN codecs in the hierarchical allreduce, multi-process, over fake sites.
 *
 * Ranks are put on sites of the given sizes (WEFT_SITE + WEFT_HOST_ID, so
 * shm inside a site and tcp between). For each codec, dtype, op, count and
 * in-place mode every rank:
 *   - fills its input from a seeded generator that every rank can replay
 *     (random normals, plus outliers, zeros and tiny values),
 *   - runs weftAllReduce with the codec set in the config,
 *   - checks that the codec was really used (weft_debug_last_algo),
 *   - checks each element against the fp64 reference sum within the bound
 *     of docs/codecs.md: every value is encoded at most twice (as a partial
 *     of its site and as a finished shard), so for a block-scaled or cast
 *     codec |err| <= sum over sites of one partial's encoding error plus the
 *     result's encoding error, plus the fp32 rounding of the sums,
 *   - checks that every rank holds exactly the same bits (a hash of the
 *     result, allgathered uncoded).
 * topk is checked with error feedback over repeated calls: after T calls of
 * the same vector, the running sum of the results must approach T x the
 * exact sum (what was dropped stays in the residuals, bounded by one call).
 * The hierarchical reduce-scatter with a codec (all but topk) is checked
 * the same way: each value crosses the WAN encoded once, as a site partial.
 * Usage: test_wan_codec SITES [codec,...]   e.g. 2+2 or 2+1+3 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "codec/f32_block.h"
#include "api/introspect.h"
#include "launch_fork.h"
#include "reduce/reduce.h"
#include "time_scale.h"
#include "util/call.h"
#include "weft.h"

typedef struct {
  int sizes[16], nsites;
  const char *codecs[8];
  int ncodecs;
} opts_t;

static uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  return x ^ (x >> 33);
}

/* Input element i of rank r: mostly N(0,1)-ish, with outliers, exact zeros
 * and tiny values sprinkled in. */
static double input(int r, size_t i, int call) {
  uint64_t h = mix((uint64_t)r * 0x9e3779b97f4a7c15ULL ^ (uint64_t)i * 0x2545f4914f6cdd1dULL ^ (uint64_t)call);
  double u = (double)(h >> 11) / 9007199254740992.0;
  switch (h & 63) {
    case 0: return (u - 0.5) * 2000.0; /* outlier */
    case 1: return 0.0;
    case 2: return (u - 0.5) * 1e-30;
    default: return (u - 0.5) * 4.0 + ((h >> 8) & 1 ? 0.25 : -0.25);
  }
}

static int site_of(const opts_t *o, int r) {
  for (int s = 0, acc = 0; s < o->nsites; s++)
    if (r < (acc += o->sizes[s])) return s;
  return -1;
}

static uint64_t hash_bytes(const void *p, size_t n) {
  const unsigned char *b = p;
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ULL;
  return h;
}

/* Per element: the largest |partial sum of a site| (or of the exact sum),
 * which is what a codec encodes, and the largest |input| or partial, which
 * bounds the rounding of the additions. */
static void magnitudes(const opts_t *o, size_t count, double *part, double *any) {
  for (size_t j = 0; j < count; j++) {
    double total = 0, wp = 0, wa = 0;
    for (int s = 0, r = 0; s < o->nsites; s++) {
      double p = 0;
      for (int k = 0; k < o->sizes[s]; k++, r++) {
        double v = input(r, j, 0);
        p += v;
        if (fabs(v) > wa) wa = fabs(v);
        if (fabs(p) > wa) wa = fabs(p);
      }
      total += p;
      if (fabs(p) > wp) wp = fabs(p);
      if (fabs(total) > wa) wa = fabs(total);
    }
    if (fabs(total) > wp) wp = fabs(total);
    part[j] = wp;
    any[j] = wa > wp ? wa : wp;
  }
}

/* Largest of v over any block of `block` elements holding i (blocks start
 * where the shard a rank encodes starts, which the test does not assume). */
static double block_max(const double *v, size_t count, size_t i, size_t block) {
  size_t b0 = i + 1 > block ? i + 1 - block : 0, b1 = i + block < count ? i + block : count;
  double m = 0;
  for (size_t j = b0; j < b1; j++)
    if (v[j] > m) m = v[j];
  return m;
}

static int fail(int rank, const char *what, weftComm_t comm) {
  fprintf(stderr, "rank %d: %s: %s\n", rank, what, comm ? weftGetLastError(comm) : "");
  return 1;
}

/* One allreduce with a lossy or lossless codec, checked; returns errors. */
static int check_one(const opts_t *o, weftComm_t comm, int rank, int n, const char *codec, weftDataType_t dt,
                     weftRedOp_t op, size_t count, int inplace) {
  size_t es = weft_dtype_size(dt);
  char *in = malloc(count * es + 1), *out = malloc(count * es + 1);
  double *ref = malloc(sizeof(double) * (count ? count : 1));
  float *tmp = malloc(sizeof(float) * (count ? count : 1));
  int bad = 0;
  if (!in || !out || !ref || !tmp) return fail(rank, "out of memory", NULL);
  for (size_t i = 0; i < count; i++) tmp[i] = (float)input(rank, i, 0);
  weft_codec_store_f32(in, 0, dt, tmp, count);
  for (size_t i = 0; i < count; i++) {
    double acc = 0;
    for (int r = 0; r < n; r++) {
      float v = (float)input(r, i, 0);
      double hold[1];
      weft_codec_store_f32(hold, 0, dt, &v, 1); /* the value as the dtype holds it */
      float back;
      weft_codec_load_f32(&back, dt, hold, 0, 1);
      acc += back;
    }
    ref[i] = op == weftAvg ? acc / n : acc;
  }
  void *dst = inplace ? in : out;
  if (weftAllReduce(in, dst, count, dt, op, comm, NULL) != weftSuccess) return fail(rank, "allreduce", comm);
  const char *algo = weft_debug_last_algo(comm);
  int lossless = !strcmp(codec, "zstd") || !strcmp(codec, "none");
  weft_codec_id cid;
  int usable = weft_codec_parse(codec, &cid) == 0 && cid && weft_codec_supports(cid, dt, op);
  if (count * es >= (64 << 10) && usable && !strstr(algo, codec)) {
    fprintf(stderr, "rank %d: codec %s not used (%s)\n", rank, codec, algo);
    bad++;
  }
  float *res = tmp;
  weft_codec_load_f32(res, dt, dst, 0, count);
  double *part = malloc(sizeof(double) * (count ? count : 1)), *any = malloc(sizeof(double) * (count ? count : 1));
  if (!part || !any) return fail(rank, "out of memory", NULL);
  magnitudes(o, count, part, any);
  double eps_dt = dt == weftFloat16 ? 1.0 / 1024 : dt == weftBfloat16 ? 1.0 / 128 : 1.0 / (1 << 23);
  double eps_c = !strcmp(codec, "fp16") ? 1.0 / 1024 : !strcmp(codec, "bf16") ? 1.0 / 128 : 0;
  for (size_t i = 0; i < count && bad < 5; i++) {
    double err = fabs((double)res[i] - ref[i]);
    double tol;
    /* rounding of the n additions in the dtype (fp32 for codec sums) */
    double round = (n + 2) * eps_dt * any[i] + 1e-30;
    if (lossless) {
      tol = round;
    } else if (!strcmp(codec, "int8")) {
      /* each site's partial and the result: at most half a step of its block */
      tol = (o->nsites + 1) * block_max(part, count, i, 256) / 127 / 2 * 1.0001 + round;
    } else {
      tol = (o->nsites + 1) * eps_c * part[i] + round;
    }
    if (op == weftAvg) tol = tol / n + eps_dt * fabs(ref[i]) * 2;
    if (!(err <= tol)) {
      fprintf(stderr, "rank %d: %s %s count %zu %s: element %zu = %.9g, exact %.9g, error %.3g > bound %.3g\n", rank,
              codec, weft_dtype_name(dt), count, inplace ? "in place" : "out of place", i, res[i], ref[i], err, tol);
      bad++;
    }
  }
  /* bitwise identical on every rank */
  uint64_t h = hash_bytes(dst, count * es), *all = calloc((size_t)n, sizeof *all);
  if (!all || weftAllGather(&h, all, 1, weftUint64, comm, NULL) != weftSuccess) return fail(rank, "allgather", comm);
  for (int r = 1; r < n; r++)
    if (all[r] != all[0]) {
      fprintf(stderr, "rank %d: %s %s count %zu: rank %d's result differs from rank 0's\n", rank, codec,
              weft_dtype_name(dt), count, r);
      bad++;
      break;
    }
  free(all);
  free(part);
  free(any);
  free(in);
  free(out);
  free(ref);
  free(tmp);
  return bad;
}

/* Reduce-scatter with a codec: the partials of the other sites arrive
 * encoded once; rank r's block must be within that error of the exact sum. */
static int check_rs(const opts_t *o, weftComm_t comm, int rank, int n, const char *codec, weftDataType_t dt,
                    size_t count) {
  size_t total = count * (size_t)n, es = weft_dtype_size(dt);
  float *tmp = malloc(sizeof(float) * total);
  char *in = malloc(total * es), *out = malloc(count * es + 1);
  double *part = malloc(sizeof(double) * total), *any = malloc(sizeof(double) * total);
  if (!tmp || !in || !out || !part || !any) return fail(rank, "out of memory", NULL);
  for (size_t i = 0; i < total; i++) tmp[i] = (float)input(rank, i, 0);
  weft_codec_store_f32(in, 0, dt, tmp, total);
  if (weftReduceScatter(in, out, count, dt, weftSum, comm, NULL) != weftSuccess) return fail(rank, "reducescatter", comm);
  weft_codec_id cid;
  const char *algo = weft_debug_last_algo(comm);
  int usable = weft_codec_parse(codec, &cid) == 0 && cid && cid != WEFT_CODEC_TOPK && weft_codec_supports(cid, dt, weftSum);
  int bad = 0;
  if (count * es >= (64 << 10) && usable && !strstr(algo, codec)) {
    fprintf(stderr, "rank %d: reducescatter: codec %s not used (%s)\n", rank, codec, algo);
    bad++;
  }
  magnitudes(o, total, part, any);
  weft_codec_load_f32(tmp, dt, out, 0, count);
  double eps_dt = dt == weftBfloat16 ? 1.0 / 128 : 1.0 / (1 << 23);
  double eps_c = !strcmp(codec, "fp16") ? 1.0 / 1024 : !strcmp(codec, "bf16") ? 1.0 / 128 : 0;
  for (size_t i = 0; i < count && bad < 5; i++) {
    size_t g = (size_t)rank * count + i;
    double ref = 0;
    for (int r = 0; r < n; r++) {
      float v = (float)input(r, g, 0), back;
      double hold[1];
      weft_codec_store_f32(hold, 0, dt, &v, 1);
      weft_codec_load_f32(&back, dt, hold, 0, 1);
      ref += back;
    }
    double round = (n + 2) * eps_dt * any[g] + 1e-30, tol;
    if (!usable || !strcmp(codec, "zstd")) tol = round;
    else if (!strcmp(codec, "int8")) {
      /* int8 blocks start at the block's first element */
      size_t b0 = (size_t)rank * count + i / 256 * 256, b1 = b0 + 256 < (size_t)(rank + 1) * count ? b0 + 256 : (size_t)(rank + 1) * count;
      double m = 0;
      for (size_t j = b0; j < b1; j++) m = part[j] > m ? part[j] : m;
      tol = o->nsites * m / 127 / 2 * 1.0001 + round;
    } else tol = o->nsites * eps_c * part[g] + round;
    if (!(fabs(tmp[i] - ref) <= tol)) {
      fprintf(stderr, "rank %d: reducescatter %s %s count %zu: element %zu = %.9g, exact %.9g, bound %.3g\n", rank,
              codec, weft_dtype_name(dt), count, i, tmp[i], ref, tol);
      bad++;
    }
  }
  free(tmp);
  free(in);
  free(out);
  free(part);
  free(any);
  return bad;
}

/* topk with error feedback: the running sum of T results tracks T x the sum. */
static int check_topk_ef(weftComm_t comm, int rank, int n) {
  const size_t count = 100003;
  const int T = 40;
  float *x = malloc(count * sizeof *x), *y = malloc(count * sizeof *y);
  double *run = calloc(count, sizeof *run), *ref = calloc(count, sizeof *ref);
  if (!x || !y || !run || !ref) return fail(rank, "out of memory", NULL);
  for (size_t i = 0; i < count; i++)
    for (int r = 0; r < n; r++) ref[i] += (float)input(r, i, 7);
  double before = 0, after = 0, norm = 0;
  for (int t = 0; t < T; t++) {
    for (size_t i = 0; i < count; i++) x[i] = (float)input(rank, i, 7);
    if (weftAllReduce(x, y, count, weftFloat, weftSum, comm, NULL) != weftSuccess) return fail(rank, "allreduce", comm);
    for (size_t i = 0; i < count; i++) run[i] += y[i];
    if (t == 0)
      for (size_t i = 0; i < count; i++) before += fabs(run[i] - ref[i]), norm += fabs(ref[i]);
  }
  for (size_t i = 0; i < count; i++) after += fabs(run[i] / T - ref[i]);
  int bad = 0;
  /* one call keeps ~1% of the values per encode; the average over T calls
   * must be far closer to the exact sum than a single call */
  if (!(after < before / 4)) {
    fprintf(stderr, "rank %d: topk error feedback: mean error after %d calls %.3g, after one %.3g (norm %.3g)\n", rank,
            T, after / (double)count, before / (double)count, norm / (double)count);
    bad++;
  }
  if (rank == 0)
    printf("topk + error feedback: mean |error| one call %.4g, average of %d calls %.4g\n", before / (double)count, T,
           after / (double)count);
  free(x);
  free(y);
  free(run);
  free(ref);
  return bad;
}

static int rank_main(int rank, int n, const weftUniqueId *id, void *arg) {
  const opts_t *o = arg;
  char site[32];
  snprintf(site, sizeof site, "site%d", site_of(o, rank));
  setenv("WEFT_SITE", site, 1);
  setenv("WEFT_HOST_ID", site, 1);
  /* codecs ride on the hierarchical algorithm; on the default WAN (10 ms)
   * the cost model keeps these sizes on the one-step direct allreduce, so
   * the test forces it (mp_explain_agrees checks the model's own picks) */
  setenv("WEFT_ALGO", "hier", 1);
  int bad = 0;
  weftComm_t base;
  if (weftCommInitRank(&base, n, *id, rank) != weftSuccess) return fail(rank, "init", NULL);
  static const weftDataType_t dts[] = {weftFloat, weftBfloat16, weftFloat16, weftDouble};
  static const size_t counts[] = {1, 7, 4099, 65536 + 5, 300007};
  for (int c = 0; c < o->ncodecs; c++) {
    weftConfig_t cfg = WEFT_CONFIG_INITIALIZER;
    cfg.codec = o->codecs[c];
    cfg.timeoutMs = weft_test_ms(120000);
    weftComm_t comm;
    if (weftCommSplit(base, 0, rank, &comm, &cfg) != weftSuccess) return fail(rank, "split", base);
    int bad0 = bad;
    if (!strcmp(o->codecs[c], "topk")) {
      bad += check_topk_ef(comm, rank, n);
    } else {
      for (size_t d = 0; d < sizeof dts / sizeof *dts; d++)
        for (size_t k = 0; k < sizeof counts / sizeof *counts; k++)
          for (int ip = 0; ip < 2; ip++)
            bad += check_one(o, comm, rank, n, o->codecs[c], dts[d], k % 2 ? weftAvg : weftSum, counts[k], ip);
      for (size_t d = 0; d < 2; d++)
        for (size_t k = 1; k < sizeof counts / sizeof *counts - 1; k++)
          bad += check_rs(o, comm, rank, n, o->codecs[c], dts[d], counts[k]);
    }
    weftCommDestroy(comm);
    if (rank == 0) printf("codec %-5s %s\n", o->codecs[c], bad > bad0 ? "FAILED" : "ok");
  }
  weftCommDestroy(base);
  return bad ? 1 : 0;
}

int main(int argc, char **argv) {
  opts_t o = {0};
  if (argc < 2) {
    fprintf(stderr, "usage: %s SITES [codec,...]\n", argv[0]);
    return 2;
  }
  char buf[256];
  snprintf(buf, sizeof buf, "%s", argv[1]);
  int n = 0;
  for (char *sv = NULL, *t = strtok_r(buf, "+", &sv); t && o.nsites < 16; t = strtok_r(NULL, "+", &sv))
    n += o.sizes[o.nsites++] = atoi(t);
  static char cbuf[256];
  snprintf(cbuf, sizeof cbuf, "%s", argc > 2 ? argv[2] : "none,fp16,bf16,int8,zstd,topk");
  for (char *sv = NULL, *t = strtok_r(cbuf, ",", &sv); t && o.ncodecs < 8; t = strtok_r(NULL, ",", &sv))
    o.codecs[o.ncodecs++] = t;
  return weft_launch_fork(n, rank_main, &o, weft_test_seconds(600), NULL) ? 1 : 0;
}
