/* Strict environment parameters (util/param.h): decimal only, no NaN or
 * infinity, ranges checked; refused values fall back with a WARN or fail
 * init where they matter (timeouts, ranks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/log.h"
#include "util/param.h"
#include "weft.h"

/* What the process's default log sink (stderr) wrote between grab() and
 * release(). */
static char warned[4096];
static int saved_fd = -1;
static FILE *grabbed;

static void grab(void) {
  fflush(stderr);
  grabbed = tmpfile();
  saved_fd = dup(2);
  dup2(fileno(grabbed), 2);
}

static void release(void) {
  fflush(stderr);
  dup2(saved_fd, 2);
  close(saved_fd);
  rewind(grabbed);
  size_t n = fread(warned, 1, sizeof warned - 1, grabbed);
  warned[n] = 0;
  fclose(grabbed);
}

static void test_int(void **state) {
  (void)state;
  int64_t v = -7;
  char why[160];
  assert_int_equal(weft_parse_int("010", 0, 100, &v, why, sizeof why), 0);
  assert_int_equal(v, 10); /* decimal, never octal */
  assert_int_equal(weft_parse_int("-3", -5, 5, &v, why, sizeof why), 0);
  assert_int_equal(v, -3);
  const char *bad[] = {"0x10", "nan", "inf", "1.5", " 1", "1 ", "", "+", "1e3", "4294967296", "99999999999999999999"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    v = 42;
    assert_int_equal(weft_parse_int(bad[i], 0, INT32_MAX, &v, why, sizeof why), -1);
    assert_int_equal(v, 42);
  }
  assert_non_null(strstr(why, "out of range"));
}

static void test_env_fallbacks_warn(void **state) {
  (void)state;
  setenv("WEFT_TEST_INT", "12", 1);
  grab();
  assert_int_equal(weft_env_int("WEFT_TEST_INT", 5, 1, 100), 12);
  release();
  assert_string_equal(warned, "");
  grab();
  setenv("WEFT_TEST_INT", "1000", 1);
  assert_int_equal(weft_env_int("WEFT_TEST_INT", 5, 1, 100), 5);
  setenv("WEFT_TEST_BOOL", "maybe", 1);
  assert_int_equal(weft_env_bool("WEFT_TEST_BOOL", 1), 1);
  setenv("WEFT_TEST_BOOL", "off", 1);
  assert_int_equal(weft_env_bool("WEFT_TEST_BOOL", 1), 0);
  static const char *const modes[] = {"auto", "on", "off"};
  setenv("WEFT_TEST_CHOICE", "OFF", 1);
  assert_int_equal(weft_env_choice("WEFT_TEST_CHOICE", modes, 3, 0), 2);
  setenv("WEFT_TEST_CHOICE", "onn", 1);
  assert_int_equal(weft_env_choice("WEFT_TEST_CHOICE", modes, 3, 0), 0);
  setenv("WEFT_TEST_SIZE", "nan", 1);
  assert_int_equal(weft_env_size("WEFT_TEST_SIZE", 4096), 4096);
  /* once per variable and value */
  assert_int_equal(weft_env_size("WEFT_TEST_SIZE", 4096), 4096);
  release();
  char *first = strstr(warned, "WEFT_TEST_SIZE='nan'");
  assert_non_null(strstr(warned, "WEFT_TEST_INT='1000' refused"));
  assert_non_null(strstr(warned, "using 5"));
  assert_non_null(strstr(warned, "WEFT_TEST_BOOL='maybe' refused"));
  assert_non_null(strstr(warned, "WEFT_TEST_CHOICE='onn' refused (expected auto, on or off): using auto"));
  assert_non_null(first);
  assert_null(strstr(first + 1, "WEFT_TEST_SIZE='nan'"));
}

static void test_timeout(void **state) {
  (void)state;
  int ms = 0;
  char why[200];
  unsetenv("WEFT_TIMEOUT");
  assert_int_equal(weft_env_timeout_check(&ms, why, sizeof why), 0);
  assert_int_equal(ms, WEFT_TIMEOUT_DEFAULT_MS);
  setenv("WEFT_TIMEOUT", "1.5", 1);
  assert_int_equal(weft_env_timeout_check(&ms, why, sizeof why), 0);
  assert_int_equal(ms, 1500);
  const char *bad[] = {"nan", "-1", "0", "inf", "1e9", "3000000", "10s", "0x10", "1.2.3"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    setenv("WEFT_TIMEOUT", bad[i], 1);
    assert_int_equal(weft_env_timeout_check(&ms, why, sizeof why), -1);
    assert_non_null(strstr(why, "WEFT_TIMEOUT"));
    assert_int_equal(weft_env_timeout_ms(), WEFT_TIMEOUT_DEFAULT_MS); /* the fallback for non-init readers */
  }
  /* init refuses it, naming the variable */
  setenv("WEFT_TIMEOUT", "nan", 1);
  weftUniqueId id;
  assert_int_equal(weftGetUniqueId(&id), weftInvalidArgument);
  assert_non_null(strstr(weftGetLastError(NULL), "WEFT_TIMEOUT='nan'"));
  unsetenv("WEFT_TIMEOUT");
}

static void test_env_ranks(void **state) {
  (void)state;
  static const char *const cases[][3] = {{"4294967296", "8", "WEFT_RANK"},
                                         {"3", "2", "WEFT_RANK"},
                                         {"-1", "2", "WEFT_RANK"},
                                         {"010", "0x10", "WEFT_NRANKS"},
                                         {"1", "nan", "WEFT_NRANKS"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    setenv("WEFT_RANK", cases[i][0], 1);
    setenv("WEFT_NRANKS", cases[i][1], 1);
    weftComm_t comm = (weftComm_t)1;
    assert_int_equal(weftCommInitFromEnv(&comm, NULL), weftInvalidArgument);
    assert_null(comm);
    assert_non_null(strstr(weftGetLastError(NULL), cases[i][2]));
  }
  /* a rendezvous address other hosts can reach needs WEFT_SECRET */
  setenv("WEFT_RANK", "1", 1);
  setenv("WEFT_NRANKS", "2", 1);
  setenv("WEFT_COMM_ID", "192.0.2.7:29500", 1);
  unsetenv("WEFT_SECRET");
  weftComm_t comm = (weftComm_t)1;
  assert_int_equal(weftCommInitFromEnv(&comm, NULL), weftInvalidArgument);
  assert_null(comm);
  assert_non_null(strstr(weftGetLastError(NULL), "WEFT_SECRET is not set"));
  unsetenv("WEFT_COMM_ID");
  /* a job of one rank needs no rendezvous address */
  setenv("WEFT_RANK", "0", 1);
  setenv("WEFT_NRANKS", "1", 1);
  unsetenv("MASTER_ADDR");
  unsetenv("MASTER_PORT");
  assert_int_equal(weftCommInitFromEnv(&comm, NULL), weftSuccess);
  assert_int_equal(weftCommDestroy(comm), weftSuccess);
  unsetenv("WEFT_RANK");
  unsetenv("WEFT_NRANKS");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_int),
      cmocka_unit_test(test_env_fallbacks_warn),
      cmocka_unit_test(test_timeout),
      cmocka_unit_test(test_env_ranks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
