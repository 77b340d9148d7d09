/*
 * weft-mpi-perf — the MPI peer of weft-perf: same flags, same nccl-tests
 * style output, so bench/compare.sh can put the two side by side.
 *
 *   mpirun -np N weft-mpi-perf <coll> [-b -e -f -i -n -w -c -d -o -r -a]
 *
 * coll -> MPI call:
 *   allreduce     MPI_Allreduce             allgather  MPI_Allgather
 *   reducescatter MPI_Reduce_scatter_block  broadcast  MPI_Bcast
 *   reduce        MPI_Reduce                alltoall   MPI_Alltoall
 *   sendrecv      MPI_Sendrecv to rank+1 from rank-1 (in-place: MPI_Sendrecv_replace)
 * In-place runs use MPI_IN_PLACE (MPI_Reduce_scatter_block leaves its result
 * at the start of the buffer). MPI_Bcast has a single buffer, so both of its
 * columns measure the same call.
 *
 * Sizes, counts, algbw/busbw and time formatting follow nccl-tests exactly as
 * weft-perf does (see the comment at the top of bench/weft_perf.c). Times are
 * clock_gettime(CLOCK_MONOTONIC) around the loop of blocking calls, after a
 * barrier, averaged across ranks by default (-a).
 *
 * Only datatypes MPI has natively: half/bfloat16 are skipped with a message,
 * as is the avg operation (MPI has no MPI_AVG).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/perf_data.h"
#include "util/size.h"

static MPI_Datatype mpi_type(int t) {
  switch (t) {
  case PD_INT8: return MPI_INT8_T;
  case PD_UINT8: return MPI_UINT8_T;
  case PD_INT32: return MPI_INT32_T;
  case PD_UINT32: return MPI_UINT32_T;
  case PD_INT64: return MPI_INT64_T;
  case PD_UINT64: return MPI_UINT64_T;
  case PD_FLOAT: return MPI_FLOAT;
  case PD_DOUBLE: return MPI_DOUBLE;
  default: return MPI_DATATYPE_NULL;
  }
}

static MPI_Op mpi_op(int o) {
  switch (o) {
  case PD_SUM: return MPI_SUM;
  case PD_PROD: return MPI_PROD;
  case PD_MAX: return MPI_MAX;
  case PD_MIN: return MPI_MIN;
  default: return MPI_OP_NULL;
  }
}

/* ------------------------------------------------------------------ */
/* Collectives and options                                             */
/* ------------------------------------------------------------------ */
typedef enum {
  C_ALLREDUCE,
  C_ALLGATHER,
  C_REDUCESCATTER,
  C_BROADCAST,
  C_REDUCE,
  C_ALLTOALL,
  C_SENDRECV,
  C_NUM
} coll_t;

static const struct {
  const char *name;
  int has_op, has_root;
} COLLS[C_NUM] = {
    [C_ALLREDUCE] = {"allreduce", 1, 0}, [C_ALLGATHER] = {"allgather", 0, 0},
    [C_REDUCESCATTER] = {"reducescatter", 1, 0}, [C_BROADCAST] = {"broadcast", 0, 1},
    [C_REDUCE] = {"reduce", 1, 1},       [C_ALLTOALL] = {"alltoall", 0, 0},
    [C_SENDRECV] = {"sendrecv", 0, 0},
};

static double bus_factor(coll_t c, int n) {
  switch (c) {
  case C_ALLREDUCE: return 2.0 * (n - 1) / n;
  case C_ALLGATHER:
  case C_REDUCESCATTER:
  case C_ALLTOALL: return (double)(n - 1) / n;
  default: return 1.0;
  }
}

typedef struct {
  coll_t coll;
  size_t minbytes, maxbytes, stepbytes;
  long stepfactor;
  int iters, warmup, check, root, agg;
  int dtypes[PD_NTYPES], ndtypes;
  int ops[PD_NOPS], nops;
} opts_t;

static void usage(FILE *f) {
  fprintf(f,
          "usage: mpirun -np N weft-mpi-perf <coll> [flags]\n"
          "  coll: allreduce allgather reducescatter broadcast reduce alltoall sendrecv\n"
          "  -b B   minimum size in bytes, K/M/G suffixes (default 32M)\n"
          "  -e B   maximum size in bytes (default 32M)\n"
          "  -f F   multiplication factor between sizes\n"
          "  -i B   increment between sizes (default 1M; used when -f is not > 1)\n"
          "  -n N   timed iterations (default 20)\n"
          "  -w N   warmup iterations (default 5)\n"
          "  -c 0/1 check results (default 1)\n"
          "  -d T   datatype: int8 uint8 int32 uint32 int64 uint64 float double, or all\n"
          "         (half and bfloat16 are not MPI datatypes: skipped)\n"
          "  -o OP  reduction: sum prod max min, or all (avg has no MPI op: skipped)\n"
          "  -r R   root for broadcast/reduce (default 0)\n"
          "  -a A   time aggregation across ranks: 0 rank 0, 1 avg, 2 min, 3 max (default 1)\n"
          "  -z X   accepted for weft-perf compatibility, ignored (MPI calls block)\n"
          "  -h     this help\n");
}

/* Returns 0 to run, 1 for -h, -1 on error. Messages only when verbose. */
static int parse_args(int argc, char **argv, opts_t *o, int verbose) {
  memset(o, 0, sizeof *o);
  o->coll = C_NUM;
  o->minbytes = o->maxbytes = 32u << 20;
  o->stepbytes = 1u << 20;
  o->stepfactor = 1;
  o->iters = 20;
  o->warmup = 5;
  o->check = 1;
  o->agg = 1;
  o->dtypes[0] = PD_FLOAT;
  o->ndtypes = 1;
  o->ops[0] = PD_SUM;
  o->nops = 1;
  int all_types = 0, all_ops = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) return 1;
    if (a[0] != '-') {
      if (o->coll != C_NUM) {
        if (verbose) fprintf(stderr, "weft-mpi-perf: unexpected argument '%s'\n", a);
        return -1;
      }
      for (int c = 0; c < C_NUM; c++)
        if (!strcmp(a, COLLS[c].name)) o->coll = (coll_t)c;
      if (o->coll == C_NUM) {
        if (verbose) fprintf(stderr, "weft-mpi-perf: unknown collective '%s'\n", a);
        return -1;
      }
      continue;
    }
    if (!a[1] || !strchr("befinwcdoraz", a[1])) {
      if (verbose) fprintf(stderr, "weft-mpi-perf: unknown flag '%s'\n", a);
      return -1;
    }
    const char *val = a[2] ? a + 2 : NULL;
    if (!val) {
      if (i + 1 >= argc) {
        if (verbose) fprintf(stderr, "weft-mpi-perf: %s needs a value\n", a);
        return -1;
      }
      val = argv[++i];
    }
    long l = 0;
    int bad = 0;
    char why[160] = "";
    switch (a[1]) {
    case 'b': bad = weft_parse_size_t(val, &o->minbytes, why, sizeof why); break;
    case 'e': bad = weft_parse_size_t(val, &o->maxbytes, why, sizeof why); break;
    case 'i': bad = weft_parse_size_t(val, &o->stepbytes, why, sizeof why) || o->stepbytes == 0; break;
    case 'f': bad = perf_parse_long(val, 1, 1L << 20, &o->stepfactor); break;
    case 'n': bad = perf_parse_long(val, 1, INT_MAX, &l); o->iters = (int)l; break;
    case 'w': bad = perf_parse_long(val, 0, INT_MAX, &l); o->warmup = (int)l; break;
    case 'c': bad = perf_parse_long(val, 0, 1, &l); o->check = (int)l; break;
    case 'r': bad = perf_parse_long(val, 0, INT_MAX, &l); o->root = (int)l; break;
    case 'a': bad = perf_parse_long(val, 0, 3, &l); o->agg = (int)l; break;
    case 'z': bad = perf_parse_long(val, 0, 1, &l); break;
    case 'd':
      o->ndtypes = 0;
      if (!strcmp(val, "all")) {
        all_types = 1;
        for (int t = 0; t < PD_NTYPES; t++)
          if (mpi_type(t) != MPI_DATATYPE_NULL) o->dtypes[o->ndtypes++] = t;
      } else {
        int t = perf_type_parse(val);
        bad = t < 0;
        if (t >= 0 && mpi_type(t) != MPI_DATATYPE_NULL) o->dtypes[o->ndtypes++] = t;
        else if (t >= 0 && verbose)
          fprintf(stderr, "weft-mpi-perf: %s is not an MPI datatype: skipped\n", perf_type_names[t]);
      }
      break;
    case 'o':
      o->nops = 0;
      if (!strcmp(val, "all")) {
        all_ops = 1;
        for (int p = 0; p < PD_NOPS; p++)
          if (mpi_op(p) != MPI_OP_NULL) o->ops[o->nops++] = p;
      } else {
        int p = perf_op_parse(val);
        bad = p < 0;
        if (p >= 0 && mpi_op(p) != MPI_OP_NULL) o->ops[o->nops++] = p;
        else if (p >= 0 && verbose)
          fprintf(stderr, "weft-mpi-perf: %s has no MPI operation: skipped\n", perf_op_names[p]);
      }
      break;
    default: bad = 1; break;
    }
    if (bad) {
      if (verbose && why[0]) fprintf(stderr, "weft-mpi-perf: %s: %s\n", a, why);
      else if (verbose)
        fprintf(stderr, "weft-mpi-perf: bad value '%s' for %s\n", val, a);
      return -1;
    }
  }
  if (o->coll == C_NUM) {
    if (verbose) fprintf(stderr, "weft-mpi-perf: missing collective name\n");
    return -1;
  }
  if (o->maxbytes < o->minbytes) {
    if (verbose) fprintf(stderr, "weft-mpi-perf: maxbytes (-e) is smaller than minbytes (-b)\n");
    return -1;
  }
  if (verbose && all_types)
    fprintf(stderr, "weft-mpi-perf: -d all: half and bfloat16 skipped (not MPI datatypes)\n");
  if (verbose && all_ops && COLLS[o->coll].has_op)
    fprintf(stderr, "weft-mpi-perf: -o all: avg skipped (no MPI operation)\n");
  return 0;
}

/* ------------------------------------------------------------------ */
/* Running                                                             */
/* ------------------------------------------------------------------ */
typedef struct {
  const opts_t *o;
  int rank, nranks;
  char *sendbuf, *recvbuf;
  size_t bufbytes;
} ctx_t;

typedef struct {
  size_t param, sendcount, recvcount;
} counts_t;

static counts_t get_counts(coll_t coll, size_t size, size_t ws, int n) {
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
  default: k.param = k.sendcount = k.recvcount = count; break;
  }
  return k;
}

/* Where the input lies (sb) and where the result is read (rb). */
static void buffers(ctx_t *c, int inplace, size_t count, size_t ws, char **sb, char **rb) {
  *sb = c->sendbuf;
  *rb = c->recvbuf;
  if (c->o->coll == C_BROADCAST) { /* one buffer */
    *sb = c->recvbuf;
    return;
  }
  if (!inplace) return;
  *sb = c->recvbuf;
  if (c->o->coll == C_ALLGATHER) *sb = c->recvbuf + (size_t)c->rank * count * ws;
}

static int mpi_fail(ctx_t *c, const char *what, int err) {
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(err, msg, &len) != MPI_SUCCESS) snprintf(msg, sizeof msg, "error %d", err);
  fprintf(stderr, "weft-mpi-perf: rank %d: %s failed: %s\n", c->rank, what, msg);
  return -1;
}

#define MCALL(c, call)                              \
  do {                                              \
    int me_ = (call);                               \
    if (me_ != MPI_SUCCESS) return mpi_fail((c), #call, me_); \
  } while (0)

static int issue(ctx_t *c, int inplace, size_t count, int dt, int op) {
  if (count > INT_MAX) {
    fprintf(stderr, "weft-mpi-perf: count %zu exceeds MPI's int counts\n", count);
    return -1;
  }
  int cnt = (int)count, n = c->nranks, r = c->rank, root = c->o->root;
  MPI_Datatype t = mpi_type(dt);
  MPI_Op mop = COLLS[c->o->coll].has_op ? mpi_op(op) : MPI_OP_NULL;
  char *sb, *rb;
  buffers(c, inplace, count, perf_type_sizes[dt], &sb, &rb);
  const void *in = inplace ? MPI_IN_PLACE : sb;
  switch (c->o->coll) {
  case C_ALLREDUCE: MCALL(c, MPI_Allreduce(in, rb, cnt, t, mop, MPI_COMM_WORLD)); break;
  case C_ALLGATHER:
    if (inplace)
      MCALL(c, MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, rb, cnt, t, MPI_COMM_WORLD));
    else
      MCALL(c, MPI_Allgather(sb, cnt, t, rb, cnt, t, MPI_COMM_WORLD));
    break;
  case C_REDUCESCATTER: MCALL(c, MPI_Reduce_scatter_block(in, rb, cnt, t, mop, MPI_COMM_WORLD)); break;
  case C_BROADCAST: MCALL(c, MPI_Bcast(rb, cnt, t, root, MPI_COMM_WORLD)); break;
  case C_REDUCE:
    if (inplace && r != root) in = rb;
    MCALL(c, MPI_Reduce(in, rb, cnt, t, mop, root, MPI_COMM_WORLD));
    break;
  case C_ALLTOALL:
    if (inplace)
      MCALL(c, MPI_Alltoall(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, rb, cnt, t, MPI_COMM_WORLD));
    else
      MCALL(c, MPI_Alltoall(sb, cnt, t, rb, cnt, t, MPI_COMM_WORLD));
    break;
  case C_SENDRECV:
    if (inplace)
      MCALL(c, MPI_Sendrecv_replace(rb, cnt, t, (r + 1) % n, 0, (r + n - 1) % n, 0,
                                    MPI_COMM_WORLD, MPI_STATUS_IGNORE));
    else
      MCALL(c, MPI_Sendrecv(sb, cnt, t, (r + 1) % n, 0, rb, cnt, t, (r + n - 1) % n, 0,
                            MPI_COMM_WORLD, MPI_STATUS_IGNORE));
    break;
  default: return -1;
  }
  return 0;
}

static void fill_all(ctx_t *c, int dt, int op) {
  size_t ws = perf_type_sizes[dt], n = c->bufbytes / ws;
  int kind = perf_gen_kind(COLLS[c->o->coll].has_op, op);
  for (size_t i = 0; i < n; i++) {
    perf_store(c->sendbuf, i, dt, perf_gen(kind, dt, c->rank, c->nranks, i));
    perf_store(c->recvbuf, i, dt, perf_gen(kind, dt, c->rank, c->nranks, i));
  }
}

static void fill_check(ctx_t *c, int inplace, const counts_t *k, int dt, int op) {
  size_t ws = perf_type_sizes[dt];
  size_t span = (k->sendcount > k->recvcount ? k->sendcount : k->recvcount) * ws;
  char *sb, *rb;
  buffers(c, inplace, k->param, ws, &sb, &rb);
  memset(c->recvbuf, 0xA5, span);
  int kind = perf_gen_kind(COLLS[c->o->coll].has_op, op);
  for (size_t i = 0; i < k->sendcount; i++) perf_store(sb, i, dt, perf_gen(kind, dt, c->rank, c->nranks, i));
}

static uint64_t check_result(ctx_t *c, int inplace, const counts_t *k, int dt, int op) {
  size_t ws = perf_type_sizes[dt], cnt = k->param;
  char *sb, *rb;
  buffers(c, inplace, cnt, ws, &sb, &rb);
  int n = c->nranks, r = c->rank, kind = perf_gen_kind(COLLS[c->o->coll].has_op, op);
  uint64_t wrong = 0;
  switch (c->o->coll) {
  case C_REDUCE:
    if (r != c->o->root) break;
    /* fall through */
  case C_ALLREDUCE:
    for (size_t i = 0; i < cnt; i++) wrong += perf_load(rb, i, dt) != perf_expect_red(kind, op, dt, n, i);
    break;
  case C_REDUCESCATTER:
    for (size_t i = 0; i < cnt; i++)
      wrong += perf_load(rb, i, dt) != perf_expect_red(kind, op, dt, n, (size_t)r * cnt + i);
    break;
  case C_ALLGATHER:
    for (int q = 0; q < n; q++)
      for (size_t i = 0; i < cnt; i++)
        wrong += perf_load(rb, (size_t)q * cnt + i, dt) != perf_roundtrip(perf_gen(kind, dt, q, c->nranks, i), dt);
    break;
  case C_BROADCAST:
    for (size_t i = 0; i < cnt; i++)
      wrong += perf_load(rb, i, dt) != perf_roundtrip(perf_gen(kind, dt, c->o->root, c->nranks, i), dt);
    break;
  case C_ALLTOALL:
    for (int q = 0; q < n; q++)
      for (size_t i = 0; i < cnt; i++)
        wrong += perf_load(rb, (size_t)q * cnt + i, dt) !=
                 perf_roundtrip(perf_gen(kind, dt, q, c->nranks, (size_t)r * cnt + i), dt);
    break;
  case C_SENDRECV:
    for (size_t i = 0; i < cnt; i++)
      wrong += perf_load(rb, i, dt) != perf_roundtrip(perf_gen(kind, dt, (r + n - 1) % n, c->nranks, i), dt);
    break;
  default: break;
  }
  return wrong;
}

static int bench(ctx_t *c, int inplace, const counts_t *k, int dt, int op, double *us,
                 uint64_t *wrong) {
  const opts_t *o = c->o;
  for (int it = 0; it < o->warmup; it++)
    if (issue(c, inplace, k->param, dt, op)) return -1;
  MCALL(c, MPI_Barrier(MPI_COMM_WORLD));
  double t0 = perf_now_s();
  for (int it = 0; it < o->iters; it++)
    if (issue(c, inplace, k->param, dt, op)) return -1;
  double t = (perf_now_s() - t0) / o->iters;
  if (o->agg != 0) {
    MPI_Op aop = o->agg == 2 ? MPI_MIN : o->agg == 3 ? MPI_MAX : MPI_SUM;
    MCALL(c, MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, aop, MPI_COMM_WORLD));
    if (o->agg == 1) t /= c->nranks;
  }
  *us = t * 1e6;
  *wrong = 0;
  if (o->check) {
    fill_check(c, inplace, k, dt, op);
    if (issue(c, inplace, k->param, dt, op)) return -1;
    uint64_t w = check_result(c, inplace, k, dt, op);
    MCALL(c, MPI_Allreduce(MPI_IN_PLACE, &w, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD));
    *wrong = w;
  }
  return 0;
}

typedef struct {
  int32_t pid;
  char host[60];
} rank_info_t;

static void print_header(ctx_t *c, const rank_info_t *info) {
  const opts_t *o = c->o;
  static const char *aggname[] = {"rank 0", "avg", "min", "max"};
  char lib[MPI_MAX_LIBRARY_VERSION_STRING] = "?";
  int len = 0;
  if (MPI_Get_library_version(lib, &len) == MPI_SUCCESS) lib[strcspn(lib, ",\n")] = 0;
  printf("# nThread 1 nGpus 1 minBytes %zu maxBytes %zu step: %zu(%s) warmup iters: %d iters: %d "
         "agg iters: 1 validation: %d graph: 0\n",
         o->minbytes, o->maxbytes, o->stepfactor > 1 ? (size_t)o->stepfactor : o->stepbytes,
         o->stepfactor > 1 ? "factor" : "bytes", o->warmup, o->iters, o->check);
  printf("#\n");
  printf("# Using devices\n");
  for (int r = 0; r < c->nranks; r++)
    printf("#  Rank %2d Pid %6d on %s\n", r, (int)info[r].pid, info[r].host);
  printf("#\n");
  printf("# MPI: %s, nranks %d, blocking calls, time %s over ranks\n", lib, c->nranks,
         aggname[o->agg]);
  printf("#\n");
  perf_print_columns(0);
  fflush(stdout);
}

static int run(ctx_t *c) {
  const opts_t *o = c->o;
  int n = c->nranks, me = c->rank == 0;

  if (COLLS[o->coll].has_root && o->root >= n) {
    if (me) fprintf(stderr, "weft-mpi-perf: root %d out of range for %d ranks\n", o->root, n);
    return -1;
  }
  rank_info_t mine, *all = calloc((size_t)n, sizeof *all);
  if (!all) return -1;
  memset(&mine, 0, sizeof mine);
  mine.pid = (int32_t)getpid();
  if (gethostname(mine.host, sizeof mine.host - 1) != 0) strcpy(mine.host, "?");
  int err = MPI_Gather(&mine, (int)sizeof mine, MPI_BYTE, all, (int)sizeof mine, MPI_BYTE, 0,
                       MPI_COMM_WORLD);
  if (err != MPI_SUCCESS) {
    free(all);
    return mpi_fail(c, "MPI_Gather(rank info)", err);
  }
  if (me) print_header(c, all);
  free(all);

  c->bufbytes = (o->maxbytes + 4095) / 4096 * 4096;
  if (c->bufbytes == 0) c->bufbytes = 4096;
  void *p1 = NULL, *p2 = NULL;
  if (posix_memalign(&p1, 4096, c->bufbytes) || posix_memalign(&p2, 4096, c->bufbytes)) {
    fprintf(stderr, "weft-mpi-perf: rank %d: cannot allocate 2 x %zu bytes\n", c->rank,
            c->bufbytes);
    free(p1);
    return -1;
  }
  c->sendbuf = p1;
  c->recvbuf = p2;

  double bwsum = 0;
  long bwcount = 0;
  uint64_t total_wrong = 0;
  int nops = COLLS[o->coll].has_op ? o->nops : 1;
  for (int ti = 0; ti < o->ndtypes; ti++) {
    int dt = o->dtypes[ti];
    size_t ws = perf_type_sizes[dt];
    for (int oi = 0; oi < nops; oi++) {
      int op = COLLS[o->coll].has_op ? o->ops[oi] : PD_SUM;
      fill_all(c, dt, op);
      for (size_t size = o->minbytes; size <= o->maxbytes;) {
        counts_t k = get_counts(o->coll, size, ws, n);
        size_t bytes = (k.sendcount > k.recvcount ? k.sendcount : k.recvcount) * ws;
        double factor = bus_factor(o->coll, n), us = 0;
        uint64_t wrong = 0;
        if (me)
          printf("%12zu  %12zu  %8s  %6s  %6d", bytes, k.param, perf_type_names[dt],
                 COLLS[o->coll].has_op ? perf_op_names[op] : "sum", /* as nccl-tests and weft-perf print it */
                 COLLS[o->coll].has_root ? o->root : -1);
        for (int inplace = 0; inplace < 2; inplace++) {
          if (bench(c, inplace, &k, dt, op, &us, &wrong)) {
            if (me) printf("\n");
            return -1;
          }
          total_wrong += wrong;
          if (me) perf_print_time(us, (double)bytes, factor, o->check, wrong);
          bwsum += us > 0 ? (double)bytes / 1e9 / (us * 1e-6) * factor : 0.0;
          bwcount++;
        }
        if (me) {
          printf("\n");
          fflush(stdout);
        }
        size_t next = perf_next_size(size, o->stepfactor, o->stepbytes);
        if (next == 0) break;
        size = next;
      }
    }
  }
  if (me) {
    printf("# Out of bounds values : %" PRIu64 " %s\n", total_wrong, total_wrong ? "FAILED" : "OK");
    printf("# Avg bus bandwidth    : %g \n", bwcount ? bwsum / bwcount : 0.0);
    printf("#\n");
    fflush(stdout);
  }
  free(c->sendbuf);
  free(c->recvbuf);
  return total_wrong ? 1 : 0;
}

int main(int argc, char **argv) {
  if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
    fprintf(stderr, "weft-mpi-perf: MPI_Init failed\n");
    return 2;
  }
  /* Errors come back as codes so we can print them with the rank. */
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  ctx_t c;
  memset(&c, 0, sizeof c);
  MPI_Comm_rank(MPI_COMM_WORLD, &c.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &c.nranks);
  opts_t o;
  int pr = parse_args(argc, argv, &o, c.rank == 0);
  if (pr != 0) {
    if (c.rank == 0 && pr > 0) usage(stdout);
    if (c.rank == 0 && pr < 0) fprintf(stderr, "Try 'weft-mpi-perf -h' for the flags.\n");
    MPI_Finalize();
    return pr > 0 ? 0 : 2;
  }
  if (o.ndtypes == 0 || (COLLS[o.coll].has_op && o.nops == 0)) {
    if (c.rank == 0) fprintf(stderr, "weft-mpi-perf: nothing to run\n");
    MPI_Finalize();
    return 0;
  }
  c.o = &o;
  int rc = run(&c);
  if (rc < 0) MPI_Abort(MPI_COMM_WORLD, 2);
  MPI_Finalize();
  return rc;
}
