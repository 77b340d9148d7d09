#include "util/ticks.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

static int use_tsc;
static uint64_t tsc0;
static long long ns0;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static long long mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Whether the kernel found the TSC invariant (its flags in /proc/cpuinfo). */
static int tsc_invariant(void) {
#if defined(__x86_64__)
  FILE *f = fopen("/proc/cpuinfo", "r");
  if (!f) return 0;
  char line[4096];
  int found = 0;
  while (!found && fgets(line, sizeof line, f)) {
    if (strncmp(line, "flags", 5) != 0) continue;
    found = strstr(line, " constant_tsc") && strstr(line, " nonstop_tsc") ? 1 : -1;
  }
  fclose(f);
  return found == 1;
#else
  return 0;
#endif
}

static void start(void) {
  use_tsc = tsc_invariant();
#if defined(__x86_64__)
  if (use_tsc) tsc0 = __rdtsc();
#endif
  ns0 = mono_ns();
}

uint64_t weft_ticks(void) {
  pthread_once(&once, start);
#if defined(__x86_64__)
  if (use_tsc) return __rdtsc();
#endif
  return (uint64_t)mono_ns();
}

double weft_ticks_ns(uint64_t ticks) {
  pthread_once(&once, start);
  if (!use_tsc) return (double)ticks;
#if defined(__x86_64__)
  /* the rate since the first use: both clocks read back to back, so its
   * error is their skew (tens of ns) over the time since then */
  long long ns;
  uint64_t tsc;
  do {
    tsc = __rdtsc();
    ns = mono_ns();
  } while (tsc <= tsc0 || ns - ns0 < 1000000); /* at most 1 ms, and only right after the first use */
  return (double)ticks * (double)(ns - ns0) / (double)(tsc - tsc0);
#else
  return (double)ticks;
#endif
}
