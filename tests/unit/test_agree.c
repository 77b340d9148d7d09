/* The shrink agreement (bootstrap/agree.c) with ranks as threads of this
 * process over loopback: a healthy agreement, a coordinator that is slow to
 * come (the members must wait for it, not give up on it), and a coordinator
 * whose process is gone while a member's connection to it stays open with
 * nothing behind it (the member must see that it is gone at once, not wait
 * out its bound). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "bootstrap/agree.h"
#include "bootstrap/bootstrap.h"
#include "time_scale.h"
#include "util/clock.h"
#include "util/sock.h"

#define MAXR 4

static const uint8_t key[32] = {7, 1, 2, 3};

/* n ranks' bootstraps: a listener each, every rank knowing every address. */
typedef struct {
  int n;
  bootstrap_t b[MAXR];
  weft_rank_info peers[MAXR];
} group;

typedef struct {
  group *g;
  int rank, timeout_ms, start_after_ms;
  uint8_t state[MAXR], member[MAXR];
  weft_rank_info table[MAXR];
  weft_agree_io io;
  int new_lfd;
  weftResult_t res;
  long long took_ms;
  char err[WEFT_SOCK_ERRLEN];
} rank_arg;

static void group_init(group *g, int n) {
  memset(g, 0, sizeof *g);
  g->n = n;
  weft_sockaddr lo;
  char err[WEFT_SOCK_ERRLEN];
  assert_int_equal(weft_sockaddr_parse("127.0.0.1:1", &lo, err), 0);
  for (int r = 0; r < n; r++) {
    assert_int_equal(weft_bootstrap_prepare_listener(&lo, &g->peers[r], &g->b[r].listen_fd, err), 0);
    g->peers[r].rank = r;
  }
  for (int r = 0; r < n; r++) {
    g->b[r].rank = r;
    g->b[r].nranks = n;
    g->b[r].peers = g->peers;
  }
}

static void group_close(group *g) {
  for (int r = 0; r < g->n; r++)
    if (g->b[r].listen_fd >= 0) close(g->b[r].listen_fd);
}

static void *agree_rank(void *p) {
  rank_arg *a = p;
  if (a->start_after_ms) usleep((useconds_t)a->start_after_ms * 1000);
  memset(&a->io, 0, sizeof a->io);
  a->io.state = a->state;
  a->io.member = a->member;
  a->io.table = a->table;
  a->io.timeout_ms = a->timeout_ms;
  a->new_lfd = -1;
  if (weft_bootstrap_prepare_listener(&a->g->peers[a->rank].addr, &a->io.mine, &a->new_lfd, a->err) != 0) {
    a->res = weftSystemError;
    return NULL;
  }
  long long t0 = weft_now_ms();
  a->res = weft_agree_members(&a->g->b[a->rank], key, &a->io, a->err);
  a->took_ms = weft_now_ms() - t0;
  close(a->new_lfd);
  return NULL;
}

/* Runs ranks [first, n) of g as threads; rank r starts after delay[r] ms. */
static void run_ranks(group *g, int first, rank_arg *args, int timeout_ms, const int *delay) {
  pthread_t t[MAXR];
  for (int r = first; r < g->n; r++) {
    memset(&args[r], 0, sizeof args[r]);
    args[r].g = g;
    args[r].rank = r;
    args[r].timeout_ms = timeout_ms;
    args[r].start_after_ms = delay ? delay[r] : 0;
    assert_int_equal(pthread_create(&t[r], NULL, agree_rank, &args[r]), 0);
  }
  for (int r = first; r < g->n; r++) pthread_join(t[r], NULL);
}

/* Every rank of [first, n) decided the members in want, under one coordinator. */
static void check_decided(const group *g, int first, const rank_arg *args, const uint8_t *want, int coordinator) {
  for (int r = first; r < g->n; r++) {
    if (args[r].res != weftSuccess) fail_msg("rank %d: %s", r, args[r].err);
    assert_int_equal(args[r].io.coordinator, coordinator);
    assert_int_equal(args[r].io.ballot, args[first].io.ballot);
    assert_memory_equal(args[r].member, want, (size_t)g->n);
    for (int m = 0; m < g->n; m++)
      if (want[m]) assert_int_equal(args[r].table[m].pid, args[m].io.mine.pid);
  }
}

static void test_agree_healthy(void **state) {
  (void)state;
  group g;
  rank_arg args[MAXR];
  group_init(&g, 3);
  run_ranks(&g, 0, args, weft_test_ms(5000), NULL);
  check_decided(&g, 0, args, (const uint8_t[]){1, 1, 1}, 0);
  for (int r = 0; r < 3; r++) /* each member's own listener for the new comm */
    assert_memory_equal(&args[0].table[r].addr, &args[r].io.mine.addr, sizeof args[r].io.mine.addr);
  group_close(&g);
}

/* The coordinator comes 1.5 s after the members (busy in a build): its
 * listener takes their connections meanwhile, so they wait for it, however
 * often they try its listener, and it takes their tries for strangers. */
static void test_agree_slow_coordinator(void **state) {
  (void)state;
  group g;
  rank_arg args[MAXR];
  group_init(&g, 3);
  run_ranks(&g, 0, args, weft_test_ms(5000), (const int[]){1500, 0, 0});
  check_decided(&g, 0, args, (const uint8_t[]){1, 1, 1}, 0);
  group_close(&g);
}

/* Rank 0 is a stand-in for a coordinator killed while a member connected:
 * its kernel completed the member's connection, then its listener closed,
 * and nothing will ever answer or reset that connection. The member must
 * find rank 0 gone by its listener's refusal and take over, long before its
 * bound for a silent coordinator (2T + 1 s, 21 s here). */
typedef struct {
  int lfd, held;
} dead_coordinator;

static void *swallow_and_die(void *p) {
  dead_coordinator *d = p;
  char err[WEFT_SOCK_ERRLEN];
  d->held = -1;
  if (weft_sock_accept(d->lfd, weft_test_ms(10000), NULL, &d->held, err) != 0) d->held = -1;
  close(d->lfd); /* the listener is gone; the accepted connection stays, silent */
  return NULL;
}

static void test_agree_coordinator_gone_connection_open(void **state) {
  (void)state;
  group g;
  rank_arg args[MAXR];
  group_init(&g, 3);
  dead_coordinator d = {g.b[0].listen_fd, -1};
  g.b[0].listen_fd = -1;
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, swallow_and_die, &d), 0);
  run_ranks(&g, 1, args, 10000, NULL);
  pthread_join(t, NULL);
  check_decided(&g, 1, args, (const uint8_t[]){0, 1, 1}, 1);
  for (int r = 1; r < 3; r++) {
    if (args[r].took_ms > weft_test_ms(3000))
      fail_msg("rank %d waited %lld ms on a coordinator whose listener refuses", r, args[r].took_ms);
    assert_int_equal(args[r].state[0], WEFT_AGREE_FAILED);
  }
  assert_true(d.held >= 0); /* the stand-in did swallow a member's connection */
  close(d.held);
  group_close(&g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_agree_healthy),
      cmocka_unit_test(test_agree_slow_coordinator),
      cmocka_unit_test(test_agree_coordinator_gone_connection_open),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
