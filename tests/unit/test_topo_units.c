/* Topology layer: quantities with units, their formatting, and hints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "topo/hint.h"
#include "topo/units.h"
#include "topo/wan_size.h"
#include "util/size.h"

static void bw_ok(const char *text, double want) {
  double v = -1;
  char why[256] = "";
  if (weft_parse_bandwidth(text, &v, why, sizeof why)) fail_msg("'%s': %s", text, why);
  if (v != want) fail_msg("'%s' gave %.17g, want %.17g", text, v, want);
}

static void bw_bad(const char *text, const char *msg) {
  double v;
  char why[256] = "";
  assert_int_equal(weft_parse_bandwidth(text, &v, why, sizeof why), -1);
  assert_string_equal(why, msg);
}

static void lat_ok(const char *text, double want) {
  double v = -1;
  char why[256] = "";
  if (weft_parse_latency(text, &v, why, sizeof why)) fail_msg("'%s': %s", text, why);
  if (v != want) fail_msg("'%s' gave %.17g, want %.17g", text, v, want);
}

static void lat_bad(const char *text, const char *msg) {
  double v;
  char why[256] = "";
  assert_int_equal(weft_parse_latency(text, &v, why, sizeof why), -1);
  assert_string_equal(why, msg);
}

static void size_ok(const char *text, uint64_t want) {
  uint64_t v = 0;
  char why[256] = "";
  if (weft_parse_size(text, &v, why, sizeof why)) fail_msg("'%s': %s", text, why);
  assert_int_equal(v, want);
}

static void size_bad(const char *text, const char *msg) {
  uint64_t v;
  char why[256] = "";
  assert_int_equal(weft_parse_size(text, &v, why, sizeof why), -1);
  assert_string_equal(why, msg);
}

static void test_bandwidth(void **state) {
  (void)state;
  bw_ok("100Gbit/s", 12.5e9);
  bw_ok("12.5GB/s", 12.5e9);
  bw_ok("800Mbit/s", 1e8);
  bw_ok("1Gbit/s", 1.25e8);
  bw_ok("10Gbps", 1.25e9);
  bw_ok("100 Gbit/s", 12.5e9);
  bw_ok("2GiB/s", 2147483648.0);
  bw_ok("1Tbit/s", 1.25e11);
  bw_ok("8bit/s", 1.0);
  bw_ok("3B/s", 3.0);
  bw_ok("1.5KB/s", 1500.0);
  bw_bad("100", "missing unit in bandwidth '100' (e.g. 100Gbit/s or 12.5GB/s)");
  bw_bad("0Gbit/s", "bandwidth must be positive, got '0Gbit/s'");
  bw_bad("-5GB/s", "bandwidth must be positive, got '-5GB/s'");
  bw_bad("10Gbits", "unknown bandwidth unit 'Gbits' in '10Gbits'; did you mean 'Gbit/s'?");
  bw_bad("10 furlongs", "unknown bandwidth unit 'furlongs' in '10 furlongs' (use bit/s, Kbit/s, Mbit/s, Gbit/s, "
                        "Tbit/s, B/s, KB/s, MB/s, GB/s, TB/s or KiB/s, MiB/s, GiB/s, TiB/s)");
  bw_bad("fast", "bad bandwidth 'fast': expected a number followed by a unit");
  bw_bad("0x10GB/s", "bad bandwidth '0x10GB/s': expected a decimal number");
  bw_bad("1e400GB/s", "bandwidth '1e400GB/s' is out of range");
}

static void test_latency(void **state) {
  (void)state;
  lat_ok("2us", 2e-6);
  lat_ok("1.5ms", 1.5e-3);
  lat_ok("20ms", 0.02);
  lat_ok("0.5us", 5e-7);
  lat_ok("500ns", 5e-7);
  lat_ok("1s", 1.0);
  lat_ok("0us", 0.0);
  lat_ok("3\xc2\xb5s", 3e-6);
  lat_bad("20", "missing unit in latency '20' (e.g. 2us, 1.5ms or 20ms)");
  lat_bad("-1ms", "latency must not be negative, got '-1ms'");
  lat_bad("5msec", "unknown latency unit 'msec' in '5msec'; did you mean 'ms'?");
  lat_bad("5 fortnights", "unknown latency unit 'fortnights' in '5 fortnights' (use ns, us, ms or s)");
  lat_bad("soon", "bad latency 'soon': expected a number followed by a unit");
}

static void test_sizes(void **state) {
  (void)state;
  size_ok("1M", 1048576);
  size_ok("64KiB", 65536);
  size_ok("64K", 65536);
  size_ok("4096", 4096);
  size_ok("1.5K", 1536);
  size_ok("1G", 1073741824ull);
  size_ok("2TiB", 2199023255552ull);
  size_ok("0", 0);
  size_bad("0.3K", "size '0.3K' is not a whole number of bytes");
  size_bad("-1M", "size must not be negative, got '-1M'");
  size_bad("1Q", "unknown size unit 'Q' in '1Q' (use K, M, G, T or KiB, MiB, GiB, TiB)");
  size_bad("1Mib", "unknown size unit 'Mib' in '1Mib'; did you mean 'MiB'?");
  size_bad("9000000T", "size '9000000T' is too large");
  size_bad("big", "bad size 'big': expected a number followed by a unit");
  size_bad("0x10", "bad size '0x10': expected a decimal number");
  size_bad("1X", "unknown size unit 'X' in '1X' (use K, M, G, T or KiB, MiB, GiB, TiB)");
}

static void fmt_is(void (*fmt)(double, char *, size_t), double v, const char *want) {
  char buf[64];
  fmt(v, buf, sizeof buf);
  assert_string_equal(buf, want);
}

static void test_format(void **state) {
  (void)state;
  fmt_is(weft_format_bandwidth, 12.5e9, "100Gbit/s");
  fmt_is(weft_format_bandwidth, 20e9, "20GB/s");
  fmt_is(weft_format_bandwidth, 1.25e8, "1Gbit/s");
  fmt_is(weft_format_bandwidth, 2147483648.0, "2GiB/s");
  fmt_is(weft_format_bandwidth, 3e9 + 1, "3000000001B/s");
  fmt_is(weft_format_latency, 2e-6, "2us");
  fmt_is(weft_format_latency, 0.02, "20ms");
  fmt_is(weft_format_latency, 5e-7, "500ns");
  fmt_is(weft_format_latency, 1.0, "1s");
  fmt_is(weft_format_latency, 0.0, "0s");
  fmt_is(weft_format_number, 0.6, "0.6");
  fmt_is(weft_format_number, 1.0, "1");
  char buf[32];
  weft_format_bytes(1048576, buf, sizeof buf);
  assert_string_equal(buf, "1M");
  weft_format_bytes(65536 + 1, buf, sizeof buf);
  assert_string_equal(buf, "65537");
  weft_format_bytes(0, buf, sizeof buf);
  assert_string_equal(buf, "0");
}

/* Whatever the value, the text parses back to exactly the same double. */
static void test_format_roundtrip(void **state) {
  (void)state;
  srand(7);
  for (int i = 0; i < 20000; i++) {
    double bw = ldexp((double)rand() / RAND_MAX + 0.5, rand() % 60 - 10);
    double lat = ldexp((double)rand() / RAND_MAX, -(rand() % 40));
    char b[64], l[64], why[256];
    double back;
    weft_format_bandwidth(bw, b, sizeof b);
    assert_int_equal(weft_parse_bandwidth(b, &back, why, sizeof why), 0);
    if (back != bw) fail_msg("bandwidth %.17g -> '%s' -> %.17g", bw, b, back);
    weft_format_latency(lat, l, sizeof l);
    assert_int_equal(weft_parse_latency(l, &back, why, sizeof why), 0);
    if (back != lat) fail_msg("latency %.17g -> '%s' -> %.17g", lat, l, back);
    uint64_t sz = ((uint64_t)rand() << (rand() % 20)), sback;
    weft_format_bytes(sz, b, sizeof b);
    assert_int_equal(weft_parse_size(b, &sback, why, sizeof why), 0);
    assert_int_equal(sback, sz);
  }
}

static void test_hint(void **state) {
  (void)state;
  static const char *const keys[] = {"bandwidth", "latency", "transport", "codec", "streams", NULL};
  assert_int_equal(weft_edit_distance("bandwith", "bandwidth"), 1);
  assert_int_equal(weft_edit_distance("kitten", "sitting"), 3);
  assert_int_equal(weft_edit_distance("", "abc"), 3);
  assert_int_equal(weft_edit_distance("ABC", "abc"), 0);
  assert_int_equal(weft_edit_distance("tpc", "tcp"), 1);
  assert_string_equal(weft_hint("bandwith", keys), "bandwidth");
  assert_string_equal(weft_hint("latancy", keys), "latency");
  assert_string_equal(weft_hint("lat", keys), "latency");
  assert_string_equal(weft_hint("Codec", keys), "codec");
  assert_null(weft_hint("xyz", keys));
  assert_null(weft_hint("speed", keys));
  assert_null(weft_hint("", keys));
  assert_null(weft_hint("c", keys));
}

/* The WAN sizing rules of topo/wan_size.h. */
static void test_wan_size(void **state) {
  (void)state;
  double gbit = 1e9 / 8;
  /* given counts win; no link data: one stream */
  assert_int_equal(weft_wan_streams(gbit, 0.067, 1 << 20, 5), 5);
  assert_int_equal(weft_wan_streams(0, 0.067, 1 << 20, 0), 1);
  assert_int_equal(weft_wan_streams(gbit, 0, 1 << 20, 0), 1);
  /* 1 Gbit/s x 134 ms = 16.75 MB: one stream in a 32 MiB window, 8 in 2 MiB windows */
  assert_int_equal(weft_wan_streams(gbit, 0.067, 32 << 20, 0), 1);
  assert_int_equal(weft_wan_streams(gbit, 0.067, 2 << 20, 0), 8);
  /* 10 Gbit/s x 20 ms = 25 MB in 2 MiB windows: 11.9 + 1 */
  assert_int_equal(weft_wan_streams(10 * gbit, 0.010, 2 << 20, 0), 12);
  /* capped, also with an unknown window */
  assert_int_equal(weft_wan_streams(100 * gbit, 0.1, 1 << 20, 0), WEFT_WAN_STREAMS_AUTO_MAX);
  assert_int_equal(weft_wan_streams(gbit, 0.01, 0, 0), WEFT_WAN_STREAMS_AUTO_MAX);
  /* warm-up: 12 round trips, capped, none on short links or when off */
  assert_int_equal(weft_wan_warm_ms(0.134, 2000), 1608);
  assert_int_equal(weft_wan_warm_ms(0.040, 2000), 480);
  assert_int_equal(weft_wan_warm_ms(0.300, 2000), 2000);
  assert_int_equal(weft_wan_warm_ms(0.134, 0), 0);
  assert_int_equal(weft_wan_warm_ms(0.0001, 2000), 0);
  assert_int_equal(weft_wan_warm_ms(WEFT_WAN_WARM_MIN_RTT, 2000), WEFT_WAN_WARM_RTTS * 5);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bandwidth), cmocka_unit_test(test_latency),          cmocka_unit_test(test_sizes),
      cmocka_unit_test(test_format),    cmocka_unit_test(test_format_roundtrip), cmocka_unit_test(test_hint),
      cmocka_unit_test(test_wan_size),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
