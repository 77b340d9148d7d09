/* A joiner of weftCommGrow takes the comm's settings from rank 0's card
 * (api/comm_grow.c, adopt): a card with a value outside what a rank's own
 * environment may set is refused with weftRemoteError naming the setting,
 * and a good one is taken. comm_grow.c is included whole: adopt is its own. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../lib/api/comm_grow.c"

static grow_card good_card(void) {
  grow_card k;
  memset(&k, 0, sizeof k);
  k.old_rank = 0;
  k.old_n = 2;
  k.timeout_ms = 5000;
  k.crypto = WEFT_CRYPTO_OFF;
  k.wan_streams = 4;
  k.dev_pieces = 2;
  k.stripe_min = 256 << 10;
  k.pipe_bytes = 4 << 20;
  k.direct_threshold = k.tree_threshold = 64 << 10;
  k.rooted_threshold = 256 << 10;
  k.spin_us = 50;
  return k;
}

static void test_card_ranges(void **state) {
  (void)state;
  struct weftComm *c = calloc(1, sizeof *c);
  c->bootstrap = calloc(1, sizeof *c->bootstrap);
  grow_card k = good_card();
  assert_int_equal(adopt(c, &k), weftSuccess);
  assert_int_equal(c->timeout_ms, 5000);
  assert_int_equal(c->tune.wan_streams, 4);
  assert_int_equal((int)c->tune.stripe_min, 256 << 10);
  static const struct {
    const char *name;
    int which;
  } bad[] = {{"timeout", 0},       {"timeout", 1},      {"encryption mode", 2}, {"encryption mode", 3},
             {"WAN stream count", 4}, {"WAN stream count", 5}, {"device piece count", 6}, {"device piece count", 7},
             {"stripe size", 8},   {"spin time", 9},    {"spin time", 10},      {"spin time", 11}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    k = good_card();
    switch (bad[i].which) {
      case 0: k.timeout_ms = 0; break;
      case 1: k.timeout_ms = -5; break;
      case 2: k.crypto = -1; break;
      case 3: k.crypto = WEFT_CRYPTO_OFF + 1; break;
      case 4: k.wan_streams = -1; break;
      case 5: k.wan_streams = WEFT_MAX_STREAMS + 1; break;
      case 6: k.dev_pieces = -1; break;
      case 7: k.dev_pieces = WEFT_DEV_MAX_PIECES + 1; break;
      case 8: k.stripe_min = 0; break; /* a division by it splits WAN messages */
      case 9: k.spin_us = NAN; break;
      case 10: k.spin_us = -1; break;
      case 11: k.spin_us = 2e6; break;
    }
    c->timeout_ms = 1234;
    assert_int_equal(adopt(c, &k), weftRemoteError);
    assert_int_equal(c->timeout_ms, 1234); /* nothing taken */
    assert_non_null(strstr(weftGetLastError(NULL), bad[i].name));
  }
  free(c->bootstrap);
  free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_card_ranges)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
