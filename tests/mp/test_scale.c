/* Scale: N ranks (processes) on this machine. Every rank times its init,
 * counts its sockets (/proc/self/fd) after init and after a ring allreduce,
 * checks the allreduce's result and reads its resident memory; the parent
 * checks that the allreduce opened at most 4 links per rank (lazy links:
 * one to the next rank and one from the previous, two per stream) and that
 * the sockets a rank holds grow with N only as the bootstrap's links do
 * (two per power of two below N), then prints one line:
 *   ranks 256 mode lazy: init max 1.23 s median 0.80 s; sockets init 6 ...
 * Usage: test_scale [-n ranks] [-c count] [-t timeout_s] [-s max_sockets (default 8 + 2 log2 N)]
 * (WEFT_CONNECT=eager measures the full mesh instead: no link bound then). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "launch_fork.h"
#include "weft.h"

typedef struct {
  double init_s, first_s, second_s; /* init, the first allreduce (opens its links), the second */
  int sockets_init, sockets_after;
  long rss_before_kb, rss_init_kb, rss_after_kb;
  int ok;
  char err[160];
} rank_report;

typedef struct {
  size_t count;
  rank_report *out; /* shared with the children (MAP_SHARED) */
} scale_args;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Sockets this process holds: every descriptor that is one. */
static int count_sockets(void) {
  DIR *d = opendir("/proc/self/fd");
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  char path[300], target[64];
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
    ssize_t k = readlink(path, target, sizeof target - 1);
    if (k > 0 && (target[k] = 0, strncmp(target, "socket:", 7) == 0)) n++;
  }
  closedir(d);
  return n;
}

static long rss_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[128];
  long kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld", &kb) == 1) break;
  if (f) fclose(f);
  return kb;
}

static int rank_main(int rank, int n, const weftUniqueId *id, void *argp) {
  scale_args *a = argp;
  rank_report *me = &a->out[rank];
  me->rss_before_kb = rss_kb();
  weftConfig_t cfg = WEFT_CONFIG_INITIALIZER;
  cfg.algo = "ring";
  weftComm_t comm;
  double t0 = now_s();
  if (weftCommInitRankConfig(&comm, n, *id, rank, &cfg) != weftSuccess) {
    snprintf(me->err, sizeof me->err, "init: %s", weftGetLastError(NULL));
    return 1;
  }
  me->init_s = now_s() - t0;
  me->sockets_init = count_sockets();
  me->rss_init_kb = rss_kb();
  float *x = malloc(a->count * sizeof *x);
  for (size_t i = 0; i < a->count; i++) x[i] = (float)(rank + (int)(i % 7));
  float *y = malloc(a->count * sizeof *y);
  double t1 = now_s();
  int bad = !x || !y || weftAllReduce(x, x, a->count, weftFloat, weftSum, comm, NULL) != weftSuccess;
  double t2 = now_s();
  bad = bad || weftAllReduce(x, y, a->count, weftFloat, weftSum, comm, NULL) != weftSuccess;
  me->first_s = t2 - t1;
  me->second_s = now_s() - t2;
  if (bad) snprintf(me->err, sizeof me->err, "allreduce: %s", weftGetLastError(comm));
  /* sum over ranks of rank + i%7: exact in float for these sizes */
  for (size_t i = 0; i < a->count && !bad; i++)
    if (x[i] != (float)((double)n * (n - 1) / 2 + (double)n * (int)(i % 7))) {
      snprintf(me->err, sizeof me->err, "allreduce: element %zu is %g", i, (double)x[i]);
      bad = 1;
    }
  me->sockets_after = count_sockets();
  me->rss_after_kb = rss_kb();
  free(x);
  free(y);
  if (weftCommDestroy(comm) != weftSuccess && !bad) {
    snprintf(me->err, sizeof me->err, "destroy: %s", weftGetLastError(NULL));
    bad = 1;
  }
  me->ok = !bad;
  return bad;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  int n = 64, timeout_s = 120, max_sockets = 0, opt;
  size_t count = 4096; /* 16 KiB: past the node segment's slots, a real ring */
  while ((opt = getopt(argc, argv, "n:c:t:s:")) != -1) {
    if (opt == 'n') n = atoi(optarg);
    else if (opt == 'c') count = (size_t)atol(optarg);
    else if (opt == 't') timeout_s = atoi(optarg);
    else if (opt == 's') max_sockets = atoi(optarg);
    else return fprintf(stderr, "usage: %s [-n ranks] [-c count] [-t timeout_s] [-s max_sockets]\n", argv[0]), 2;
  }
  if (!max_sockets) { /* listeners, fault ring, 2 links, 2 per bootstrap link (log2 n) and some slack */
    int links = 0;
    while ((1 << links) < n) links++;
    max_sockets = 8 + 2 * links;
  }
  const char *mode = getenv("WEFT_CONNECT");
  int eager = mode && strcmp(mode, "eager") == 0;
  scale_args a = {count, mmap(NULL, sizeof(rank_report) * (size_t)n, PROT_READ | PROT_WRITE,
                              MAP_SHARED | MAP_ANONYMOUS, -1, 0)};
  if (a.out == MAP_FAILED) return perror("mmap"), 1;
  memset(a.out, 0, sizeof(rank_report) * (size_t)n);
  double t0 = now_s();
  int failed = weft_launch_fork(n, rank_main, &a, timeout_s, NULL);
  double wall = now_s() - t0;
  double *init = malloc(sizeof(double) * (size_t)n), first = 0, second = 0;
  int smax_init = 0, smax_after = 0, links_max = 0, bad = failed;
  long rss_init = 0, rss_after = 0;
  for (int r = 0; r < n; r++) {
    rank_report *x = &a.out[r];
    if (!x->ok) {
      fprintf(stderr, "rank %d failed: %s\n", r, x->err[0] ? x->err : "(no report)");
      bad++;
      continue;
    }
    init[r] = x->init_s;
    if (x->first_s > first) first = x->first_s;
    if (x->second_s > second) second = x->second_s;
    int links = x->sockets_after - x->sockets_init;
    if (x->sockets_init > smax_init) smax_init = x->sockets_init;
    if (x->sockets_after > smax_after) smax_after = x->sockets_after;
    if (links > links_max) links_max = links;
    if (x->rss_init_kb - x->rss_before_kb > rss_init) rss_init = x->rss_init_kb - x->rss_before_kb;
    if (x->rss_after_kb - x->rss_before_kb > rss_after) rss_after = x->rss_after_kb - x->rss_before_kb;
  }
  if (bad) return fprintf(stderr, "FAIL: %d ranks failed\n", bad), 1;
  qsort(init, (size_t)n, sizeof *init, cmp_double);
  printf("ranks %d mode %s: wall %.2f s; init max %.3f s median %.3f s; sockets per rank: %d after init, %d after "
         "a ring allreduce (%d links opened); allreduce of %zu floats max %.2f ms first, %.2f ms second; memory per rank (RSS growth, max): %ld KiB after init, %ld KiB after "
         "the allreduce\n", n, eager ? "eager" : "lazy", wall, init[n - 1], init[n / 2], smax_init, smax_after,
         links_max, count, first * 1e3, second * 1e3, rss_init, rss_after);
  free(init);
  if (!eager && links_max > 4)
    return fprintf(stderr, "FAIL: a ring allreduce opened %d links on one rank (at most 4)\n", links_max), 1;
  if (!eager && smax_after > max_sockets)
    return fprintf(stderr, "FAIL: a rank holds %d sockets (at most %d)\n", smax_after, max_sockets), 1;
  return 0;
}
