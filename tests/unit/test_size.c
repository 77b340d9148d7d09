/* The one size parser (util/size.h): spellings from environment variables,
 * topology files and benchmark flags; what it refuses and why. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/param.h"
#include "util/size.h"

static void ok(const char *text, uint64_t want) {
  uint64_t v = 0;
  char why[256] = "";
  if (weft_parse_size(text, &v, why, sizeof why)) fail_msg("'%s': %s", text, why);
  if (v != want) fail_msg("'%s' gave %llu, want %llu", text, (unsigned long long)v, (unsigned long long)want);
}

static void bad(const char *text, const char *msg) {
  uint64_t v = 12345;
  char why[256] = "";
  assert_int_equal(weft_parse_size(text, &v, why, sizeof why), -1);
  assert_string_equal(why, msg);
  assert_int_equal(v, 12345); /* untouched on failure */
}

static void test_spellings(void **state) {
  (void)state;
  ok("0", 0);
  ok("64", 64);
  ok("64B", 64);
  ok("64b", 64);
  /* every spelling of the four binary prefixes */
  static const char *const pre[] = {"K", "M", "G", "T"};
  static const char *const tails[] = {"", "B", "b", "iB"};
  for (int p = 0; p < 4; p++)
    for (int t = 0; t < 4; t++)
      for (int lower = 0; lower < 2; lower++) {
        char text[16];
        snprintf(text, sizeof text, "3%c%s", lower ? pre[p][0] + 32 : pre[p][0], tails[t]);
        ok(text, 3ull << (10 * (p + 1)));
      }
  ok("64 MiB", 64ull << 20);
  ok("  1M  ", 1ull << 20);
  ok("+2K", 2048);
  ok("-0", 0);
}

static void test_numbers(void **state) {
  (void)state;
  ok("1.5K", 1536);
  ok(".5K", 512);
  ok("1e3", 1000);
  ok("1.5e1K", 15360);
  ok("010", 10); /* decimal, never octal */
  ok("9007199254740993", 9007199254740993ull); /* integers are exact beyond 2^53 */
  ok("9223372036854775807", 9223372036854775807ull);
  ok("8388607T", 8388607ull << 40);
}

static void test_refused(void **state) {
  (void)state;
  bad("", "bad size '': expected a number followed by a unit");
  bad("K", "bad size 'K': expected a number followed by a unit");
  bad("nan", "bad size 'nan': expected a number followed by a unit");
  bad("inf", "bad size 'inf': expected a number followed by a unit");
  bad("0x10", "bad size '0x10': expected a decimal number");
  bad("-1", "size must not be negative, got '-1'");
  bad("12Q", "unknown size unit 'Q' in '12Q' (use K, M, G, T or KiB, MiB, GiB, TiB)");
  bad("1Mib", "unknown size unit 'Mib' in '1Mib'; did you mean 'MiB'?");
  bad("1kib", "unknown size unit 'kib' in '1kib'; did you mean 'KiB'?");
  bad("1KK", "unknown size unit 'KK' in '1KK' (use K, M, G, T or KiB, MiB, GiB, TiB)");
  bad("1e", "unknown size unit 'e' in '1e' (use K, M, G, T or KiB, MiB, GiB, TiB)");
  bad("0.3K", "size '0.3K' is not a whole number of bytes");
  bad("0.5", "size '0.5' is not a whole number of bytes");
  bad("9223372036854775808", "size '9223372036854775808' is too large");
  bad("99999999999999999999", "size '99999999999999999999' is too large");
  bad("8388608T", "size '8388608T' is too large");
  bad("8e18K", "size '8e18K' is too large");
  bad("1e999", "size '1e999' is out of range");
  uint64_t v;
  assert_int_equal(weft_parse_size(NULL, &v, NULL, 0), -1);
  assert_int_equal(weft_parse_size("1X", &v, NULL, 0), -1); /* no reason wanted */
}

static void test_size_t_and_env(void **state) {
  (void)state;
  size_t z = 0;
  char why[128];
  assert_int_equal(weft_parse_size_t("4K", &z, why, sizeof why), 0);
  assert_int_equal(z, 4096);
  assert_int_equal(weft_parse_size_t("4Q", &z, why, sizeof why), -1);
  setenv("WEFT_TEST_SIZE", "64K", 1);
  assert_int_equal(weft_env_size("WEFT_TEST_SIZE", 7), 64 << 10);
  setenv("WEFT_TEST_SIZE", "64Q", 1);
  assert_int_equal(weft_env_size("WEFT_TEST_SIZE", 7), 7);
  setenv("WEFT_TEST_SIZE", "", 1);
  assert_int_equal(weft_env_size("WEFT_TEST_SIZE", 7), 7);
  unsetenv("WEFT_TEST_SIZE");
  assert_int_equal(weft_env_size("WEFT_TEST_SIZE", 7), 7);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_spellings),
      cmocka_unit_test(test_numbers),
      cmocka_unit_test(test_refused),
      cmocka_unit_test(test_size_t_and_env),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
