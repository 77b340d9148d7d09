/* Connecting to a peer whose listener is gone (util/sock.c). Every weft
 * listener is up before its address or name is published, so a refused
 * connection to one means the peer is gone: weft_sock_dial and
 * weft_unix_connect must fail at once with the refusal, not retry it until
 * the timeout (a survivor of a killed rank would otherwise sit in its first
 * connect for the whole WEFT_TIMEOUT). weft_sock_connect, used where the
 * listener may not be up yet (a rank before the bootstrap root), still
 * retries and succeeds once the listener comes up. A connect that nothing
 * answers (a listener whose accept queue is full drops SYNs, as a host gone
 * without a reset does) returns WEFT_SOCK_NO_ANSWER at its timeout, which
 * transports turn into weftTimeout. A Unix-socket listener whose backlog is
 * full (any local user can fill it) makes weft_unix_connect fail at its
 * timeout, not block without a bound; once there is room it connects. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "accept_queue.h"
#include "util/clock.h"
#include "util/sock.h"

#define TIMEOUT_MS 5000

/* A loopback address whose listener has just closed (nothing listens on it). */
static weft_sockaddr closed_port(void) {
  weft_sockaddr a;
  char err[WEFT_SOCK_ERRLEN];
  int lfd;
  assert_int_equal(weft_sockaddr_parse("127.0.0.1:0", &a, err), 0);
  assert_int_equal(weft_sock_listen(&a, &lfd, err), 0);
  close(lfd);
  return a;
}

static void test_dial_refused_is_final(void **state) {
  (void)state;
  weft_sockaddr a = closed_port();
  char err[WEFT_SOCK_ERRLEN] = "";
  int fd = -1;
  long long t0 = weft_now_ms();
  assert_int_not_equal(weft_sock_dial(&a, TIMEOUT_MS, &fd, err), 0);
  assert_true(weft_now_ms() - t0 < TIMEOUT_MS / 2);
  assert_non_null(strstr(err, "refused"));
}

static void test_unix_refused_is_final(void **state) {
  (void)state;
  char name[96], err[WEFT_SOCK_ERRLEN] = "";
  int lfd, fd = -1;
  assert_int_equal(weft_unix_listen("weft-test", name, sizeof name, &lfd, err), 0);
  close(lfd);
  long long t0 = weft_now_ms();
  assert_int_not_equal(weft_unix_connect(name, TIMEOUT_MS, &fd, err), 0);
  assert_true(weft_now_ms() - t0 < TIMEOUT_MS / 2);
  assert_non_null(strstr(err, "refused"));
}

typedef struct {
  weft_sockaddr addr;
  int lfd;
} late_listener;

static void *listen_late(void *p) {
  late_listener *l = p;
  char err[WEFT_SOCK_ERRLEN];
  struct timespec ts = {0, 200 * 1000 * 1000};
  nanosleep(&ts, NULL);
  if (weft_sock_listen(&l->addr, &l->lfd, err) != 0) l->lfd = -1;
  return NULL;
}

static void test_connect_waits_for_a_late_listener(void **state) {
  (void)state;
  late_listener l = {closed_port(), -1};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, listen_late, &l), 0);
  char err[WEFT_SOCK_ERRLEN] = "";
  int fd = -1;
  int rc = weft_sock_connect(&l.addr, TIMEOUT_MS, &fd, err);
  pthread_join(t, NULL);
  assert_int_equal(rc, 0);
  assert_true(l.lfd >= 0);
  close(fd);
  close(l.lfd);
}

static void test_dial_reaches_a_listener(void **state) {
  (void)state;
  weft_sockaddr a;
  char err[WEFT_SOCK_ERRLEN];
  int lfd, fd = -1;
  assert_int_equal(weft_sockaddr_parse("127.0.0.1:0", &a, err), 0);
  assert_int_equal(weft_sock_listen(&a, &lfd, err), 0);
  assert_int_equal(weft_sock_dial(&a, TIMEOUT_MS, &fd, err), 0);
  close(fd);
  close(lfd);
}

static void test_dial_without_answer(void **state) {
  (void)state;
  weft_sockaddr a;
  char err[WEFT_SOCK_ERRLEN];
  int lfd, fd = -1;
  assert_int_equal(weft_sockaddr_parse("127.0.0.1:0", &a, err), 0);
  assert_int_equal(weft_sock_listen(&a, &lfd, err), 0);
  /* fill the accept queue (nobody accepts) until a connect gets no answer */
  assert_true(weft_test_fill_accept_queue(&a) > 0);
  long long t0 = weft_now_ms();
  int rc = weft_sock_dial(&a, 300, &fd, err);
  long long took = weft_now_ms() - t0;
  assert_int_equal(rc, WEFT_SOCK_NO_ANSWER);
  assert_true(took >= 250 && took < 3000);
  assert_non_null(strstr(err, "no answer"));
  close(lfd);
}

static void test_unix_full_backlog(void **state) {
  (void)state;
  char name[96], err[WEFT_SOCK_ERRLEN] = "";
  int lfd, fd = -1, n = 0, held[4096];
  /* room for a full backlog (1024) of descriptors */
  struct rlimit rl;
  assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_cur < 4200) {
    rl.rlim_cur = rl.rlim_max < 4200 ? rl.rlim_max : 4200;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
  }
  if (rl.rlim_cur < 2200) skip();
  assert_int_equal(weft_unix_listen("weft-test", name, sizeof name, &lfd, err), 0);
  /* fill the backlog (nobody accepts) with connections kept open */
  while (n < 4096 && weft_unix_connect(name, 0, &held[n], err) == 0) n++;
  assert_true(n > 0 && n < 4096);
  assert_non_null(strstr(err, "backlog"));
  long long t0 = weft_now_ms();
  int rc = weft_unix_connect(name, 300, &fd, err);
  long long took = weft_now_ms() - t0;
  assert_int_not_equal(rc, 0);
  assert_true(took >= 250 && took < 3000);
  assert_non_null(strstr(err, "backlog stayed full for 300 ms"));
  /* one accepted: the next connect gets in */
  int a = -1;
  assert_int_equal(weft_sock_accept(lfd, 1000, NULL, &a, err), 0);
  close(a);
  assert_int_equal(weft_unix_connect(name, 1000, &fd, err), 0);
  close(fd);
  for (int i = 0; i < n; i++) close(held[i]);
  close(lfd);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dial_refused_is_final),
      cmocka_unit_test(test_unix_refused_is_final),
      cmocka_unit_test(test_connect_waits_for_a_late_listener),
      cmocka_unit_test(test_dial_reaches_a_listener),
      cmocka_unit_test(test_dial_without_answer),
      cmocka_unit_test(test_unix_full_backlog),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
