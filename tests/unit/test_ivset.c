/* The range set (util/ivset.h) against a byte map: random adds and removes,
 * every answer of covers() and the set's shape (sorted, disjoint, merged)
 * checked after each. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/ivset.h"

enum { N = 96 };

static void check(const weft_ivset *s, const unsigned char *map) {
  for (int i = 0; i < s->n; i++) {
    assert_true(s->iv[i].lo < s->iv[i].hi);
    if (i) assert_true(s->iv[i - 1].hi < s->iv[i].lo); /* touching ranges are merged */
  }
  for (size_t lo = 0; lo < N; lo++)
    for (size_t hi = lo + 1; hi <= N; hi++) {
      int all = 1;
      for (size_t k = lo; k < hi; k++) all &= map[k];
      assert_int_equal(weft_ivset_covers(s, lo, hi), all);
    }
}

static void test_random(void **state) {
  (void)state;
  unsigned char map[N] = {0};
  weft_ivset s = {0};
  srand(7);
  for (int round = 0; round < 400; round++) {
    size_t lo = (size_t)rand() % N, hi = lo + (size_t)rand() % (N - lo + 1);
    int add = rand() % 3 != 0;
    assert_int_equal(add ? weft_ivset_add(&s, lo, hi) : weft_ivset_remove(&s, lo, hi), 0);
    memset(map + lo, add, hi - lo);
    check(&s, map);
  }
  weft_ivset_clear(&s);
  memset(map, 0, sizeof map);
  check(&s, map);
  weft_ivset_free(&s);
}

static void test_shapes(void **state) {
  (void)state;
  weft_ivset s = {0};
  assert_int_equal(weft_ivset_add(&s, 10, 20), 0);
  assert_int_equal(weft_ivset_add(&s, 30, 40), 0);
  assert_int_equal(weft_ivset_add(&s, 20, 30), 0); /* fills the gap: one range */
  assert_int_equal(s.n, 1);
  assert_int_equal(weft_ivset_remove(&s, 15, 25), 0); /* splits it */
  assert_int_equal(s.n, 2);
  assert_true(weft_ivset_covers(&s, 10, 15) && weft_ivset_covers(&s, 25, 40));
  assert_false(weft_ivset_covers(&s, 14, 16));
  assert_true(weft_ivset_covers(&s, 5, 5)); /* nothing is always covered */
  weft_ivset_free(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_random), cmocka_unit_test(test_shapes)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
