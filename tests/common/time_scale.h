/* The one factor for the time budgets of the tests (tests/README.md).
 *
 * WEFT_TEST_TIME_SCALE, a number >= 1 (default 1; anything else reads as 1),
 * multiplies every limit a test allows itself on a slow machine or under
 * sanitizers: how long the forked ranks may run, the comm timeouts of tests
 * that are not about timeouts, and the upper bounds on how long a failure may
 * take to show. It never changes the behaviour under test: a configured 1 s
 * timeout stays 1 s, only the most the test waits for it to fire grows.
 * ctest sets the variable for every test to the value the build was
 * configured with (CMake variable WEFT_TEST_TIME_SCALE), which also scales
 * the ctest TIMEOUTs. */
#ifndef WEFT_TEST_TIME_SCALE_H
#define WEFT_TEST_TIME_SCALE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static inline double weft_test_time_scale(void) {
  const char *v = getenv("WEFT_TEST_TIME_SCALE");
  if (!v || !*v) return 1.0;
  char *end;
  double x = strtod(v, &end);
  return (*end || !isfinite(x) || x < 1.0) ? 1.0 : x;
}

/* A budget of the given seconds on this machine. */
static inline double weft_test_seconds(double seconds) { return seconds * weft_test_time_scale(); }

static inline int weft_test_ms(int ms) { return (int)(ms * weft_test_time_scale()); }

/* Sets an environment variable that holds seconds (WEFT_TIMEOUT) to a budget. */
static inline void weft_test_setenv_seconds(const char *name, double seconds) {
  char v[32];
  snprintf(v, sizeof v, "%g", weft_test_seconds(seconds));
  setenv(name, v, 1);
}

#endif
