#include "launch_fork.h"

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

/* The unique id is created after the fork and handed to the children
 * through a pipe: creating it starts the bootstrap root thread, and forking a
 * process that has threads running is unsafe for allocators that are not
 * fork-aware (sanitizers). */
int weft_launch_fork(int nranks, weft_rank_fn fn, void *arg, double timeout_s, int *status_out) {
  if (nranks < 1) return 1;
  pid_t *pids = calloc((size_t)nranks, sizeof(pid_t));
  int *status = calloc((size_t)nranks, sizeof(int));
  int *wfd = calloc((size_t)nranks, sizeof(int));
  if (!pids || !status || !wfd) {
    free(pids);
    free(status);
    free(wfd);
    return nranks;
  }
  fflush(stdout);
  fflush(stderr);
  int started = 0;
  for (int r = 0; r < nranks; r++) {
    int p[2];
    if (pipe(p) != 0) break;
    pid_t pid = fork();
    if (pid == 0) {
      close(p[1]);
      for (int k = 0; k < r; k++) close(wfd[k]);
      weftUniqueId id;
      size_t got = 0;
      while (got < sizeof id) {
        ssize_t n = read(p[0], (char *)&id + got, sizeof id - got);
        if (n <= 0) _exit(254); /* the launcher could not create the id */
        got += (size_t)n;
      }
      close(p[0]);
      int rc = fn(r, nranks, &id, arg);
      fflush(stdout);
      fflush(stderr);
      _exit(rc & 0xff);
    }
    close(p[0]);
    if (pid < 0) {
      close(p[1]);
      break;
    }
    pids[r] = pid;
    wfd[r] = p[1];
    status[r] = -1;
    started++;
  }
  weftUniqueId id;
  int ok = started == nranks && weftGetUniqueId(&id) == weftSuccess;
  if (started < nranks) perror("launch: fork");
  else if (!ok) fprintf(stderr, "launch: weftGetUniqueId failed: %s\n", weftGetLastError(NULL));
  for (int r = 0; r < started; r++) {
    if (ok && write(wfd[r], &id, sizeof id) != (ssize_t)sizeof id) ok = 0;
    close(wfd[r]);
  }
  free(wfd);
  if (!ok) {
    for (int k = 0; k < started; k++) kill(pids[k], SIGKILL);
    for (int k = 0; k < started; k++) waitpid(pids[k], NULL, 0);
    free(pids);
    free(status);
    return nranks;
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
