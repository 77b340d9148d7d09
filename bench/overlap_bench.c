/* Gradient-bucket overlap, as DDP drives a backend: each step, the caller
 * "computes" (a busy loop standing for the backward pass of one layer
 * group) and enqueues that bucket's allreduce on a weft stream, B buckets in
 * a row, then synchronizes. What matters is how long the caller spends
 * inside the enqueue calls: time it cannot compute. Prints, per rank, the
 * share of the wall time spent enqueueing and the step time against
 * compute alone, and the process's context switches per step (getrusage:
 * what handing calls to the progress thread costs); checks every result.
 * With -c 0 -b 1 -s 8 it is a small call followed at once by a synchronize.
 *   weft-overlap-bench [-n RANKS] [-b BUCKETS] [-s BYTES] [-c COMPUTE_MS] [-i STEPS]
 * Compare WEFT_MAX_QUEUED=2 (the old default) with the default. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

#include "launch_fork.h"
#include "util/size.h"
#include "weft.h"

typedef struct {
  int np, buckets, steps;
  size_t bytes;
  double compute_ms;
} opts_t;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Stands for compute: spins for ms milliseconds. */
static void compute(double ms) {
  double end = now_s() + ms / 1e3;
  volatile double x = 1;
  while (now_s() < end) x = x * 1.0000001 + 1e-9;
}

/* Voluntary context switches of the whole process (all its threads) so
 * far: a thread going to sleep (handing work over, waiting for it); the
 * involuntary ones (preemption) say how busy the machine is. */
static void switches(long *vol, long *invol) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  *vol = u.ru_nvcsw, *invol = u.ru_nivcsw;
}

static int run(int rank, int nranks, const weftUniqueId *id, void *arg) {
  const opts_t *o = arg;
  weftComm_t comm;
  weftStream_t s;
  if (weftCommInitRank(&comm, nranks, *id, rank) != weftSuccess || weftStreamCreate(&s) != weftSuccess) {
    fprintf(stderr, "rank %d: init: %s\n", rank, weftGetLastError(NULL));
    return 2;
  }
  size_t count = o->bytes / sizeof(float);
  float **buf = calloc((size_t)o->buckets, sizeof *buf);
  for (int b = 0; b < o->buckets; b++) buf[b] = malloc(count * sizeof(float));
  double in_enqueue = 0, wall = 0, compute_only = o->buckets * o->compute_ms / 1e3;
  long wrong = 0, vol = 0, invol = 0;
  for (int step = -1; step < o->steps; step++) { /* step -1 warms up: not timed */
    for (int b = 0; b < o->buckets; b++)
      for (size_t i = 0; i < count; i++) buf[b][i] = (float)(rank + b + (int)(i % 7));
    weftAllReduce(buf[0], buf[0], 0, weftFloat, weftSum, comm, NULL); /* a barrier-ish start */
    double t0 = now_s(), inq = 0;
    long v0, i0, v1, i1;
    switches(&v0, &i0);
    for (int b = 0; b < o->buckets; b++) {
      compute(o->compute_ms);
      double e0 = now_s();
      weftResult_t r = weftAllReduce(buf[b], buf[b], count, weftFloat, weftSum, comm, s);
      inq += now_s() - e0;
      if (r != weftSuccess) {
        fprintf(stderr, "rank %d: allreduce: %s\n", rank, weftGetLastError(comm));
        return 2;
      }
    }
    if (weftStreamSynchronize(s) != weftSuccess) {
      fprintf(stderr, "rank %d: synchronize: %s\n", rank, weftGetLastError(comm));
      return 2;
    }
    double t = now_s() - t0;
    switches(&v1, &i1);
    if (step >= 0) in_enqueue += inq, wall += t, vol += v1 - v0, invol += i1 - i0;
    float base = (float)nranks * (float)(nranks - 1) / 2;
    for (int b = 0; b < o->buckets; b++)
      for (size_t i = 0; i < count; i++) wrong += buf[b][i] != base + (float)nranks * (float)(b + (int)(i % 7));
  }
  printf("rank %d: %d steps of %d buckets x %zu B, compute %.1f ms each: step %.2f ms (compute alone %.2f ms), "
         "inside enqueue calls %.3f ms/step = %.2f%% of the wall time, context switches %.2f voluntary + %.2f involuntary per step, %ld wrong\n",
         rank, o->steps, o->buckets, o->bytes, o->compute_ms, wall / o->steps * 1e3, compute_only * 1e3,
         in_enqueue / o->steps * 1e3, 100 * in_enqueue / wall, (double)vol / o->steps, (double)invol / o->steps, wrong);
  fflush(stdout);
  weftStreamDestroy(s);
  weftCommDestroy(comm);
  for (int b = 0; b < o->buckets; b++) free(buf[b]);
  free(buf);
  return wrong ? 1 : 0;
}

int main(int argc, char **argv) {
  opts_t o = {2, 8, 10, 4 << 20, 2.0};
  int c;
  while ((c = getopt(argc, argv, "n:b:s:c:i:h")) != -1) {
    switch (c) {
      case 'n': o.np = atoi(optarg); break;
      case 'b': o.buckets = atoi(optarg); break;
      case 's': {
        char why[128];
        if (weft_parse_size_t(optarg, &o.bytes, why, sizeof why) != 0) {
          fprintf(stderr, "-s: %s\n", why);
          return 2;
        }
        break;
      }
      case 'c': o.compute_ms = atof(optarg); break;
      case 'i': o.steps = atoi(optarg); break;
      default:
        fprintf(stderr, "usage: %s [-n RANKS] [-b BUCKETS] [-s BYTES] [-c COMPUTE_MS] [-i STEPS]\n", argv[0]);
        return c == 'h' ? 0 : 2;
    }
  }
  if (o.np < 1 || o.buckets < 1 || o.steps < 1 || o.bytes < sizeof(float)) {
    fprintf(stderr, "bad arguments\n");
    return 2;
  }
  return weft_launch_fork(o.np, run, &o, 300, NULL) ? 1 : 0;
}
