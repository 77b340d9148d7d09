#include "launch.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int weft_launch_fork(int nranks, weft_rank_fn fn, void *arg, double timeout_s, int *status_out) {
  weftUniqueId id;
  if (nranks < 1) return 1;
  if (weftGetUniqueId(&id) != weftSuccess) {
    fprintf(stderr, "launch: weftGetUniqueId failed: %s\n", weftGetLastError(NULL));
    return nranks;
  }
  pid_t *pids = calloc((size_t)nranks, sizeof(pid_t));
  int *status = calloc((size_t)nranks, sizeof(int));
  if (!pids || !status) {
    free(pids);
    free(status);
    return nranks;
  }
  fflush(stdout);
  fflush(stderr);
  for (int r = 0; r < nranks; r++) {
    pid_t pid = fork();
    if (pid == 0) {
      int rc = fn(r, nranks, &id, arg);
      fflush(stdout);
      fflush(stderr);
      _exit(rc & 0xff);
    }
    if (pid < 0) {
      perror("launch: fork");
      for (int k = 0; k < r; k++) kill(pids[k], SIGKILL);
      for (int k = 0; k < r; k++) waitpid(pids[k], NULL, 0);
      free(pids);
      free(status);
      return nranks;
    }
    pids[r] = pid;
    status[r] = -1;
  }
  double deadline = now_s() + timeout_s;
  int remaining = nranks, timed_out = 0;
  while (remaining > 0) {
    int st;
    pid_t pid = waitpid(-1, &st, WNOHANG);
    if (pid > 0) {
      for (int r = 0; r < nranks; r++) {
        if (pids[r] != pid) continue;
        status[r] = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        remaining--;
      }
      continue;
    }
    if (pid < 0 && errno != EINTR) break;
    if (!timed_out && now_s() > deadline) {
      timed_out = 1;
      for (int r = 0; r < nranks; r++)
        if (status[r] < 0) kill(pids[r], SIGKILL);
    }
    usleep(2000);
  }
  int failed = 0;
  for (int r = 0; r < nranks; r++) {
    int s = status[r];
    if (s < 0 || (timed_out && s == 128 + SIGKILL)) s = 255;
    if (status_out) status_out[r] = s;
    if (s != 0) {
      failed++;
      fprintf(stderr, "launch: rank %d/%d %s (status %d)\n", r, nranks,
              s == 255 ? "timed out" : "failed", s);
    }
  }
  free(pids);
  free(status);
  return failed;
}
