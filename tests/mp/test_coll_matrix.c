/* Multi-process collective matrix test.
 *
 *   test_coll_matrix -n NRANKS [-c COLLS] [-d DTYPES] [-o OPS] [-a ALGOS]
 *                    [-C COUNTS] [-B 0|1|2] [-T COMM_TIMEOUT_S] [-L LAUNCH_TIMEOUT_S]
 *                    [-G SIZES [-S]] [-D DEVICES [-R]] [-Y FILE] [-F] [-v]
 *
 * Forks NRANKS ranks (weft_launch_fork from tools/launch). Each rank builds two communicators over the same ranks: one
 * with weftConfig_t.algo = "ring" (weftCommInitRankConfig) and one with
 * algo = "tree" (weftCommSplit of the first, color 0, key rank).
 * It then runs
 *
 *   allreduce, allgather, reducescatter, broadcast, reduce, alltoall, a
 *   send/recv ring (inside weftGroupStart/End; on 1 rank a send to and a
 *   receive from oneself), gather and scatter (direct, on the ring comm, in
 *   place on the root only; a non-root's unused buffer NULL for root 0, else
 *   a canary that must stay untouched), and the v-variants allgatherv,
 *   reducescatterv and alltoallv (ring comm; ragged blocks of the case's
 *   count: empty, half, whole and double; allgatherv's and alltoallv's laid
 *   out in reverse rank order with a one-element gap that must stay
 *   unwritten, reducescatterv's back to back; count 7 out of place inside
 *   a group, count 1027 out of place on a stream, each with its counts
 *   arrays scribbled over before the group ends or the stream is synced;
 *   allgatherv count 1 runs again with the blocks rotated, which must not
 *   reuse the first call's plan)
 *   x every datatype (10) x every op where the collective reduces
 *   x counts {0, 1, 7, 1027, 1048579 (1M+3)} (per-rank block count for
 *     allgather/reducescatter/alltoall)
 *   x in-place and out-of-place (alltoall, alltoallv and send/recv: out-of-place only)
 *   x algorithm {ring, tree} for allreduce/broadcast/reduce, and rhd
 *     (recursive halving-doubling, a third comm) for allreduce, allgather and
 *     reducescatter (the ring where n is not a power of two; the others ignore
 *     the algorithm and run once, on the ring communicator), and slots (the
 *     node segment, a fourth comm) for every collective: calls that publish
 *     at most WEFT_SLOTS_MAX bytes per rank must run there when all ranks
 *     share the host over shm, larger ones (and any other set-up) must not;
 *     alltoall runs on the ring comm (pairwise) and the slots comm
 *   x root {0, n-1} for broadcast, reduce, gather and scatter
 *
 * and, once, a barrier (three rounds, one late rank each, the third on a
 * stream): no rank may leave before the last one entered (entry times
 * allgathered), and the dissemination algorithm must be the one that ran.
 *
 * -c nanpay (not in the default set; ctest mp_matrix_nanpay_n4) runs
 * allreduce, reducescatter and reduce on float inputs laden with NaNs (on
 * every rank, one or some; each rank its own sign and payload, quiet or
 * signaling) and with Inf - Inf / 0 * Inf, every float dtype x op, counts
 * {1, 7, 67, 1027, 65539 (allreduce only)}, on every algorithm of -a (direct
 * included when named): the in-place result must be the out-of-place one bit
 * for bit and follow the NaN rule of docs/api.md.
 *
 * With -G 3+2+1 the ranks are put on fake nodes of those sizes (WEFT_HOST_ID;
 * with -S on fake sites, WEFT_SITE) and a third communicator forces the
 * hierarchical algorithm ("hier"), which then runs every allreduce, broadcast,
 * allgather and reducescatter case too.
 *
 * and checks every element of every rank's result bitwise against a reference
 * computed locally from the deterministic inputs of all ranks. The algorithm
 * that actually ran is checked too (weft_debug_last_algo).
 *
 * Inputs (a hash of case, rank and element index) are chosen so that the
 * result is exact, i.e. independent of the reduction order:
 *   - integer types: full-range random bits for every op; the reference is
 *     computed in uint64 wrap-around arithmetic and truncated to the type's
 *     width (sum, prod), compared signed/unsigned (max, min); avg = the
 *     wrapped sum, read as the type, divided by nranks truncating toward zero.
 *   - float types, sum/avg: integers k*scale with |k| <= R so that every
 *     partial sum is exact: fp16 R = 2048/n, bf16 R = 256/n (scale 1);
 *     fp32 R = 2^22/n, scale 1/4; fp64 R = 2^40/n, scale 2^-10.
 *     avg: the exact sum divided by nranks, correctly rounded to the type.
 *     For fp16/bf16 the reference divides in fp32 and rounds to the type; that
 *     double rounding is innocuous for division because 24 >= 2*11+2 (and
 *     2*8+2), so it equals the correctly rounded quotient.
 *   - float types, prod: factors in {+-0.5, +-1, +-2} (only +-1 from rank 12
 *     on), so every partial product is a power of two well inside the range.
 *   - float types, max/min: random bit patterns of the type (NaN patterns
 *     turned into finite numbers, a few +-Inf, no zeros so that -0/+0 cannot
 *     make the result order dependent).
 *   - data movement (allgather, broadcast, alltoall, send/recv): random bits.
 * Receive buffers are pre-filled with a pattern and surrounded by guard
 * bytes; out-of-place send buffers must be unchanged afterwards, and a
 * non-root's recvbuff of reduce must not be written (header: "recvbuff is
 * written on root only").
 *
 * Cost control (the whole "mp" label must stay around 4 minutes on a 2-core
 * machine): with -B 1 (default) the 1M+3 count runs for
 *   - allreduce: every dtype x every op x {ring, tree}, one of in-place /
 *     out-of-place per (dtype, algo), alternating with the dtype so that both
 *     modes run big on both algorithms;
 *   - each other collective: two dtypes (one 1-byte integer, one float
 *     type), out-of-place, with sum for the reducing ones; reduce and
 *     broadcast with root n-1 on both algorithms;
 *   - gather and scatter: none (their chunked path at small counts is
 *     mp_matrix_n5_chunk100's; -B 2 runs them big too);
 *   - the v-variants: one case each (uint8, sum, out of place), -B 2 too.
 * Measured on the 2-core VM (gcc -O3): n = 1, 2, 3, 4, 5, 8 together ~32 s;
 * the extra ctest case mp_matrix_n3_big (-B 2 -C 1048579: every case at 1M+3
 * on 3 ranks) ~23 s; with ASan+UBSan about 2.3x that.
 * For big counts each rank checks its own 1/n slice of an allreduce result
 * against the reference and all ranks compare a 64-bit hash of the whole
 * result (allgathered with weft), which together covers every element
 * without every rank recomputing the full reference. -B 0 skips 1M+3, -B 2
 * runs it for every case (slow).
 *
 * A separate section ("fprandom") runs float/double/half/bfloat16 allreduce
 * sum on random non-integer data in [-1, 1] and checks
 *   (a) |got - ref| <= 1.01*(n-1)*u*sum_i|x_i| + u*|ref| + n*tiny
 *       where ref is an accurate fp64 (compensated) sum of the typed inputs,
 *       u the unit roundoff of the type (2^-11 fp16, 2^-8 bf16, 2^-24 fp32,
 *       2^-53 fp64) and tiny its smallest subnormal: any summation order with
 *       n-1 roundings to the type satisfies the first term (gamma_{n-1}), the
 *       second allows one extra rounding of the output, the third absorbs
 *       underflow;
 *   (b) every rank holds a bitwise identical result: a 64-bit hash of the
 *       result is allgathered with weft and compared.
 *
 * With -D opencl,host (a comma-separated list of WEFT_DEVICE values) rank r
 * runs on item r mod count: every call then names buffers of that rank's
 * device, filled from and read back into the host buffers the checks below
 * use (matrix_dev.h), in place as one device buffer. -R (run with
 * WEFT_DEVICE_REDUCE=on) fails a rank on a device other than host whose
 * comms ran no reduce step with the device's kernels. -Y FILE makes rank 0
 * write a 64-bit hash of every fprandom and nanpay result, so that two runs
 * (e.g. all host, and mixed devices) can be compared bit for bit.
 *
 * Every failing comparison prints rank, collective, dtype, op, count,
 * in-place, algo, root, index, expected and got (first few only) on stderr,
 * and the rank exits 1 (comparison failed) or 2 (a weft call failed).
 * -F corrupts one reference element of every reducing case with count 1027
 * (self-check: the run then succeeds only if every rank reported a
 * mismatch).
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/introspect.h"
#include "launch_fork.h"
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch_fork.h"
#include "matrix_dev.h"
#include "reduce/reduce.h"
#include "time_scale.h"
#include "weft.h"

/* ---- options ---------------------------------------------------------------- */

enum {
  C_ALLREDUCE,
  C_ALLGATHER,
  C_REDUCESCATTER,
  C_BROADCAST,
  C_REDUCE,
  C_ALLTOALL,
  C_SENDRECV,
  C_GATHER,
  C_SCATTER,
  C_ALLGATHERV,
  C_REDUCESCATTERV,
  C_ALLTOALLV,
  C_FPRANDOM,
  C_NANPAY,
  C_BARRIER,
  C_NCOLL
};
static const char *const coll_names[C_NCOLL] = {"allreduce", "allgather", "reducescatter", "broadcast", "reduce",
                                                "alltoall",  "sendrecv",  "gather",        "scatter",
                                                "allgatherv", "reducescatterv", "alltoallv",
                                                "fprandom",  "nanpay",    "barrier"};
enum { A_RING, A_TREE, A_RHD, A_HIER, A_SLOTS, A_DIRECT, A_N };
static const char *const algo_names[A_N] = {"ring", "tree", "rhd", "hier", "slots", "direct"};

#define BIG_COUNT ((size_t)1048579)
static const size_t default_counts[] = {0, 1, 7, 1027, BIG_COUNT};

typedef struct {
  int nranks;
  unsigned coll_mask, dt_mask, op_mask, algo_mask;
  size_t counts[16];
  int ncounts;
  int big; /* 0: skip BIG_COUNT, 1: subset, 2: everything */
  int fault;
  int verbose;
  int timeout_ms;
  double launch_timeout_s;
  int ngroups, group_size[16]; /* -G: fake nodes (or sites with -S) */
  int group_sites;
  const char *devices; /* -D A,B,...: rank r's buffers on device item r mod count (WEFT_DEVICE) */
  int devreduce;       /* -R: ranks on a device other than host must reduce on it (WEFT_DEVICE_REDUCE=on) */
  const char *digest;  /* -Y FILE: rank 0 writes the bits of every fprandom and nanpay result (a hash per case) */
} opts_t;

/* ---- per-rank state ------------------------------------------------------------ */

typedef struct {
  const opts_t *o;
  int rank, n;
  weftComm_t comm[A_N];
  int on_device; /* -D gave this rank a device other than host */
  long ncases, nfail_cases, nprinted;
  int broken; /* a weft call failed: the comms are unusable */
  FILE *digest; /* -Y, rank 0 */
} ctx_t;

typedef struct {
  int coll;
  weftDataType_t dt;
  weftRedOp_t op;
  size_t count;
  int inplace;
  int algo;
  int root;
  int reduces;
  uint64_t seed;
  int nanpay; /* the NaN-payload section: coll is the reducing collective it runs */
} tcase;

#define MAX_PRINT_PER_CASE 4
#define MAX_PRINT_PER_RANK 40

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

static inline uint64_t rnd(uint64_t seed, int rank, size_t idx) {
  return mix64(seed ^ ((uint64_t)(unsigned)rank << 40) ^ (uint64_t)idx);
}

static uint64_t fnv64(const void *p, size_t n) {
  const unsigned char *c = p;
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++) h = (h ^ c[i]) * 0x100000001b3ULL;
  return h;
}

/* ---- datatype helpers ---------------------------------------------------------- */

static int is_int(weftDataType_t dt) { return dt <= weftUint64; }
static int is_signed_int(weftDataType_t dt) { return dt == weftInt8 || dt == weftInt32 || dt == weftInt64; }

static uint64_t ld_u(const void *p, size_t i, size_t esz) {
  switch (esz) {
    case 1: return ((const uint8_t *)p)[i];
    case 2: return ((const uint16_t *)p)[i];
    case 4: return ((const uint32_t *)p)[i];
    default: return ((const uint64_t *)p)[i];
  }
}

static void st_u(void *p, size_t i, size_t esz, uint64_t v) {
  switch (esz) {
    case 1: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case 2: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case 4: ((uint32_t *)p)[i] = (uint32_t)v; break;
    default: ((uint64_t *)p)[i] = v; break;
  }
}

/* Integer element as a two's complement uint64 (sign-extended when signed). */
static uint64_t ld_int(const void *p, size_t i, weftDataType_t dt) {
  switch (dt) {
    case weftInt8: return (uint64_t)(int64_t)((const int8_t *)p)[i];
    case weftUint8: return ((const uint8_t *)p)[i];
    case weftInt32: return (uint64_t)(int64_t)((const int32_t *)p)[i];
    case weftUint32: return ((const uint32_t *)p)[i];
    default: return ((const uint64_t *)p)[i];
  }
}

static double ld_f(const void *p, size_t i, weftDataType_t dt) {
  switch (dt) {
    case weftFloat16: return weft_half_to_float(((const uint16_t *)p)[i]);
    case weftBfloat16: return weft_bf16_to_float(((const uint16_t *)p)[i]);
    case weftFloat32: return ((const float *)p)[i];
    default: return ((const double *)p)[i];
  }
}

/* v must be representable in the type (or, for fp16/bf16, exact in fp32 and
 * then rounded once). */
static void st_f(void *p, size_t i, weftDataType_t dt, double v) {
  switch (dt) {
    case weftFloat16: ((uint16_t *)p)[i] = weft_float_to_half((float)v); break;
    case weftBfloat16: ((uint16_t *)p)[i] = weft_float_to_bf16((float)v); break;
    case weftFloat32: ((float *)p)[i] = (float)v; break;
    default: ((double *)p)[i] = v; break;
  }
}

/* ---- deterministic inputs ------------------------------------------------------ */

enum { CLS_BITS, CLS_FSUM, CLS_FPROD, CLS_FMINMAX };

static int value_class(weftDataType_t dt, int reduces, weftRedOp_t op) {
  if (!reduces || is_int(dt)) return CLS_BITS;
  if (op == weftProd) return CLS_FPROD;
  if (op == weftMax || op == weftMin) return CLS_FMINMAX;
  return CLS_FSUM;
}

static void fsum_range(weftDataType_t dt, int n, int64_t *R, double *scale) {
  switch (dt) {
    case weftFloat16: *R = 2048 / n; *scale = 1.0; break;
    case weftBfloat16: *R = 256 / n; *scale = 1.0; break;
    case weftFloat32: *R = ((int64_t)1 << 22) / n; *scale = 0.25; break;
    default: *R = ((int64_t)1 << 40) / n; *scale = 1.0 / 1024.0; break;
  }
}

/* A random bit pattern of a floating type: finite except rarely +-Inf, never
 * NaN, never zero. */
static uint64_t minmax_bits(weftDataType_t dt, uint64_t h) {
  int inf = (h >> 56) == 0;
  switch (dt) {
    case weftFloat16: {
      uint64_t b = h & 0xffff;
      if (((b >> 10) & 0x1f) == 0x1f) b &= ~(uint64_t)0x4000;
      if (inf) b = (b & 0x8000) | 0x7c00;
      if ((b & 0x7fff) == 0) b |= 0x3c00;
      return b;
    }
    case weftBfloat16: {
      uint64_t b = h & 0xffff;
      if (((b >> 7) & 0xff) == 0xff) b &= ~(uint64_t)0x4000;
      if (inf) b = (b & 0x8000) | 0x7f80;
      if ((b & 0x7fff) == 0) b |= 0x3f80;
      return b;
    }
    case weftFloat32: {
      uint64_t b = h & 0xffffffffu;
      if (((b >> 23) & 0xff) == 0xff) b &= ~(uint64_t)0x40000000;
      if (inf) b = (b & 0x80000000u) | 0x7f800000u;
      if ((b & 0x7fffffffu) == 0) b |= 0x3f800000u;
      return b;
    }
    default: {
      uint64_t b = h;
      if (((b >> 52) & 0x7ff) == 0x7ff) b &= ~(uint64_t)0x4000000000000000ULL;
      if (inf) b = (b & 0x8000000000000000ULL) | 0x7ff0000000000000ULL;
      if ((b & 0x7fffffffffffffffULL) == 0) b |= 0x3ff0000000000000ULL;
      return b;
    }
  }
}

/* Fills buf[0..count) with rank's elements start..start+count-1. */
static void gen(void *buf, weftDataType_t dt, int cls, uint64_t seed, int rank, size_t start, size_t count,
                int n) {
  size_t esz = weft_dtype_size(dt);
  int64_t R = 0;
  double scale = 1;
  if (cls == CLS_FSUM) fsum_range(dt, n, &R, &scale);
  static const double pv[6] = {-2, -1, -0.5, 0.5, 1, 2};
  for (size_t i = 0; i < count; i++) {
    uint64_t h = rnd(seed, rank, start + i);
    switch (cls) {
      case CLS_BITS: st_u(buf, i, esz, h); break;
      case CLS_FSUM: st_f(buf, i, dt, (double)((int64_t)(h % (uint64_t)(2 * R + 1)) - R) * scale); break;
      case CLS_FPROD: st_f(buf, i, dt, rank < 12 ? pv[h % 6] : ((h & 1) ? 1.0 : -1.0)); break;
      default: st_u(buf, i, esz, minmax_bits(dt, h)); break;
    }
  }
}

/* ---- reference --------------------------------------------------------------- */

typedef union {
  uint64_t u;
  double d;
} acc_t;

static void acc_in(acc_t *acc, const void *v, size_t count, weftDataType_t dt, weftRedOp_t op, int first) {
  if (is_int(dt)) {
    int sg = is_signed_int(dt);
    for (size_t i = 0; i < count; i++) {
      uint64_t x = ld_int(v, i, dt), a = acc[i].u;
      if (first) a = x;
      else switch (op) {
          case weftSum:
          case weftAvg: a += x; break;
          case weftProd: a *= x; break;
          case weftMax: a = sg ? ((int64_t)x > (int64_t)a ? x : a) : (x > a ? x : a); break;
          default: a = sg ? ((int64_t)x < (int64_t)a ? x : a) : (x < a ? x : a); break;
        }
      acc[i].u = a;
    }
  } else {
    for (size_t i = 0; i < count; i++) {
      double x = ld_f(v, i, dt), a = acc[i].d;
      if (first) a = x;
      else switch (op) {
          case weftSum:
          case weftAvg: a += x; break;
          case weftProd: a *= x; break;
          case weftMax: a = x > a ? x : a; break;
          default: a = x < a ? x : a; break;
        }
      acc[i].d = a;
    }
  }
}

static void acc_out(void *out, const acc_t *acc, size_t count, weftDataType_t dt, weftRedOp_t op, int n) {
  size_t esz = weft_dtype_size(dt);
  for (size_t i = 0; i < count; i++) {
    if (is_int(dt)) {
      uint64_t v = acc[i].u;
      if (op == weftAvg) {
        int bits = (int)esz * 8;
        uint64_t mask = bits == 64 ? ~0ULL : ((1ULL << bits) - 1);
        v &= mask;
        if (is_signed_int(dt)) {
          int64_t s = (bits < 64 && (v >> (bits - 1))) ? (int64_t)(v | ~mask) : (int64_t)v;
          v = (uint64_t)(s / n);
        } else {
          v /= (uint64_t)n;
        }
      }
      st_u(out, i, esz, v);
    } else {
      double v = acc[i].d;
      if (op == weftAvg) {
        if (dt == weftFloat64) v = v / n;
        else v = (double)((float)v / (float)n); /* exact sum in fp32; see the header comment */
      }
      st_f(out, i, dt, v);
    }
  }
}

/* out[0..count) = reduction over all ranks of their elements start..start+count-1. */
static void reduce_ref(void *out, const tcase *tc, int cls, size_t start, size_t count, int n) {
  size_t esz = weft_dtype_size(tc->dt);
  if (count == 0) return;
  void *tmp = malloc(count * esz);
  acc_t *acc = malloc(count * sizeof *acc);
  if (!tmp || !acc) {
    fprintf(stderr, "out of memory computing a reference\n");
    exit(3);
  }
  for (int r = 0; r < n; r++) {
    gen(tmp, tc->dt, cls, tc->seed, r, start, count, n);
    acc_in(acc, tmp, count, tc->dt, tc->op, r == 0);
  }
  acc_out(out, acc, count, tc->dt, tc->op, n);
  free(tmp);
  free(acc);
}

/* ---- buffers with guards ------------------------------------------------------- */

#define GUARD 64
#define GUARD_BYTE 0xA5
#define FILL_BYTE 0xCD

static void *gbuf(size_t bytes) {
  unsigned char *raw = malloc(bytes + 2 * GUARD);
  if (!raw) {
    fprintf(stderr, "out of memory (%zu bytes)\n", bytes);
    exit(3);
  }
  memset(raw, GUARD_BYTE, GUARD);
  memset(raw + GUARD, FILL_BYTE, bytes);
  memset(raw + GUARD + bytes, GUARD_BYTE, GUARD);
  return raw + GUARD;
}

static int gbuf_guard_ok(const void *p, size_t bytes) {
  const unsigned char *b = p;
  for (int i = 0; i < GUARD; i++)
    if (b[-GUARD + i] != GUARD_BYTE || b[bytes + (size_t)i] != GUARD_BYTE) return 0;
  return 1;
}

static void gbuf_free(void *p) {
  if (p) free((unsigned char *)p - GUARD);
}

/* ---- reporting ------------------------------------------------------------------ */

static void fmt_elem(char *buf, size_t len, const void *p, size_t i, weftDataType_t dt) {
  size_t esz = weft_dtype_size(dt);
  if (is_int(dt)) {
    uint64_t v = ld_int(p, i, dt);
    if (is_signed_int(dt)) snprintf(buf, len, "%" PRId64 " (0x%0*" PRIx64 ")", (int64_t)v, (int)esz * 2, ld_u(p, i, esz));
    else snprintf(buf, len, "%" PRIu64 " (0x%0*" PRIx64 ")", v, (int)esz * 2, v);
  } else {
    snprintf(buf, len, "%.17g (0x%0*" PRIx64 ")", ld_f(p, i, dt), (int)esz * 2, ld_u(p, i, esz));
  }
}

static void case_str(const ctx_t *c, const tcase *tc, char *buf, size_t len) {
  snprintf(buf, len, "rank %d/%d coll %s%s dtype %s op %s count %zu %s algo %s root %d", c->rank, c->n,
           tc->nanpay ? "nanpay " : "", coll_names[tc->coll], weft_dtype_name(tc->dt), tc->reduces ? weft_op_name(tc->op) : "-", tc->count,
           tc->inplace ? "in-place" : "out-of-place", algo_names[tc->algo], tc->root);
}

/* Compares count elements; base_index is added to printed indices. Returns 0 if equal. */
static int compare(ctx_t *c, const tcase *tc, const char *what, const void *exp, const void *got, size_t count,
                   size_t base_index) {
  size_t esz = weft_dtype_size(tc->dt);
  if (count == 0 || memcmp(exp, got, count * esz) == 0) return 0;
  size_t nbad = 0, first = 0;
  int printed = 0;
  char cs[256], e[64], g[64];
  case_str(c, tc, cs, sizeof cs);
  for (size_t i = 0; i < count; i++) {
    if (memcmp((const char *)exp + i * esz, (const char *)got + i * esz, esz) == 0) continue;
    if (nbad++ == 0) first = i;
    if (printed < MAX_PRINT_PER_CASE && c->nprinted < MAX_PRINT_PER_RANK) {
      fmt_elem(e, sizeof e, exp, i, tc->dt);
      fmt_elem(g, sizeof g, got, i, tc->dt);
      fprintf(stderr, "MISMATCH %s: %s index %zu expected %s got %s\n", cs, what, base_index + i, e, g);
      printed++;
      c->nprinted++;
    }
  }
  if (c->nprinted < MAX_PRINT_PER_RANK + 10) {
    fprintf(stderr, "MISMATCH %s: %s: %zu of %zu elements differ (first at index %zu)\n", cs, what, nbad, count,
            base_index + first);
    c->nprinted++;
  }
  return 1;
}

static int check_guards(ctx_t *c, const tcase *tc, const char *what, const void *p, size_t bytes) {
  if (!p || gbuf_guard_ok(p, bytes)) return 0;
  char cs[256];
  case_str(c, tc, cs, sizeof cs);
  fprintf(stderr, "MISMATCH %s: guard bytes around %s were overwritten\n", cs, what);
  c->nprinted++;
  return 1;
}

static int call_failed(ctx_t *c, const tcase *tc, const char *fn, weftResult_t r, weftComm_t comm) {
  if (r == weftSuccess) return 0;
  char cs[256];
  case_str(c, tc, cs, sizeof cs);
  fprintf(stderr, "ERROR %s: %s returned %d (%s): %s\n", cs, fn, (int)r, weftGetErrorString(r),
          weftGetLastError(comm));
  c->broken = 1;
  return 1;
}

/* Whether the slots comm can run a call of `bytes` per rank through the node
 * segment: every rank on this host over shm (the default transport choice
 * there), segment on, at most WEFT_SLOTS_MAX (32 KiB) bytes and (n-1) times that at
 * most 8 x WEFT_SLOTS_MAX. */
/* -D: a call's buffers on the comm's device (matrix_dev.h); a failure here
 * is a failed weft call (the device or the data path is broken). */
static int dv_begin(ctx_t *c, const tcase *tc, mx_dev_call *a, weftComm_t comm, const void **s, size_t sbytes,
                    void **r, size_t rbytes) {
  char err[512] = "";
  if (mx_dev_begin(a, comm, s, sbytes, r, rbytes, err, sizeof err) == 0) return 0;
  char cs[256];
  case_str(c, tc, cs, sizeof cs);
  fprintf(stderr, "ERROR %s: device buffers: %s\n", cs, err);
  mx_dev_end(a, err, sizeof err);
  c->broken = 1;
  return -1;
}
static weftResult_t dv_end(ctx_t *c, const tcase *tc, mx_dev_call *a, weftResult_t r) {
  char err[512] = "";
  if (mx_dev_end(a, err, sizeof err) == 0) return r;
  char cs[256];
  case_str(c, tc, cs, sizeof cs);
  fprintf(stderr, "ERROR %s: reading the device buffers back: %s\n", cs, err);
  return r != weftSuccess ? r : weftUnhandledDeviceError;
}

static int slots_expected(const ctx_t *c, size_t bytes) {
  const char *net = getenv("WEFT_NET"), *on = getenv("WEFT_SLOTS"), *max = getenv("WEFT_SLOTS_MAX");
  size_t limit = max ? (size_t)strtoull(max, NULL, 10) : 32768;
  return c->n > 1 && !c->o->ngroups && (!net || !strcmp(net, "shm")) && (!on || strcmp(on, "0")) && bytes <= limit &&
         bytes * (size_t)(c->n - 1) <= 8 * limit;
}

/* The algorithm that ran must be the one the comm forces. */
static int check_algo(ctx_t *c, const tcase *tc, weftComm_t comm) {
  if (tc->count == 0) return 0;
  const char *want = algo_names[tc->algo], *got = weft_debug_last_algo(comm);
  /* block-wise recursive doubling/halving needs a power of two ranks; else the ring runs */
  if (tc->algo == A_RHD && (tc->coll == C_ALLGATHER || tc->coll == C_REDUCESCATTER) && (c->n & (c->n - 1)) != 0)
    want = "ring";
  /* all-to-all has one message algorithm, whatever the comm forces (but slots) */
  if ((tc->coll == C_ALLTOALL || tc->coll == C_ALLTOALLV) && tc->algo != A_SLOTS) want = "pairwise";
  /* gather and scatter have one algorithm, whatever the comm forces */
  if (tc->coll == C_GATHER || tc->coll == C_SCATTER) want = "direct";
  /* slots where the segment takes the call; else any algorithm over messages.
   * Reduce-scatter and all-to-all publish all n blocks of their send buffer. */
  size_t published = tc->count * weft_dtype_size(tc->dt);
  if (tc->coll == C_REDUCESCATTER || tc->coll == C_ALLTOALL) published *= (size_t)c->n;
  int slots_not = tc->algo == A_SLOTS && !slots_expected(c, published);
  if (slots_not ? strncmp(got, "slots/", 6) != 0 : strncmp(got, want, strlen(want)) == 0 && got[strlen(want)] == '/')
    return 0;
  char cs[256];
  case_str(c, tc, cs, sizeof cs);
  fprintf(stderr, "MISMATCH %s: algorithm that ran is '%s', expected %s'%s/...'\n", cs, got, slots_not ? "not " : "",
          want);
  c->nprinted++;
  return 1;
}

/* -F: corrupt one reference element so that the case must fail. */
static void maybe_fault(const ctx_t *c, const tcase *tc, void *exp, size_t count) {
  if (!c->o->fault || !tc->reduces || tc->count != 1027 || count == 0) return;
  size_t esz = weft_dtype_size(tc->dt);
  ((unsigned char *)exp)[(count / 2) * esz] ^= 1;
}

/* Big counts: rank r checks the slice [lo, hi) of the full result itself
 * and all ranks compare a hash of the whole result. */
static void my_slice(const ctx_t *c, size_t count, size_t *lo, size_t *hi) {
  *lo = count * (size_t)c->rank / (size_t)c->n;
  *hi = count * (size_t)(c->rank + 1) / (size_t)c->n;
}

static int hash_agree(ctx_t *c, const tcase *tc, const void *buf, size_t bytes) {
  uint64_t h = fnv64(buf, bytes);
  uint64_t *all = calloc((size_t)c->n, sizeof *all);
  if (!all) exit(3);
  weftResult_t r = weftAllGather(&h, all, 1, weftUint64, c->comm[A_RING], NULL);
  int bad = 0;
  if (call_failed(c, tc, "weftAllGather (result hash)", r, c->comm[A_RING])) bad = 1;
  for (int i = 0; i < c->n && !bad; i++)
    if (all[i] != h) {
      char cs[256];
      case_str(c, tc, cs, sizeof cs);
      fprintf(stderr, "MISMATCH %s: result hash differs from rank %d's (%016" PRIx64 " vs %016" PRIx64 ")\n", cs,
              i, h, all[i]);
      c->nprinted++;
      bad = 1;
    }
  free(all);
  return bad;
}

/* ---- the collectives ------------------------------------------------------------- */

/* Each returns 0 if the case passed, 1 if a comparison failed, -1 if a weft call failed. */

static int run_allreduce(ctx_t *c, const tcase *tc) {
  weftComm_t comm = c->comm[tc->algo];
  size_t esz = weft_dtype_size(tc->dt), n = tc->count, bytes = n * esz;
  int cls = value_class(tc->dt, 1, tc->op), bad = 0;
  void *sb = gbuf(bytes), *rb = tc->inplace ? sb : gbuf(bytes);
  gen(sb, tc->dt, cls, tc->seed, c->rank, 0, n, c->n);
  const void *sarg = n == 0 && !tc->inplace ? NULL : sb;
  void *rarg = n == 0 && !tc->inplace ? NULL : rb;
  mx_dev_call dv;
  if (dv_begin(c, tc, &dv, comm, &sarg, bytes, &rarg, bytes)) {
    bad = -1;
    goto out;
  }
  weftResult_t r = dv_end(c, tc, &dv, weftAllReduce(sarg, rarg, n, tc->dt, tc->op, comm, NULL));
  if (call_failed(c, tc, "weftAllReduce", r, comm)) {
    bad = -1;
    goto out;
  }
  bad |= check_algo(c, tc, comm);
  size_t lo = 0, hi = n;
  int sliced = n >= BIG_COUNT && c->n > 1;
  if (sliced) my_slice(c, n, &lo, &hi);
  void *exp = malloc(bytes + 1);
  reduce_ref(exp, tc, cls, lo, hi - lo, c->n);
  maybe_fault(c, tc, exp, hi - lo);
  bad |= compare(c, tc, "recvbuff", exp, (char *)rb + lo * esz, hi - lo, lo);
  if (!tc->inplace) {
    gen(exp, tc->dt, cls, tc->seed, c->rank, 0, n, c->n);
    bad |= compare(c, tc, "sendbuff (must not change)", exp, sb, n, 0);
  }
  free(exp);
  bad |= check_guards(c, tc, "recvbuff", rb, bytes) | check_guards(c, tc, "sendbuff", sb, bytes);
  if (sliced) {
    int h = hash_agree(c, tc, rb, bytes);
    if (c->broken) bad = -1;
    else bad |= h;
  }
out:
  gbuf_free(sb);
  if (rb != sb) gbuf_free(rb);
  return bad;
}

static int run_reducescatter(ctx_t *c, const tcase *tc) {
  weftComm_t comm = c->comm[tc->algo];
  size_t esz = weft_dtype_size(tc->dt), n = tc->count, bytes = n * esz, total = bytes * (size_t)c->n;
  int cls = value_class(tc->dt, 1, tc->op), bad = 0;
  void *sb = gbuf(total), *rb = tc->inplace ? (char *)sb + (size_t)c->rank * bytes : gbuf(bytes);
  gen(sb, tc->dt, cls, tc->seed, c->rank, 0, n * (size_t)c->n, c->n);
  const void *sarg = n == 0 && !tc->inplace ? NULL : sb;
  void *rarg = n == 0 && !tc->inplace ? NULL : rb;
  mx_dev_call dv;
  if (dv_begin(c, tc, &dv, comm, &sarg, total, &rarg, bytes)) {
    bad = -1;
    goto out;
  }
  weftResult_t r = dv_end(c, tc, &dv, weftReduceScatter(sarg, rarg, n, tc->dt, tc->op, comm, NULL));
  if (call_failed(c, tc, "weftReduceScatter", r, comm)) {
    bad = -1;
    goto out;
  }
  bad |= check_algo(c, tc, comm);
  void *exp = malloc(total + 1);
  reduce_ref(exp, tc, cls, (size_t)c->rank * n, n, c->n);
  maybe_fault(c, tc, exp, n);
  bad |= compare(c, tc, "recvbuff", exp, rb, n, 0);
  if (!tc->inplace) {
    gen(exp, tc->dt, cls, tc->seed, c->rank, 0, n * (size_t)c->n, c->n);
    bad |= compare(c, tc, "sendbuff (must not change)", exp, sb, n * (size_t)c->n, 0);
    bad |= check_guards(c, tc, "recvbuff", rb, bytes);
  }
  free(exp);
  bad |= check_guards(c, tc, "sendbuff", sb, total);
out:
  gbuf_free(sb);
  if (!tc->inplace) gbuf_free(rb);
  return bad;
}

static int run_reduce(ctx_t *c, const tcase *tc) {
  weftComm_t comm = c->comm[tc->algo];
  size_t esz = weft_dtype_size(tc->dt), n = tc->count, bytes = n * esz;
  int cls = value_class(tc->dt, 1, tc->op), bad = 0, is_root = c->rank == tc->root;
  void *sb = gbuf(bytes), *rb = tc->inplace ? sb : gbuf(bytes);
  gen(sb, tc->dt, cls, tc->seed, c->rank, 0, n, c->n);
  /* out-of-place non-roots: NULL recvbuff when root == 0, a canary buffer otherwise */
  int null_recv = !tc->inplace && !is_root && tc->root == 0;
  const void *sarg = n == 0 && !tc->inplace ? NULL : sb;
  void *rarg = (n == 0 && !tc->inplace) || null_recv ? NULL : rb;
  mx_dev_call dv;
  if (dv_begin(c, tc, &dv, comm, &sarg, bytes, &rarg, bytes)) {
    bad = -1;
    goto out;
  }
  weftResult_t r = dv_end(c, tc, &dv, weftReduce(sarg, rarg, n, tc->dt, tc->op, tc->root, comm, NULL));
  if (call_failed(c, tc, "weftReduce", r, comm)) {
    bad = -1;
    goto out;
  }
  bad |= check_algo(c, tc, comm);
  void *exp = malloc(bytes + 1);
  if (is_root) {
    reduce_ref(exp, tc, cls, 0, n, c->n);
    maybe_fault(c, tc, exp, n);
    bad |= compare(c, tc, "recvbuff (root)", exp, rb, n, 0);
  } else if (!tc->inplace && !null_recv) {
    memset(exp, FILL_BYTE, bytes);
    bad |= compare(c, tc, "recvbuff of a non-root (must not be written)", exp, rb, n, 0);
  }
  if (!tc->inplace || !is_root) {
    gen(exp, tc->dt, cls, tc->seed, c->rank, 0, n, c->n);
    bad |= compare(c, tc, "sendbuff (must not change)", exp, sb, n, 0);
  }
  free(exp);
  bad |= check_guards(c, tc, "recvbuff", rb, bytes) | check_guards(c, tc, "sendbuff", sb, bytes);
out:
  gbuf_free(sb);
  if (rb != sb) gbuf_free(rb);
  return bad;
}

static int run_broadcast(ctx_t *c, const tcase *tc) {
  weftComm_t comm = c->comm[tc->algo];
  size_t esz = weft_dtype_size(tc->dt), n = tc->count, bytes = n * esz;
  int bad = 0, is_root = c->rank == tc->root;
  void *sb = gbuf(bytes), *rb = tc->inplace ? sb : gbuf(bytes);
  if (is_root) gen(sb, tc->dt, CLS_BITS, tc->seed, c->rank, 0, n, c->n);
  /* out-of-place non-roots: NULL sendbuff when root == 0, a garbage buffer otherwise */
  const void *sarg = (n == 0 && !tc->inplace) || (!tc->inplace && !is_root && tc->root == 0) ? NULL : sb;
  void *rarg = n == 0 && !tc->inplace ? NULL : rb;
  mx_dev_call dv;
  if (dv_begin(c, tc, &dv, comm, &sarg, bytes, &rarg, bytes)) {
    bad = -1;
    goto out;
  }
  weftResult_t r = dv_end(c, tc, &dv, weftBroadcast(sarg, rarg, n, tc->dt, tc->root, comm, NULL));
  if (call_failed(c, tc, "weftBroadcast", r, comm)) {
    bad = -1;
    goto out;
  }
  bad |= check_algo(c, tc, comm);
  void *exp = malloc(bytes + 1);
  gen(exp, tc->dt, CLS_BITS, tc->seed, tc->root, 0, n, c->n);
  bad |= compare(c, tc, "recvbuff", exp, rb, n, 0);
  if (is_root && !tc->inplace) bad |= compare(c, tc, "sendbuff (must not change)", exp, sb, n, 0);
  free(exp);
  bad |= check_guards(c, tc, "recvbuff", rb, bytes) | check_guards(c, tc, "sendbuff", sb, bytes);
out:
  gbuf_free(sb);
  if (rb != sb) gbuf_free(rb);
  return bad;
}

static int run_allgather(ctx_t *c, const tcase *tc) {
  weftComm_t comm = c->comm[tc->algo];
  size_t esz = weft_dtype_size(tc->dt), n = tc->count, bytes = n * esz, total = bytes * (size_t)c->n;
  int bad = 0;
  void *rb = gbuf(total), *sb = tc->inplace ? (char *)rb + (size_t)c->rank * bytes : gbuf(bytes);
  gen(sb, tc->dt, CLS_BITS, tc->seed, c->rank, 0, n, c->n);
  const void *sarg = n == 0 && !tc->inplace ? NULL : sb;
  void *rarg = n == 0 && !tc->inplace ? NULL : rb;
  mx_dev_call dv;
  if (dv_begin(c, tc, &dv, comm, &sarg, bytes, &rarg, total)) {
    bad = -1;
    goto out;
  }
  weftResult_t r = dv_end(c, tc, &dv, weftAllGather(sarg, rarg, n, tc->dt, comm, NULL));
  if (call_failed(c, tc, "weftAllGather", r, comm)) {
    bad = -1;
    goto out;
  }
  bad |= check_algo(c, tc, comm);
  void *exp = malloc(bytes + 1);
  for (int i = 0; i < c->n; i++) {
    gen(exp, tc->dt, CLS_BITS, tc->seed, i, 0, n, c->n);
    bad |= compare(c, tc, "recvbuff", exp, (char *)rb + (size_t)i * bytes, n, (size_t)i * n);
  }
  if (!tc->inplace) {
    gen(exp, tc->dt, CLS_BITS, tc->seed, c->rank, 0, n, c->n);
    bad |= compare(c, tc, "sendbuff (must not change)", exp, sb, n, 0);
    bad |= check_guards(c, tc, "sendbuff", sb, bytes);
  }
  free(exp);
  bad |= check_guards(c, tc, "recvbuff", rb, total);
out:
  gbuf_free(rb);
  if (!tc->inplace) gbuf_free(sb);
  return bad;
}

static int run_alltoall(ctx_t *c, const tcase *tc) {
  weftComm_t comm = c->comm[tc->algo];
  size_t esz = weft_dtype_size(tc->dt), n = tc->count, bytes = n * esz, total = bytes * (size_t)c->n;
  int bad = 0;
  void *sb = gbuf(total), *rb = gbuf(total);
  /* block j of rank r's sendbuff = rank r's elements j*n .. j*n+n-1 */
  gen(sb, tc->dt, CLS_BITS, tc->seed, c->rank, 0, n * (size_t)c->n, c->n);
  const void *sarg = n ? sb : NULL;
  void *rarg = n ? rb : NULL;
  mx_dev_call dv;
  if (dv_begin(c, tc, &dv, comm, &sarg, total, &rarg, total)) {
    bad = -1;
    goto out;
  }
  weftResult_t r = dv_end(c, tc, &dv, weftAllToAll(sarg, rarg, n, tc->dt, comm, NULL));
  if (call_failed(c, tc, "weftAllToAll", r, comm)) {
    bad = -1;
    goto out;
  }
  bad |= check_algo(c, tc, comm);
  void *exp = malloc(total + 1);
  for (int i = 0; i < c->n; i++) {
    gen(exp, tc->dt, CLS_BITS, tc->seed, i, (size_t)c->rank * n, n, c->n);
    bad |= compare(c, tc, "recvbuff", exp, (char *)rb + (size_t)i * bytes, n, (size_t)i * n);
  }
  gen(exp, tc->dt, CLS_BITS, tc->seed, c->rank, 0, n * (size_t)c->n, c->n);
  bad |= compare(c, tc, "sendbuff (must not change)", exp, sb, n * (size_t)c->n, 0);
  free(exp);
  bad |= check_guards(c, tc, "recvbuff", rb, total) | check_guards(c, tc, "sendbuff", sb, total);
out:
  gbuf_free(sb);
  gbuf_free(rb);
  return bad;
}

/* In place is the root's (its block inside recvbuff); a non-root's recvbuff
 * is NULL when the root is 0, else a canary that must not be written. */
static int run_gather(ctx_t *c, const tcase *tc) {
  weftComm_t comm = c->comm[tc->algo];
  size_t esz = weft_dtype_size(tc->dt), n = tc->count, bytes = n * esz, total = bytes * (size_t)c->n;
  int bad = 0, is_root = c->rank == tc->root, inplace = tc->inplace && is_root;
  void *rb = gbuf(total), *sb = inplace ? (char *)rb + (size_t)c->rank * bytes : gbuf(bytes);
  gen(sb, tc->dt, CLS_BITS, tc->seed, c->rank, 0, n, c->n);
  int null_recv = !is_root && tc->root == 0;
  const void *sarg = n == 0 && !inplace ? NULL : sb;
  void *rarg = (n == 0 && !inplace) || null_recv ? NULL : rb;
  mx_dev_call dv;
  if (dv_begin(c, tc, &dv, comm, &sarg, bytes, &rarg, rarg ? total : 0)) {
    bad = -1;
    goto out;
  }
  weftResult_t r = dv_end(c, tc, &dv, weftGather(sarg, rarg, n, tc->dt, tc->root, comm, NULL));
  if (call_failed(c, tc, "weftGather", r, comm)) {
    bad = -1;
    goto out;
  }
  bad |= check_algo(c, tc, comm);
  void *exp = malloc(total + 1);
  if (is_root) {
    for (int i = 0; i < c->n; i++) {
      gen(exp, tc->dt, CLS_BITS, tc->seed, i, 0, n, c->n);
      bad |= compare(c, tc, "recvbuff (root)", exp, (char *)rb + (size_t)i * bytes, n, (size_t)i * n);
    }
  } else if (!null_recv) {
    memset(exp, FILL_BYTE, total);
    bad |= compare(c, tc, "recvbuff of a non-root (must not be written)", exp, rb, n * (size_t)c->n, 0);
  }
  if (!inplace) {
    gen(exp, tc->dt, CLS_BITS, tc->seed, c->rank, 0, n, c->n);
    bad |= compare(c, tc, "sendbuff (must not change)", exp, sb, n, 0);
    bad |= check_guards(c, tc, "sendbuff", sb, bytes);
  }
  free(exp);
  bad |= check_guards(c, tc, "recvbuff", rb, total);
out:
  gbuf_free(rb);
  if (!inplace) gbuf_free(sb);
  return bad;
}

/* In place is the root's (recvbuff is its block of sendbuff); a non-root's
 * sendbuff is NULL when the root is 0, else garbage that must not be read. */
static int run_scatter(ctx_t *c, const tcase *tc) {
  weftComm_t comm = c->comm[tc->algo];
  size_t esz = weft_dtype_size(tc->dt), n = tc->count, bytes = n * esz, total = bytes * (size_t)c->n;
  int bad = 0, is_root = c->rank == tc->root, inplace = tc->inplace && is_root;
  void *sb = gbuf(total), *rb = inplace ? (char *)sb + (size_t)c->rank * bytes : gbuf(bytes);
  if (is_root) gen(sb, tc->dt, CLS_BITS, tc->seed, c->rank, 0, n * (size_t)c->n, c->n);
  const void *sarg = (n == 0 && !inplace) || (!is_root && tc->root == 0) ? NULL : sb;
  void *rarg = n == 0 && !inplace ? NULL : rb;
  mx_dev_call dv;
  if (dv_begin(c, tc, &dv, comm, &sarg, sarg ? total : 0, &rarg, bytes)) {
    bad = -1;
    goto out;
  }
  weftResult_t r = dv_end(c, tc, &dv, weftScatter(sarg, rarg, n, tc->dt, tc->root, comm, NULL));
  if (call_failed(c, tc, "weftScatter", r, comm)) {
    bad = -1;
    goto out;
  }
  bad |= check_algo(c, tc, comm);
  void *exp = malloc(total + 1);
  gen(exp, tc->dt, CLS_BITS, tc->seed, tc->root, (size_t)c->rank * n, n, c->n);
  bad |= compare(c, tc, "recvbuff", exp, rb, n, 0);
  if (is_root && !inplace) {
    gen(exp, tc->dt, CLS_BITS, tc->seed, c->rank, 0, n * (size_t)c->n, c->n);
    bad |= compare(c, tc, "sendbuff (must not change)", exp, sb, n * (size_t)c->n, 0);
  }
  if (!inplace) bad |= check_guards(c, tc, "recvbuff", rb, bytes);
  free(exp);
  bad |= check_guards(c, tc, "sendbuff", sb, total);
out:
  gbuf_free(sb);
  if (!inplace) gbuf_free(rb);
  return bad;
}

/* ---- the v-variants ------------------------------------------------------------- */

/* Block sizes from the case's count: ragged, with empty blocks (every
 * fourth pair), half and double blocks, so that count 0 empties them all.
 * Rank `from`'s block for rank `to` (allgatherv and reducescatterv: to 0). */
static size_t vblk(size_t count, int from, int to) {
  int k = (from * 3 + to * 5 + 1) % 4;
  return k == 0 ? 0 : k == 1 ? count : k == 2 ? (count + 1) / 2 : 2 * count;
}

/* Blocks in reverse rank order, one element apart (a write into a gap
 * shows); returns the buffer's extent in elements. */
static size_t vlayout(const size_t *cnt, int n, size_t *dsp) {
  size_t at = 0;
  for (int i = n - 1; i >= 0; i--) {
    dsp[i] = at;
    at += cnt[i] + 1;
  }
  return at;
}

/* A v-call on the ring comm: plainly, or (count 7, out of place) inside a
 * group, or (count 1027, out of place) on a stream, its counts arrays
 * scribbled over before the group ends or the stream is synchronized (weft
 * keeps its own copy). */
typedef struct {
  weftStream_t stream;
  int grouped;
} vmode_t;

static int vmode_begin(ctx_t *c, const tcase *tc, vmode_t *m) {
  m->stream = NULL;
  m->grouped = !tc->inplace && tc->count == 7;
  if (!tc->inplace && tc->count == 1027 && weftStreamCreate(&m->stream) != weftSuccess)
    return call_failed(c, tc, "weftStreamCreate", weftSystemError, NULL), -1;
  if (m->grouped) weftGroupStart();
  return 0;
}

static weftResult_t vmode_end(vmode_t *m, weftResult_t r, size_t *arrays, size_t len) {
  memset(arrays, 0xff, len * sizeof *arrays);
  if (m->grouped) {
    weftResult_t g = weftGroupEnd();
    if (r == weftSuccess) r = g;
  }
  if (m->stream) {
    if (r == weftSuccess) r = weftStreamSynchronize(m->stream);
    weftStreamDestroy(m->stream);
  }
  return r;
}

/* Elements of gaps between blocks must keep the fill pattern. */
static int check_gaps(ctx_t *c, const tcase *tc, const void *buf, const size_t *cnt, const size_t *dsp, size_t ext) {
  size_t esz = weft_dtype_size(tc->dt);
  unsigned char *fill = malloc(esz);
  memset(fill, FILL_BYTE, esz);
  int bad = 0;
  for (size_t e = 0; e < ext; e++) {
    int inside = 0;
    for (int i = 0; i < c->n && !inside; i++) inside = e >= dsp[i] && e < dsp[i] + cnt[i];
    if (!inside) bad |= compare(c, tc, "recvbuff gap (must not be written)", fill, (const char *)buf + e * esz, 1, e);
  }
  free(fill);
  return bad;
}

/* Count 1, out of place: a second call on the same buffers with the blocks
 * rotated (same type, same total): it must not run the first one's plan. */
static int run_allgatherv(ctx_t *c, const tcase *tc) {
  weftComm_t comm = c->comm[A_RING];
  int n = c->n, bad = 0, rounds = tc->count == 1 && !tc->inplace && n > 1 ? 2 : 1;
  size_t esz = weft_dtype_size(tc->dt), *v = malloc(2 * (size_t)n * sizeof *v), *cnt = v, *dsp = v + n, big = 0;
  for (int i = 0; i < n; i++) big = vblk(tc->count, i, 0) > big ? vblk(tc->count, i, 0) : big;
  for (int i = 0; i < n; i++) cnt[i] = vblk(tc->count, i, 0);
  size_t ext = vlayout(cnt, n, dsp); /* the same for every rotation */
  void *rb = gbuf(ext * esz), *sb = tc->inplace ? NULL : gbuf(big * esz);
  void *exp = malloc(ext * esz + 1);
  for (int rot = 0; rot < rounds && !bad; rot++) {
    for (int i = 0; i < n; i++) cnt[i] = vblk(tc->count, (i + rot) % n, 0);
    vlayout(cnt, n, dsp);
    size_t mine = cnt[c->rank];
    if (tc->inplace) sb = (char *)rb + dsp[c->rank] * esz;
    memset(rb, FILL_BYTE, ext * esz);
    gen(sb, tc->dt, CLS_BITS, tc->seed + (uint64_t)rot, c->rank, 0, mine, n);
    const void *sarg = sb;
    void *rarg = rb;
    mx_dev_call dv;
    vmode_t m;
    if (vmode_begin(c, tc, &m) || dv_begin(c, tc, &dv, comm, &sarg, mine * esz, &rarg, ext * esz)) {
      bad = -1;
      break;
    }
    weftResult_t r = weftAllGatherV(sarg, rarg, cnt, dsp, tc->dt, comm, m.stream);
    r = dv_end(c, tc, &dv, vmode_end(&m, r, v, 2 * (size_t)n));
    if (call_failed(c, tc, "weftAllGatherV", r, comm)) {
      bad = -1;
      break;
    }
    for (int i = 0; i < n; i++) cnt[i] = vblk(tc->count, (i + rot) % n, 0);
    vlayout(cnt, n, dsp);
    bad |= check_algo(c, tc, comm);
    for (int i = 0; i < n; i++) {
      gen(exp, tc->dt, CLS_BITS, tc->seed + (uint64_t)rot, i, 0, cnt[i], n);
      bad |= compare(c, tc, rot ? "recvbuff (rotated blocks)" : "recvbuff", exp, (char *)rb + dsp[i] * esz, cnt[i],
                     dsp[i]);
    }
    bad |= check_gaps(c, tc, rb, cnt, dsp, ext);
    if (!tc->inplace) {
      gen(exp, tc->dt, CLS_BITS, tc->seed + (uint64_t)rot, c->rank, 0, mine, n);
      bad |= compare(c, tc, "sendbuff (must not change)", exp, sb, mine, 0);
      bad |= check_guards(c, tc, "sendbuff", sb, big * esz);
    }
    bad |= check_guards(c, tc, "recvbuff", rb, ext * esz);
  }
  free(exp);
  gbuf_free(rb);
  if (!tc->inplace) gbuf_free(sb);
  free(v);
  return bad;
}

/* sendbuff holds the blocks back to back (MPI's layout), block i for rank i. */
static int run_reducescatterv(ctx_t *c, const tcase *tc) {
  weftComm_t comm = c->comm[A_RING];
  int n = c->n, bad = 0, cls = value_class(tc->dt, 1, tc->op);
  size_t esz = weft_dtype_size(tc->dt), *cnt = malloc((size_t)n * sizeof *cnt), total = 0, off = 0;
  for (int i = 0; i < n; i++) {
    cnt[i] = vblk(tc->count, i, 0);
    if (i < c->rank) off += cnt[i];
    total += cnt[i];
  }
  size_t mine = cnt[c->rank];
  void *sb = gbuf(total * esz), *rb = tc->inplace ? (char *)sb + off * esz : gbuf(mine * esz);
  gen(sb, tc->dt, cls, tc->seed, c->rank, 0, total, n);
  const void *sarg = sb;
  void *rarg = rb;
  mx_dev_call dv;
  vmode_t m;
  if (vmode_begin(c, tc, &m) || dv_begin(c, tc, &dv, comm, &sarg, total * esz, &rarg, mine * esz)) {
    bad = -1;
    goto out;
  }
  weftResult_t r = weftReduceScatterV(sarg, rarg, cnt, tc->dt, tc->op, comm, m.stream);
  r = dv_end(c, tc, &dv, vmode_end(&m, r, cnt, (size_t)n));
  if (call_failed(c, tc, "weftReduceScatterV", r, comm)) {
    bad = -1;
    goto out;
  }
  bad |= check_algo(c, tc, comm);
  void *exp = malloc(total * esz + 1);
  reduce_ref(exp, tc, cls, off, mine, n);
  maybe_fault(c, tc, exp, mine);
  bad |= compare(c, tc, "recvbuff", exp, rb, mine, 0);
  if (!tc->inplace) {
    gen(exp, tc->dt, cls, tc->seed, c->rank, 0, total, n);
    bad |= compare(c, tc, "sendbuff (must not change)", exp, sb, total, 0);
    bad |= check_guards(c, tc, "recvbuff", rb, mine * esz);
  }
  free(exp);
  bad |= check_guards(c, tc, "sendbuff", sb, total * esz);
out:
  gbuf_free(sb);
  if (!tc->inplace) gbuf_free(rb);
  free(cnt);
  return bad;
}

/* Rank r sends vblk(count, r, j) elements to rank j, its blocks laid out by
 * vlayout: rank r's sendbuff is its element sequence 0 .. extent-1. */
static int run_alltoallv(ctx_t *c, const tcase *tc) {
  weftComm_t comm = c->comm[A_RING];
  int n = c->n, me = c->rank, bad = 0;
  size_t esz = weft_dtype_size(tc->dt), *v = malloc(4 * (size_t)n * sizeof *v), *peer = malloc(2 * (size_t)n * sizeof *v);
  size_t *scnt = v, *sdsp = v + n, *rcnt = v + 2 * n, *rdsp = v + 3 * n;
  for (int j = 0; j < n; j++) scnt[j] = vblk(tc->count, me, j), rcnt[j] = vblk(tc->count, j, me);
  size_t sext = vlayout(scnt, n, sdsp), rext = vlayout(rcnt, n, rdsp);
  void *sb = gbuf(sext * esz), *rb = gbuf(rext * esz);
  gen(sb, tc->dt, CLS_BITS, tc->seed, me, 0, sext, n);
  const void *sarg = sb;
  void *rarg = rb;
  mx_dev_call dv;
  vmode_t m;
  if (vmode_begin(c, tc, &m) || dv_begin(c, tc, &dv, comm, &sarg, sext * esz, &rarg, rext * esz)) {
    bad = -1;
    goto out;
  }
  weftResult_t r = weftAllToAllV(sarg, scnt, sdsp, rarg, rcnt, rdsp, tc->dt, comm, m.stream);
  r = dv_end(c, tc, &dv, vmode_end(&m, r, v, 4 * (size_t)n));
  if (call_failed(c, tc, "weftAllToAllV", r, comm)) {
    bad = -1;
    goto out;
  }
  for (int j = 0; j < n; j++) scnt[j] = vblk(tc->count, me, j), rcnt[j] = vblk(tc->count, j, me);
  vlayout(scnt, n, sdsp);
  vlayout(rcnt, n, rdsp);
  if (tc->count) bad |= check_algo(c, tc, comm);
  void *exp = malloc((sext > rext ? sext : rext) * esz + 1);
  for (int i = 0; i < n; i++) { /* rank i's block for me sits at its own sdispls[me] */
    for (int j = 0; j < n; j++) peer[j] = vblk(tc->count, i, j);
    vlayout(peer, n, peer + n);
    gen(exp, tc->dt, CLS_BITS, tc->seed, i, peer[n + me], rcnt[i], n);
    bad |= compare(c, tc, "recvbuff", exp, (char *)rb + rdsp[i] * esz, rcnt[i], rdsp[i]);
  }
  bad |= check_gaps(c, tc, rb, rcnt, rdsp, rext);
  gen(exp, tc->dt, CLS_BITS, tc->seed, me, 0, sext, n);
  bad |= compare(c, tc, "sendbuff (must not change)", exp, sb, sext, 0);
  free(exp);
  bad |= check_guards(c, tc, "recvbuff", rb, rext * esz) | check_guards(c, tc, "sendbuff", sb, sext * esz);
out:
  gbuf_free(sb);
  gbuf_free(rb);
  free(v);
  free(peer);
  return bad;
}

/* Every rank leaves the barrier after the last one entered it: one rank
 * enters late (a different one each round), every rank notes when it
 * entered and left, and the entry times are allgathered. The third round
 * goes through a stream. */
static int run_barrier(ctx_t *c) {
  weftComm_t comm = c->comm[A_RING];
  tcase tc = {C_BARRIER, weftUint8, weftSum, 1, 0, A_RING, 0, 0, 0, 0};
  int bad = 0;
  for (int round = 0; round < 3 && !bad; round++) {
    int late = (c->n - 1 + round) % c->n;
    if (c->rank == late) usleep(30000);
    double entered = now_s(), left;
    weftStream_t s = NULL;
    if (round == 2 && weftStreamCreate(&s) != weftSuccess) {
      call_failed(c, &tc, "weftStreamCreate", weftSystemError, NULL);
      return -1;
    }
    weftResult_t r = weftBarrier(comm, s);
    if (s && r == weftSuccess) r = weftStreamSynchronize(s);
    left = now_s();
    if (s) weftStreamDestroy(s);
    if (call_failed(c, &tc, "weftBarrier", r, comm)) return -1;
    const char *algo = weft_debug_last_algo(comm);
    if (strncmp(algo, "dissemination/", 14) != 0) {
      fprintf(stderr, "MISMATCH rank %d/%d barrier: algorithm that ran is '%s', expected 'dissemination/...'\n",
              c->rank, c->n, algo);
      bad = 1;
    }
    double all[256];
    if (c->n > 256) break;
    r = weftAllGather(&entered, all, 1, weftFloat64, comm, NULL);
    if (call_failed(c, &tc, "weftAllGather (entry times)", r, comm)) return -1;
    for (int i = 0; i < c->n; i++)
      if (left < all[i]) {
        fprintf(stderr, "MISMATCH rank %d/%d barrier round %d: left at %.6f s, before rank %d entered (%.6f s)\n",
                c->rank, c->n, round, left, i, all[i]);
        bad = 1;
      }
  }
  c->ncases++;
  if (bad) c->nfail_cases++;
  return bad;
}

static int run_sendrecv(ctx_t *c, const tcase *tc) {
  weftComm_t comm = c->comm[tc->algo];
  size_t esz = weft_dtype_size(tc->dt), n = tc->count, bytes = n * esz;
  int bad = 0, next = (c->rank + 1) % c->n, prev = (c->rank + c->n - 1) % c->n;
  void *sb = gbuf(bytes), *rb = gbuf(bytes);
  gen(sb, tc->dt, CLS_BITS, tc->seed, c->rank, 0, n, c->n);
  const void *sarg = n ? sb : NULL, *none = NULL;
  void *rarg = n ? rb : NULL, *nowhere = NULL;
  mx_dev_call dvs, dvr;
  if (dv_begin(c, tc, &dvs, comm, &sarg, bytes, &nowhere, 0)) {
    bad = -1;
    goto out;
  }
  if (dv_begin(c, tc, &dvr, comm, &none, 0, &rarg, bytes)) {
    dv_end(c, tc, &dvs, weftSuccess);
    bad = -1;
    goto out;
  }
  weftResult_t r = weftGroupStart(), r2, r3;
  if (call_failed(c, tc, "weftGroupStart", r, NULL)) return -1;
  r2 = weftSend(sarg, n, tc->dt, next, comm, NULL);
  r3 = weftRecv(rarg, n, tc->dt, prev, comm, NULL);
  r = dv_end(c, tc, &dvr, dv_end(c, tc, &dvs, weftGroupEnd()));
  if (call_failed(c, tc, "weftSend", r2, comm) | call_failed(c, tc, "weftRecv", r3, comm) |
      call_failed(c, tc, "weftGroupEnd", r, comm)) {
    bad = -1;
    goto out;
  }
  void *exp = malloc(bytes + 1);
  gen(exp, tc->dt, CLS_BITS, tc->seed, prev, 0, n, c->n);
  bad |= compare(c, tc, "recvbuff", exp, rb, n, 0);
  gen(exp, tc->dt, CLS_BITS, tc->seed, c->rank, 0, n, c->n);
  bad |= compare(c, tc, "sendbuff (must not change)", exp, sb, n, 0);
  free(exp);
  bad |= check_guards(c, tc, "recvbuff", rb, bytes) | check_guards(c, tc, "sendbuff", sb, bytes);
out:
  gbuf_free(sb);
  gbuf_free(rb);
  return bad;
}

/* ---- floating-point sums on random data --------------------------------------------- */

static double unit_roundoff(weftDataType_t dt) {
  switch (dt) {
    case weftFloat16: return ldexp(1, -11);
    case weftBfloat16: return ldexp(1, -8);
    case weftFloat32: return ldexp(1, -24);
    default: return ldexp(1, -53);
  }
}

static double min_subnormal(weftDataType_t dt) {
  switch (dt) {
    case weftFloat16: return ldexp(1, -24);
    case weftBfloat16: return ldexp(1, -133);
    case weftFloat32: return ldexp(1, -149);
    default: return ldexp(1, -1074);
  }
}

static void gen_uniform(void *buf, weftDataType_t dt, uint64_t seed, int rank, size_t count) {
  for (size_t i = 0; i < count; i++) {
    uint64_t h = rnd(seed, rank, i);
    double x = (double)(h >> 11) * ldexp(1, -53) * 2.0 - 1.0; /* [-1, 1) */
    if (i % 97 == 5) x *= 1e-3;                                /* some smaller magnitudes */
    st_f(buf, i, dt, x);
  }
}

/* -Y: rank 0 writes the bits of a result (a hash), for two runs to compare. */
static void write_digest(const ctx_t *c, const tcase *tc, const void *buf, size_t bytes) {
  if (!c->digest) return;
  char cs[256];
  case_str(c, tc, cs, sizeof cs);
  fprintf(c->digest, "%s %016" PRIx64 "\n", cs, fnv64(buf, bytes));
}

static int run_fprandom(ctx_t *c, const tcase *tc) {
  weftComm_t comm = c->comm[tc->algo];
  size_t esz = weft_dtype_size(tc->dt), n = tc->count, bytes = n * esz;
  int bad = 0;
  void *sb = gbuf(bytes), *rb = tc->inplace ? sb : gbuf(bytes);
  gen_uniform(sb, tc->dt, tc->seed, c->rank, n);
  const void *sarg = sb;
  void *rarg = rb;
  mx_dev_call dv;
  if (dv_begin(c, tc, &dv, comm, &sarg, bytes, &rarg, bytes)) {
    bad = -1;
    goto out;
  }
  weftResult_t r = dv_end(c, tc, &dv, weftAllReduce(sarg, rarg, n, tc->dt, weftSum, comm, NULL));
  if (call_failed(c, tc, "weftAllReduce", r, comm)) {
    bad = -1;
    goto out;
  }
  bad |= check_algo(c, tc, comm);
  /* accurate reference: Neumaier-compensated fp64 sum of the typed inputs */
  double *sum = calloc(n + 1, sizeof *sum), *cmp = calloc(n + 1, sizeof *cmp), *mag = calloc(n + 1, sizeof *mag);
  void *tmp = malloc(bytes + 1);
  if (!sum || !cmp || !mag || !tmp) exit(3);
  for (int k = 0; k < c->n; k++) {
    gen_uniform(tmp, tc->dt, tc->seed, k, n);
    for (size_t i = 0; i < n; i++) {
      double x = ld_f(tmp, i, tc->dt), s = sum[i], t = s + x;
      cmp[i] += fabs(s) >= fabs(x) ? (s - t) + x : (x - t) + s;
      sum[i] = t;
      mag[i] += fabs(x);
    }
  }
  double u = unit_roundoff(tc->dt), worst = 0;
  int printed = 0;
  for (size_t i = 0; i < n; i++) {
    double ref = sum[i] + cmp[i], got = ld_f(rb, i, tc->dt);
    double tol = 1.01 * (c->n - 1) * u * mag[i] + u * fabs(ref) + c->n * min_subnormal(tc->dt);
    double err = fabs(got - ref);
    if (mag[i] > 0 && err / mag[i] > worst) worst = err / mag[i];
    if (!(err <= tol)) {
      bad = 1;
      if (printed++ < MAX_PRINT_PER_CASE) {
        char cs[256];
        case_str(c, tc, cs, sizeof cs);
        fprintf(stderr, "MISMATCH %s: random-data sum index %zu expected %.17g +- %.3g got %.17g (error %.3g)\n", cs,
                i, ref, tol, got, err);
        c->nprinted++;
      }
    }
  }
  if (c->o->verbose && c->rank == 0)
    printf("  fprandom %s %s n=%zu %s: worst |err|/sum|x| = %.3g (u = %.3g)\n", weft_dtype_name(tc->dt),
           algo_names[tc->algo], n, tc->inplace ? "in-place" : "out-of-place", worst, u);
  free(sum);
  free(cmp);
  free(mag);
  free(tmp);
  bad |= check_guards(c, tc, "recvbuff", rb, bytes);
  {
    int h = hash_agree(c, tc, rb, bytes);
    if (c->broken) bad = -1;
    else bad |= h;
  }
  write_digest(c, tc, rb, bytes);
out:
  gbuf_free(sb);
  if (rb != sb) gbuf_free(rb);
  return bad;
}

/* ---- NaN payloads: in place gives the bits of out of place ----------------------------- */

/* Bit fields of a floating type (exponent all ones: Inf or NaN). */
typedef struct {
  uint64_t sign, exp, mant, quiet;
} flayout_t;

static flayout_t float_layout(weftDataType_t dt) {
  switch (dt) {
    case weftFloat16: return (flayout_t){0x8000, 0x7C00, 0x03FF, 0x0200};
    case weftBfloat16: return (flayout_t){0x8000, 0x7F80, 0x007F, 0x0040};
    case weftFloat32: return (flayout_t){0x80000000u, 0x7F800000u, 0x007FFFFFu, 0x00400000u};
    default:
      return (flayout_t){0x8000000000000000ULL, 0x7FF0000000000000ULL, 0x000FFFFFFFFFFFFFULL, 0x0008000000000000ULL};
  }
}

static int nan_in(const flayout_t *L, uint64_t w) { return (w & L->exp) == L->exp && (w & L->mant) != 0; }

/* Rank's element idx. Per element (the same choice on every rank): a NaN on
 * every rank, on one rank or on some ranks, each rank with its own sign and
 * payload, quiet or signaling; or no NaN input but a NaN result (Inf - Inf,
 * 0 * Inf); or a small number. */
static uint64_t nanpay_elem(weftDataType_t dt, weftRedOp_t op, uint64_t seed, int rank, int n, size_t idx) {
  const flayout_t L = float_layout(dt);
  const uint64_t s = rnd(seed, -1, idx), h = rnd(seed, rank, idx);
  uint64_t w = 0;
  int nan_here = 0;
  switch (s % 8) {
    case 0: nan_here = 1; break;
    case 1: nan_here = rank == (int)((s >> 8) % (uint64_t)n); break;
    case 2: nan_here = (int)((s >> (8 + rank % 48)) & 1); break;
    case 3:
      if (op == weftProd) {
        if (rank == 0) return 0;
        if (rank == n - 1) return L.exp;
        st_f(&w, 0, dt, 1.0);
        return w;
      }
      return rank % 2 ? L.exp | L.sign : L.exp;
    default: break;
  }
  if (nan_here) return (h >> 63 ? L.sign : 0) | L.exp | ((h & L.mant) ? (h & L.mant) : 1);
  st_f(&w, 0, dt, (double)((int)((h >> 8) % 16) - 8) / 4);
  return w;
}

/* The rule of docs/api.md (Determinism): a result whose inputs hold NaNs is
 * one of them with its quiet bit set; a NaN made from numbers is the positive
 * quiet NaN with a zero payload; on one rank nothing is combined and the
 * result is the input. Returns 0 if element i (global index idx) of res
 * obeys it. */
static int nan_rule_ok(const tcase *tc, int n, const void *res, size_t i, size_t idx) {
  const flayout_t L = float_layout(tc->dt);
  const size_t esz = weft_dtype_size(tc->dt);
  const uint64_t got = ld_u(res, i, esz);
  if (n == 1) return got != nanpay_elem(tc->dt, tc->op, tc->seed, 0, n, idx);
  int any_nan = 0;
  for (int k = 0; k < n; k++) {
    const uint64_t x = nanpay_elem(tc->dt, tc->op, tc->seed, k, n, idx);
    if (!nan_in(&L, x)) continue;
    any_nan = 1;
    if (got == (x | L.quiet)) return 0;
  }
  if (any_nan) return 1;
  return nan_in(&L, got) && got != (L.exp | L.quiet);
}

/* One reducing collective (tc->coll) on NaN-laden inputs, out of place and
 * then in place: both results must be the same bits and follow the NaN rule;
 * all-reduce results must agree on every rank. */
static int run_nanpay(ctx_t *c, tcase *tc) {
  weftComm_t comm = c->comm[tc->algo];
  const size_t esz = weft_dtype_size(tc->dt), n = tc->count, rbytes = n * esz;
  const size_t scount = tc->coll == C_REDUCESCATTER ? n * (size_t)c->n : n, sbytes = scount * esz;
  const size_t base = tc->coll == C_REDUCESCATTER ? (size_t)c->rank * n : 0;
  const int root = c->n - 1, has_result = tc->coll != C_REDUCE || c->rank == root;
  int bad = 0;
  void *sb = gbuf(sbytes), *rb = gbuf(rbytes), *ib = gbuf(sbytes);
  for (size_t i = 0; i < scount; i++) st_u(sb, i, esz, nanpay_elem(tc->dt, tc->op, tc->seed, c->rank, c->n, i));
  memcpy(ib, sb, sbytes);
  void *ires = (char *)ib + base * esz;
  for (int ip = 0; ip < 2; ip++) {
    void *dst = ip ? ires : rb;
    const void *src = ip ? ib : sb;
    weftResult_t r;
    tc->inplace = ip;
    mx_dev_call dv; /* -D: the same bytes in device buffers */
    if (dv_begin(c, tc, &dv, comm, &src, sbytes, &dst, rbytes)) {
      bad = -1;
      goto out;
    }
    if (tc->coll == C_REDUCESCATTER) r = weftReduceScatter(src, dst, n, tc->dt, tc->op, comm, NULL);
    else if (tc->coll == C_REDUCE) r = weftReduce(src, dst, n, tc->dt, tc->op, root, comm, NULL);
    else r = weftAllReduce(src, dst, n, tc->dt, tc->op, comm, NULL);
    r = dv_end(c, tc, &dv, r);
    if (call_failed(c, tc, coll_names[tc->coll], r, comm)) {
      bad = -1;
      goto out;
    }
    bad |= check_algo(c, tc, comm);
  }
  if (has_result) {
    write_digest(c, tc, rb, rbytes);
    bad |= compare(c, tc, "in-place result (expected: the out-of-place result)", rb, ires, n, base);
    int printed = 0;
    for (size_t i = 0; i < n; i++) {
      if (nan_rule_ok(tc, c->n, rb, i, base + i) == 0) continue;
      bad = 1;
      if (printed++ < MAX_PRINT_PER_CASE) {
        char cs[256], g[64];
        case_str(c, tc, cs, sizeof cs);
        fmt_elem(g, sizeof g, rb, i, tc->dt);
        fprintf(stderr, "MISMATCH %s: index %zu got %s, which breaks the NaN rule\n", cs, base + i, g);
        c->nprinted++;
      }
    }
  }
  bad |= check_guards(c, tc, "recvbuff", rb, rbytes) | check_guards(c, tc, "sendbuff", ib, sbytes);
  if (tc->coll == C_ALLREDUCE) {
    const int h = hash_agree(c, tc, rb, rbytes);
    if (c->broken) bad = -1;
    else bad |= h;
  }
out:
  gbuf_free(sb);
  gbuf_free(rb);
  gbuf_free(ib);
  return bad;
}

/* ---- the matrix ---------------------------------------------------------------------- */

/* Which cases run with BIG_COUNT under -B 1 (see the header comment). */
static int big_selected(const tcase *tc) {
  switch (tc->coll) {
    case C_ALLREDUCE:
      return tc->inplace == (((int)tc->dt + tc->algo) & 1);
    case C_REDUCE:
    case C_BROADCAST:
      if (tc->inplace || tc->root == 0 || (tc->reduces && tc->op != weftSum)) return 0;
      return tc->dt == weftInt8 || tc->dt == weftFloat32;
    case C_GATHER:
    case C_SCATTER: /* the chunked path is mp_matrix_n5_chunk100's (-B 0) */
      return 0;
    case C_ALLGATHER:
    case C_ALLTOALL:
    case C_SENDRECV:
      return !tc->inplace && (tc->dt == weftUint8 || tc->dt == weftBfloat16);
    case C_REDUCESCATTER:
      return !tc->inplace && tc->op == weftSum && (tc->dt == weftUint8 || tc->dt == weftFloat64);
    case C_ALLGATHERV:
    case C_REDUCESCATTERV:
    case C_ALLTOALLV: /* one big case each, even with -B 2 (run_matrix) */
      return !tc->inplace && tc->op == weftSum && tc->dt == weftUint8;
  }
  return 0;
}

static int run_case(ctx_t *c, tcase *tc) {
  tc->seed = mix64(mix64(((uint64_t)tc->coll << 56) ^ ((uint64_t)tc->dt << 48) ^ ((uint64_t)tc->op << 40) ^
                         ((uint64_t)tc->inplace << 36) ^ ((uint64_t)tc->algo << 32) ^ (uint64_t)(unsigned)tc->root) ^
                   (uint64_t)tc->count);
  int res;
  if (tc->nanpay) tc->seed = mix64(tc->seed ^ 0x4E614E);
  switch (tc->nanpay ? C_NANPAY : tc->coll) {
    case C_NANPAY: res = run_nanpay(c, tc); break;
    case C_ALLREDUCE: res = run_allreduce(c, tc); break;
    case C_ALLGATHER: res = run_allgather(c, tc); break;
    case C_REDUCESCATTER: res = run_reducescatter(c, tc); break;
    case C_BROADCAST: res = run_broadcast(c, tc); break;
    case C_REDUCE: res = run_reduce(c, tc); break;
    case C_ALLTOALL: res = run_alltoall(c, tc); break;
    case C_SENDRECV: res = run_sendrecv(c, tc); break;
    case C_GATHER: res = run_gather(c, tc); break;
    case C_SCATTER: res = run_scatter(c, tc); break;
    case C_ALLGATHERV: res = run_allgatherv(c, tc); break;
    case C_REDUCESCATTERV: res = run_reducescatterv(c, tc); break;
    case C_ALLTOALLV: res = run_alltoallv(c, tc); break;
    default: res = run_fprandom(c, tc); break;
  }
  c->ncases++;
  if (res != 0) c->nfail_cases++;
  return res;
}

static int coll_reduces(int coll) {
  return coll == C_ALLREDUCE || coll == C_REDUCESCATTER || coll == C_REDUCE || coll == C_REDUCESCATTERV;
}
/* Collectives run once per algorithm (others run once, on the ring comm). */
static int coll_has_algo(int coll) {
  return coll == C_ALLREDUCE || coll == C_BROADCAST || coll == C_REDUCE || coll == C_FPRANDOM ||
         coll == C_ALLGATHER || coll == C_REDUCESCATTER || coll == C_ALLTOALL;
}
static int coll_runs_algo(int coll, int al) {
  if (coll == C_ALLTOALL) return al == A_RING || al == A_SLOTS; /* pairwise, slots */
  if (al == A_TREE) return coll == C_ALLREDUCE || coll == C_BROADCAST || coll == C_REDUCE || coll == C_FPRANDOM;
  if (al == A_HIER) return coll != C_REDUCE;
  if (al == A_SLOTS) return coll != C_SENDRECV;
  if (al == A_RHD) return coll == C_ALLREDUCE || coll == C_FPRANDOM || coll == C_ALLGATHER || coll == C_REDUCESCATTER;
  if (al == A_DIRECT) return coll == C_ALLREDUCE || coll == C_FPRANDOM;
  return 1;
}
static int coll_has_root(int coll) {
  return coll == C_BROADCAST || coll == C_REDUCE || coll == C_GATHER || coll == C_SCATTER;
}
static int coll_has_inplace(int coll) { return coll != C_ALLTOALL && coll != C_SENDRECV && coll != C_ALLTOALLV; }

static void run_matrix(ctx_t *c) {
  const opts_t *o = c->o;
  for (int coll = 0; coll < C_FPRANDOM && !c->broken; coll++) {
    if (!(o->coll_mask & (1u << coll))) continue;
    double t0 = now_s();
    long cases0 = c->ncases, fails0 = c->nfail_cases;
    int nroots = coll_has_root(coll) ? (c->n > 1 ? 2 : 1) : 1;
    for (int dt = 0; dt < weftNumTypes && !c->broken; dt++) {
      if (!(o->dt_mask & (1u << dt))) continue;
      for (int op = 0; op < (coll_reduces(coll) ? weftNumOps : 1) && !c->broken; op++) {
        if (coll_reduces(coll) && !(o->op_mask & (1u << op))) continue;
        for (int ci = 0; ci < o->ncounts && !c->broken; ci++) {
          for (int ip = 0; ip < (coll_has_inplace(coll) ? 2 : 1) && !c->broken; ip++) {
            for (int al = 0; al < (coll_has_algo(coll) ? A_N : 1) && !c->broken; al++) {
              if (coll_has_algo(coll) && !(o->algo_mask & (1u << al))) continue;
              if (!coll_runs_algo(coll, al)) continue;
              for (int ri = 0; ri < nroots && !c->broken; ri++) {
                tcase tc = {coll, (weftDataType_t)dt, (weftRedOp_t)op, o->counts[ci], ip, al,
                            ri == 0 ? 0 : c->n - 1, coll_reduces(coll), 0, 0};
                if (tc.count >= BIG_COUNT && (o->big == 0 || (o->big == 1 && !big_selected(&tc)))) continue;
                if (tc.count >= BIG_COUNT && coll >= C_ALLGATHERV && !big_selected(&tc)) continue;
                /* slots: far above any slot; direct: every rank reduces all of it */
                if (tc.count >= BIG_COUNT && (al == A_SLOTS || al == A_DIRECT)) continue;
                run_case(c, &tc);
              }
            }
          }
        }
      }
    }
    if (c->rank == 0)
      printf("%-14s %5ld cases, %ld failed on rank 0, %.2f s\n", coll_names[coll], c->ncases - cases0,
             c->nfail_cases - fails0, now_s() - t0);
    fflush(stdout);
  }
  if ((o->coll_mask & (1u << C_BARRIER)) && !c->broken) {
    double t0 = now_s();
    int res = run_barrier(c);
    if (res < 0) c->broken = 1;
    if (c->rank == 0)
      printf("%-14s %5d cases, %d failed on rank 0, %.2f s\n", "barrier", 1, res != 0, now_s() - t0);
  }
  if ((o->coll_mask & (1u << C_FPRANDOM)) && !c->broken) {
    static const weftDataType_t fdt[] = {weftFloat32, weftFloat64, weftFloat16, weftBfloat16};
    static const size_t fcounts[] = {1027, 65539};
    double t0 = now_s();
    long cases0 = c->ncases, fails0 = c->nfail_cases;
    for (int k = 0; k < 4 && !c->broken; k++) {
      if (!(o->dt_mask & (1u << fdt[k]))) continue;
      for (int ci = 0; ci < 2 && !c->broken; ci++)
        for (int ip = 0; ip < 2 && !c->broken; ip++)
          for (int al = 0; al < A_N && !c->broken; al++) {
            if (!(o->algo_mask & (1u << al))) continue;
            tcase tc = {C_FPRANDOM, fdt[k], weftSum, fcounts[ci], ip, al, 0, 1, 0, 0};
            run_case(c, &tc);
          }
    }
    if (c->rank == 0)
      printf("%-14s %5ld cases, %ld failed on rank 0, %.2f s\n", "fprandom", c->ncases - cases0,
             c->nfail_cases - fails0, now_s() - t0);
  }
  if ((o->coll_mask & (1u << C_NANPAY)) && !c->broken) {
    static const weftDataType_t fdt[] = {weftFloat32, weftFloat64, weftFloat16, weftBfloat16};
    static const int ncolls[] = {C_ALLREDUCE, C_REDUCESCATTER, C_REDUCE};
    static const size_t ncounts[] = {1, 7, 67, 1027, 65539};
    double t0 = now_s();
    long cases0 = c->ncases, fails0 = c->nfail_cases;
    for (int k = 0; k < 4 && !c->broken; k++) {
      if (!(o->dt_mask & (1u << fdt[k]))) continue;
      for (int op = 0; op < weftNumOps && !c->broken; op++) {
        if (!(o->op_mask & (1u << op))) continue;
        for (int ci = 0; ci < 5 && !c->broken; ci++)
          for (int k2 = 0; k2 < 3 && !c->broken; k2++) {
            if (ncounts[ci] > 1027 && ncolls[k2] != C_ALLREDUCE) continue; /* the small ones cover them */
            for (int al = 0; al < A_N && !c->broken; al++) {
              if (!(o->algo_mask & (1u << al)) || !coll_runs_algo(ncolls[k2], al)) continue;
              tcase tc = {ncolls[k2], fdt[k], (weftRedOp_t)op, ncounts[ci], 0, al, c->n - 1, 1, 0, 1};
              run_case(c, &tc);
            }
          }
      }
    }
    if (c->rank == 0)
      printf("%-14s %5ld cases, %ld failed on rank 0, %.2f s\n", "nanpay", c->ncases - cases0,
             c->nfail_cases - fails0, now_s() - t0);
  }
}

static int rank_main(int rank, int nranks, const weftUniqueId *id, void *arg) {
  const opts_t *o = arg;
  ctx_t c;
  memset(&c, 0, sizeof c);
  c.o = o;
  c.rank = rank;
  c.n = nranks;
  if (o->ngroups) { /* -G: this rank's fake node or site */
    int g = 0;
    for (int acc = o->group_size[0]; rank >= acc; acc += o->group_size[++g]) {}
    char name[32];
    snprintf(name, sizeof name, "%s%d", o->group_sites ? "site" : "node", g);
    setenv(o->group_sites ? "WEFT_SITE" : "WEFT_HOST_ID", name, 1);
    if (o->group_sites) setenv("WEFT_HOST_ID", name, 1); /* a node cannot span two sites */
  }
  if (o->devices) { /* -D: item rank mod count, for every comm of this rank */
    int k = 1;
    for (const char *p = o->devices; *p; p++) k += *p == ',';
    const char *p = o->devices;
    for (int i = rank % k; i > 0; i--) p = strchr(p, ',') + 1;
    char dev[128];
    snprintf(dev, sizeof dev, "%.*s", (int)strcspn(p, ","), p);
    setenv("WEFT_DEVICE", dev, 1);
    c.on_device = strcmp(dev, "host") != 0;
  }
  if (o->digest && rank == 0 && !(c.digest = fopen(o->digest, "w"))) {
    fprintf(stderr, "ERROR: cannot write %s\n", o->digest);
    return 2;
  }
  weftConfig_t cfg = WEFT_CONFIG_INITIALIZER, cfg_tree = WEFT_CONFIG_INITIALIZER;
  cfg.algo = "ring";
  cfg.timeoutMs = o->timeout_ms;
  cfg_tree.algo = "tree";
  cfg_tree.timeoutMs = o->timeout_ms;
  weftResult_t r = weftCommInitRankConfig(&c.comm[A_RING], nranks, *id, rank, &cfg);
  if (r != weftSuccess) {
    fprintf(stderr, "ERROR rank %d/%d: weftCommInitRankConfig: %s: %s\n", rank, nranks, weftGetErrorString(r),
            weftGetLastError(NULL));
    return 2;
  }
  r = weftCommSplit(c.comm[A_RING], 0, rank, &c.comm[A_TREE], &cfg_tree);
  if (r != weftSuccess || !c.comm[A_TREE]) {
    fprintf(stderr, "ERROR rank %d/%d: weftCommSplit (tree comm): %s: %s\n", rank, nranks, weftGetErrorString(r),
            weftGetLastError(c.comm[A_RING]));
    weftCommAbort(c.comm[A_RING]);
    return 2;
  }
  for (int al = A_RHD; al < A_N; al++) { /* further algorithms: one more comm each */
    if (!(o->algo_mask & (1u << al))) continue;
    weftConfig_t cfg_al = WEFT_CONFIG_INITIALIZER;
    cfg_al.algo = algo_names[al];
    cfg_al.timeoutMs = o->timeout_ms;
    r = weftCommSplit(c.comm[A_RING], 0, rank, &c.comm[al], &cfg_al);
    if (r != weftSuccess || !c.comm[al]) {
      fprintf(stderr, "ERROR rank %d/%d: weftCommSplit (%s comm): %s: %s\n", rank, nranks, algo_names[al],
              weftGetErrorString(r), weftGetLastError(c.comm[A_RING]));
      weftCommAbort(c.comm[A_RING]);
      return 2;
    }
  }
  int cnt = -1, me = -1;
  if (weftCommCount(c.comm[A_TREE], &cnt) != weftSuccess || weftCommUserRank(c.comm[A_TREE], &me) != weftSuccess ||
      cnt != nranks || me != rank) {
    fprintf(stderr, "ERROR rank %d/%d: tree comm has count %d rank %d\n", rank, nranks, cnt, me);
    c.nfail_cases++;
  }
  double t0 = now_s();
  run_matrix(&c);
  if (c.broken) {
    /* close connections at once so that the other ranks fail fast too */
    for (int al = A_RHD; al < A_N; al++)
      if (c.comm[al]) weftCommAbort(c.comm[al]);
    weftCommAbort(c.comm[A_TREE]);
    weftCommAbort(c.comm[A_RING]);
    fprintf(stderr, "rank %d: stopped after a weft call failed (%ld cases run, %ld failed)\n", rank, c.ncases,
            c.nfail_cases);
    return 2;
  }
  unsigned long long devred = 0; /* -R: the device's kernels ran */
  for (int al = 0; al < A_N; al++)
    if (c.comm[al]) devred += weft_debug_device_reduces(c.comm[al]);
  if (o->devreduce && c.on_device && devred == 0) {
    fprintf(stderr, "ERROR rank %d: no reduction ran on the device (-R)\n", rank);
    c.nfail_cases++;
  }
  if (o->devreduce && rank == 0) printf("rank 0: %llu reduce steps on the device\n", devred);
  weftResult_t d0 = weftSuccess;
  for (int al = A_RHD; al < A_N; al++)
    if (c.comm[al] && weftCommDestroy(c.comm[al]) != weftSuccess) d0 = weftInternalError;
  weftResult_t d1 = weftCommDestroy(c.comm[A_TREE]), d2 = weftCommDestroy(c.comm[A_RING]);
  if (d0 != weftSuccess || d1 != weftSuccess || d2 != weftSuccess) {
    fprintf(stderr, "ERROR rank %d: weftCommDestroy: %d %d %d\n", rank, (int)d0, (int)d1, (int)d2);
    return 2;
  }
  if (c.digest) fclose(c.digest);
  if (rank == 0) printf("rank 0: %ld cases in %.2f s, %ld failed\n", c.ncases, now_s() - t0, c.nfail_cases);
  if (c.nfail_cases) fprintf(stderr, "rank %d: %ld of %ld cases FAILED\n", rank, c.nfail_cases, c.ncases);
  return c.nfail_cases ? 1 : 0;
}

/* ---- main -------------------------------------------------------------------------------- */

static void usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s -n NRANKS [-c colls] [-d dtypes] [-o ops] [-a algos] [-C counts] [-B 0|1|2]\n"
          "          [-T comm_timeout_s] [-L launch_timeout_s] [-G 3+2+1 [-S]] [-D devs [-R]] [-Y file] [-F] [-v]\n"
          "  lists are comma separated; colls: allreduce,allgather,reducescatter,broadcast,reduce,\n"
          "  alltoall,sendrecv,gather,scatter,barrier,fprandom (default: these), nanpay;\n"
          "  algos: ring,tree,rhd,slots\n"
          "  (default: these), direct, hier\n"
          "  -G: ranks on fake nodes of these sizes (WEFT_HOST_ID), or sites with -S (WEFT_SITE);\n"
          "      adds the hier algorithm (allreduce, broadcast, allgather, reducescatter)\n"
          "  -D: rank r's buffers on device item r mod count of this list (WEFT_DEVICE values)\n"
          "  -R: with WEFT_DEVICE_REDUCE=on: fail unless every rank off host memory reduced on its device\n"
          "  -Y: rank 0 writes a hash of every fprandom and nanpay result to this file\n",
          argv0);
}

static int parse_list(const char *arg, unsigned *mask, int (*parse)(const char *)) {
  char buf[512];
  snprintf(buf, sizeof buf, "%s", arg);
  *mask = 0;
  for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    int v = parse(t);
    if (v < 0) {
      fprintf(stderr, "unknown name '%s'\n", t);
      return -1;
    }
    *mask |= 1u << v;
  }
  return 0;
}

static int parse_coll(const char *s) {
  for (int i = 0; i < C_NCOLL; i++)
    if (!strcmp(s, coll_names[i])) return i;
  return -1;
}
static int parse_algo(const char *s) {
  for (int i = 0; i < A_N; i++)
    if (!strcmp(s, algo_names[i])) return i;
  return -1;
}

int main(int argc, char **argv) {
  opts_t o;
  memset(&o, 0, sizeof o);
  o.nranks = 0;
  o.coll_mask = ((1u << C_NCOLL) - 1) & ~(1u << C_NANPAY); /* nanpay: its own ctest case */
  o.dt_mask = (1u << weftNumTypes) - 1;
  o.op_mask = (1u << weftNumOps) - 1;
  o.algo_mask = (1u << A_RING) | (1u << A_TREE) | (1u << A_RHD) | (1u << A_SLOTS);
  o.ncounts = (int)(sizeof default_counts / sizeof default_counts[0]);
  memcpy(o.counts, default_counts, sizeof default_counts);
  o.big = 1;
  o.timeout_ms = 60000;
  o.launch_timeout_s = 600;
  int opt;
  while ((opt = getopt(argc, argv, "n:c:d:o:a:C:B:T:L:G:D:Y:RSFvh")) != -1) {
    switch (opt) {
      case 'n': o.nranks = atoi(optarg); break;
      case 'c':
        if (parse_list(optarg, &o.coll_mask, parse_coll)) return 2;
        break;
      case 'd':
        if (parse_list(optarg, &o.dt_mask, weft_dtype_parse)) return 2;
        break;
      case 'o':
        if (parse_list(optarg, &o.op_mask, weft_op_parse)) return 2;
        break;
      case 'a':
        if (parse_list(optarg, &o.algo_mask, parse_algo)) return 2;
        break;
      case 'C': {
        char buf[512];
        snprintf(buf, sizeof buf, "%s", optarg);
        o.ncounts = 0;
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && o.ncounts < 16; t = strtok_r(NULL, ",", &save))
          o.counts[o.ncounts++] = (size_t)strtoull(t, NULL, 10);
        break;
      }
      case 'B': o.big = atoi(optarg); break;
      case 'T': o.timeout_ms = (int)(atof(optarg) * 1000); break;
      case 'L': o.launch_timeout_s = atof(optarg); break;
      case 'F': o.fault = 1; break;
      case 'S': o.group_sites = 1; break;
      case 'G': { /* "3+2+1": group sizes */
        char buf[128];
        snprintf(buf, sizeof buf, "%s", optarg);
        o.ngroups = o.nranks = 0;
        for (char *save = NULL, *t = strtok_r(buf, "+", &save); t && o.ngroups < 16; t = strtok_r(NULL, "+", &save))
          o.nranks += o.group_size[o.ngroups++] = atoi(t);
        o.algo_mask |= 1u << A_HIER;
        break;
      }
      case 'D': o.devices = optarg; break;
      case 'R': o.devreduce = 1; break;
      case 'Y': o.digest = optarg; break;
      case 'v': o.verbose = 1; break;
      default: usage(argv[0]); return opt == 'h' ? 0 : 2;
    }
  }
  if (o.nranks < 1 || o.nranks > 64) {
    usage(argv[0]);
    return 2;
  }
  /* -T and -L are budgets on an unloaded machine, scaled here (time_scale.h). */
  o.timeout_ms = weft_test_ms(o.timeout_ms);
  o.launch_timeout_s = weft_test_seconds(o.launch_timeout_s);
  setvbuf(stdout, NULL, _IOLBF, 0);
  double t0 = now_s();
  int *status = calloc((size_t)o.nranks, sizeof *status);
  if (!status) return 2;
  int failed = weft_launch_fork(o.nranks, rank_main, &o, o.launch_timeout_s, status);
  printf("test_coll_matrix -n %d: %d of %d ranks failed, %.2f s\n", o.nranks, failed, o.nranks, now_s() - t0);
  int rc = failed ? 1 : 0;
  if (o.fault) {
    /* self-check: every rank must have detected the corrupted references */
    rc = 0;
    for (int r = 0; r < o.nranks; r++)
      if (status[r] != 1) {
        fprintf(stderr, "self-check: rank %d exited %d, expected 1 (mismatch detected)\n", r, status[r]);
        rc = 1;
      }
    printf("self-check (-F): %s\n", rc ? "FAILED - corrupted references went unnoticed" : "ok, mismatches detected");
  }
  free(status);
  return rc;
}
