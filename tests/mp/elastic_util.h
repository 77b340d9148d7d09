/* Helpers the shrink/grow tests share (test_shrink.c, test_churn.c): a
 * driver process forks the ranks ("slots") itself, so that it can kill
 * them and fork replacements while the others run. */
#ifndef WEFT_TEST_ELASTIC_UTIL_H
#define WEFT_TEST_ELASTIC_UTIL_H

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "weft.h"

static inline double el_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline void el_sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Slot s of n on one of nsites fake sites (each its own fake host). */
static inline void el_place(int slot, int n, int nsites) {
  if (nsites < 1) return;
  int per = (n + nsites - 1) / nsites;
  char name[32];
  snprintf(name, sizeof name, "site%d", slot / per);
  setenv("WEFT_HOST_ID", name, 1);
  setenv("WEFT_SITE", name, 1);
}

/* Shared memory the driver and every slot see. */
static inline void *el_shared(size_t bytes) {
  void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

/* Slot 0 makes the unique id and publishes it; the others wait for it.
 * The driver itself never calls weft: a process that forks while one of its
 * threads (a rendezvous root) holds a libcrypto lock gives its child that
 * lock, held forever. */
static inline int el_share_id(int slot, weftUniqueId *id, atomic_int *ready) {
  if (slot == 0) {
    if (weftGetUniqueId(id) != weftSuccess) return -1;
    atomic_store(ready, 1);
    return 0;
  }
  for (int i = 0; i < 30000 && !atomic_load(ready); i++) el_sleep_ms(1);
  return atomic_load(ready) ? 0 : -1;
}

/* Forks fn(arg, slot) as a child; returns its pid. */
static inline pid_t el_spawn(int (*fn)(void *, int), void *arg, int slot) {
  fflush(stdout);
  fflush(stderr);
  pid_t p = fork();
  if (p == 0) _exit(fn(arg, slot));
  return p;
}

/* Waits for pid until the deadline (el_now() seconds); kills it after.
 * Returns its exit status, 128 + signal when killed, 255 on timeout. */
static inline int el_reap(pid_t pid, double deadline) {
  int st;
  for (;;) {
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (r < 0) return 254;
    if (el_now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      return 255;
    }
    el_sleep_ms(5);
  }
}

#endif
