/* mp_launch: how the multi-process tests fork their ranks.
 *
 * By default this is weft_launch_fork (tools/launch) plus a start barrier.
 * weft_launch_fork calls weftGetUniqueId, which starts the bootstrap root
 * thread in the parent, and then forks the ranks. A fork while another thread
 * is inside malloc (or holds stderr's lock, e.g. while the root logs a dropped
 * stranger) leaves the child with a lock nobody will release:
 *
 *   - the barrier below keeps the root thread idle during the forks: no rank
 *     connects to it before every rank exists;
 *   - but the root thread's own start-up races with the first fork. glibc's
 *     malloc is fork-safe so normal builds are fine, but under ASan (gcc 12)
 *     the new thread's start-up calloc (AsanThread::Init ->
 *     pthread_getattr_np) can hold the allocator's size-class lock at the
 *     moment of fork, and the child deadlocks at its first allocation of
 *     that size class (seen as test_coll_matrix -n 2 hanging in rank 0 at
 *     allreduce call #63). That is a bug in tools/launch/launch.c (reported);
 *     it cannot be fixed from here, so sanitizer builds use mp_launch_safe:
 *     it forks all ranks first, rank 0 creates the unique id and hands it to
 *     the others through shared memory, so no thread exists at any fork.
 *
 * MP_LAUNCH=weft or MP_LAUNCH=safe in the environment picks one explicitly.
 * Both have weft_launch_fork's contract (exit statuses, 128+signal, 255 on
 * timeout, one line per failed rank on stderr).
 */
#ifndef WEFT_TESTS_MP_LAUNCH_H
#define WEFT_TESTS_MP_LAUNCH_H

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "launch.h"
#include "weft.h"

#if defined(__SANITIZE_ADDRESS__)
#define MP_LAUNCH_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MP_LAUNCH_SANITIZED 1
#endif
#endif
#ifndef MP_LAUNCH_SANITIZED
#define MP_LAUNCH_SANITIZED 0
#endif

typedef struct {
  atomic_int started;  /* ranks that are running */
  atomic_int id_ready; /* safe launcher: 1 id valid, -1 rank 0 could not make one */
  weftUniqueId id;
} mp_launch_shared;

typedef struct {
  weft_rank_fn fn;
  void *arg;
  mp_launch_shared *sh;
} mp_launch_wrap;

static double mp_launch_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Waits until *v >= want (or, with fail_on_negative, < 0); 60 s at most. */
static int mp_launch_wait(atomic_int *v, int want, int fail_on_negative) {
  struct timespec ts = {0, 1000000L};
  for (int i = 0; i < 60000; i++) {
    int x = atomic_load(v);
    if (x >= want) return 0;
    if (fail_on_negative && x < 0) return -1;
    nanosleep(&ts, NULL);
  }
  return -1;
}

static int mp_launch_rank(int rank, int nranks, const weftUniqueId *id, void *p) {
  mp_launch_wrap *w = p;
  atomic_fetch_add(&w->sh->started, 1);
  if (mp_launch_wait(&w->sh->started, nranks, 0) != 0) {
    fprintf(stderr, "rank %d: not all %d ranks started within 60 s\n", rank, nranks);
    return 99;
  }
  return w->fn(rank, nranks, id, w->arg);
}

/* Forks every rank before any thread exists; rank 0 makes the unique id. */
static int mp_launch_safe(int nranks, weft_rank_fn fn, void *arg, double timeout_s, int *status_out,
                          mp_launch_shared *sh) {
  if (nranks < 1) return 1;
  pid_t *pids = calloc((size_t)nranks, sizeof *pids);
  int *status = calloc((size_t)nranks, sizeof *status);
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
      int rc;
      if (r == 0) {
        weftResult_t res = weftGetUniqueId(&sh->id);
        if (res != weftSuccess) fprintf(stderr, "launch: weftGetUniqueId failed: %s\n", weftGetLastError(NULL));
        atomic_store(&sh->id_ready, res == weftSuccess ? 1 : -1);
      }
      if (mp_launch_wait(&sh->id_ready, 1, 1) != 0) {
        rc = 98;
      } else {
        weftUniqueId id = sh->id;
        rc = fn(r, nranks, &id, arg);
      }
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
  double deadline = mp_launch_now() + timeout_s;
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
    if (!timed_out && mp_launch_now() > deadline) {
      timed_out = 1;
      for (int r = 0; r < nranks; r++)
        if (status[r] < 0) kill(pids[r], SIGKILL);
    }
    struct timespec ts = {0, 2000000L};
    nanosleep(&ts, NULL);
  }
  int failed = 0;
  for (int r = 0; r < nranks; r++) {
    int s = status[r];
    if (s < 0 || (timed_out && s == 128 + SIGKILL)) s = 255;
    if (status_out) status_out[r] = s;
    if (s != 0) {
      failed++;
      fprintf(stderr, "launch: rank %d/%d %s (status %d)\n", r, nranks, s == 255 ? "timed out" : "failed", s);
    }
  }
  free(pids);
  free(status);
  return failed;
}

/* Same contract as weft_launch_fork. */
static int mp_launch(int nranks, weft_rank_fn fn, void *arg, double timeout_s, int *status_out) {
  mp_launch_shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (sh == MAP_FAILED) {
    perror("mp_launch: mmap");
    return nranks;
  }
  memset(sh, 0, sizeof *sh);
  atomic_init(&sh->started, 0);
  atomic_init(&sh->id_ready, 0);
  const char *which = getenv("MP_LAUNCH");
  int safe = which ? strcmp(which, "safe") == 0 : MP_LAUNCH_SANITIZED;
  int failed;
  if (safe) {
    failed = mp_launch_safe(nranks, fn, arg, timeout_s, status_out, sh);
  } else {
    mp_launch_wrap w = {fn, arg, sh};
    failed = weft_launch_fork(nranks, mp_launch_rank, &w, timeout_s, status_out);
  }
  munmap(sh, sizeof *sh);
  return failed;
}

#endif
