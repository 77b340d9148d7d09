/* weftCommGetStats: 4 ranks on 2 fake sites (one fake node each: shm inside
 * a site, tcp between), a hierarchical allreduce with the bf16 WAN codec and
 * a small one. Every rank checks that its counters saw what ran: the calls
 * and their algorithms, bytes on the node and WAN link classes and none on
 * the (absent) site class, the codec's bytes shrinking, compute time, and
 * that a smaller (older) struct gets its prefix only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "launch_fork.h"
#include "weft.h"

#define CHECK(cond, ...)                                      \
  do {                                                        \
    if (!(cond)) {                                            \
      fprintf(stderr, "rank %d: ", rank);                     \
      fprintf(stderr, __VA_ARGS__);                           \
      fprintf(stderr, " (%s, line %d)\n", #cond, __LINE__);   \
      return 1;                                               \
    }                                                         \
  } while (0)

static double wall_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int rank_main(int rank, int n, const weftUniqueId *id, void *arg) {
  (void)arg;
  const char *site = rank < n / 2 ? "site0" : "site1";
  setenv("WEFT_SITE", site, 1);
  setenv("WEFT_HOST_ID", site, 1);
  weftConfig_t cfg = WEFT_CONFIG_INITIALIZER;
  cfg.codec = "bf16";
  cfg.algo = "hier";
  weftComm_t comm;
  CHECK(weftCommInitRankConfig(&comm, n, *id, rank, &cfg) == weftSuccess, "init: %s", weftGetLastError(NULL));
  weftCommStats_t s0;
  CHECK(weftCommGetStats(comm, &s0, sizeof s0) == weftSuccess, "stats");
  size_t count = 1 << 20;
  float *x = malloc(count * sizeof *x);
  for (size_t i = 0; i < count; i++) x[i] = (float)(i % 13);
  double t0 = wall_s();
  CHECK(weftAllReduce(x, x, count, weftFloat, weftSum, comm, NULL) == weftSuccess, "allreduce");
  CHECK(weftAllReduce(x, x, 16, weftFloat, weftSum, comm, NULL) == weftSuccess, "small allreduce");
  double wall = wall_s() - t0;
  weftCommStats_t s;
  CHECK(weftCommGetStats(comm, &s, sizeof s) == weftSuccess, "stats");
  CHECK(s.calls >= s0.calls + 2, "calls %llu", (unsigned long long)s.calls);
  int hier = -1;
  for (int i = 0; i < WEFT_STATS_ALGOS; i++)
    if (weftAlgoName(i) && !strcmp(weftAlgoName(i), "hier")) hier = i;
  CHECK(hier > 0 && s.callsByAlgo[hier] >= 2, "hier calls %llu", hier > 0 ? (unsigned long long)s.callsByAlgo[hier] : 0ULL);
  CHECK(weftAlgoName(0) == NULL && weftAlgoName(WEFT_STATS_ALGOS) == NULL, "names out of range");
  CHECK(s.bytesSent[0] > 0 && s.bytesReceived[0] > 0, "node class bytes %llu", (unsigned long long)s.bytesSent[0]);
  CHECK(s.bytesSent[1] == 0 && s.bytesReceived[1] == 0, "site class bytes where no rank is");
  CHECK(s.bytesSent[2] > 0 && s.bytesReceived[2] > 0 && s.messagesSent[2] > 0, "WAN bytes");
  /* bf16 halves what crosses the WAN: far less than the fp32 data */
  CHECK(s.codecBytesIn > 0 && s.codecBytesOut * 2 <= s.codecBytesIn + 64, "codec %llu -> %llu",
        (unsigned long long)s.codecBytesIn, (unsigned long long)s.codecBytesOut);
  CHECK(s.bytesSent[2] < count * sizeof(float), "WAN bytes %llu not compressed", (unsigned long long)s.bytesSent[2]);
  CHECK(s.callSeconds > 0 && s.computeSeconds > 0 && s.codecSeconds > 0 && s.codecSeconds <= s.computeSeconds &&
            s.computeSeconds <= s.callSeconds,
        "times %g %g %g", s.callSeconds, s.computeSeconds, s.codecSeconds);
  /* the time in calls is counted in ticks (util/ticks.h) and given in
   * seconds: nearly all of the wall time around the two calls, never more */
  double in_calls = s.callSeconds - s0.callSeconds;
  CHECK(in_calls <= wall + 1e-3 && in_calls >= 0.3 * wall, "%g s in calls, %g s wall", in_calls, wall);
  CHECK(s.failedCalls == 0 && s.retransmits == 0, "failures");
  /* an older, smaller struct: its prefix, nothing past it */
  unsigned char small[sizeof(uint64_t) * 2 + 8];
  memset(small, 0xee, sizeof small);
  CHECK(weftCommGetStats(comm, (weftCommStats_t *)small, sizeof(uint64_t) * 2) == weftSuccess, "prefix");
  CHECK(small[sizeof(uint64_t) * 2] == 0xee, "wrote past the size");
  CHECK(weftCommGetStats(comm, &s, sizeof s + 1) == weftInvalidArgument, "a size larger than the struct");
  CHECK(weftCommGetStats(comm, NULL, sizeof s) == weftInvalidArgument, "NULL stats");
  free(x);
  weftCommDestroy(comm);
  if (rank == 0)
    printf("stats: %llu calls, bytes sent node/site/wan %llu/%llu/%llu, codec %llu -> %llu, %.3f s in calls: ok\n",
           (unsigned long long)s.calls, (unsigned long long)s.bytesSent[0], (unsigned long long)s.bytesSent[1],
           (unsigned long long)s.bytesSent[2], (unsigned long long)s.codecBytesIn, (unsigned long long)s.codecBytesOut,
           s.callSeconds);
  return 0;
}

int main(void) { return weft_launch_fork(4, rank_main, NULL, 120, NULL) ? 1 : 0; }
