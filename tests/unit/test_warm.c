/* Stage 1 of the WAN warm-up (comm/warm.c: pings and echoes on stream 0)
 * against a scripted peer: a well-behaved one, and peers whose messages the
 * warm-up must refuse (a round pinged twice, an echo of a ping never sent)
 * before they make it send more than it has room for. warm.c is included
 * whole: step_small is its own (static) and the transport is a fake one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../lib/comm/warm.c"

/* The fake transport: isend completes at once and is counted; irecv takes
 * the next scripted message (kind, round). */
static uint32_t script[8][2];
static int nscript, next_in, nsent;
static char req_send, req_recv;

static weftResult_t fake_isend(void *ep, const void *data, size_t size, uint64_t tag, void *mh, void **req) {
  (void)ep, (void)data, (void)tag, (void)mh;
  assert_int_equal(size, WARM_SMALL);
  nsent++;
  *req = &req_send;
  return weftSuccess;
}

static weftResult_t fake_irecv(void *ep, void *data, size_t size, uint64_t tag, void *mh, void **req) {
  (void)ep, (void)tag, (void)mh;
  assert_int_equal(size, WARM_SMALL);
  assert_true(next_in < nscript); /* the warm-up reads no more than 2 x WARM_PINGS */
  memcpy(data, script[next_in++], WARM_SMALL);
  *req = &req_recv;
  return weftSuccess;
}

static weftResult_t fake_test(void *req, int *done, size_t *size, uint64_t *tag) {
  (void)tag;
  *done = 1;
  if (size) *size = req == &req_recv ? WARM_SMALL : 0;
  return weftSuccess;
}

static weftNet_t fake_net = {.isend = fake_isend, .irecv = fake_irecv, .test = fake_test};

/* Runs stage 1 against the script until it fails or has read everything;
 * returns the last step's result. */
static int run_small(warm_peer *w, warm_stream *st) {
  memset(w, 0, sizeof *w);
  memset(st, 0, sizeof *st);
  w->net = &fake_net;
  w->st = st;
  w->ns = 1;
  next_in = nsent = 0;
  int r = 0;
  for (int i = 0; i < 16 && r >= 0 && w->small_got < 2 * WARM_PINGS; i++) r = step_small(w);
  assert_true(w->small_sent <= 2 * WARM_PINGS);
  assert_int_equal(nsent, w->small_sent);
  return r;
}

static void set_script(int n, const uint32_t (*m)[2]) {
  nscript = n;
  memcpy(script, m, sizeof(uint32_t) * 2 * (size_t)n);
}

static void test_well_behaved(void **state) {
  (void)state;
  /* the peer pings 0, echoes our ping 0, pings 1, echoes our ping 1 */
  const uint32_t m[4][2] = {{MSG_PING, 0}, {MSG_ECHO, 0}, {MSG_PING, 1}, {MSG_ECHO, 1}};
  set_script(4, m);
  warm_peer w;
  warm_stream st;
  assert_true(run_small(&w, &st) >= 0);
  assert_int_equal(w.bad, 0);
  assert_int_equal(w.small_got, 4);
  assert_int_equal(w.pings_sent, WARM_PINGS);
  assert_int_equal(w.echoes_got, WARM_PINGS);
  assert_int_equal(w.small_sent, 2 * WARM_PINGS); /* 2 pings, 2 echoes */
}

/* The script must be refused at its message number at (1-based): the
 * warm-up fails as a bad peer's, having read no further. */
static void expect_refused(int n, const uint32_t (*m)[2], int at) {
  set_script(n, m);
  warm_peer w;
  warm_stream st;
  assert_int_equal(run_small(&w, &st), -1);
  assert_int_equal(w.bad, 1);
  assert_int_equal(w.small_got, at);
}

static void test_round_pinged_twice(void **state) {
  (void)state;
  /* every message a ping of round 0 or 1: without the check each one is
   * echoed, and the fifth send writes past small_out and small_req */
  const uint32_t m[4][2] = {{MSG_PING, 0}, {MSG_PING, 1}, {MSG_PING, 0}, {MSG_PING, 1}};
  expect_refused(4, m, 3); /* at the second ping of round 0 */
}

static void test_echo_of_no_ping(void **state) {
  (void)state;
  /* an echo of round 1 before ping 1 was sent: its time would be read
   * from a ping_at never written */
  const uint32_t m[2][2] = {{MSG_ECHO, 1}, {MSG_ECHO, 0}};
  expect_refused(2, m, 1);
}

static void test_echo_twice(void **state) {
  (void)state;
  /* our ping 0 echoed twice */
  const uint32_t m[3][2] = {{MSG_PING, 0}, {MSG_ECHO, 0}, {MSG_ECHO, 0}};
  expect_refused(3, m, 3);
}

static void test_unknown_kind_or_round(void **state) {
  (void)state;
  const uint32_t a[1][2] = {{7, 0}}, b[1][2] = {{MSG_PING, WARM_PINGS}};
  expect_refused(1, a, 1);
  expect_refused(1, b, 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_well_behaved),     cmocka_unit_test(test_round_pinged_twice),
      cmocka_unit_test(test_echo_of_no_ping),  cmocka_unit_test(test_echo_twice),
      cmocka_unit_test(test_unknown_kind_or_round),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
