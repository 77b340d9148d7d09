/* Shared-memory transport: transport choice per peer, clean-up after a
 * killed rank, and the ring-only path when cross-memory attach is off.
 *   test_shm mixed | killed | rerun */
#include <dirent.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/introspect.h"
#include "launch_fork.h"
#include "time_scale.h"
#include "weft.h"

#define FAILF(...) (fprintf(stderr, __VA_ARGS__), fputc('\n', stderr), 1)

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* allreduce of count int32 sums; 0 if exact on this rank */
static int allreduce_ok(weftComm_t comm, int rank, int n, size_t count) {
  int32_t *buf = calloc(count, sizeof *buf);
  if (!buf) return 1;
  for (size_t i = 0; i < count; i++) buf[i] = (int32_t)(rank * 3 + (int)(i % 17));
  weftResult_t r = weftAllReduce(buf, buf, count, weftInt32, weftSum, comm, NULL);
  int bad = r != weftSuccess;
  for (size_t i = 0; i < count && !bad; i++) {
    int32_t want = 0;
    for (int k = 0; k < n; k++) want += (int32_t)(k * 3 + (int)(i % 17));
    bad = buf[i] != want;
  }
  free(buf);
  return bad;
}

/* Ranks 0,1 on "host a", 2,3 on "host b": shm inside a host, tcp across. */
static int mixed_rank(int rank, int n, const weftUniqueId *id, void *arg) {
  (void)arg;
  setenv("WEFT_HOST_ID", rank < 2 ? "host-a" : "host-b", 1);
  weftComm_t comm;
  if (weftCommInitRank(&comm, n, *id, rank) != weftSuccess) return FAILF("init: %s", weftGetLastError(NULL));
  int bad = 0;
  const size_t counts[] = {1, 1000, 300001};
  for (int i = 0; i < 3; i++) bad |= allreduce_ok(comm, rank, n, counts[i]);
  const char *algo = weft_debug_last_algo(comm);
  if (!strstr(algo, "shm+tcp")) bad |= FAILF("rank %d: expected shm+tcp, got %s", rank, algo);
  weftCommDestroy(comm);
  return bad;
}

static int count_weft_shm_files(void) {
  DIR *d = opendir("/dev/shm");
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (strstr(e->d_name, "weft")) n++;
  if (d) closedir(d);
  return n;
}

/* Rank 2 dies in the middle of large allreduces; the others must fail fast
 * with an error naming a peer. */
static int killed_rank(int rank, int n, const weftUniqueId *id, void *arg) {
  (void)arg;
  weftComm_t comm;
  if (weftCommInitRank(&comm, n, *id, rank) != weftSuccess) return FAILF("init: %s", weftGetLastError(NULL));
  size_t count = 1 << 20;
  float *buf = calloc(count, sizeof *buf);
  if (!buf) return 1;
  double t0 = now_s();
  for (int it = 0; it < 1000; it++) {
    if (rank == 2 && it == 5) raise(SIGKILL);
    weftResult_t r = weftAllReduce(buf, buf, count, weftFloat, weftSum, comm, NULL);
    if (r != weftSuccess) {
      double dt = now_s() - t0;
      const char *msg = weftGetLastError(comm);
      int bad = 0;
      if (dt > weft_test_seconds(15)) bad |= FAILF("rank %d: took %.1f s to notice", rank, dt);
      if (!strstr(msg, "rank")) bad |= FAILF("rank %d: message does not name a peer: %s", rank, msg);
      weftCommAbort(comm);
      free(buf);
      return bad;
    }
  }
  free(buf);
  return FAILF("rank %d: never noticed the dead peer", rank);
}

static int plain_rank(int rank, int n, const weftUniqueId *id, void *arg) {
  (void)arg;
  weftComm_t comm;
  if (weftCommInitRank(&comm, n, *id, rank) != weftSuccess) return FAILF("init: %s", weftGetLastError(NULL));
  int bad = allreduce_ok(comm, rank, n, 100003) | allreduce_ok(comm, rank, n, 3);
  if (!strstr(weft_debug_last_algo(comm), "shm")) bad |= FAILF("rank %d: not on shm", rank);
  weftCommDestroy(comm);
  return bad;
}

int main(int argc, char **argv) {
  const char *what = argc > 1 ? argv[1] : "";
  /* the comm timeout is above the 15 s a dead peer may take to show (both scaled) */
  if (!getenv("WEFT_TIMEOUT")) weft_test_setenv_seconds("WEFT_TIMEOUT", 20);
  const double limit = weft_test_seconds(120);
  if (!strcmp(what, "mixed")) return weft_launch_fork(4, mixed_rank, NULL, limit, NULL) != 0;
  if (!strcmp(what, "killed")) {
    int before = count_weft_shm_files();
    int st[3];
    weft_launch_fork(3, killed_rank, NULL, limit, st);
    int bad = st[0] != 0 || st[1] != 0 || st[2] != 128 + SIGKILL;
    if (bad) fprintf(stderr, "statuses %d %d %d\n", st[0], st[1], st[2]);
    if (count_weft_shm_files() != before) bad |= FAILF("segments left in /dev/shm");
    /* a new job right after the crash works */
    bad |= weft_launch_fork(3, plain_rank, NULL, limit, NULL) != 0;
    return bad;
  }
  if (!strcmp(what, "plain")) return weft_launch_fork(3, plain_rank, NULL, limit, NULL) != 0;
  fprintf(stderr, "usage: test_shm mixed|killed|plain\n");
  return 2;
}
