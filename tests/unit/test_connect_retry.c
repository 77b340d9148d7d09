/* The connectRetry contract (weft_net.h) of every built-in transport that
 * sets it (tcp, ucx, ofi with the sockets provider): a connect to a listener
 * that answers nothing (its accept queue is full, so the kernel drops every
 * SYN, as for a host that is gone without a reset) returns weftTimeout near
 * its timeoutMs and leaves nothing behind, so that weft may call it again;
 * once the listener answers, the next connect makes a working link. weft's
 * links (comm/link.c) rely on it to connect in slices that look at
 * weftCommAbort. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "accept_queue.h"
#include "common/listen.h"
#include "tcp/tcp.h"
#include "time_scale.h"
#include "util/clock.h"
#include "util/sock.h"
#include "weft_net.h"
#ifdef WEFT_HAVE_UCX
#include "ucx/ucx.h"
#endif
#ifdef WEFT_HAVE_OFI
#include "ofi/ofi.h"
#endif

static const weftNetKey_t KEY = {{0x21, 0x7c, 0x03, 0x9e, 0x44, 0xb0, 0x5a, 0x18, 0xe7, 0x62, 0x0f, 0xd3, 0x8b, 0x31,
                                  0xa6, 0x4e, 0x19, 0xf0, 0x75, 0x2c, 0xc8, 0x07, 0x9d, 0x53, 0x6e, 0xba, 0x12, 0x87,
                                  0x3f, 0xe4, 0x58, 0xcd}};

/* Fills the accept queue of the listener on fd (accept_queue.h); returns
 * how many connections it took. */
static int fill_queue(int fd) {
  weft_sockaddr a;
  socklen_t len = sizeof a;
  memset(&a, 0, sizeof a);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  int n = weft_test_fill_accept_queue(&a);
  assert_true(n >= 0);
  return n;
}

/* Takes the queued connections off the listener's socket (they were closed
 * at the other end): the listener answers again. */
static void drain_queue(int fd) {
  int n = 0;
  for (long long end = weft_now_ms() + 2000; weft_now_ms() < end;) {
    int s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (s >= 0) {
      close(s), n++;
      continue;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) break;
    if (n) break;
    usleep(1000);
  }
  assert_true(n > 0);
}

static void run_contract(const weftNet_t *net) {
  void *ctx = NULL, *lis = NULL, *send = NULL, *recv = NULL;
  weftNetInitArgs_t args = {WEFT_NET_ABI_VERSION, NULL, NULL, "127.0.0.1", NULL};
  char handle[WEFT_NET_HANDLE_BYTES];
  assert_int_equal(net->init(&args, &ctx), weftSuccess);
  weftNetProperties_t p;
  memset(&p, 0, sizeof p);
  assert_int_equal(net->getProperties(ctx, 0, &p), weftSuccess);
  assert_int_equal(p.connectRetry, 1);
  assert_int_equal(net->listen(ctx, 0, &KEY, handle, &lis), weftSuccess);
  int fd = ((weft_net_listen *)lis)->fd; /* a built-in transport's listener starts with weft_net_listen */
  printf("  %s: %d connections filled the accept queue\n", p.name, fill_queue(fd));

  /* no answer: weftTimeout at the timeout, twice (nothing left behind) */
  for (int round = 0; round < 2; round++) {
    long long t0 = weft_now_ms();
    weftResult_t r = net->connect(ctx, 0, handle, &KEY, 5, 0, 300, &send);
    long long dt = weft_now_ms() - t0;
    printf("  %s: connect without an answer: %d after %lld ms\n", p.name, (int)r, dt);
    assert_int_equal(r, weftTimeout);
    assert_null(send);
    assert_true(dt >= 250 && dt < weft_test_seconds(3) * 1000);
  }

  /* the listener answers again: the next connect makes a link that works */
  drain_queue(fd);
  assert_int_equal(net->connect(ctx, 0, handle, &KEY, 7, 0, 5000, &send), weftSuccess);
  uint64_t id = 0;
  uint32_t flags = 99;
  assert_int_equal(net->accept(lis, 5000, &recv, &id, &flags), weftSuccess);
  assert_int_equal(id, 7); /* not one of the connects that timed out */
  char out[64] = "after the timeouts", in[64] = {0};
  void *sreq = NULL, *rreq = NULL;
  assert_int_equal(net->irecv(recv, in, sizeof in, 3, NULL, &rreq), weftSuccess);
  assert_int_equal(net->isend(send, out, sizeof out, 3, NULL, &sreq), weftSuccess);
  int sdone = 0, rdone = 0;
  size_t got = 0;
  for (long long end = weft_now_ms() + 5000; (!sdone || !rdone) && weft_now_ms() < end;) {
    if (!sdone) assert_int_equal(net->test(sreq, &sdone, NULL, NULL), weftSuccess);
    if (!rdone) assert_int_equal(net->test(rreq, &rdone, &got, NULL), weftSuccess);
  }
  assert_true(sdone && rdone);
  assert_int_equal(got, sizeof out);
  assert_string_equal(in, out);
  /* and no other connection is waiting at the listener */
  void *extra = NULL;
  assert_int_not_equal(net->accept(lis, 300, &extra, &id, &flags), weftSuccess);
  net->closeSend(send);
  net->closeRecv(recv);
  net->closeListen(lis);
  net->finalize(ctx);
}

static void test_tcp(void **state) {
  (void)state;
  run_contract(&weft_net_tcp);
}

#ifdef WEFT_HAVE_UCX
static void test_ucx(void **state) {
  (void)state;
  run_contract(&weft_net_ucx);
}
#endif

#ifdef WEFT_HAVE_OFI
static void test_ofi(void **state) {
  (void)state;
  setenv("WEFT_OFI_PROVIDER", "sockets", 1);
  run_contract(&weft_net_ofi);
  unsetenv("WEFT_OFI_PROVIDER");
}
#endif

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tcp),
#ifdef WEFT_HAVE_UCX
      cmocka_unit_test(test_ucx),
#endif
#ifdef WEFT_HAVE_OFI
      cmocka_unit_test(test_ofi),
#endif
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
