/*
 * weft-perf — collective benchmark with nccl-tests compatible output.
 *
 *   weft-perf [-np N] <coll> [flags]
 *
 * One binary for every collective (nccl-tests has one per collective):
 * allreduce, allgather, reducescatter, broadcast, reduce, alltoall, sendrecv,
 * and weft's gather, scatter, barrier, allgatherv, reducescatterv and
 * alltoallv.
 * With -np N the ranks are forked on this machine (tools/launch); without it
 * they come from the launcher's environment (mpirun, srun, torchrun) through
 * weftCommInitFromEnv.
 *
 * Size conventions (as nccl-tests' setupArgs/getCollByteCount):
 *   count      = size / sizeof(type)
 *   allreduce, broadcast, reduce, sendrecv: the call's count is `count`.
 *   allgather:     sendcount = count / nranks, recv buffer = sendcount * nranks
 *   reducescatter: recvcount = count / nranks, send buffer = recvcount * nranks
 *   alltoall:      per-peer count = count / nranks, both buffers = that * nranks
 *   gather:        sendcount = count / nranks, root's recv buffer = sendcount * nranks
 *   scatter:       recvcount = count / nranks, root's send buffer = recvcount * nranks
 *   barrier:       no data: one row, size and count 0, whatever -b/-e say;
 *                  algbw and busbw are 0 and #wrong is N/A (the time is the column
 *                  that matters; the barrier's property is tests/mp's to check)
 *   allgatherv, reducescatterv, alltoallv (nccl-tests has no v-variants;
 *   weft's own columns): `count` is the elements of all blocks together, cut
 *   into a ramp: block k holds k+1 shares of n(n+1)/2 (the last block also
 *   the remainder; under n(n+1)/2 elements the first blocks are empty), the
 *   blocks back to back in rank order.
 *     allgatherv:     rank k sends block k; recv buffer = count
 *     reducescatterv: send buffer = count; rank k receives block k
 *     alltoallv:      rank i sends rank j block (j-i) mod n, so both buffers
 *                     of every rank hold count elements
 *   size = count * sizeof(type); busbw factor (n-1)/n, as their even
 *   counterparts (exact for the average rank: the ring and the pairwise
 *   exchange move all blocks but the rank's own through its links).
 * The "size" column is the larger of the send and receive buffers (so the
 * total buffer for allgather/reducescatter/alltoall, rounded down to a
 * multiple of nranks elements), the "count" column is the count argument
 * passed to the call (per-rank / per-peer for allgather, reducescatter,
 * alltoall, gather and scatter). algbw = size / time; busbw = algbw * factor
 * with factor 2(n-1)/n for allreduce, (n-1)/n for allgather, reducescatter,
 * alltoall, gather and scatter (the root's link carries n-1 of the n blocks,
 * as nccl-tests' gather and scatter count them), 1 for broadcast, reduce and
 * sendrecv (the v-variants: see above). In place, gather and scatter use the root's in-place form (its
 * block inside the large buffer); the other ranks pass separate buffers. Bandwidths are in GB/s (1e9 B/s).
 *
 * The trailing "algo" column is weft's choice (algorithm/transport) for the
 * out-of-place run of that row, from weft_debug_last_algo().
 *
 * Check mode (-c 1): every rank fills its send buffer with small integers
 * chosen per operation so that results are exact in every datatype (sums of
 * values in [-3,3] — [-1,1] for bfloat16 —, products of {1,2,-1} with at most
 * three 2s, min/max of values in [-8,8], averages whose sum is a multiple of
 * nranks), computes the expected result locally and counts mismatches;
 * #wrong is summed over ranks with weftAllReduce. Exact for any rank count
 * up to 256 (bfloat16 avg: up to 51 ranks). Integer types wrap like the
 * library (two's complement).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/introspect.h"
#include "device/device.h"
#include "util/param.h"
#include "util/size.h"
#include "common/perf_data.h"
#include "launch_fork.h"
#include "reduce/reduce.h"
#include "weft.h"

/* ------------------------------------------------------------------ */
/* Collectives                                                         */
/* ------------------------------------------------------------------ */
typedef enum {
  C_ALLREDUCE,
  C_ALLGATHER,
  C_REDUCESCATTER,
  C_BROADCAST,
  C_REDUCE,
  C_ALLTOALL,
  C_SENDRECV,
  C_GATHER,
  C_SCATTER,
  C_BARRIER,
  C_ALLGATHERV,
  C_REDUCESCATTERV,
  C_ALLTOALLV,
  C_NUM
} coll_t;

static const struct {
  const char *name;
  int has_op;   /* takes a reduction operation */
  int has_root; /* rooted */
  int inplace;  /* has an in-place form */
} COLLS[C_NUM] = {
    [C_ALLREDUCE] = {"allreduce", 1, 0, 1},   [C_ALLGATHER] = {"allgather", 0, 0, 1},
    [C_REDUCESCATTER] = {"reducescatter", 1, 0, 1}, [C_BROADCAST] = {"broadcast", 0, 1, 1},
    [C_REDUCE] = {"reduce", 1, 1, 1},         [C_ALLTOALL] = {"alltoall", 0, 0, 0},
    [C_SENDRECV] = {"sendrecv", 0, 0, 0},     [C_GATHER] = {"gather", 0, 1, 1},
    [C_SCATTER] = {"scatter", 0, 1, 1},       [C_BARRIER] = {"barrier", 0, 0, 0},
    [C_ALLGATHERV] = {"allgatherv", 0, 0, 1}, [C_REDUCESCATTERV] = {"reducescatterv", 1, 0, 1},
    [C_ALLTOALLV] = {"alltoallv", 0, 0, 0},
};

static double bus_factor(coll_t c, int n) {
  switch (c) {
  case C_ALLREDUCE: return 2.0 * (n - 1) / n;
  case C_ALLGATHER:
  case C_REDUCESCATTER:
  case C_ALLTOALL:
  case C_GATHER:
  case C_SCATTER:
  case C_ALLGATHERV:
  case C_REDUCESCATTERV:
  case C_ALLTOALLV: return (double)(n - 1) / n;
  case C_BARRIER: return 0.0;
  default: return 1.0;
  }
}

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */
typedef struct {
  coll_t coll;
  size_t minbytes, maxbytes, stepbytes;
  long stepfactor;
  int iters, warmup, check, root, agg, blocking;
  int dtypes[weftNumTypes], ndtypes;
  int ops[weftNumOps], nops;
  int np;           /* 0: ranks from the environment */
  int layout[2][64];  /* -G / -S: fake node / site sizes (launcher mode), 0-terminated */
  double timeout_s; /* launcher mode */
  char device[64];  /* -D: the device of every rank's buffers ("": host memory, no device) */
  const char *trace; /* --trace FILE: WEFT_TRACE of every rank, merged into FILE (-np) */
  const char *json;  /* --json FILE: the rows as JSON (rank 0) */
} opts_t;

static void usage(FILE *f) {
  fprintf(f,
          "usage: weft-perf [-np N] <coll> [flags]\n"
          "  coll: allreduce allgather reducescatter broadcast reduce alltoall sendrecv\n"
          "        gather scatter barrier allgatherv reducescatterv alltoallv\n"
          "  -np N  fork N ranks on this machine (otherwise: ranks from mpirun/srun/torchrun env)\n"
          "  -T S   launcher timeout in seconds (default 3600)\n"
          "  -b B   minimum size in bytes, K/M/G suffixes (default 32M)\n"
          "  -e B   maximum size in bytes (default 32M)\n"
          "  -f F   multiplication factor between sizes\n"
          "  -i B   increment between sizes (default 1M; used when -f is not > 1)\n"
          "  -n N   timed iterations (default 20)\n"
          "  -w N   warmup iterations (default 5)\n"
          "  -c 0/1 check results (default 1)\n"
          "  -d T   datatype: int8 uint8 int32 uint32 int64 uint64 half float double bfloat16, or all\n"
          "         (default float)\n"
          "  -o OP  reduction: sum prod max min avg, or all (default sum)\n"
          "  -r R   root for broadcast/reduce (default 0)\n"
          "  -a A   time aggregation across ranks: 0 rank 0, 1 avg, 2 min, 3 max (default 1)\n"
          "  -z 0/1 1: blocking calls (NULL stream); 0: iterations enqueued on a weft stream,\n"
          "         synchronized after the loop (default 0)\n"
          "  -G L   with -np: put the ranks on fake nodes of these sizes, e.g. 2+2 or 3+2+1\n"
          "         (WEFT_HOST_ID per rank: shm inside a node, tcp across)\n"
          "  -S L   with -np: put the ranks on fake sites of these sizes (WEFT_SITE per rank:\n"
          "         site0, site1, ... in rank order; a topology file names its sites so)\n"
          "  -D DEV put the send and receive buffers on device DEV (as WEFT_DEVICE: host,\n"
          "         opencl[:P:D], cuda[:N], a plugin's name); the check reads them back.\n"
          "         A,B,...: rank r uses item r mod the count (a mixed communicator)\n"
          "  --trace FILE  a timeline of every call (WEFT_TRACE), Chrome trace format for\n"
          "         Perfetto: with -np the ranks' traces merged into FILE, else FILE.rank<r>.json\n"
          "  --json FILE   the rows as JSON (rank 0; wrong is null where nothing was checked)\n"
          "  -h     this help\n");
}

/* Returns 0 to run, 1 for -h (exit 0), -1 on error (exit 2). */
static int parse_args(int argc, char **argv, opts_t *o) {
  memset(o, 0, sizeof *o);
  o->coll = C_NUM;
  o->minbytes = o->maxbytes = 32u << 20;
  o->stepbytes = 1u << 20;
  o->stepfactor = 1;
  o->iters = 20;
  o->warmup = 5;
  o->check = 1;
  o->agg = 1;
  o->timeout_s = 3600;
  o->dtypes[0] = weftFloat;
  o->ndtypes = 1;
  o->ops[0] = weftSum;
  o->nops = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) return 1;
    if (!strcmp(a, "--trace") || !strcmp(a, "--json")) {
      if (i + 1 >= argc) {
        fprintf(stderr, "weft-perf: %s needs a file name\n", a);
        return -1;
      }
      if (a[2] == 't') o->trace = argv[++i];
      else o->json = argv[++i];
      continue;
    }
    if (a[0] != '-') {
      if (o->coll != C_NUM) {
        fprintf(stderr, "weft-perf: unexpected argument '%s'\n", a);
        return -1;
      }
      for (int c = 0; c < C_NUM; c++)
        if (!strcmp(a, COLLS[c].name)) o->coll = (coll_t)c;
      if (o->coll == C_NUM) {
        fprintf(stderr, "weft-perf: unknown collective '%s'\n", a);
        return -1;
      }
      continue;
    }
    /* Every other flag takes a value: "-b 8" or "-b8" ("-np 4" or "-np4"). */
    const char *flag = a, *val = NULL;
    char key[4] = {0};
    if (!strncmp(a, "-np", 3)) {
      strcpy(key, "np");
      val = a[3] ? a + 3 : NULL;
    } else if (a[1] && strchr("TbefinwcdoraZzGSD", a[1])) {
      key[0] = a[1];
      val = a[2] ? a + 2 : NULL;
    } else {
      fprintf(stderr, "weft-perf: unknown flag '%s'\n", a);
      return -1;
    }
    if (!val) {
      if (i + 1 >= argc) {
        fprintf(stderr, "weft-perf: %s needs a value\n", flag);
        return -1;
      }
      val = argv[++i];
    }
    long l = 0;
    int bad = 0;
    char why[160] = "";
    if (!strcmp(key, "np")) {
      bad = perf_parse_long(val, 1, 4096, &l);
      o->np = (int)l;
    } else {
      switch (key[0]) {
      case 'D':
        if (strlen(val) >= sizeof o->device) bad = 1;
        else snprintf(o->device, sizeof o->device, "%s", val);
        break;
      case 'G':
      case 'S': {
        int *sizes = o->layout[key[0] == 'S'], k = 0;
        char buf[256];
        snprintf(buf, sizeof buf, "%s", val);
        for (char *save = NULL, *t = strtok_r(buf, "+", &save); t && !bad; t = strtok_r(NULL, "+", &save))
          if (k == 63 || perf_parse_long(t, 1, 4096, &l)) bad = 1;
          else sizes[k++] = (int)l;
        sizes[k] = 0;
        break;
      }
      case 'T': {
        char *end;
        o->timeout_s = strtod(val, &end);
        bad = *end || !(o->timeout_s > 0);
        break;
      }
      case 'b': bad = weft_parse_size_t(val, &o->minbytes, why, sizeof why); break;
      case 'e': bad = weft_parse_size_t(val, &o->maxbytes, why, sizeof why); break;
      case 'i': bad = weft_parse_size_t(val, &o->stepbytes, why, sizeof why) || o->stepbytes == 0; break;
      case 'f': bad = perf_parse_long(val, 1, 1L << 20, &o->stepfactor); break;
      case 'n': bad = perf_parse_long(val, 1, INT_MAX, &l); o->iters = (int)l; break;
      case 'w': bad = perf_parse_long(val, 0, INT_MAX, &l); o->warmup = (int)l; break;
      case 'c': bad = perf_parse_long(val, 0, 1, &l); o->check = (int)l; break;
      case 'r': bad = perf_parse_long(val, 0, INT_MAX, &l); o->root = (int)l; break;
      case 'a': bad = perf_parse_long(val, 0, 3, &l); o->agg = (int)l; break;
      case 'z': bad = perf_parse_long(val, 0, 1, &l); o->blocking = (int)l; break;
      case 'd':
        if (!strcmp(val, "all")) {
          o->ndtypes = 0;
          for (int t = 0; t < weftNumTypes; t++) o->dtypes[o->ndtypes++] = t;
        } else {
          int t = weft_dtype_parse(val);
          bad = t < 0;
          o->dtypes[0] = t;
          o->ndtypes = 1;
        }
        break;
      case 'o':
        if (!strcmp(val, "all")) {
          o->nops = 0;
          for (int p = 0; p < weftNumOps; p++) o->ops[o->nops++] = p;
        } else {
          int p = weft_op_parse(val);
          bad = p < 0;
          o->ops[0] = p;
          o->nops = 1;
        }
        break;
      default: bad = 1; break;
      }
    }
    if (bad) {
      if (why[0]) fprintf(stderr, "weft-perf: %s: %s\n", flag, why);
      else
        fprintf(stderr, "weft-perf: bad value '%s' for %s\n", val, flag);
      return -1;
    }
  }
  if (o->coll == C_NUM) {
    fprintf(stderr, "weft-perf: missing collective name\n");
    return -1;
  }
  if (o->maxbytes < o->minbytes) {
    fprintf(stderr, "weft-perf: maxbytes (-e) is smaller than minbytes (-b)\n");
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------------ */
/* Per-rank state                                                      */
/* ------------------------------------------------------------------ */
typedef struct {
  const opts_t *o;
  weftComm_t comm;
  weftStream_t stream;
  int rank, nranks;
  char *sendbuf, *recvbuf; /* host memory: the buffers, or the host mirror of device ones */
  size_t bufbytes;
  weft_dev *dev;          /* -D: the comm's device, whose buffers dsend/drecv are */
  void *dsend, *drecv;
  char algo[64];
  size_t *v; /* the v-variants' counts and displacements (issue_v) */
} ctx_t;

static void report(ctx_t *c, const char *what, weftResult_t r, int line) {
  const char *msg = c->comm ? weftGetLastError(c->comm) : "";
  if (!msg || !*msg) msg = weftGetLastError(NULL);
  fprintf(stderr, "weft-perf: rank %d: %s failed (weft_perf.c:%d): %s: %s\n", c->rank, what,
          line, weftGetErrorString(r), msg && *msg ? msg : "(no message)");
  fflush(stderr);
}

#define WCALL(c, call)                          \
  do {                                          \
    weftResult_t wr_ = (call);                  \
    if (wr_ != weftSuccess) {                   \
      report((c), #call, wr_, __LINE__);        \
      return -1;                                \
    }                                           \
  } while (0)

/* The v-variants' blocks: a ramp, block k holding k+1 shares of the
 * n(n+1)/2 in `total` (the last one also the remainder), so every block
 * differs in size and, for sizes under n(n+1)/2 elements, some are empty. */
static size_t vblock(size_t total, int n, int k) {
  size_t shares = (size_t)n * (size_t)(n + 1) / 2, share = total / shares;
  return share * (size_t)(k + 1) + (k == n - 1 ? total - share * shares : 0);
}
/* Start of block k when the blocks lie back to back. */
static size_t vstart(size_t total, int n, int k) {
  size_t at = 0;
  for (int q = 0; q < k; q++) at += vblock(total, n, q);
  return at;
}
/* alltoallv: rank i sends rank j block (j - i) mod n of the ramp, so every
 * rank sends and receives all of `total`; its blocks lie back to back in
 * rank order in both buffers. */
static size_t a2av_count(size_t total, int n, int from, int to) { return vblock(total, n, ((to - from) % n + n) % n); }
static size_t a2av_sdispl(size_t total, int n, int from, int to) {
  size_t at = 0;
  for (int j = 0; j < to; j++) at += a2av_count(total, n, from, j);
  return at;
}
static size_t a2av_rdispl(size_t total, int n, int to, int from) {
  size_t at = 0;
  for (int i = 0; i < from; i++) at += a2av_count(total, n, i, to);
  return at;
}

/* Element counts for one size (see the comment at the top). */
typedef struct {
  size_t param, sendcount, recvcount;
} counts_t;

static counts_t get_counts(coll_t coll, size_t size, size_t ws, int n, int rank) {
  size_t count = size / ws;
  counts_t k;
  switch (coll) {
  case C_ALLGATHER:
    k.param = count / (size_t)n;
    k.sendcount = k.param;
    k.recvcount = k.param * (size_t)n;
    break;
  case C_REDUCESCATTER:
    k.param = count / (size_t)n;
    k.sendcount = k.param * (size_t)n;
    k.recvcount = k.param;
    break;
  case C_ALLTOALL:
    k.param = count / (size_t)n;
    k.sendcount = k.recvcount = k.param * (size_t)n;
    break;
  case C_GATHER:
    k.param = count / (size_t)n;
    k.sendcount = k.param;
    k.recvcount = k.param * (size_t)n;
    break;
  case C_SCATTER:
    k.param = count / (size_t)n;
    k.sendcount = k.param * (size_t)n;
    k.recvcount = k.param;
    break;
  case C_BARRIER: k.param = k.sendcount = k.recvcount = 0; break;
  case C_ALLGATHERV: /* param: all blocks together */
    k.param = k.recvcount = count;
    k.sendcount = vblock(count, n, rank);
    break;
  case C_REDUCESCATTERV:
    k.param = k.sendcount = count;
    k.recvcount = vblock(count, n, rank);
    break;
  case C_ALLTOALLV: k.param = k.sendcount = k.recvcount = count; break;
  default: k.param = k.sendcount = k.recvcount = count; break;
  }
  return k;
}

/* Gather and scatter: only the root has an in-place form. */
static int rooted_blocks(coll_t coll) { return coll == C_GATHER || coll == C_SCATTER; }

/* Send and receive pointers of one call. */
static void buffers(ctx_t *c, int inplace, size_t count, size_t ws, char **sb, char **rb) {
  size_t slice = (size_t)c->rank * count * ws;
  *sb = c->sendbuf;
  *rb = c->recvbuf;
  if (!inplace || (rooted_blocks(c->o->coll) && c->rank != c->o->root)) return;
  switch (c->o->coll) {
  case C_GATHER:
  case C_ALLGATHER: *sb = c->recvbuf + slice; break;
  case C_ALLGATHERV: *sb = c->recvbuf + vstart(count, c->nranks, c->rank) * ws; break;
  case C_REDUCESCATTERV:
    *sb = c->recvbuf;
    *rb = c->recvbuf + vstart(count, c->nranks, c->rank) * ws;
    break;
  case C_SCATTER:
  case C_REDUCESCATTER:
    *sb = c->recvbuf;
    *rb = c->recvbuf + slice;
    break;
  case C_ALLREDUCE:
  case C_BROADCAST:
  case C_REDUCE: *sb = c->recvbuf; break;
  default: break; /* alltoall, sendrecv: no in-place form */
  }
}

/* Device buffers are handles: in place is the one receive buffer (the
 * device data path places blocks as NCCL does, docs/devices.md). */
static void call_buffers(ctx_t *c, int inplace, size_t count, size_t ws, char **sb, char **rb) {
  if (!c->dsend) {
    buffers(c, inplace, count, ws, sb, rb);
    return;
  }
  *rb = c->drecv;
  *sb = inplace && (!rooted_blocks(c->o->coll) || c->rank == c->o->root) ? c->drecv : c->dsend;
}

/* Host mirror -> device buffers (to_dev), or the receive buffer -> mirror. */
static int sync_device(ctx_t *c, int to_dev, size_t bytes) {
  if (!c->dsend) return 0;
  char err[256];
  weftResult_t r = weftSuccess;
  if (to_dev) {
    r = weft_dev_copy_sync(c->dev, c->dsend, 0, c->sendbuf, bytes, 0, weft_env_timeout_ms(), err, sizeof err);
    if (r == weftSuccess)
      r = weft_dev_copy_sync(c->dev, c->drecv, 0, c->recvbuf, bytes, 0, weft_env_timeout_ms(), err, sizeof err);
  } else {
    r = weft_dev_copy_sync(c->dev, c->drecv, 0, c->recvbuf, bytes, 1, weft_env_timeout_ms(), err, sizeof err);
  }
  if (r != weftSuccess) {
    fprintf(stderr, "weft-perf: rank %d: %s\n", c->rank, err);
    return -1;
  }
  return 0;
}

/* The v-variants' calls: their arrays (c->v, 4n entries) from the ramp of
 * `total` elements. */
static int issue_v(ctx_t *c, char *sb, char *rb, size_t total, weftDataType_t dt, weftRedOp_t op, weftStream_t s) {
  int n = c->nranks, me = c->rank;
  size_t *v = c->v;
  for (int q = 0; q < n; q++) {
    if (c->o->coll == C_ALLTOALLV) {
      v[q] = a2av_count(total, n, me, q), v[n + q] = a2av_sdispl(total, n, me, q);
      v[2 * n + q] = a2av_count(total, n, q, me), v[3 * n + q] = a2av_rdispl(total, n, me, q);
    } else {
      v[q] = vblock(total, n, q), v[n + q] = vstart(total, n, q);
    }
  }
  switch (c->o->coll) {
  case C_ALLGATHERV: WCALL(c, weftAllGatherV(sb, rb, v, v + n, dt, c->comm, s)); break;
  case C_REDUCESCATTERV: WCALL(c, weftReduceScatterV(sb, rb, v, dt, op, c->comm, s)); break;
  default: WCALL(c, weftAllToAllV(sb, v, v + n, rb, v + 2 * n, v + 3 * n, dt, c->comm, s)); break;
  }
  return 0;
}

/* Issues one collective on stream s (NULL: blocking). */
static int issue(ctx_t *c, int inplace, size_t count, weftDataType_t dt, weftRedOp_t op,
                 weftStream_t s) {
  char *sb, *rb;
  call_buffers(c, inplace, count, weft_dtype_size(dt), &sb, &rb);
  int root = c->o->root;
  switch (c->o->coll) {
  case C_ALLREDUCE: WCALL(c, weftAllReduce(sb, rb, count, dt, op, c->comm, s)); break;
  case C_ALLGATHER: WCALL(c, weftAllGather(sb, rb, count, dt, c->comm, s)); break;
  case C_REDUCESCATTER: WCALL(c, weftReduceScatter(sb, rb, count, dt, op, c->comm, s)); break;
  case C_BROADCAST: WCALL(c, weftBroadcast(sb, rb, count, dt, root, c->comm, s)); break;
  case C_REDUCE: WCALL(c, weftReduce(sb, rb, count, dt, op, root, c->comm, s)); break;
  case C_ALLTOALL: WCALL(c, weftAllToAll(sb, rb, count, dt, c->comm, s)); break;
  case C_GATHER: WCALL(c, weftGather(sb, rb, count, dt, root, c->comm, s)); break;
  case C_SCATTER: WCALL(c, weftScatter(sb, rb, count, dt, root, c->comm, s)); break;
  case C_BARRIER: WCALL(c, weftBarrier(c->comm, s)); break;
  case C_ALLGATHERV:
  case C_REDUCESCATTERV:
  case C_ALLTOALLV: return issue_v(c, sb, rb, count, dt, op, s);
  case C_SENDRECV: {
    int n = c->nranks, next = (c->rank + 1) % n, prev = (c->rank + n - 1) % n;
    WCALL(c, weftGroupStart());
    weftResult_t r = weftSend(sb, count, dt, next, c->comm, s);
    if (r != weftSuccess) {
      report(c, "weftSend", r, __LINE__);
      (void)weftGroupEnd();
      return -1;
    }
    r = weftRecv(rb, count, dt, prev, c->comm, s);
    if (r != weftSuccess) {
      report(c, "weftRecv", r, __LINE__);
      (void)weftGroupEnd();
      return -1;
    }
    WCALL(c, weftGroupEnd());
    break;
  }
  default: return -1;
  }
  return 0;
}

static int barrier(ctx_t *c) {
  int32_t one = 1;
  WCALL(c, weftAllReduce(&one, &one, 1, weftInt32, weftSum, c->comm, NULL));
  return 0;
}

/* Fills the whole send and receive buffers with valid values (timing runs). */
static int fill_all(ctx_t *c, weftDataType_t dt, weftRedOp_t op) {
  /* a device's buffers are filled from this host mirror (sync_device) */
  size_t ws = weft_dtype_size(dt), n = c->bufbytes / ws;
  int kind = perf_gen_kind(COLLS[c->o->coll].has_op, op);
  for (size_t i = 0; i < n; i++) {
    perf_store(c->sendbuf, i, dt, perf_gen(kind, dt, c->rank, c->nranks, i));
    perf_store(c->recvbuf, i, dt, perf_gen(kind, dt, c->rank, c->nranks, i));
  }
  return sync_device(c, 1, c->bufbytes);
}

/* Inputs of the check run: receive area poisoned, then the send data. */
static int fill_check(ctx_t *c, int inplace, const counts_t *k, weftDataType_t dt,
                      weftRedOp_t op) {
  size_t ws = weft_dtype_size(dt);
  size_t span = (k->sendcount > k->recvcount ? k->sendcount : k->recvcount) * ws;
  char *sb, *rb;
  buffers(c, inplace, k->param, ws, &sb, &rb);
  memset(c->recvbuf, 0xA5, span);
  int kind = perf_gen_kind(COLLS[c->o->coll].has_op, op);
  for (size_t i = 0; i < k->sendcount; i++) perf_store(sb, i, dt, perf_gen(kind, dt, c->rank, c->nranks, i));
  /* a non-root of gather or scatter has no in-place form: its send data is in sendbuf */
  int in_recvbuf = inplace && (!rooted_blocks(c->o->coll) || c->rank == c->o->root);
  size_t sent = (size_t)(sb - (in_recvbuf ? c->recvbuf : c->sendbuf)) + k->sendcount * ws;
  return sync_device(c, 1, span > sent ? span : sent);
}

/* Allowed error of a reduction that crossed a lossy WAN codec (the suffix
 * of weft_debug_last_algo): every partial and result of the check data is at
 * most 3n in magnitude, and each value is encoded at most twice per site
 * (docs/codecs.md). Negative: not checkable (topk drops values by design). */
static double codec_tolerance(const char *algo, int n) {
  const char *cdc = strrchr(algo, '/');
  double m = 3.0 * n;
  if (!cdc) return 0;
  if (!strcmp(cdc, "/fp16")) return m * n / 1024.0;
  if (!strcmp(cdc, "/bf16")) return m * n / 128.0;
  if (!strcmp(cdc, "/int8")) return m * n / 254.0;
  if (!strcmp(cdc, "/topk")) return -1;
  return 0;
}

static int near(double got, double want, double tol) { return tol == 0 ? got == want : fabs(got - want) <= tol; }

/* Mismatches of the last call's result on this rank; NOT_CHECKED when the
 * result cannot be checked (a topk WAN codec drops values by design). */
#define NOT_CHECKED UINT64_MAX
static uint64_t check_result(ctx_t *c, int inplace, const counts_t *k, weftDataType_t dt,
                             weftRedOp_t op) {
  size_t ws = weft_dtype_size(dt), cnt = k->param;
  char *sb, *rb;
  buffers(c, inplace, cnt, ws, &sb, &rb);
  int n = c->nranks, r = c->rank, kind = perf_gen_kind(COLLS[c->o->coll].has_op, op);
  uint64_t wrong = 0;
  switch (c->o->coll) {
  case C_REDUCE:
    if (r != c->o->root) break;
    /* fall through */
  case C_ALLREDUCE: {
    double tol = c->o->coll == C_ALLREDUCE ? codec_tolerance(weft_debug_last_algo(c->comm), n) : 0;
    if (tol < 0) return NOT_CHECKED;
    for (size_t i = 0; i < cnt; i++)
      wrong += !near(perf_load(rb, i, dt), perf_expect_red(kind, op, dt, n, i), tol);
    break;
  }
  case C_REDUCESCATTER: {
    double tol = codec_tolerance(weft_debug_last_algo(c->comm), n);
    if (tol < 0) return NOT_CHECKED;
    for (size_t i = 0; i < cnt; i++)
      wrong += !near(perf_load(rb, i, dt), perf_expect_red(kind, op, dt, n, (size_t)r * cnt + i), tol);
    break;
  }
  case C_ALLGATHER:
    for (int q = 0; q < n; q++)
      for (size_t i = 0; i < cnt; i++)
        wrong += perf_load(rb, (size_t)q * cnt + i, dt) != perf_roundtrip(perf_gen(kind, dt, q, n, i), dt);
    break;
  case C_BROADCAST:
    for (size_t i = 0; i < cnt; i++)
      wrong += perf_load(rb, i, dt) != perf_roundtrip(perf_gen(kind, dt, c->o->root, n, i), dt);
    break;
  case C_ALLTOALL:
    for (int q = 0; q < n; q++)
      for (size_t i = 0; i < cnt; i++)
        wrong += perf_load(rb, (size_t)q * cnt + i, dt) !=
                 perf_roundtrip(perf_gen(kind, dt, q, n, (size_t)r * cnt + i), dt);
    break;
  case C_SENDRECV:
    for (size_t i = 0; i < cnt; i++)
      wrong += perf_load(rb, i, dt) != perf_roundtrip(perf_gen(kind, dt, (r + n - 1) % n, n, i), dt);
    break;
  case C_GATHER:
    for (int q = 0; q < n && r == c->o->root; q++)
      for (size_t i = 0; i < cnt; i++)
        wrong += perf_load(rb, (size_t)q * cnt + i, dt) != perf_roundtrip(perf_gen(kind, dt, q, n, i), dt);
    break;
  case C_SCATTER:
    for (size_t i = 0; i < cnt; i++)
      wrong += perf_load(rb, i, dt) != perf_roundtrip(perf_gen(kind, dt, c->o->root, n, (size_t)r * cnt + i), dt);
    break;
  case C_ALLGATHERV:
    for (int q = 0; q < n; q++)
      for (size_t i = 0, at = vstart(cnt, n, q); i < vblock(cnt, n, q); i++)
        wrong += perf_load(rb, at + i, dt) != perf_roundtrip(perf_gen(kind, dt, q, n, i), dt);
    break;
  case C_REDUCESCATTERV: {
    double tol = codec_tolerance(weft_debug_last_algo(c->comm), n);
    if (tol < 0) return NOT_CHECKED;
    for (size_t i = 0, at = vstart(cnt, n, r); i < vblock(cnt, n, r); i++)
      wrong += !near(perf_load(rb, i, dt), perf_expect_red(kind, op, dt, n, at + i), tol);
    break;
  }
  case C_ALLTOALLV:
    for (int q = 0; q < n; q++) {
      size_t at = a2av_rdispl(cnt, n, r, q), from = a2av_sdispl(cnt, n, q, r);
      for (size_t i = 0; i < a2av_count(cnt, n, q, r); i++)
        wrong += perf_load(rb, at + i, dt) != perf_roundtrip(perf_gen(kind, dt, q, n, from + i), dt);
    }
    break;
  default: break;
  }
  return wrong;
}

static int sync_stream(ctx_t *c, weftStream_t s) {
  if (s) WCALL(c, weftStreamSynchronize(s));
  return 0;
}

/* One timed measurement plus its check run. *us: aggregated time per
 * iteration; *wrong: global mismatch count (0 without -c; NOT_CHECKED when
 * some rank could not check). */
static int bench(ctx_t *c, int inplace, const counts_t *k, weftDataType_t dt, weftRedOp_t op,
                 double *us, uint64_t *wrong, char *algo, size_t algolen) {
  const opts_t *o = c->o;
  weftStream_t s = o->blocking ? NULL : c->stream;

  for (int it = 0; it < o->warmup; it++)
    if (issue(c, inplace, k->param, dt, op, s)) return -1;
  if (sync_stream(c, s) || barrier(c)) return -1;

  double t0 = perf_now_s();
  for (int it = 0; it < o->iters; it++)
    if (issue(c, inplace, k->param, dt, op, s)) return -1;
  if (sync_stream(c, s)) return -1;
  double t = (perf_now_s() - t0) / o->iters;

  if (algo) {
    const char *a = weft_debug_last_algo(c->comm);
    snprintf(algo, algolen, "%s", a && *a ? a : "-");
  }

  if (o->agg != 0) {
    weftRedOp_t aop = o->agg == 2 ? weftMin : o->agg == 3 ? weftMax : weftSum;
    WCALL(c, weftAllReduce(&t, &t, 1, weftDouble, aop, c->comm, NULL));
    if (o->agg == 1) t /= c->nranks;
  }
  *us = t * 1e6;

  *wrong = 0;
  if (o->check) {
    size_t span = (k->sendcount > k->recvcount ? k->sendcount : k->recvcount) * weft_dtype_size(dt);
    if (fill_check(c, inplace, k, dt, op)) return -1;
    if (issue(c, inplace, k->param, dt, op, s) || sync_stream(c, s) || sync_device(c, 0, span)) return -1;
    uint64_t w = check_result(c, inplace, k, dt, op);
    uint64_t v[2] = {w == NOT_CHECKED ? 0 : w, w == NOT_CHECKED};
    WCALL(c, weftAllReduce(v, v, 2, weftUint64, weftSum, c->comm, NULL));
    *wrong = v[1] ? NOT_CHECKED : v[0];
  }
  return 0;
}

/* --json: one result ("out_of_place" or "in_place") of a row; wrong is null
 * where nothing was checked. */
static void json_result(FILE *f, const char *name, double us, double size, double factor, int check,
                        uint64_t wrong) {
  double algbw = us > 0 ? size / 1e9 / (us * 1e-6) : 0.0;
  fprintf(f, "\"%s\": {\"time_us\": %.3f, \"algbw_GBps\": %.6f, \"busbw_GBps\": %.6f, \"wrong\": ", name, us, algbw,
          algbw * factor);
  if (check && wrong != NOT_CHECKED) fprintf(f, "%llu}", (unsigned long long)wrong);
  else fputs("null}", f);
}

typedef struct {
  int32_t pid;
  char host[60];
  char dev[160]; /* -D: the device of this rank's buffers */
} rank_info_t;

static void print_header(ctx_t *c, const rank_info_t *info) {
  const opts_t *o = c->o;
  int v = 0;
  char ver[32] = "?";
  if (weftGetVersion(&v) == weftSuccess)
    snprintf(ver, sizeof ver, "%d.%d.%d", v / 10000, (v / 100) % 100, v % 100);
  const char *net = getenv("WEFT_NET"), *algo = getenv("WEFT_ALGO");
  const char *codec = getenv("WEFT_CODEC"), *tenv = getenv("WEFT_TIMEOUT");
  static const char *aggname[] = {"rank 0", "avg", "min", "max"};

  printf("# nThread 1 nGpus 1 minBytes %zu maxBytes %zu step: %zu(%s) warmup iters: %d iters: %d "
         "agg iters: 1 validation: %d graph: 0\n",
         o->minbytes, o->maxbytes, o->stepfactor > 1 ? (size_t)o->stepfactor : o->stepbytes,
         o->stepfactor > 1 ? "factor" : "bytes", o->warmup, o->iters, o->check);
  printf("#\n");
  printf("# Using devices\n");
  for (int r = 0; r < c->nranks; r++)
    printf("#  Rank %2d Pid %6d on %s%s%s\n", r, (int)info[r].pid, info[r].host, info[r].dev[0] ? " device " : "",
           info[r].dev);
  printf("#\n");
  printf("# weft %s: transport %s, timeout %.1f s%s, ", ver, net && *net ? net : "auto",
         weft_env_timeout_ms() / 1000.0, tenv && *tenv ? " (WEFT_TIMEOUT)" : "");
  if (algo && *algo) printf("WEFT_ALGO=%s, ", algo);
  if (codec && *codec) printf("WEFT_CODEC=%s, ", codec);
  printf("nranks %d, %s, time %s over ranks\n", c->nranks,
         o->blocking ? "blocking (NULL stream)" : "weft stream", aggname[o->agg]);
  printf("#\n");
  perf_print_columns(1);
  fflush(stdout);
}

/* The benchmark proper; returns 0, 1 (wrong results) or -1 (a weft call failed). */
static int run(ctx_t *c) {
  const opts_t *o = c->o;
  int n = c->nranks, me = c->rank == 0;

  if (COLLS[o->coll].has_root && o->root >= n) {
    if (me) fprintf(stderr, "weft-perf: root %d out of range for %d ranks\n", o->root, n);
    return 2;
  }

  rank_info_t mine, *all = calloc((size_t)n, sizeof *all);
  if (!all) return -1;
  memset(&mine, 0, sizeof mine);
  mine.pid = (int32_t)getpid();
  if (gethostname(mine.host, sizeof mine.host - 1) != 0) strcpy(mine.host, "?");
  if (o->device[0]) {
    c->dev = weft_debug_comm_device(c->comm);
    if (c->dev) weft_dev_describe(c->dev, mine.dev, sizeof mine.dev);
  }
  weftResult_t r = weftAllGather(&mine, all, sizeof mine, weftUint8, c->comm, NULL);
  if (r != weftSuccess) {
    report(c, "weftAllGather(rank info)", r, __LINE__);
    free(all);
    return -1;
  }
  if (me) print_header(c, all);
  free(all);

  c->bufbytes = (o->maxbytes + 4095) / 4096 * 4096;
  if (c->bufbytes == 0) c->bufbytes = 4096;
  void *p1 = NULL, *p2 = NULL;
  if (posix_memalign(&p1, 4096, c->bufbytes) || posix_memalign(&p2, 4096, c->bufbytes)) {
    fprintf(stderr, "weft-perf: rank %d: cannot allocate 2 x %zu bytes\n", c->rank, c->bufbytes);
    free(p1);
    return -1;
  }
  c->sendbuf = p1;
  c->recvbuf = p2;
  if (c->dev && !weft_dev_is_host(c->dev)) {
    if (!c->dev->ops->memAlloc || c->dev->ops->memAlloc(c->dev->ctx, c->bufbytes, &c->dsend) != weftSuccess ||
        c->dev->ops->memAlloc(c->dev->ctx, c->bufbytes, &c->drecv) != weftSuccess) {
      fprintf(stderr, "weft-perf: rank %d: cannot allocate 2 x %zu bytes on device %s: %s\n", c->rank, c->bufbytes,
              c->dev->name, c->dev->ops->memAlloc ? c->dev->ops->lastError(c->dev->ctx) : "no memAlloc");
      return -1;
    }
  }

  if (!(c->v = malloc(4 * (size_t)n * sizeof *c->v))) {
    fprintf(stderr, "weft-perf: rank %d: out of memory\n", c->rank);
    return -1;
  }
  if (!o->blocking) WCALL(c, weftStreamCreate(&c->stream));

  double bwsum = 0;
  long bwcount = 0;
  uint64_t total_wrong = 0, unchecked = 0;
  FILE *js = NULL;
  if (me && o->json && !(js = fopen(o->json, "w"))) {
    fprintf(stderr, "weft-perf: cannot write %s\n", o->json);
    return -1;
  }
  if (js) fprintf(js, "{\"collective\": \"%s\", \"nranks\": %d, \"blocking\": %d, \"rows\": [", COLLS[o->coll].name, n,
                  o->blocking);
  int jrows = 0;
  int nops = COLLS[o->coll].has_op ? o->nops : 1;
  for (int ti = 0; ti < o->ndtypes; ti++) {
    weftDataType_t dt = (weftDataType_t)o->dtypes[ti];
    size_t ws = weft_dtype_size(dt);
    for (int oi = 0; oi < nops; oi++) {
      weftRedOp_t op = COLLS[o->coll].has_op ? (weftRedOp_t)o->ops[oi] : weftSum;
      if (fill_all(c, dt, op)) return -1;
      for (size_t size = o->minbytes; size <= o->maxbytes;) {
        counts_t k = get_counts(o->coll, size, ws, n, c->rank);
        size_t bytes = (k.sendcount > k.recvcount ? k.sendcount : k.recvcount) * ws;
        double factor = bus_factor(o->coll, n), us = 0;
        uint64_t wrong = 0;
        char algo[64];
        if (me)
          printf("%12zu  %12zu  %8s  %6s  %6d", bytes, k.param, weft_dtype_name(dt),
                 /* nccl-tests prints sum where there is no operation */
                 COLLS[o->coll].has_op ? weft_op_name(op) : "sum",
                 COLLS[o->coll].has_root ? o->root : -1);
        if (bench(c, 0, &k, dt, op, &us, &wrong, algo, sizeof algo)) {
          if (me) printf("\n");
          return -1;
        }
        if (wrong == NOT_CHECKED) unchecked++;
        else total_wrong += wrong;
        /* a barrier has no data to check */
        int checked = o->check && o->coll != C_BARRIER;
        if (me) perf_print_time(us, (double)bytes, factor, checked && wrong != NOT_CHECKED, wrong);
        if (js) {
          fprintf(js, "%s\n  {\"size\": %zu, \"count\": %zu, \"type\": \"%s\", \"redop\": \"%s\", \"root\": %d, ",
                  jrows++ ? "," : "", bytes, k.param, weft_dtype_name(dt),
                  COLLS[o->coll].has_op ? weft_op_name(op) : "sum", COLLS[o->coll].has_root ? o->root : -1);
          json_result(js, "out_of_place", us, (double)bytes, factor, checked, wrong);
        }
        bwsum += us > 0 ? (double)bytes / 1e9 / (us * 1e-6) * factor : 0.0;
        bwcount++;
        if (COLLS[o->coll].inplace) {
          if (bench(c, 1, &k, dt, op, &us, &wrong, NULL, 0)) {
            if (me) printf("\n");
            return -1;
          }
          if (wrong == NOT_CHECKED) unchecked++;
          else total_wrong += wrong;
          if (me) perf_print_time(us, (double)bytes, factor, o->check && wrong != NOT_CHECKED, wrong);
          if (js) {
            fputs(", ", js);
            json_result(js, "in_place", us, (double)bytes, factor, o->check, wrong);
          }
          bwsum += us > 0 ? (double)bytes / 1e9 / (us * 1e-6) * factor : 0.0;
          bwcount++;
        } else if (me) {
          printf("  %7s  %6s  %6s  %5s", "N/A", "N/A", "N/A", "N/A");
        }
        if (js) fprintf(js, ", \"algo\": \"%s\"}", algo);
        if (me) {
          printf("  %s\n", algo);
          fflush(stdout);
        }
        if (o->coll == C_BARRIER) break; /* one row: the size means nothing to it */
        size_t next = perf_next_size(size, o->stepfactor, o->stepbytes);
        if (next == 0) break;
        size = next;
      }
    }
  }
  if (me) {
    if (unchecked)
      printf("# Out of bounds values : %" PRIu64 " %s (%" PRIu64 " result(s) not checked, #wrong N/A: the topk "
             "codec drops values by design)\n", total_wrong, total_wrong ? "FAILED" : "OK", unchecked);
    else
      printf("# Out of bounds values : %" PRIu64 " %s\n", total_wrong, total_wrong ? "FAILED" : "OK");
    printf("# Avg bus bandwidth    : %g \n", bwcount ? bwsum / bwcount : 0.0);
    printf("#\n");
    fflush(stdout);
  }
  if (js) {
    fprintf(js, "\n], \"wrong\": %llu, \"not_checked\": %llu, \"avg_busbw_GBps\": %g}\n",
            (unsigned long long)total_wrong, (unsigned long long)unchecked, bwcount ? bwsum / bwcount : 0.0);
    fclose(js);
  }
  return total_wrong ? 1 : 0;
}

/* Runs on an initialized comm, then tears everything down. Exit status:
 * 0 ok, 1 wrong results, 2 failure. */
static int run_and_finish(ctx_t *c) {
  int rc = run(c);
  if (rc < 0) {
    /* Fail fast: aborting closes our connections so peers error out too. */
    (void)weftCommAbort(c->comm);
    return 2;
  }
  if (c->stream) {
    weftResult_t r = weftStreamDestroy(c->stream);
    if (r != weftSuccess) {
      report(c, "weftStreamDestroy", r, __LINE__);
      rc = 2;
    }
  }
  /* the device goes with the comm: its buffers first */
  if (c->dsend) c->dev->ops->memFree(c->dev->ctx, c->dsend);
  if (c->drecv) c->dev->ops->memFree(c->dev->ctx, c->drecv);
  weftResult_t r = weftCommDestroy(c->comm);
  if (r != weftSuccess) {
    c->comm = NULL;
    report(c, "weftCommDestroy", r, __LINE__);
    rc = 2;
  }
  free(c->sendbuf);
  free(c->recvbuf);
  free(c->v);
  return rc;
}

/* -G / -S: the fake node or site of this rank, through the variables weft reads. */
static void set_fake_layout(const opts_t *o, int rank) {
  static const char *const var[2] = {"WEFT_HOST_ID", "WEFT_SITE"}, *const prefix[2] = {"node", "site"};
  for (int level = 0; level < 2; level++) {
    const int *sizes = o->layout[level];
    if (!sizes[0]) continue;
    int g = 0, acc = sizes[0];
    while (rank >= acc && sizes[g + 1]) acc += sizes[++g];
    char name[32];
    snprintf(name, sizeof name, "%s%d", prefix[level], g);
    setenv(var[level], name, 1);
    /* a node cannot span two sites: without -G, one fake node per site */
    if (level == 1 && !o->layout[0][0]) setenv(var[0], name, 1);
  }
}

/* -D A,B,...: rank r's device is item r mod the number of items (mixed
 * communicators); 0 when -D was not given. */
static int rank_device(const opts_t *o, int rank, char *dev, size_t len) {
  if (!o->device[0]) return 0;
  int k = 1;
  for (const char *p = o->device; *p; p++) k += *p == ',';
  const char *p = o->device;
  for (int i = rank % k; i > 0; i--) p = strchr(p, ',') + 1;
  size_t n = strcspn(p, ",");
  snprintf(dev, len, "%.*s", (int)(n < len ? n : len - 1), p);
  return 1;
}

static int launched_rank(int rank, int nranks, const weftUniqueId *id, void *arg) {
  set_fake_layout(arg, rank);
  char dev[64];
  if (rank_device(arg, rank, dev, sizeof dev)) setenv("WEFT_DEVICE", dev, 1);
  ctx_t c;
  memset(&c, 0, sizeof c);
  c.o = arg;
  c.rank = rank;
  c.nranks = nranks;
  weftResult_t r = weftCommInitRank(&c.comm, nranks, *id, rank);
  if (r != weftSuccess) {
    c.comm = NULL;
    report(&c, "weftCommInitRank", r, __LINE__);
    return 2;
  }
  return run_and_finish(&c);
}

static int env_rank(const opts_t *o) {
  ctx_t c;
  memset(&c, 0, sizeof c);
  c.o = o;
  c.rank = -1; /* for messages until the comm knows: the launcher's variable */
  static const char *const rank_vars[] = {"WEFT_RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK",
                                          "SLURM_PROCID", "RANK"};
  for (size_t i = 0; i < sizeof rank_vars / sizeof rank_vars[0] && c.rank < 0; i++) {
    const char *v = getenv(rank_vars[i]);
    if (v && *v) c.rank = atoi(v);
  }
  weftConfig_t cfg = WEFT_CONFIG_INITIALIZER;
  char dev[64];
  if (rank_device(o, c.rank < 0 ? 0 : c.rank, dev, sizeof dev)) cfg.device = dev;
  weftResult_t r = weftCommInitFromEnv(&c.comm, &cfg);
  if (r != weftSuccess) {
    c.comm = NULL;
    report(&c, "weftCommInitFromEnv", r, __LINE__);
    return 2;
  }
  if ((r = weftCommUserRank(c.comm, &c.rank)) != weftSuccess) {
    report(&c, "weftCommUserRank", r, __LINE__);
    (void)weftCommAbort(c.comm);
    return 2;
  }
  if ((r = weftCommCount(c.comm, &c.nranks)) != weftSuccess) {
    report(&c, "weftCommCount", r, __LINE__);
    (void)weftCommAbort(c.comm);
    return 2;
  }
  return run_and_finish(&c);
}

/* --trace with -np: joins the ranks' trace files (JSON arrays of events)
 * into one array in out, the ranks as processes of one timeline, and
 * removes them. 0, or -1 with why on stderr. */
static int merge_traces(const char *out, int np) {
  FILE *f = fopen(out, "w");
  if (!f) {
    fprintf(stderr, "weft-perf: cannot write %s\n", out);
    return -1;
  }
  fputs("[", f);
  int first = 1, rc = 0;
  for (int r = 0; r < np; r++) {
    char part[4200];
    snprintf(part, sizeof part, "%s.part%d", out, r);
    FILE *in = fopen(part, "r");
    if (!in) {
      fprintf(stderr, "weft-perf: rank %d wrote no trace (%s)\n", r, part);
      rc = -1;
      continue;
    }
    /* the events between the file's outer brackets */
    int c, depth = 0, any = 0;
    while ((c = fgetc(in)) != EOF) {
      if (c == '[' && depth++ == 0) continue;
      if (c == ']' && --depth == 0) break;
      if (depth == 0) continue;
      if (!any && (c == '\n' || c == ' ')) continue;
      if (!any && !first) fputc(',', f);
      any = 1;
      fputc(c, f);
    }
    first = first && !any;
    fclose(in);
    remove(part);
  }
  fputs("\n]\n", f);
  fclose(f);
  return rc;
}

int main(int argc, char **argv) {
  opts_t o;
  int pr = parse_args(argc, argv, &o);
  if (pr > 0) {
    usage(stdout);
    return 0;
  }
  if (pr < 0) {
    fprintf(stderr, "Try 'weft-perf -h' for the flags.\n");
    return 2;
  }
  if ((o.layout[0][0] || o.layout[1][0]) && o.np == 0) {
    fprintf(stderr, "weft-perf: -G and -S need -np (the launcher sets each rank's node and site)\n");
    return 2;
  }
  char trace_env[4200];
  if (o.trace) { /* -np: parts merged below; from a launcher: one file per rank */
    snprintf(trace_env, sizeof trace_env, o.np > 0 ? "%s.part%%r" : "%s.rank%%r.json", o.trace);
    setenv("WEFT_TRACE", trace_env, 1);
  }
  if (o.np > 0) {
    int *status = calloc((size_t)o.np, sizeof *status);
    if (!status) return 2;
    int failed = weft_launch_fork(o.np, launched_rank, &o, o.timeout_s, status);
    int rc = 0; /* 1 when the only problem was wrong results, 2 otherwise */
    for (int r = 0; failed && r < o.np; r++)
      if (status[r] != 0) rc = status[r] == 1 && rc <= 1 ? 1 : 2;
    free(status);
    if (o.trace && merge_traces(o.trace, o.np) != 0 && rc == 0) rc = 2;
    return rc;
  }
  return env_rank(&o);
}
