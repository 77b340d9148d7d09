/*
 * weft-gloo-perf — the Gloo peer of weft-perf: same flags, same nccl-tests
 * style columns, so bench/compare.sh --peer gloo can put the two side by side.
 *
 *   weft-gloo-perf -np N <coll> [-b -e -f -i -n -w -c -d -o -r -a -A -t]
 *   weft-gloo-perf <coll> -s DIR [...]   (ranks from the launcher's environment)
 *
 * Gloo's own algorithms over its TCP transport (-A picks, default all):
 *   allreduce      ring, ring-chunked, halving-doubling, bcube: Gloo's algorithm
 *                  classes (AllreduceRing, ...), built once per size and run
 *                  repeatedly, as Gloo's own benchmark does; they work in place,
 *                  so out of place each call is a copy into the result buffer
 *                  and the in-place run (what a caller of these classes does).
 *                  ub-ring, ub-bcube: the function API gloo::allreduce (the one
 *                  PyTorch's ProcessGroupGloo calls for CPU tensors), true out
 *                  of place, its buffers registered on every call.
 *                  With several algorithms each size runs them all; the row
 *                  shows the one with the best out-of-place time (its in-place
 *                  columns are that algorithm's), the algo column names it, and
 *                  a '#' line before the row gives every algorithm's times.
 *   allgather      ub-allgather: gloo::allgather (in place: no input buffer,
 *                  this rank's block already in the output).
 *   reducescatter  halving-doubling: ReduceScatterHalvingDoubling, in place on
 *                  the full buffer, each rank's block left at its start (as
 *                  MPI_Reduce_scatter_block in place; out of place: copy in, run).
 *   broadcast      ub-broadcast: gloo::broadcast (out of place: the root's input
 *                  is its send buffer; in place: one buffer).
 * reduce, alltoall and sendrecv are refused (Gloo has reduce and alltoall;
 * not wired here yet).
 *
 * Rendezvous: Gloo's file store (this Gloo has no TCP store). With -np N the
 * ranks are forked here with a fresh store directory and bind 127.0.0.1;
 * without it rank and size come from the same variables weftCommInitFromEnv
 * reads (WEFT_RANK/WEFT_NRANKS, OMPI_COMM_WORLD_*, PMI_*, SLURM_PROCID/
 * SLURM_NTASKS, RANK/WORLD_SIZE), the store is -s DIR (a directory every rank
 * sees) and the address this host's name, or GLOO_PERF_HOST; GLOO_SOCKET_IFNAME
 * picks an interface instead.
 *
 * Sizes, counts, algbw/busbw, data, checks and formatting are weft-perf's and
 * weft-mpi-perf's (see the top of bench/weft_perf.c). Only datatypes and ops
 * the peers share: half/bfloat16 and avg are skipped with a message.
 */
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <gloo/allgather.h>
#include <gloo/allreduce.h>
#include <gloo/allreduce_bcube.h>
#include <gloo/allreduce_halving_doubling.h>
#include <gloo/allreduce_ring.h>
#include <gloo/allreduce_ring_chunked.h>
#include <gloo/barrier.h>
#include <gloo/broadcast.h>
#include <gloo/reduce_scatter.h>
#include <gloo/rendezvous/context.h>
#include <gloo/rendezvous/file_store.h>
#include <gloo/transport/tcp/device.h>

extern "C" {
#include "common/perf_data.h"
#include "util/size.h"
}

namespace {

bool gloo_type(int t) { return t != PD_HALF && t != PD_BF16 && t >= 0 && t < PD_NTYPES; }
bool gloo_op(int o) { return o >= 0 && o < PD_AVG; }

/* ------------------------------------------------------------------ */
/* Collectives, algorithms and options                                 */
/* ------------------------------------------------------------------ */
enum coll_t { C_ALLREDUCE, C_ALLGATHER, C_REDUCESCATTER, C_BROADCAST, C_NUM };

const struct {
  const char *name;
  int has_op, has_root;
} COLLS[C_NUM] = {{"allreduce", 1, 0}, {"allgather", 0, 0}, {"reducescatter", 1, 0}, {"broadcast", 0, 1}};

enum algo_t { A_RING, A_RING_CHUNKED, A_HALVING_DOUBLING, A_BCUBE, A_UB_RING, A_UB_BCUBE, A_UB_ALLGATHER,
              A_UB_BROADCAST, A_NUM };
const char *const ALGO_NAMES[A_NUM] = {"ring",    "ring-chunked", "halving-doubling", "bcube",
                                       "ub-ring", "ub-bcube",     "ub-allgather",     "ub-broadcast"};

bool algo_fits(coll_t c, int a) {
  switch (c) {
  case C_ALLREDUCE: return a <= A_UB_BCUBE;
  case C_ALLGATHER: return a == A_UB_ALLGATHER;
  case C_REDUCESCATTER: return a == A_HALVING_DOUBLING;
  default: return a == A_UB_BROADCAST;
  }
}

double bus_factor(coll_t c, int n) {
  switch (c) {
  case C_ALLREDUCE: return 2.0 * (n - 1) / n;
  case C_ALLGATHER:
  case C_REDUCESCATTER: return (double)(n - 1) / n;
  default: return 1.0;
  }
}

struct opts_t {
  coll_t coll = C_NUM;
  size_t minbytes = 32u << 20, maxbytes = 32u << 20, stepbytes = 1u << 20;
  long stepfactor = 1;
  int iters = 20, warmup = 5, check = 1, root = 0, agg = 1, np = 0;
  double timeout_s = 300;
  std::string store;
  std::vector<int> dtypes{PD_FLOAT}, ops{PD_SUM}, algos;
};

void usage(FILE *f) {
  fprintf(f,
          "usage: weft-gloo-perf [-np N] <coll> [flags]\n"
          "  coll: allreduce allgather reducescatter broadcast\n"
          "  -np N  fork N ranks on this machine (otherwise: rank and size from the launcher's\n"
          "         environment, store from -s)\n"
          "  -s DIR Gloo file store directory every rank sees (without -np)\n"
          "  -A L   algorithms, comma separated, or all (default): ring ring-chunked\n"
          "         halving-doubling bcube ub-ring ub-bcube (allreduce); the row shows the best\n"
          "  -b B   minimum size in bytes, K/M/G suffixes (default 32M)\n"
          "  -e B   maximum size in bytes (default 32M)\n"
          "  -f F   multiplication factor between sizes\n"
          "  -i B   increment between sizes (default 1M; used when -f is not > 1)\n"
          "  -n N   timed iterations (default 20)\n"
          "  -w N   warmup iterations (default 5)\n"
          "  -c 0/1 check results (default 1)\n"
          "  -d T   datatype: int8 uint8 int32 uint32 int64 uint64 float double, or all\n"
          "  -o OP  reduction: sum prod max min, or all (avg: skipped)\n"
          "  -r R   root for broadcast (default 0)\n"
          "  -a A   time aggregation across ranks: 0 rank 0, 1 avg, 2 min, 3 max (default 1)\n"
          "  -t S   seconds before Gloo's calls time out and -np's ranks are killed (default 300)\n"
          "  -z X   accepted for weft-perf compatibility, ignored (Gloo calls block)\n"
          "  -h     this help\n");
}

int parse_algos(const char *val, opts_t *o) {
  o->algos.clear();
  if (!strcmp(val, "all")) return 0; /* filled per collective later */
  std::string s(val);
  size_t at = 0;
  while (at <= s.size()) {
    size_t comma = s.find(',', at);
    std::string name = s.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    int a = 0;
    while (a < A_NUM && name != ALGO_NAMES[a]) a++;
    if (a == A_NUM) {
      fprintf(stderr, "weft-gloo-perf: unknown algorithm '%s'\n", name.c_str());
      return -1;
    }
    o->algos.push_back(a);
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return 0;
}

/* Returns 0 to run, 1 for -h, -1 on error (message printed). */
int parse_args(int argc, char **argv, opts_t *o) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) return 1;
    if (a[0] != '-') {
      if (o->coll != C_NUM) {
        fprintf(stderr, "weft-gloo-perf: unexpected argument '%s'\n", a);
        return -1;
      }
      for (int c = 0; c < C_NUM; c++)
        if (!strcmp(a, COLLS[c].name)) o->coll = (coll_t)c;
      if (o->coll == C_NUM) {
        fprintf(stderr, "weft-gloo-perf: collective '%s' is not measured on Gloo\n", a);
        return -1;
      }
      continue;
    }
    bool np = !strcmp(a, "-np");
    if (!np && (!a[1] || !strchr("befinwcdorazAst", a[1]))) {
      fprintf(stderr, "weft-gloo-perf: unknown flag '%s'\n", a);
      return -1;
    }
    const char *val = !np && a[2] ? a + 2 : nullptr;
    if (!val) {
      if (i + 1 >= argc) {
        fprintf(stderr, "weft-gloo-perf: %s needs a value\n", a);
        return -1;
      }
      val = argv[++i];
    }
    long l = 0;
    int bad = 0;
    char why[160] = "";
    switch (np ? 'N' : a[1]) {
    case 'N': bad = perf_parse_long(val, 1, 1024, &l); o->np = (int)l; break;
    case 'b': bad = weft_parse_size_t(val, &o->minbytes, why, sizeof why); break;
    case 'e': bad = weft_parse_size_t(val, &o->maxbytes, why, sizeof why); break;
    case 'i': bad = weft_parse_size_t(val, &o->stepbytes, why, sizeof why) || o->stepbytes == 0; break;
    case 'f': bad = perf_parse_long(val, 1, 1L << 20, &o->stepfactor); break;
    case 'n': bad = perf_parse_long(val, 1, INT_MAX, &l); o->iters = (int)l; break;
    case 'w': bad = perf_parse_long(val, 0, INT_MAX, &l); o->warmup = (int)l; break;
    case 'c': bad = perf_parse_long(val, 0, 1, &l); o->check = (int)l; break;
    case 'r': bad = perf_parse_long(val, 0, INT_MAX, &l); o->root = (int)l; break;
    case 'a': bad = perf_parse_long(val, 0, 3, &l); o->agg = (int)l; break;
    case 't': bad = perf_parse_long(val, 1, 86400, &l); o->timeout_s = (double)l; break;
    case 'z': bad = perf_parse_long(val, 0, 1, &l); break;
    case 's': o->store = val; break;
    case 'A':
      if (parse_algos(val, o)) return -1;
      break;
    case 'd': {
      o->dtypes.clear();
      int t = strcmp(val, "all") ? perf_type_parse(val) : PD_NTYPES;
      bad = t < 0;
      for (int u = 0; u < PD_NTYPES; u++)
        if ((t == PD_NTYPES || t == u) && gloo_type(u)) o->dtypes.push_back(u);
      if (t >= 0 && t < PD_NTYPES && !gloo_type(t))
        fprintf(stderr, "weft-gloo-perf: %s is not measured on Gloo: skipped\n", perf_type_names[t]);
      break;
    }
    case 'o': {
      o->ops.clear();
      int p = strcmp(val, "all") ? perf_op_parse(val) : PD_NOPS;
      bad = p < 0;
      for (int u = 0; u < PD_NOPS; u++)
        if ((p == PD_NOPS || p == u) && gloo_op(u)) o->ops.push_back(u);
      if (p == PD_AVG) fprintf(stderr, "weft-gloo-perf: avg has no Gloo reduction: skipped\n");
      break;
    }
    default: bad = 1; break;
    }
    if (bad) {
      if (why[0])
        fprintf(stderr, "weft-gloo-perf: %s: %s\n", a, why);
      else
        fprintf(stderr, "weft-gloo-perf: bad value '%s' for %s\n", val, a);
      return -1;
    }
  }
  if (o->coll == C_NUM) {
    fprintf(stderr, "weft-gloo-perf: missing collective name\n");
    return -1;
  }
  if (o->maxbytes < o->minbytes) {
    fprintf(stderr, "weft-gloo-perf: maxbytes (-e) is smaller than minbytes (-b)\n");
    return -1;
  }
  if (o->algos.empty())
    for (int a = 0; a < A_NUM; a++)
      if (algo_fits(o->coll, a)) o->algos.push_back(a);
  for (int a : o->algos)
    if (!algo_fits(o->coll, a)) {
      fprintf(stderr, "weft-gloo-perf: %s is not one of the %s algorithms\n", ALGO_NAMES[a], COLLS[o->coll].name);
      return -1;
    }
  if (o->np == 0 && o->store.empty()) {
    fprintf(stderr, "weft-gloo-perf: without -np the ranks need a store directory: -s DIR\n");
    return -1;
  }
  return 0;
}

/* ------------------------------------------------------------------ */
/* One rank                                                            */
/* ------------------------------------------------------------------ */
struct counts_t {
  size_t param, sendcount, recvcount;
};

counts_t get_counts(coll_t coll, size_t size, size_t ws, int n) {
  size_t count = size / ws;
  switch (coll) {
  case C_ALLGATHER: return {count / n, count / n, count / n * n};
  case C_REDUCESCATTER: return {count / n, count / n * n, count / n};
  default: return {count, count, count};
  }
}

struct Rank {
  const opts_t &o;
  std::shared_ptr<gloo::Context> ctx;
  int rank, n;
  char *sendbuf = nullptr, *recvbuf = nullptr;
  size_t bufbytes = 0;
  uint32_t tag = 0;
  std::vector<int> algos; /* o.algos less those this rank count cannot run */

  Rank(const opts_t &o_, std::shared_ptr<gloo::Context> c) : o(o_), ctx(std::move(c)) {
    rank = ctx->rank;
    n = ctx->size;
  }
  ~Rank() {
    free(sendbuf);
    free(recvbuf);
  }

  void barrier() {
    gloo::BarrierOptions b(ctx);
    b.setTag(++tag);
    gloo::barrier(b);
  }

  template <typename T> T allreduce_scalar(T v, int op) {
    gloo::AllreduceOptions a(ctx);
    a.setOutput(&v, 1);
    a.setReduceFunction(func<T>(op));
    a.setTag(++tag);
    gloo::allreduce(a);
    return v;
  }

  /* Where the input lies (sb) and where the result is read (rb). */
  void buffers(bool inplace, size_t count, size_t ws, char **sb, char **rb) const {
    *sb = sendbuf;
    *rb = recvbuf;
    if (!inplace) return;
    *sb = recvbuf;
    if (o.coll == C_ALLGATHER) *sb = recvbuf + (size_t)rank * count * ws;
  }

  template <typename T> void fill_all(int op) {
    int kind = perf_gen_kind(COLLS[o.coll].has_op, op), dt = dtype<T>();
    for (size_t i = 0; i < bufbytes / sizeof(T); i++) {
      perf_store(sendbuf, i, dt, perf_gen(kind, dt, rank, n, i));
      perf_store(recvbuf, i, dt, perf_gen(kind, dt, rank, n, i));
    }
  }

  template <typename T> void fill_check(bool inplace, const counts_t &k, int op) {
    char *sb, *rb;
    buffers(inplace, k.param, sizeof(T), &sb, &rb);
    memset(recvbuf, 0xA5, (k.sendcount > k.recvcount ? k.sendcount : k.recvcount) * sizeof(T));
    int kind = perf_gen_kind(COLLS[o.coll].has_op, op), dt = dtype<T>();
    size_t cnt = o.coll == C_BROADCAST && rank != o.root && !inplace ? 0 : k.sendcount;
    for (size_t i = 0; i < cnt; i++) perf_store(sb, i, dt, perf_gen(kind, dt, rank, n, i));
  }

  template <typename T> uint64_t check_result(bool inplace, const counts_t &k, int op) {
    char *sb, *rb;
    size_t cnt = k.param;
    buffers(inplace, cnt, sizeof(T), &sb, &rb);
    int kind = perf_gen_kind(COLLS[o.coll].has_op, op), dt = dtype<T>();
    uint64_t wrong = 0;
    switch (o.coll) {
    case C_ALLREDUCE:
      for (size_t i = 0; i < cnt; i++) wrong += perf_load(rb, i, dt) != perf_expect_red(kind, op, dt, n, i);
      break;
    case C_REDUCESCATTER:
      for (size_t i = 0; i < cnt; i++)
        wrong += perf_load(rb, i, dt) != perf_expect_red(kind, op, dt, n, (size_t)rank * cnt + i);
      break;
    case C_ALLGATHER:
      for (int q = 0; q < n; q++)
        for (size_t i = 0; i < cnt; i++)
          wrong += perf_load(rb, (size_t)q * cnt + i, dt) != perf_roundtrip(perf_gen(kind, dt, q, n, i), dt);
      break;
    default:
      for (size_t i = 0; i < cnt; i++) wrong += perf_load(rb, i, dt) != perf_roundtrip(perf_gen(kind, dt, o.root, n, i), dt);
      break;
    }
    return wrong;
  }

  template <typename T> static int dtype() {
    if (std::is_same<T, int8_t>::value) return PD_INT8;
    if (std::is_same<T, uint8_t>::value) return PD_UINT8;
    if (std::is_same<T, int32_t>::value) return PD_INT32;
    if (std::is_same<T, uint32_t>::value) return PD_UINT32;
    if (std::is_same<T, int64_t>::value) return PD_INT64;
    if (std::is_same<T, uint64_t>::value) return PD_UINT64;
    if (std::is_same<T, float>::value) return PD_FLOAT;
    return PD_DOUBLE;
  }

  template <typename T> static const gloo::ReductionFunction<T> *class_fn(int op) {
    switch (op) {
    case PD_PROD: return gloo::ReductionFunction<T>::product;
    case PD_MAX: return gloo::ReductionFunction<T>::max;
    case PD_MIN: return gloo::ReductionFunction<T>::min;
    default: return gloo::ReductionFunction<T>::sum;
    }
  }

  /* Gloo's element-wise functions, the void-pointer overload of each. */
  using reduce_fn = void (*)(void *, const void *, const void *, size_t);
  template <typename T> static reduce_fn func(int op) {
    switch (op) {
    case PD_PROD: return static_cast<reduce_fn>(&gloo::product<T>);
    case PD_MAX: return static_cast<reduce_fn>(&gloo::max<T>);
    case PD_MIN: return static_cast<reduce_fn>(&gloo::min<T>);
    default: return static_cast<reduce_fn>(&gloo::sum<T>);
    }
  }

  /* One call of the collective with algorithm a; `cls` is the algorithm
   * object for the class-based ones (in place on `work`). */
  template <typename T>
  void issue(int a, bool inplace, const counts_t &k, int op, gloo::Algorithm *cls, T *work) {
    char *sb, *rb;
    buffers(inplace, k.param, sizeof(T), &sb, &rb);
    size_t bytes = k.sendcount * sizeof(T);
    switch (a) {
    case A_RING:
    case A_RING_CHUNKED:
    case A_HALVING_DOUBLING:
    case A_BCUBE:
      if (!inplace) memcpy(work, sb, bytes);
      cls->run(); /* a reduce-scatter's block lands at the start of work (= rb) */
      break;
    case A_UB_RING:
    case A_UB_BCUBE: {
      gloo::AllreduceOptions u(ctx);
      u.setAlgorithm(a == A_UB_RING ? gloo::AllreduceOptions::Algorithm::RING
                                    : gloo::AllreduceOptions::Algorithm::BCUBE);
      if (!inplace) u.setInput(reinterpret_cast<T *>(sb), k.param);
      u.setOutput(reinterpret_cast<T *>(rb), k.param);
      u.setReduceFunction(func<T>(op));
      u.setTag(++tag);
      gloo::allreduce(u);
      break;
    }
    case A_UB_ALLGATHER: {
      gloo::AllgatherOptions u(ctx);
      if (!inplace) u.setInput(reinterpret_cast<T *>(sb), k.param);
      u.setOutput(reinterpret_cast<T *>(rb), k.recvcount);
      u.setTag(++tag);
      gloo::allgather(u);
      break;
    }
    default: {
      gloo::BroadcastOptions u(ctx);
      if (!inplace && rank == o.root) u.setInput(reinterpret_cast<T *>(sb), k.param);
      u.setOutput(reinterpret_cast<T *>(rb), k.param);
      u.setRoot(o.root);
      u.setTag(++tag);
      gloo::broadcast(u);
      break;
    }
    }
  }

  /* The algorithm object of a class-based algorithm, on `work` (count = the
   * full buffer's elements); null for the function API. */
  template <typename T> std::unique_ptr<gloo::Algorithm> make_class(int a, T *work, const counts_t &k, int op) {
    std::vector<T *> ptrs{work};
    int count = (int)k.sendcount;
    switch (a) {
    case A_RING: return std::make_unique<gloo::AllreduceRing<T>>(ctx, ptrs, count, class_fn<T>(op));
    case A_RING_CHUNKED: return std::make_unique<gloo::AllreduceRingChunked<T>>(ctx, ptrs, count, class_fn<T>(op));
    case A_BCUBE: return std::make_unique<gloo::AllreduceBcube<T>>(ctx, ptrs, count, class_fn<T>(op));
    case A_HALVING_DOUBLING:
      if (o.coll == C_REDUCESCATTER)
        return std::make_unique<gloo::ReduceScatterHalvingDoubling<T>>(
            ctx, ptrs, count, std::vector<int>((size_t)n, (int)k.param), class_fn<T>(op));
      return std::make_unique<gloo::AllreduceHalvingDoubling<T>>(ctx, ptrs, count, class_fn<T>(op));
    default: return nullptr;
    }
  }

  /* Times algorithm a (average microseconds per call, aggregated over ranks)
   * and, with -c 1, counts wrong elements over all ranks. */
  template <typename T> void bench(int a, bool inplace, const counts_t &k, int op, double *us, uint64_t *wrong) {
    T *work = reinterpret_cast<T *>(recvbuf);
    auto cls = make_class<T>(a, work, k, op);
    for (int it = 0; it < o.warmup; it++) issue<T>(a, inplace, k, op, cls.get(), work);
    barrier();
    double t0 = perf_now_s();
    for (int it = 0; it < o.iters; it++) issue<T>(a, inplace, k, op, cls.get(), work);
    double t = (perf_now_s() - t0) / o.iters;
    if (o.agg != 0) {
      t = allreduce_scalar<double>(t, o.agg == 2 ? PD_MIN : o.agg == 3 ? PD_MAX : PD_SUM);
      if (o.agg == 1) t /= n;
    }
    *us = t * 1e6;
    *wrong = 0;
    if (o.check) {
      fill_check<T>(inplace, k, op);
      issue<T>(a, inplace, k, op, cls.get(), work);
      *wrong = allreduce_scalar<uint64_t>(check_result<T>(inplace, k, op), PD_SUM);
    }
  }

  template <typename T> int run_type(int op, double *bwsum, long *bwcount, uint64_t *total_wrong);
  template <typename T>
  void run_size(const counts_t &k, int op, double factor, double *bwsum, long *bwcount, uint64_t *total_wrong);
  int run();
};

template <typename T> int Rank::run_type(int op, double *bwsum, long *bwcount, uint64_t *total_wrong) {
  bool me = rank == 0;
  fill_all<T>(op);
  for (size_t size = o.minbytes; size <= o.maxbytes;) {
    counts_t k = get_counts(o.coll, size, sizeof(T), n);
    double factor = bus_factor(o.coll, n);
    if (k.param == 0) { /* Gloo's allgather divides by it; nothing to time */
      if (me) printf("#   %zu B: count 0, not run\n", size);
    } else
      run_size<T>(k, op, factor, bwsum, bwcount, total_wrong);
    size_t next = perf_next_size(size, o.stepfactor, o.stepbytes);
    if (next == 0) break;
    size = next;
  }
  return 0;
}

template <typename T>
void Rank::run_size(const counts_t &k, int op, double factor, double *bwsum, long *bwcount,
                    uint64_t *total_wrong) {
  bool me = rank == 0;
  size_t bytes = (k.sendcount > k.recvcount ? k.sendcount : k.recvcount) * sizeof(T);
  {
    size_t na = algos.size(), best = 0;
    std::vector<double> us(2 * na);
    std::vector<uint64_t> wrong(2 * na);
    for (size_t ai = 0; ai < na; ai++) {
      for (int inplace = 0; inplace < 2; inplace++)
        bench<T>(algos[ai], inplace, k, op, &us[2 * ai + inplace], &wrong[2 * ai + inplace]);
      if (us[2 * ai] < us[2 * best]) best = ai;
    }
    if (me) {
      if (na > 1) {
        printf("#   %zu B:", bytes);
        for (size_t ai = 0; ai < na; ai++)
          printf(" %s %.2f/%.2f%s", ALGO_NAMES[algos[ai]], us[2 * ai], us[2 * ai + 1], ai + 1 < na ? "," : "");
        printf(" us (out/in)\n");
      }
      printf("%12zu  %12zu  %8s  %6s  %6d", bytes, k.param, perf_type_names[dtype<T>()],
             COLLS[o.coll].has_op ? perf_op_names[op] : "sum", COLLS[o.coll].has_root ? o.root : -1);
      for (int inplace = 0; inplace < 2; inplace++)
        perf_print_time(us[2 * best + inplace], (double)bytes, factor, o.check, wrong[2 * best + inplace]);
      printf("  %s\n", ALGO_NAMES[algos[best]]);
      fflush(stdout);
    }
    /* Every algorithm's results count, not only the row's. */
    for (size_t j = 0; j < 2 * na; j++) {
      *total_wrong += wrong[j];
      *bwsum += us[j] > 0 ? (double)bytes / 1e9 / (us[j] * 1e-6) * factor : 0.0;
      ++*bwcount;
    }
  }
}

struct rank_info_t {
  int32_t pid;
  char host[60];
};

int Rank::run() {
  bool me = rank == 0;
  rank_info_t mine{};
  mine.pid = (int32_t)getpid();
  if (gethostname(mine.host, sizeof mine.host - 1) != 0) strcpy(mine.host, "?");
  std::vector<rank_info_t> all((size_t)n);
  {
    gloo::AllgatherOptions g(ctx);
    g.setInput(reinterpret_cast<char *>(&mine), sizeof mine);
    g.setOutput(reinterpret_cast<char *>(all.data()), sizeof mine * (size_t)n);
    g.setTag(++tag);
    gloo::allgather(g);
  }
  /* AllreduceBcube's groups need a power of the context's base (2) ranks:
   * elsewhere it returns wrong sums. */
  for (int a : o.algos)
    if (a != A_BCUBE || (n & (n - 1)) == 0)
      algos.push_back(a);
    else if (me)
      fprintf(stderr, "weft-gloo-perf: bcube needs a power of 2 ranks, not %d: skipped\n", n);
  if (algos.empty()) return 2;
  if (me) {
    static const char *aggname[] = {"rank 0", "avg", "min", "max"};
    printf("# nThread 1 nGpus 1 minBytes %zu maxBytes %zu step: %zu(%s) warmup iters: %d iters: %d "
           "agg iters: 1 validation: %d graph: 0\n",
           o.minbytes, o.maxbytes, o.stepfactor > 1 ? (size_t)o.stepfactor : o.stepbytes,
           o.stepfactor > 1 ? "factor" : "bytes", o.warmup, o.iters, o.check);
    printf("#\n# Using devices\n");
    for (int r = 0; r < n; r++) printf("#  Rank %2d Pid %6d on %s\n", r, (int)all[r].pid, all[r].host);
    printf("#\n# Gloo: tcp transport, file store, nranks %d, blocking calls, time %s over ranks, algorithms",
           n, aggname[o.agg]);
    for (int a : algos) printf(" %s", ALGO_NAMES[a]);
    printf("%s\n#\n", algos.size() > 1 ? " (row: best out of place)" : "");
    perf_print_columns(1);
    fflush(stdout);
  }
  if (COLLS[o.coll].has_root && o.root >= n) {
    if (me) fprintf(stderr, "weft-gloo-perf: root %d out of range for %d ranks\n", o.root, n);
    return 2;
  }
  if (o.maxbytes > (size_t)INT_MAX) {
    if (me) fprintf(stderr, "weft-gloo-perf: -e above %d bytes: Gloo's counts are int\n", INT_MAX);
    return 2;
  }
  bufbytes = (o.maxbytes + 4095) / 4096 * 4096;
  if (bufbytes == 0) bufbytes = 4096;
  void *p1 = nullptr, *p2 = nullptr;
  if (posix_memalign(&p1, 4096, bufbytes) || posix_memalign(&p2, 4096, bufbytes)) {
    fprintf(stderr, "weft-gloo-perf: rank %d: cannot allocate 2 x %zu bytes\n", rank, bufbytes);
    free(p1);
    return 2;
  }
  sendbuf = static_cast<char *>(p1);
  recvbuf = static_cast<char *>(p2);

  double bwsum = 0;
  long bwcount = 0;
  uint64_t total_wrong = 0;
  std::vector<int> ops = COLLS[o.coll].has_op ? o.ops : std::vector<int>{PD_SUM};
  for (int dt : o.dtypes)
    for (int op : ops) {
      switch (dt) {
      case PD_INT8: run_type<int8_t>(op, &bwsum, &bwcount, &total_wrong); break;
      case PD_UINT8: run_type<uint8_t>(op, &bwsum, &bwcount, &total_wrong); break;
      case PD_INT32: run_type<int32_t>(op, &bwsum, &bwcount, &total_wrong); break;
      case PD_UINT32: run_type<uint32_t>(op, &bwsum, &bwcount, &total_wrong); break;
      case PD_INT64: run_type<int64_t>(op, &bwsum, &bwcount, &total_wrong); break;
      case PD_UINT64: run_type<uint64_t>(op, &bwsum, &bwcount, &total_wrong); break;
      case PD_FLOAT: run_type<float>(op, &bwsum, &bwcount, &total_wrong); break;
      default: run_type<double>(op, &bwsum, &bwcount, &total_wrong); break;
      }
    }
  if (me) {
    printf("# Out of bounds values : %" PRIu64 " %s\n", total_wrong, total_wrong ? "FAILED" : "OK");
    printf("# Avg bus bandwidth    : %g \n", bwcount ? bwsum / bwcount : 0.0);
    printf("#\n");
    fflush(stdout);
  }
  return total_wrong ? 1 : 0;
}

/* Connects rank `rank` of `size` through the file store in `dir`, then runs. */
int run_rank(const opts_t &o, int rank, int size, const std::string &dir, const char *host) {
  try {
    gloo::transport::tcp::attr attr;
    const char *ifname = getenv("GLOO_SOCKET_IFNAME");
    if (ifname && *ifname)
      attr.iface = ifname;
    else
      attr.hostname = host;
    auto dev = gloo::transport::tcp::CreateDevice(attr);
    gloo::rendezvous::FileStore store(dir);
    auto ctx = std::make_shared<gloo::rendezvous::Context>(rank, size);
    ctx->setTimeout(std::chrono::milliseconds((long)(o.timeout_s * 1000)));
    ctx->connectFullMesh(store, dev);
    Rank r(o, ctx);
    return r.run();
  } catch (const std::exception &e) {
    fprintf(stderr, "weft-gloo-perf: rank %d: %s\n", rank, e.what());
    return 2;
  }
}

/* -np N: forks the ranks with a fresh store directory, waits up to the
 * timeout (then kills what is left). Returns 0, 1 (wrong results) or 2. */
int fork_ranks(const opts_t &o) {
  char dir[] = "/tmp/weft-gloo-perf-XXXXXX";
  if (!mkdtemp(dir)) {
    fprintf(stderr, "weft-gloo-perf: mkdtemp: %s\n", strerror(errno));
    return 2;
  }
  fflush(stdout);
  std::vector<pid_t> pids;
  int rc = 0;
  for (int r = 0; r < o.np; r++) {
    pid_t p = fork();
    if (p == 0) _exit(run_rank(o, r, o.np, dir, "127.0.0.1"));
    if (p < 0) {
      fprintf(stderr, "weft-gloo-perf: fork: %s\n", strerror(errno));
      rc = 2;
      break;
    }
    pids.push_back(p);
  }
  double deadline = perf_now_s() + o.timeout_s + 10;
  size_t left = pids.size();
  while (left > 0) {
    int st = 0;
    pid_t p = waitpid(-1, &st, WNOHANG);
    if (p > 0) {
      left--;
      int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      if (code != 0) {
        fprintf(stderr, "weft-gloo-perf: pid %d exited with %d\n", (int)p, code);
        rc = code == 1 && rc <= 1 ? 1 : 2;
        if (code != 1) /* a rank that failed leaves its peers waiting: stop them */
          for (pid_t q : pids) kill(q, SIGKILL);
      }
      continue;
    }
    if (p < 0 && errno != EINTR) break;
    if (perf_now_s() > deadline) {
      fprintf(stderr, "weft-gloo-perf: ranks still running after %.0f s: killed\n", o.timeout_s + 10);
      for (pid_t q : pids) kill(q, SIGKILL);
      rc = 2;
      deadline = perf_now_s() + 3600;
    }
    usleep(10000);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return rc;
}

int env_rank(const opts_t &o) {
  static const char *const pairs[][2] = {{"WEFT_RANK", "WEFT_NRANKS"},
                                         {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
                                         {"PMI_RANK", "PMI_SIZE"},
                                         {"SLURM_PROCID", "SLURM_NTASKS"},
                                         {"RANK", "WORLD_SIZE"}};
  for (const auto &p : pairs) {
    const char *r = getenv(p[0]), *s = getenv(p[1]);
    if (!r || !*r || !s || !*s) continue;
    long rank = 0, size = 0;
    if (perf_parse_long(r, 0, INT_MAX, &rank) || perf_parse_long(s, 1, INT_MAX, &size) || rank >= size) {
      fprintf(stderr, "weft-gloo-perf: bad %s=%s / %s=%s\n", p[0], r, p[1], s);
      return 2;
    }
    char host[256] = "";
    const char *h = getenv("GLOO_PERF_HOST");
    if (!h || !*h) {
      if (gethostname(host, sizeof host - 1) != 0) strcpy(host, "127.0.0.1");
      h = host;
    }
    return run_rank(o, (int)rank, (int)size, o.store, h);
  }
  fprintf(stderr, "weft-gloo-perf: no rank/size in the environment (WEFT_RANK/WEFT_NRANKS, "
                  "OMPI_COMM_WORLD_RANK/SIZE, PMI_RANK/SIZE, SLURM_PROCID/NTASKS, RANK/WORLD_SIZE); "
                  "or use -np N\n");
  return 2;
}

} // namespace

int main(int argc, char **argv) {
  opts_t o;
  int pr = parse_args(argc, argv, &o);
  if (pr > 0) {
    usage(stdout);
    return 0;
  }
  if (pr < 0) {
    fprintf(stderr, "Try 'weft-gloo-perf -h' for the flags.\n");
    return 2;
  }
  if (o.dtypes.empty() || (COLLS[o.coll].has_op && o.ops.empty())) {
    fprintf(stderr, "weft-gloo-perf: nothing to run\n");
    return 0;
  }
  return o.np > 0 ? fork_ranks(o) : env_rank(o);
}
