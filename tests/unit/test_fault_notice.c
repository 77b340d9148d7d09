/* A failure notice from a neighbour's fault link (comm/fault.c, on_frame) is
 * input from the network: its rank must be one of the comm's, its texts are
 * cut to size, and a cause or result code this weft does not know is taken as
 * "reported" / weftRemoteError, so that no unknown code reaches a caller's
 * weftResult_t (through the comm's async error) or indexes a table. fault.c
 * is included whole: on_frame is its own. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../lib/comm/fault.c"

/* A 3-rank comm as far as the fault layer sees it: rank 0, no links. */
static struct weftComm *comm_new(void) {
  struct weftComm *c = calloc(1, sizeof *c);
  assert_non_null(c);
  c->rank = 0;
  c->nranks = 3;
  atomic_init(&c->async_error, weftSuccess);
  assert_int_equal(weft_fault_new(c), 0);
  return c;
}

static void comm_free(struct weftComm *c) {
  weft_fault_free(c);
  free(c);
}

/* Feeds one notice frame; returns whether the comm took a failure from it. */
static int feed(struct weftComm *c, const weft_fault_origin *o) {
  fault_link l;
  memset(&l, 0, sizeof l);
  l.fd = -1;
  l.rx.magic = FRAME_MAGIC;
  l.rx.type = FR_NOTICE;
  l.rx.o = *o;
  on_frame(c, &l);
  weft_fault_origin got;
  return weft_fault_await(c, 0, &got);
}

static void test_known_notice(void **state) {
  (void)state;
  struct weftComm *c = comm_new();
  weft_fault_origin o;
  memset(&o, 0, sizeof o);
  o.rank = 0; /* this rank's own failure, reported back by a neighbour */
  o.cause = WEFT_FAULT_ABORTED;
  o.result = weftAborted;
  snprintf(o.msg, sizeof o.msg, "weftCommAbort was called");
  assert_true(feed(c, &o));
  assert_int_equal(atomic_load(&c->async_error), weftAborted);
  comm_free(c);
}

static void test_unknown_codes(void **state) {
  (void)state;
  struct weftComm *c = comm_new();
  weft_fault_origin o, got;
  memset(&o, 0x7f, sizeof o); /* texts without a terminator */
  o.rank = 0;
  o.cause = 99;
  o.result = 12345;
  assert_true(feed(c, &o));
  assert_int_equal(atomic_load(&c->async_error), weftRemoteError);
  assert_true(weft_fault_await(c, 0, &got));
  assert_int_equal(got.cause, WEFT_FAULT_REPORTED);
  assert_int_equal(got.result, weftRemoteError);
  assert_int_equal(strlen(got.host), sizeof got.host - 1);
  assert_int_equal(strlen(got.msg), sizeof got.msg - 1);
  comm_free(c);

  c = comm_new();
  o.result = -3;
  assert_true(feed(c, &o));
  assert_int_equal(atomic_load(&c->async_error), weftRemoteError);
  comm_free(c);
}

static void test_rank_out_of_range(void **state) {
  (void)state;
  struct weftComm *c = comm_new();
  weft_fault_origin o;
  memset(&o, 0, sizeof o);
  o.cause = WEFT_FAULT_KILLED;
  o.rank = 3;
  assert_false(feed(c, &o));
  o.rank = -1;
  assert_false(feed(c, &o));
  assert_int_equal(atomic_load(&c->async_error), weftSuccess);
  comm_free(c);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_known_notice),
      cmocka_unit_test(test_unknown_codes),
      cmocka_unit_test(test_rank_out_of_range),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
