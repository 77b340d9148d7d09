/* Failure, robustness and lifecycle tests (CMocka).
 *
 *   test_failures [TEST ...]     runs the named tests (all of them without arguments)
 *   test_failures -l             lists them
 *
 * Each test is registered with ctest as its own case (mp_<name>). Tests that
 * need several processes fork ranks with tools/launch; the ranks report
 * through a MAP_SHARED page and their exit status, and the CMocka assertions
 * run in the parent. In-process tests use weftCommInitAll (one thread per
 * rank) or weftCommInitRankConfig from threads.
 * Every time limit below is a budget on an unloaded machine, multiplied by
 * WEFT_TEST_TIME_SCALE (tests/README.md), except the timeouts under test.
 *
 *   kill_peer          4 ranks in allreduce loops, one SIGKILLs itself; every
 *                      survivor gets weftRemoteError naming a "rank" within
 *                      15 s (WEFT_TIMEOUT=20; both scaled), the launcher sees the victim
 *                      killed and the survivors exit 0.
 *   stalled_peer       3 ranks, one SIGSTOPs itself (alive, sockets open):
 *                      the survivors fail within the 2 s timeout + margin,
 *                      the one waiting on it with weftTimeout naming it.
 *   abort              a lone allreduce on rank 0 of a 2-rank clique blocks;
 *                      weftCommAbort from the main thread makes it return
 *                      weftAborted quickly.
 *   abort_stream       the same with the allreduce enqueued on a weft stream:
 *                      weftStreamSynchronize returns weftAborted quickly.
 *   timeout            same setup, timeoutMs = 1000: weftTimeout after ~1 s.
 *   abort_connect      2 ranks over WEFT_NET (tcp, ucx, ofi); rank 1's
 *                      transport listeners drop every SYN (their accept
 *                      queues filled); rank 0's first send to
 *                      rank 1 connects and weftCommAbort must bring it back
 *                      within seconds (timeout 60 s); then, with a 2.5 s
 *                      timeout and no abort, weftTimeout "no answer within".
 *   init_timeout       init of rank 0 of 2 without rank 1, timeoutMs = 1000:
 *                      fails within ~1 s instead of hanging.
 *   concurrent_use     two threads of rank 0 call into one comm at once: the
 *                      second gets weftInvalidUsage saying so (not a
 *                      mismatch with the peers), the first completes.
 *   init_refusals      a rank that gives another size, a rank that joins
 *                      twice: every rank fails at once (not at its timeout)
 *                      with the root's reason; a rank that never starts: the
 *                      root says who is missing at WARN while it waits, and
 *                      every waiting rank fails with weftTimeout naming it.
 *   crypto_mismatch    2 sites whose ranks disagree on WEFT_CRYPTO: init fails
 *                      on both with weftInvalidUsage saying so; an unknown
 *                      value is weftInvalidArgument.
 *   mismatch           2 ranks call mismatched collectives (count, op, dtype,
 *                      collective, root, allgatherv's counts with the same
 *                      total: "counts differ"), each case in a fresh comm: nobody
 *                      hangs, the mismatch is reported as weftInvalidUsage
 *                      with "mismatch" in the message (for different roots on
 *                      2 ranks both believe they are the root and nothing is
 *                      received, so it may only show in the next call).
 *   invalid_args       NULL buffers, bad dtype/op/root/peer, count overflow,
 *                      the v-variants' NULL arrays and inconsistent counts,
 *                      NULL and garbage comms, overlapping buffers, bad
 *                      stream, bad config/unique id: weftInvalidArgument with
 *                      a message and an untouched receive buffer; weftGroupEnd
 *                      without weftGroupStart: weftInvalidUsage; the comm
 *                      still works afterwards.
 *   streams            10 allreduces enqueued on a weft stream (2 ranks),
 *                      query/synchronize/destroy, exact results, ordering with
 *                      a blocking call on the same comm; then 10 more
 *                      alternating between two comms on the same stream;
 *                      then a small call one rank joins 2 ms late (started
 *                      on the caller, finished by the progress thread), and
 *                      calls in place on one buffer whose result says their
 *                      order: two streams, two comms, a blocking call (a call
 *                      may start on its caller's thread only when nothing is
 *                      ahead of it on its comm or its stream).
 *   groups             3 ranks: allreduce, nested broadcast (tree comm),
 *                      allgather, a send/recv ring and a send/recv to oneself
 *                      on two comms in one group, blocking and on a stream;
 *                      then send/recv groups repeated with changing buffers
 *                      and sizes (plan reuse) and a group of 20 calls.
 *   comm_split         4 ranks split into even/odd with reversed keys, exact
 *                      allreduce/allgather on each; WEFT_SPLIT_NOCOLOR gives
 *                      NULL while the others form a 3-rank comm.
 *   bootstrap_strangers  strangers connect to the bootstrap root and send
 *                      garbage / a hello with a wrong secret / nothing at all;
 *                      the real ranks still form the comm.
 *   bootstrap_idle_strangers  several strangers connect to the root and stay
 *                      silent: the real ranks must still form the comm within
 *                      the timeout (see the KNOWN-BUG note at the test).
 *   env_init           3 ranks via weftCommInitFromEnv with WEFT_RANK,
 *                      WEFT_NRANKS, WEFT_COMM_ID=127.0.0.1:<free port>.
 *   kill_peer_slots, stalled_peer_slots, abort_slots, abort_stream_slots,
 *   timeout_slots, streams_slots  the same with 2-element allreduces, which run in the
 *                      node segment over shm (no connection drops there: a
 *                      dead peer is seen through its pidfd, a failed one by
 *                      the "gone" flag it sets).
 *   kill_peer_box, abort_box  the same with 2-float ring sendrecvs (a lone
 *                      receive for abort), which go through the node segment's
 *                      point-to-point boxes over shm.
 *   slots_sleepers     3 ranks arrive late in turn (1-7 ms) to small
 *                      allreduces and broadcasts, so the others sleep in the
 *                      segment: exact results, no error, and the segment ran.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bootstrap/bootstrap.h"
#include "bootstrap/wire.h"
#include "comm/comm.h"
#include "accept_queue.h"
#include "common/listen.h"
#include "api/introspect.h"
#include "launch_fork.h"
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launch_fork.h"
#include "time_scale.h"
#include "weft.h"

/* ---- helpers ----------------------------------------------------------------------- */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* Memory shared between the parent and the forked ranks. */
static void *shared_alloc(size_t n) {
  void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  assert_true(p != MAP_FAILED);
  memset(p, 0, n);
  return p;
}

static void shared_free(void *p, size_t n) { munmap(p, n); }

#define MAXR 8
#define MSGLEN 512

/* The *_slots variants run the same scenario with 2-float calls, which go
 * through the node segment (coll/slots.c) when the ranks share the host over
 * shm, instead of messages. Set before the ranks are forked. */
static int g_small;
static size_t pick_count(size_t usual) { return g_small ? 2 : usual; }
/* The *_box variants: the same with 2-float sends and receives (a ring
 * sendrecv, or a lone receive), which go through the node segment's
 * point-to-point boxes (nodeseg/box.h). Implies g_small. */
static int g_p2p;

typedef struct {
  int res[MAXR];
  int res2[MAXR];
  double elapsed[MAXR];
  int iters[MAXR];
  int async_err[MAXR];
  char msg[MAXR][MSGLEN];
  char msg2[MAXR][MSGLEN];
} rank_report;

static void copy_msg(char *dst, const char *src) { snprintf(dst, MSGLEN, "%s", src ? src : "(null)"); }

/* Runs fn on n forked ranks; returns the launcher's result and fills status.
 * timeout_s is the budget on an unloaded machine (scaled, time_scale.h). */
static int launch(int n, weft_rank_fn fn, void *arg, double timeout_s, int *status) {
  return weft_launch_fork(n, fn, arg, weft_test_seconds(timeout_s), status);
}

/* ---- kill a peer -------------------------------------------------------------------- */

#define KILL_NRANKS 4
#define KILL_VICTIM 2
/* The comm timeout is well above the time the survivors may take to see the
 * death (both scaled): they must see it from the dropped connections. */
#define KILL_TIMEOUT_S 20.0
#define KILL_NOTICE_S 15.0
/* The kill_unlinked variant: the victim dies right after init, before any
 * transport link to it exists (WEFT_CONNECT=lazy), so the survivors' first
 * call has to connect to a dead rank. Its listener is gone: the refusal is
 * the notice, and the call must fail well before the comm timeout. */
static int g_unlinked;
#define UNLINKED_NOTICE_S (KILL_TIMEOUT_S / 2)

static atomic_int kill_iter;

static void *killer_main(void *arg) {
  (void)arg;
  while (atomic_load(&kill_iter) < 5) sleep_ms(1);
  sleep_ms(3 + (int)(getpid() % 20)); /* lands somewhere inside a collective */
  raise(SIGKILL);
  return NULL;
}

static int kill_rank(int rank, int n, const weftUniqueId *id, void *arg) {
  rank_report *rep = arg;
  weftComm_t comm;
  weftResult_t r = weftCommInitRank(&comm, n, *id, rank);
  if (r != weftSuccess) {
    copy_msg(rep->msg[rank], weftGetLastError(NULL));
    rep->res[rank] = r;
    return 10;
  }
  size_t count = pick_count(1 << 18);
  float *sb = malloc(count * sizeof *sb), *rb = malloc(count * sizeof *rb);
  for (size_t i = 0; i < count; i++) sb[i] = (float)(rank + 1);
  if (rank == KILL_VICTIM && g_unlinked) raise(SIGKILL);
  if (rank == KILL_VICTIM) {
    pthread_t t;
    pthread_create(&t, NULL, killer_main, NULL);
  }
  double notice_s = g_unlinked ? UNLINKED_NOTICE_S : KILL_NOTICE_S;
  double start = now_s();
  rep->res[rank] = weftSuccess;
  for (int it = 0;; it++) {
    atomic_store(&kill_iter, it);
    double t0 = now_s();
    int prev = (rank + n - 1) % n;
    if (g_p2p) { /* ring sendrecv: rank prev's values arrive */
      weftGroupStart();
      weftSend(sb, count, weftFloat, (rank + 1) % n, comm, NULL);
      weftRecv(rb, count, weftFloat, prev, comm, NULL);
      r = weftGroupEnd();
    } else {
      r = weftAllReduce(sb, rb, count, weftFloat, weftSum, comm, NULL);
    }
    double dt = now_s() - t0;
    if (r != weftSuccess) {
      rep->res[rank] = r;
      rep->elapsed[rank] = dt;
      rep->iters[rank] = it;
      copy_msg(rep->msg[rank], weftGetLastError(comm));
      break;
    }
    float want = g_p2p ? (float)(prev + 1) : (float)(n * (n + 1) / 2);
    if (rb[0] != want || rb[count - 1] != want) {
      copy_msg(rep->msg[rank], "wrong allreduce result before the kill");
      rep->res[rank] = -1;
      break;
    }
    if (now_s() - start > weft_test_seconds(60)) { /* the victim never died? */
      copy_msg(rep->msg[rank], "no failure after 60 s (scaled) of allreduces");
      rep->res[rank] = -2;
      break;
    }
  }
  weftResult_t ae = weftSuccess;
  weftCommGetAsyncError(comm, &ae);
  rep->async_err[rank] = ae;
  weftCommAbort(comm);
  free(sb);
  free(rb);
  int ok = rep->res[rank] == weftRemoteError && rep->elapsed[rank] < weft_test_seconds(notice_s) &&
           strstr(rep->msg[rank], "rank") && ae != weftSuccess;
  return ok ? 0 : 1;
}

static void test_kill_peer(void **state) {
  (void)state;
  weft_test_setenv_seconds("WEFT_TIMEOUT", KILL_TIMEOUT_S);
  rank_report *rep = shared_alloc(sizeof *rep);
  int status[KILL_NRANKS];
  int failed = launch(KILL_NRANKS, kill_rank, rep, 90, status);
  unsetenv("WEFT_TIMEOUT");
  for (int r = 0; r < KILL_NRANKS; r++) {
    if (r == KILL_VICTIM) continue;
    printf("  rank %d: status %d, result %d (%s) after %.3f s in iteration %d, async error %d\n    message: %s\n", r,
           status[r], rep->res[r], weftGetErrorString((weftResult_t)rep->res[r]), rep->elapsed[r], rep->iters[r],
           rep->async_err[r], rep->msg[r]);
  }
  assert_int_equal(status[KILL_VICTIM], 128 + SIGKILL);
  for (int r = 0; r < KILL_NRANKS; r++) {
    if (r == KILL_VICTIM) continue;
    assert_int_equal(rep->res[r], weftRemoteError);
    assert_true(rep->elapsed[r] < weft_test_seconds(g_unlinked ? UNLINKED_NOTICE_S : KILL_NOTICE_S));
    assert_non_null(strstr(rep->msg[r], "rank"));
    assert_int_not_equal(rep->async_err[r], weftSuccess);
    assert_int_equal(status[r], 0);
  }
  assert_int_equal(failed, 1);
  shared_free(rep, sizeof *rep);
}

/* ---- abort and timeout (in-process) --------------------------------------------------- */

typedef struct {
  weftComm_t comm;
  size_t count;
  float *buf;
  weftResult_t res;
  atomic_int done;
  double t_end;
} lone_call;

static void *lone_allreduce(void *p) {
  lone_call *a = p;
  if (g_p2p) a->res = weftRecv(a->buf, a->count, weftFloat, 1, a->comm, NULL); /* rank 1 never sends */
  else a->res = weftAllReduce(a->buf, a->buf, a->count, weftFloat, weftSum, a->comm, NULL);
  a->t_end = now_s();
  atomic_store(&a->done, 1);
  return NULL;
}

static void test_abort(void **state) {
  (void)state;
  weftComm_t comms[2] = {NULL, NULL};
  assert_int_equal(weftCommInitAll(comms, 2, NULL), weftSuccess);
  lone_call a;
  memset(&a, 0, sizeof a);
  a.comm = comms[0];
  a.count = pick_count(4096);
  a.buf = calloc(a.count, sizeof(float));
  atomic_init(&a.done, 0);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, lone_allreduce, &a), 0);
  sleep_ms(200);
  assert_int_equal(atomic_load(&a.done), 0); /* blocked: rank 1 never joined */
  double t0 = now_s();
  weftResult_t ar = weftCommAbort(comms[0]);
  double t_abort = now_s() - t0;
  /* bounded join: the call must come back well before any timeout */
  for (int i = 0; i < weft_test_seconds(500) && !atomic_load(&a.done); i++) sleep_ms(10);
  int done = atomic_load(&a.done);
  printf("  weftCommAbort returned %d after %.3f s; the blocked allreduce %s with %d (%s) %.3f s after the abort\n",
         (int)ar, t_abort, done ? "returned" : "did NOT return", (int)a.res, weftGetErrorString(a.res),
         done ? a.t_end - t0 : -1.0);
  assert_true(done);
  pthread_join(t, NULL);
  assert_int_equal(ar, weftSuccess);
  assert_int_not_equal(a.res, weftSuccess);
  assert_int_equal(a.res, weftAborted); /* header: "fails outstanding and blocked operations with weftAborted" */
  assert_true(a.t_end - t0 < weft_test_seconds(5));
  t0 = now_s();
  assert_int_equal(weftCommDestroy(comms[1]), weftSuccess);
  assert_true(now_s() - t0 < weft_test_seconds(5));
  free(a.buf);
}

/* Abort while the blocked operation sits on a weft stream: the stream must
 * report the failure instead of waiting for the timeout. */
static void test_abort_stream(void **state) {
  (void)state;
  weftComm_t comms[2] = {NULL, NULL};
  assert_int_equal(weftCommInitAll(comms, 2, NULL), weftSuccess);
  weftStream_t s;
  assert_int_equal(weftStreamCreate(&s), weftSuccess);
  size_t count = pick_count(4096);
  float *buf = calloc(count, sizeof(float));
  assert_int_equal(weftAllReduce(buf, buf, count, weftFloat, weftSum, comms[0], s), weftSuccess);
  sleep_ms(200);
  assert_int_equal(weftStreamQuery(s), weftInProgress);
  double t0 = now_s();
  weftResult_t ar = weftCommAbort(comms[0]);
  double t_abort = now_s() - t0;
  weftResult_t sr = weftStreamSynchronize(s);
  double t_sync = now_s() - t0;
  printf("  weftCommAbort -> %d after %.3f s; weftStreamSynchronize -> %d (%s) %.3f s after the abort: %s\n", (int)ar,
         t_abort, (int)sr, weftGetErrorString(sr), t_sync, weftGetLastError(NULL));
  assert_int_equal(ar, weftSuccess);
  assert_true(t_sync < weft_test_seconds(5));
  assert_int_equal(sr, weftAborted);
  assert_int_equal(weftStreamQuery(s), weftAborted);
  weftStreamDestroy(s);
  assert_int_equal(weftCommDestroy(comms[1]), weftSuccess);
  free(buf);
}

typedef struct {
  weftUniqueId id;
  int rank;
  weftComm_t comm;
  weftResult_t res;
  int timeout_ms;
} init_arg;

static void *init_thread(void *p) {
  init_arg *a = p;
  weftConfig_t cfg = WEFT_CONFIG_INITIALIZER;
  cfg.timeoutMs = a->timeout_ms;
  a->res = weftCommInitRankConfig(&a->comm, 2, a->id, a->rank, &cfg);
  return NULL;
}

/* Two ranks in this process, from threads, with a configured timeout. */
static void init_pair(weftComm_t comms[2], int timeout_ms) {
  init_arg args[2];
  pthread_t th[2];
  weftUniqueId id;
  assert_int_equal(weftGetUniqueId(&id), weftSuccess);
  for (int r = 0; r < 2; r++) {
    args[r] = (init_arg){id, r, NULL, weftInternalError, timeout_ms};
    assert_int_equal(pthread_create(&th[r], NULL, init_thread, &args[r]), 0);
  }
  for (int r = 0; r < 2; r++) pthread_join(th[r], NULL);
  for (int r = 0; r < 2; r++) {
    assert_int_equal(args[r].res, weftSuccess);
    comms[r] = args[r].comm;
  }
}

static void test_timeout(void **state) {
  (void)state;
  weftComm_t comms[2];
  init_pair(comms, 1000);
  size_t count = pick_count(4096);
  float *buf = calloc(count, sizeof(float));
  double t0 = now_s();
  weftResult_t r = weftAllReduce(buf, buf, count, weftFloat, weftSum, comms[0], NULL);
  double dt = now_s() - t0;
  const char *msg = weftGetLastError(comms[0]);
  printf("  lone allreduce returned %d (%s) after %.3f s: %s\n", (int)r, weftGetErrorString(r), dt, msg);
  assert_int_equal(r, weftTimeout);
  assert_true(dt >= 0.5 && dt <= weft_test_seconds(10)); /* the 1 s timeout itself is not scaled */
  assert_true(msg[0] != 0);
  weftResult_t ae = weftSuccess;
  assert_int_equal(weftCommGetAsyncError(comms[0], &ae), weftSuccess);
  assert_int_equal(ae, weftTimeout);
  /* the failed comm stays failed */
  r = weftAllReduce(buf, buf, count, weftFloat, weftSum, comms[0], NULL);
  assert_int_not_equal(r, weftSuccess);
  t0 = now_s();
  assert_int_equal(weftCommDestroy(comms[0]), weftSuccess);
  assert_int_equal(weftCommDestroy(comms[1]), weftSuccess);
  assert_true(now_s() - t0 < weft_test_seconds(5));
  free(buf);
}

/* ---- abort while a connect gets no answer ---------------------------------------------- */

/* The TCP listeners of comm's transports (a built-in transport's listener
 * starts with weft_net_listen; shm's, a Unix socket, is left out). Only
 * weft's own: filling the listeners UCX and libfabric open for themselves
 * would test those libraries (libfabric's sockets provider crashes under it). */
static int transport_listeners(weftComm_t comm, weft_sockaddr *out, int max) {
  int n = 0;
  for (int k = 0; k < WEFT_MAX_NETS && n < max; k++) {
    const weft_net_listen *l = comm->nets[k].listen;
    if (!l || l->fd < 0) continue;
    socklen_t len = sizeof out[n];
    memset(&out[n], 0, sizeof out[n]);
    if (getsockname(l->fd, (struct sockaddr *)&out[n], &len) == 0 &&
        (out[n].sa.sa_family == AF_INET || out[n].sa.sa_family == AF_INET6))
      n++;
  }
  return n;
}

typedef struct {
  weftComm_t comm;
  float *buf;
  size_t count;
  weftResult_t res;
  atomic_int done;
  double t_end;
  char msg[512];
} lone_send;

static void *send_to_rank1(void *p) {
  lone_send *a = p;
  a->res = weftSend(a->buf, a->count, weftFloat, 1, a->comm, NULL);
  a->t_end = now_s();
  snprintf(a->msg, sizeof a->msg, "%s", weftGetLastError(NULL)); /* this thread's; the comm is freed by the abort */
  atomic_store(&a->done, 1);
  return NULL;
}

/* Rank 0 of a 2-rank comm over tcp sends to rank 1 for the first time (its
 * link is opened now, WEFT_CONNECT=lazy) while no SYN to rank 1 is answered;
 * weftCommAbort must bring the send back within seconds, not at the 60 s
 * timeout (the connect is made in slices that look at the abort flag). */
static void test_abort_connect(void **state) {
  (void)state;
  weftComm_t comms[2] = {NULL, NULL};
  init_pair(comms, 60000);
  weft_sockaddr ls[16];
  int nl = transport_listeners(comms[1], ls, 16), filled = 0;
  for (int i = 0; i < nl; i++) filled += weft_test_fill_accept_queue(&ls[i]) > 0;
  printf("  %d TCP listeners of rank 1's transports, %d of them no longer answering\n", nl, filled);
  assert_true(filled >= 1);
  lone_send a;
  memset(&a, 0, sizeof a);
  a.comm = comms[0];
  a.count = 1 << 18; /* 1 MiB: through the transport, not the node segment */
  a.buf = calloc(a.count, sizeof(float));
  atomic_init(&a.done, 0);
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, send_to_rank1, &a), 0);
  sleep_ms(1500);
  assert_int_equal(atomic_load(&a.done), 0); /* blocked in the connect */
  double t0 = now_s();
  assert_int_equal(weftCommAbort(comms[0]), weftSuccess);
  for (int i = 0; i < weft_test_seconds(500) && !atomic_load(&a.done); i++) sleep_ms(10);
  int done = atomic_load(&a.done);
  printf("  the blocked send %s with %d (%s) %.3f s after the abort: %s\n", done ? "returned" : "did NOT return",
         (int)a.res, weftGetErrorString(a.res), done ? a.t_end - t0 : -1.0, done ? a.msg : "");
  assert_true(done);
  pthread_join(t, NULL);
  assert_int_equal(a.res, weftAborted);
  assert_true(a.t_end - t0 < weft_test_seconds(3));
  assert_int_equal(weftCommDestroy(comms[1]), weftSuccess);

  /* no abort: the slices end at the comm's own timeout, which names the peer */
  init_pair(comms, 2500);
  nl = transport_listeners(comms[1], ls, 16);
  for (int i = 0; i < nl; i++) weft_test_fill_accept_queue(&ls[i]);
  t0 = now_s();
  weftResult_t r = weftSend(a.buf, a.count, weftFloat, 1, comms[0], NULL);
  double dt = now_s() - t0;
  const char *msg = weftGetLastError(comms[0]);
  printf("  with a 2.5 s timeout and no abort: %d (%s) after %.3f s: %s\n", (int)r, weftGetErrorString(r), dt, msg);
  assert_int_equal(r, weftTimeout);
  assert_true(dt >= 2.0 && dt < weft_test_seconds(6));
  assert_non_null(strstr(msg, "no answer within 2500 ms"));
  assert_non_null(strstr(msg, "rank 1"));
  assert_int_equal(weftCommDestroy(comms[0]), weftSuccess);
  assert_int_equal(weftCommDestroy(comms[1]), weftSuccess);
  free(a.buf);
}

/* ---- a peer that stops responding ------------------------------------------------------- */

#define STALL_NRANKS 3
#define STALL_VICTIM 1

typedef struct {
  rank_report r;
  int pid[MAXR];
} stall_report;

static int stall_rank(int rank, int n, const weftUniqueId *id, void *arg) {
  stall_report *rep = arg;
  rep->pid[rank] = (int)getpid();
  weftConfig_t cfg = WEFT_CONFIG_INITIALIZER;
  cfg.timeoutMs = 2000;
  weftComm_t comm;
  if (weftCommInitRankConfig(&comm, n, *id, rank, &cfg) != weftSuccess) return 10;
  size_t count = pick_count(1 << 14);
  float *sb = calloc(count, sizeof *sb), *rb = calloc(count, sizeof *rb);
  for (int it = 0; it < 5; it++)
    if (weftAllReduce(sb, rb, count, weftFloat, weftSum, comm, NULL) != weftSuccess) return 11;
  if (rank == STALL_VICTIM) {
    raise(SIGSTOP); /* alive, connections open, but silent; rank 0 kills it */
    for (;;) pause();
  }
  sleep_ms(50);
  double t0 = now_s();
  weftResult_t r = weftAllReduce(sb, rb, count, weftFloat, weftSum, comm, NULL);
  rep->r.elapsed[rank] = now_s() - t0;
  rep->r.res[rank] = r;
  copy_msg(rep->r.msg[rank], weftGetLastError(comm));
  weftCommAbort(comm);
  if (rank == 0) kill((pid_t)rep->pid[STALL_VICTIM], SIGKILL);
  free(sb);
  free(rb);
  return 0;
}

/* A stopped (not dead) peer: nothing closes its sockets, so only the timeout
 * can end the waits. Every survivor must fail within the 2 s timeout plus a
 * margin; the one waiting on the victim with weftTimeout naming it. */
static void test_stalled_peer(void **state) {
  (void)state;
  stall_report *rep = shared_alloc(sizeof *rep);
  int status[STALL_NRANKS];
  int failed = launch(STALL_NRANKS, stall_rank, rep, 60, status);
  int timeout_naming_victim = 0;
  char victim[32];
  snprintf(victim, sizeof victim, "rank %d", STALL_VICTIM);
  for (int r = 0; r < STALL_NRANKS; r++) {
    if (r == STALL_VICTIM) continue;
    printf("  rank %d: status %d, result %d (%s) after %.3f s: %s\n", r, status[r], rep->r.res[r],
           weftGetErrorString((weftResult_t)rep->r.res[r]), rep->r.elapsed[r], rep->r.msg[r]);
    if (rep->r.res[r] == weftTimeout && strstr(rep->r.msg[r], victim)) timeout_naming_victim = 1;
  }
  assert_int_equal(status[STALL_VICTIM], 128 + SIGKILL);
  for (int r = 0; r < STALL_NRANKS; r++) {
    if (r == STALL_VICTIM) continue;
    assert_int_equal(status[r], 0);
    assert_true(rep->r.res[r] == weftTimeout || rep->r.res[r] == weftRemoteError);
    assert_true(rep->r.elapsed[r] < weft_test_seconds(10)); /* the 2 s timeout is not scaled */
    assert_non_null(strstr(rep->r.msg[r], "rank"));
  }
  assert_true(timeout_naming_victim);
  assert_int_equal(failed, 1);
  shared_free(rep, sizeof *rep);
}

/* Init with a rank that never shows up ends within the configured timeout. */
static void test_init_timeout(void **state) {
  (void)state;
  weftUniqueId id;
  assert_int_equal(weftGetUniqueId(&id), weftSuccess);
  weftConfig_t cfg = WEFT_CONFIG_INITIALIZER;
  cfg.timeoutMs = 1000;
  weftComm_t comm = (weftComm_t)0x1;
  double t0 = now_s();
  weftResult_t r = weftCommInitRankConfig(&comm, 2, id, 0, &cfg);
  double dt = now_s() - t0;
  printf("  init of rank 0/2 without rank 1 -> %d (%s) after %.3f s: %s\n", (int)r, weftGetErrorString(r), dt,
         weftGetLastError(NULL));
  assert_int_not_equal(r, weftSuccess);
  assert_null(comm);
  assert_true(dt >= 0.5 && dt < weft_test_seconds(10)); /* the 1 s timeout is not scaled */
  assert_true(weftGetLastError(NULL)[0] != 0);
}

/* One comm used by two threads at once. */
typedef struct {
  int res_first, res_second;
  char msg[MSGLEN];
} concurrent_report;

typedef struct {
  weftComm_t comm;
  int res;
} first_call;

static void *first_thread(void *arg) {
  first_call *f = arg;
  static int32_t v[1024];
  f->res = weftAllReduce(v, v, 1024, weftInt32, weftSum, f->comm, NULL); /* blocks until rank 1 joins it */
  return NULL;
}

static int concurrent_rank(int rank, int n, const weftUniqueId *id, void *arg) {
  concurrent_report *rep = arg;
  weftComm_t comm;
  weftConfig_t cfg = WEFT_CONFIG_INITIALIZER;
  cfg.timeoutMs = weft_test_ms(20000);
  if (weftCommInitRankConfig(&comm, n, *id, rank, &cfg) != weftSuccess) return 2;
  int32_t w[4] = {0};
  if (rank == 1) {
    sleep_ms(600); /* rank 0's first call is inside weft by now, waiting for this one */
    static int32_t v[1024];
    int r = weftAllReduce(v, v, 1024, weftInt32, weftSum, comm, NULL);
    weftCommDestroy(comm);
    return r == weftSuccess ? 0 : 1;
  }
  first_call f = {comm, -1};
  pthread_t t;
  pthread_create(&t, NULL, first_thread, &f);
  sleep_ms(200);
  rep->res_second = weftAllReduce(w, w, 4, weftInt32, weftSum, comm, NULL);
  copy_msg(rep->msg, weftGetLastError(comm));
  pthread_join(t, NULL);
  rep->res_first = f.res;
  weftCommDestroy(comm);
  return 0;
}

static void test_concurrent_use(void **state) {
  (void)state;
  int status[2];
  concurrent_report *rep = shared_alloc(sizeof *rep);
  launch(2, concurrent_rank, rep, 60, status);
  printf("  second thread: %d: %s; first thread: %d\n", rep->res_second, rep->msg, rep->res_first);
  assert_int_equal(rep->res_second, weftInvalidUsage);
  assert_non_null(strstr(rep->msg, "another thread is inside a call on this communicator"));
  assert_int_equal(rep->res_first, weftSuccess);
  shared_free(rep, sizeof *rep);
}

/* A refused rank fails the whole job at once; a missing rank is named. */
enum { RF_SIZE, RF_DUP, RF_MISSING };
typedef struct {
  int scenario;
  int res[MAXR];
  double elapsed[MAXR];
  char msg[MAXR][MSGLEN];
} refusal_report;

static int refusal_rank(int rank, int n, const weftUniqueId *id, void *arg) {
  refusal_report *rep = arg;
  int as_rank = rank, as_n = n;
  if (rep->scenario == RF_SIZE && rank == n - 1) as_n = n + 1;
  if (rep->scenario == RF_DUP && rank == n - 1) as_rank = 0;
  if (rep->scenario == RF_MISSING && rank == n - 1) return 0; /* never starts */
  if (rep->scenario == RF_DUP && rank == n - 1) sleep_ms(200); /* the first rank 0 is the real one */
  weftConfig_t cfg = WEFT_CONFIG_INITIALIZER;
  cfg.timeoutMs = rep->scenario == RF_MISSING ? 3000 : weft_test_ms(60000);
  weftComm_t comm = NULL;
  double t0 = now_s();
  weftResult_t r = weftCommInitRankConfig(&comm, as_n, *id, as_rank, &cfg);
  rep->elapsed[rank] = now_s() - t0;
  rep->res[rank] = r;
  copy_msg(rep->msg[rank], weftGetLastError(NULL));
  if (r == weftSuccess) weftCommDestroy(comm);
  return r == weftSuccess ? 0 : 1;
}

static void test_init_refusals(void **state) {
  (void)state;
  static const char *const names[] = {"rank 2 says 4 ranks", "rank 1 says it is rank 0", "rank 2 never starts"};
  static const char *const want[] = {"ranks, the ranks before it said", "joined twice", "never came: rank 2"};
  for (int sc = RF_SIZE; sc <= RF_MISSING; sc++) {
    int n = sc == RF_DUP ? 2 : 3, status[MAXR];
    refusal_report *rep = shared_alloc(sizeof *rep);
    rep->scenario = sc;
    /* the root lives in this process (weftGetUniqueId in the launcher): its
     * timeout, and its WARN lines, are caught here */
    setenv("WEFT_TIMEOUT", sc == RF_MISSING ? "3" : "60", 1);
    fflush(stderr);
    FILE *log = tmpfile();
    int saved = dup(2);
    dup2(fileno(log), 2);
    launch(n, refusal_rank, rep, 60, status);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    unsetenv("WEFT_TIMEOUT");
    char text[8192];
    rewind(log);
    size_t got = fread(text, 1, sizeof text - 1, log);
    text[got] = 0;
    fclose(log);
    int expect_fail = sc == RF_MISSING ? n - 1 : n;
    for (int r = 0; r < expect_fail; r++) {
      printf("  %s: rank %d -> %d after %.2f s: %s\n", names[sc], r, rep->res[r], rep->elapsed[r], rep->msg[r]);
      assert_int_equal(rep->res[r], sc == RF_MISSING ? weftTimeout : weftInvalidArgument);
      assert_non_null(strstr(rep->msg[r], want[sc]));
      /* at once, not at the comm's timeout of 60 s */
      assert_true(rep->elapsed[r] < weft_test_seconds(sc == RF_MISSING ? 10 : 5));
    }
    if (sc == RF_MISSING) assert_non_null(strstr(text, "ranks joined after 2 s; waiting for rank 2"));
    shared_free(rep, sizeof *rep);
  }
}

/* Two sites whose ranks disagree on WEFT_CRYPTO (the config field here): the
 * link between them cannot be both encrypted and plain, so init fails on
 * both sides with weftInvalidUsage saying to set it alike; an unknown value
 * is weftInvalidArgument. */
typedef struct {
  int res[MAXR];
  char msg[MAXR][MSGLEN];
} crypto_report;

static int crypto_rank(int rank, int n, const weftUniqueId *id, void *arg) {
  crypto_report *rep = arg;
  setenv("WEFT_SITE", rank == 0 ? "east" : "west", 1);
  setenv("WEFT_HOST_ID", rank == 0 ? "east-host" : "west-host", 1);
  weftConfig_t cfg = WEFT_CONFIG_INITIALIZER;
  cfg.timeoutMs = weft_test_ms(20000);
  cfg.netName = "tcp";
  cfg.crypto = rank == 0 ? "auto" : "off";
  weftComm_t comm = NULL;
  weftResult_t r = weftCommInitRankConfig(&comm, n, *id, rank, &cfg);
  rep->res[rank] = r;
  copy_msg(rep->msg[rank], weftGetLastError(NULL));
  if (r == weftSuccess) weftCommDestroy(comm);
  return 0;
}

static void test_crypto_mismatch(void **state) {
  (void)state;
  int status[MAXR];
  crypto_report *rep = shared_alloc(sizeof *rep);
  launch(2, crypto_rank, rep, 60, status);
  for (int r = 0; r < 2; r++) {
    printf("  rank %d (WEFT_CRYPTO=%s): %d: %s\n", r, r == 0 ? "auto" : "off", rep->res[r], rep->msg[r]);
    assert_int_equal(rep->res[r], weftInvalidUsage);
    assert_non_null(strstr(rep->msg[r], "set WEFT_CRYPTO alike on every rank"));
  }
  shared_free(rep, sizeof *rep);
  weftConfig_t cfg = WEFT_CONFIG_INITIALIZER;
  cfg.crypto = "maybe";
  weftUniqueId id;
  assert_int_equal(weftGetUniqueId(&id), weftSuccess);
  weftComm_t comm = NULL;
  assert_int_equal(weftCommInitRankConfig(&comm, 1, id, 0, &cfg), weftInvalidArgument);
  assert_non_null(strstr(weftGetLastError(NULL), "'maybe' is not auto, on or off"));
}

/* ---- mismatched calls --------------------------------------------------------------------- */

enum { MM_COUNT, MM_OP, MM_DTYPE, MM_COLL, MM_ROOT, MM_VCOUNTS, MM_NCASES };
static const char *const mm_names[MM_NCASES] = {"count 1024 vs 2048", "op sum vs max", "dtype float vs int32",
                                                "allreduce vs allgather", "broadcast root 0 vs 1",
                                                "allgatherv counts {512, 512} vs {256, 768}"};

typedef struct {
  rank_report r[MM_NCASES];
} mm_report;

static weftResult_t mm_call(int c, int rank, weftComm_t comm, void *sb, void *rb) {
  switch (c) {
    case MM_COUNT: return weftAllReduce(sb, rb, rank == 0 ? 1024 : 2048, weftFloat, weftSum, comm, NULL);
    case MM_OP: return weftAllReduce(sb, rb, 1024, weftFloat, rank == 0 ? weftSum : weftMax, comm, NULL);
    case MM_DTYPE: return weftAllReduce(sb, rb, 1024, rank == 0 ? weftFloat : weftInt32, weftSum, comm, NULL);
    case MM_COLL:
      return rank == 0 ? weftAllReduce(sb, rb, 1024, weftFloat, weftSum, comm, NULL)
                       : weftAllGather(sb, rb, 512, weftFloat, comm, NULL);
    case MM_VCOUNTS: { /* the same total, other blocks */
      size_t counts[2] = {rank == 0 ? 512 : 256, rank == 0 ? 512 : 768}, displs[2] = {0, counts[0]};
      return weftAllGatherV((float *)sb + 2048, rb, counts, displs, weftFloat, comm, NULL);
    }
    default: return weftBroadcast(sb, rb, 1024, weftFloat, rank, comm, NULL);
  }
}

static int mm_rank(int rank, int n, const weftUniqueId *id, void *arg) {
  mm_report *rep = arg;
  weftConfig_t cfg = WEFT_CONFIG_INITIALIZER;
  cfg.timeoutMs = weft_test_ms(30000);
  weftComm_t parent;
  if (weftCommInitRankConfig(&parent, n, *id, rank, &cfg) != weftSuccess) return 10;
  float *sb = calloc(4096, sizeof(float)), *rb = calloc(4096, sizeof(float));
  for (int c = 0; c < MM_NCASES; c++) {
    rank_report *rr = &rep->r[c];
    weftComm_t comm;
    if (weftCommSplit(parent, 0, rank, &comm, NULL) != weftSuccess || !comm) return 11;
    double t0 = now_s();
    weftResult_t r = mm_call(c, rank, comm, sb, rb);
    rr->res[rank] = r;
    copy_msg(rr->msg[rank], r == weftSuccess ? "" : weftGetLastError(comm));
    /* The next call must not silently consume the mismatched data either. */
    weftResult_t r2 = weftAllReduce(sb, rb, 16, weftInt64, weftSum, comm, NULL);
    rr->elapsed[rank] = now_s() - t0;
    rr->res2[rank] = r2;
    copy_msg(rr->msg2[rank], r2 == weftSuccess ? "" : weftGetLastError(comm));
    weftCommAbort(comm);
    /* keep the cases apart: both ranks are done with this comm */
    if (weftAllReduce(sb, rb, 1, weftFloat, weftSum, parent, NULL) != weftSuccess) return 12;
  }
  weftCommDestroy(parent);
  free(sb);
  free(rb);
  return 0;
}

static void test_mismatch(void **state) {
  (void)state;
  mm_report *rep = shared_alloc(sizeof *rep);
  int status[2];
  int failed = launch(2, mm_rank, rep, 100, status);
  int bad = 0;
  for (int c = 0; c < MM_NCASES; c++) {
    rank_report *rr = &rep->r[c];
    int invalid_usage = 0;
    printf("  case %s:\n", mm_names[c]);
    for (int r = 0; r < 2; r++) {
      printf("    rank %d: call -> %d (%s) [%s]; next call -> %d (%s) [%s]; %.3f s\n", r, rr->res[r],
             weftGetErrorString((weftResult_t)rr->res[r]), rr->msg[r], rr->res2[r],
             weftGetErrorString((weftResult_t)rr->res2[r]), rr->msg2[r], rr->elapsed[r]);
      if (rr->elapsed[r] > weft_test_seconds(10)) bad = 1, printf("    -> rank %d took too long\n", r);
      /* the mismatched call itself must fail on every rank that received data; with
       * different roots both ranks believe they are the root, nothing is received and
       * the mismatch may only show in the next call on the comm */
      if (c != MM_ROOT && rr->res[r] == weftSuccess) bad = 1, printf("    -> mismatched call succeeded on rank %d\n", r);
      if (rr->res2[r] == weftSuccess) bad = 1, printf("    -> the call after the mismatch succeeded on rank %d\n", r);
      if ((rr->res[r] == weftInvalidUsage && strstr(rr->msg[r], "mismatch")) ||
          (rr->res[r] == weftSuccess && rr->res2[r] == weftInvalidUsage && strstr(rr->msg2[r], "mismatch")))
        invalid_usage = 1;
    }
    if (!invalid_usage) bad = 1, printf("    -> no rank reported weftInvalidUsage with \"mismatch\"\n");
    /* a count mismatch names the peer's count (node segment), or the size of
     * its message (network), never a hash of it */
    if (c == MM_COUNT) {
      int named = 0;
      for (int r = 0; r < 2; r++)
        named |= strstr(rr->msg[r], "the peer called allreduce(float, sum, count 2048") ||
                 strstr(rr->msg[r], "the peer called allreduce(float, sum, count 1024") ||
                 strstr(rr->msg[r], "its message: 8192 bytes") || strstr(rr->msg[r], "its message: 4096 bytes") ||
                 /* a libfabric provider that does not say a truncated message's size */
                 strstr(rr->msg[r], "its message: more than 4096 bytes");
      if (!named) bad = 1, printf("    -> no rank named the peer's count or message size\n");
    }
    /* the v-variants' signatures hash the counts arrays: same total, other blocks */
    if (c == MM_VCOUNTS && !strstr(rr->msg[0], "counts differ") && !strstr(rr->msg[1], "counts differ"))
      bad = 1, printf("    -> no rank said the counts differ\n");
  }
  assert_int_equal(failed, 0);
  assert_int_equal(status[0], 0);
  assert_int_equal(status[1], 0);
  assert_false(bad);
  shared_free(rep, sizeof *rep);
}

/* ---- invalid arguments (in-process) ----------------------------------------------------- */

#define NBUF 64
#define CANARY 0x5A

static unsigned char *g_recv; /* NBUF floats + the canary */

static void canary_set(void) { memset(g_recv, CANARY, NBUF * sizeof(float)); }
static int canary_ok(void) {
  for (size_t i = 0; i < NBUF * sizeof(float); i++)
    if (g_recv[i] != CANARY) return 0;
  return 1;
}

/* Runs one invalid call: it must return `want`, leave a message in
 * weftGetLastError(msgcomm) and leave the receive buffer untouched. */
#define EXPECT_RES(want, msgcomm, call)                                                                 \
  do {                                                                                                  \
    canary_set();                                                                                       \
    weftResult_t r_ = (call);                                                                           \
    const char *m_ = weftGetLastError(msgcomm);                                                         \
    if (r_ != (want) || !m_ || !m_[0] || !canary_ok())                                                  \
      print_error("line %d: %s\n  returned %d (%s), expected %d; message \"%s\"; canary %s\n", __LINE__, \
                  #call, (int)r_, weftGetErrorString(r_), (int)(want), m_ ? m_ : "(null)",              \
                  canary_ok() ? "intact" : "OVERWRITTEN");                                              \
    assert_int_equal(r_, (want));                                                                       \
    assert_non_null(m_);                                                                                \
    assert_true(m_[0] != 0);                                                                            \
    assert_true(canary_ok());                                                                           \
  } while (0)
#define EXPECT_INVALID(msgcomm, call) EXPECT_RES(weftInvalidArgument, msgcomm, call)

static void test_invalid_args(void **state) {
  (void)state;
  weftComm_t c1;
  assert_int_equal(weftCommInitAll(&c1, 1, NULL), weftSuccess);
  weftComm_t c2[2];
  assert_int_equal(weftCommInitAll(c2, 2, NULL), weftSuccess);
  weftComm_t c = c1;
  float send[NBUF * 2];
  for (int i = 0; i < NBUF * 2; i++) send[i] = (float)i;
  g_recv = malloc(NBUF * sizeof(float) * 2);
  float *rb = (float *)g_recv;
  const size_t N = 16;

  /* NULL buffers with count > 0 */
  EXPECT_INVALID(c, weftAllReduce(NULL, rb, N, weftFloat, weftSum, c, NULL));
  EXPECT_INVALID(c, weftAllReduce(send, NULL, N, weftFloat, weftSum, c, NULL));
  EXPECT_INVALID(c, weftAllGather(NULL, rb, N, weftFloat, c, NULL));
  EXPECT_INVALID(c, weftAllGather(send, NULL, N, weftFloat, c, NULL));
  EXPECT_INVALID(c, weftReduceScatter(NULL, rb, N, weftFloat, weftSum, c, NULL));
  EXPECT_INVALID(c, weftReduceScatter(send, NULL, N, weftFloat, weftSum, c, NULL));
  EXPECT_INVALID(c, weftBroadcast(NULL, rb, N, weftFloat, 0, c, NULL));
  EXPECT_INVALID(c, weftBroadcast(send, NULL, N, weftFloat, 0, c, NULL));
  EXPECT_INVALID(c, weftReduce(NULL, rb, N, weftFloat, weftSum, 0, c, NULL));
  EXPECT_INVALID(c, weftReduce(send, NULL, N, weftFloat, weftSum, 0, c, NULL));
  EXPECT_INVALID(c, weftAllToAll(NULL, rb, N, weftFloat, c, NULL));
  EXPECT_INVALID(c, weftAllToAll(send, NULL, N, weftFloat, c, NULL));
  EXPECT_INVALID(c2[0], weftSend(NULL, N, weftFloat, 1, c2[0], NULL));
  EXPECT_INVALID(c2[0], weftRecv(NULL, N, weftFloat, 1, c2[0], NULL));

  /* bad datatype */
  EXPECT_INVALID(c, weftAllReduce(send, rb, N, weftNumTypes, weftSum, c, NULL));
  EXPECT_INVALID(c, weftAllReduce(send, rb, N, (weftDataType_t)-1, weftSum, c, NULL));
  EXPECT_INVALID(c, weftAllGather(send, rb, N, weftNumTypes, c, NULL));
  EXPECT_INVALID(c, weftReduceScatter(send, rb, N, weftNumTypes, weftSum, c, NULL));
  EXPECT_INVALID(c, weftBroadcast(send, rb, N, weftNumTypes, 0, c, NULL));
  EXPECT_INVALID(c, weftReduce(send, rb, N, weftNumTypes, weftSum, 0, c, NULL));
  EXPECT_INVALID(c, weftAllToAll(send, rb, N, weftNumTypes, c, NULL));
  EXPECT_INVALID(c2[0], weftSend(send, N, weftNumTypes, 1, c2[0], NULL));
  EXPECT_INVALID(c2[0], weftRecv(rb, N, weftNumTypes, 1, c2[0], NULL));

  /* bad op */
  EXPECT_INVALID(c, weftAllReduce(send, rb, N, weftFloat, weftNumOps, c, NULL));
  EXPECT_INVALID(c, weftAllReduce(send, rb, N, weftFloat, (weftRedOp_t)-1, c, NULL));
  EXPECT_INVALID(c, weftReduceScatter(send, rb, N, weftFloat, weftNumOps, c, NULL));
  EXPECT_INVALID(c, weftReduce(send, rb, N, weftFloat, weftNumOps, 0, c, NULL));

  /* root out of range */
  EXPECT_INVALID(c, weftBroadcast(send, rb, N, weftFloat, 1, c, NULL));
  EXPECT_INVALID(c, weftBroadcast(send, rb, N, weftFloat, -1, c, NULL));
  EXPECT_INVALID(c, weftReduce(send, rb, N, weftFloat, weftSum, 1, c, NULL));
  EXPECT_INVALID(c, weftReduce(send, rb, N, weftFloat, weftSum, -1, c, NULL));
  EXPECT_INVALID(c2[0], weftBroadcast(send, rb, N, weftFloat, 2, c2[0], NULL));

  /* peer out of range, and oneself */
  EXPECT_INVALID(c2[0], weftSend(send, N, weftFloat, 2, c2[0], NULL));
  EXPECT_INVALID(c2[0], weftSend(send, N, weftFloat, -1, c2[0], NULL));
  EXPECT_INVALID(c2[0], weftRecv(rb, N, weftFloat, 2, c2[0], NULL));
  EXPECT_INVALID(c2[0], weftRecv(rb, N, weftFloat, -1, c2[0], NULL));
  {
    /* To oneself: paired send+recv inside a group are supported (the matrix
     * runs them on 1 rank); a lone one must fail at once, never block, and
     * leave the buffer and the comm alone. (docs/api.md still says
     * weftInvalidArgument; the library answers weftInvalidUsage.) */
    canary_set();
    weftResult_t r = weftRecv(rb, N, weftFloat, 0, c2[0], NULL);
    assert_true(r == weftInvalidArgument || r == weftInvalidUsage);
    assert_true(weftGetLastError(c2[0])[0] != 0);
    assert_true(canary_ok());
    r = weftSend(send, N, weftFloat, 0, c, NULL);
    assert_true(r == weftInvalidArgument || r == weftInvalidUsage);
    assert_true(weftGetLastError(c)[0] != 0);
    /* a size mismatch between the two halves */
    assert_int_equal(weftGroupStart(), weftSuccess);
    weftSend(send, N, weftFloat, 0, c, NULL);
    weftRecv(rb, N + 1, weftFloat, 0, c, NULL);
    r = weftGroupEnd();
    assert_true(r == weftInvalidArgument || r == weftInvalidUsage);
    assert_true(canary_ok());
  }

  /* count overflow */
  EXPECT_INVALID(c, weftAllReduce(send, rb, SIZE_MAX, weftFloat, weftSum, c, NULL));
  EXPECT_INVALID(c, weftAllReduce(send, rb, SIZE_MAX / 2, weftFloat, weftSum, c, NULL));
  EXPECT_INVALID(c, weftBroadcast(send, rb, SIZE_MAX, weftDouble, 0, c, NULL));
  EXPECT_INVALID(c, weftReduce(send, rb, SIZE_MAX, weftInt64, weftSum, 0, c, NULL));
  EXPECT_INVALID(c2[0], weftSend(send, SIZE_MAX, weftFloat, 1, c2[0], NULL));
  /* count * elemsize fits, count * elemsize * nranks does not */
  size_t half = (size_t)PTRDIFF_MAX / 2 + 1;
  EXPECT_INVALID(c2[0], weftAllGather(send, rb, half, weftInt8, c2[0], NULL));
  EXPECT_INVALID(c2[0], weftReduceScatter(send, rb, half, weftInt8, weftSum, c2[0], NULL));
  EXPECT_INVALID(c2[0], weftAllToAll(send, rb, half, weftInt8, c2[0], NULL));

  /* NULL comm: the message is recorded for the thread */
  EXPECT_INVALID(NULL, weftAllReduce(send, rb, N, weftFloat, weftSum, NULL, NULL));
  EXPECT_INVALID(NULL, weftAllGather(send, rb, N, weftFloat, NULL, NULL));
  EXPECT_INVALID(NULL, weftReduceScatter(send, rb, N, weftFloat, weftSum, NULL, NULL));
  EXPECT_INVALID(NULL, weftBroadcast(send, rb, N, weftFloat, 0, NULL, NULL));
  EXPECT_INVALID(NULL, weftReduce(send, rb, N, weftFloat, weftSum, 0, NULL, NULL));
  EXPECT_INVALID(NULL, weftAllToAll(send, rb, N, weftFloat, NULL, NULL));
  EXPECT_INVALID(NULL, weftSend(send, N, weftFloat, 0, NULL, NULL));
  EXPECT_INVALID(NULL, weftRecv(rb, N, weftFloat, 0, NULL, NULL));

  /* a comm pointer to memory that is not a communicator (zeroed, then garbage) */
  void *fake = calloc(1, sizeof(struct weftComm) + 256);
  weftComm_t bogus = fake;
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1) memset(fake, 0x11, sizeof(struct weftComm) + 256);
    EXPECT_INVALID(bogus, weftAllReduce(send, rb, N, weftFloat, weftSum, bogus, NULL));
    EXPECT_INVALID(bogus, weftAllGather(send, rb, N, weftFloat, bogus, NULL));
    EXPECT_INVALID(bogus, weftReduceScatter(send, rb, N, weftFloat, weftSum, bogus, NULL));
    EXPECT_INVALID(bogus, weftBroadcast(send, rb, N, weftFloat, 0, bogus, NULL));
    EXPECT_INVALID(bogus, weftReduce(send, rb, N, weftFloat, weftSum, 0, bogus, NULL));
    EXPECT_INVALID(bogus, weftAllToAll(send, rb, N, weftFloat, bogus, NULL));
    EXPECT_INVALID(bogus, weftSend(send, N, weftFloat, 0, bogus, NULL));
    EXPECT_INVALID(bogus, weftRecv(rb, N, weftFloat, 0, bogus, NULL));
    int cnt = -7;
    EXPECT_INVALID(bogus, weftCommCount(bogus, &cnt));
    EXPECT_INVALID(bogus, weftCommUserRank(bogus, &cnt));
    assert_int_equal(cnt, -7);
    EXPECT_INVALID(bogus, weftCommDestroy(bogus));
    EXPECT_INVALID(bogus, weftCommAbort(bogus));
    weftResult_t ae;
    EXPECT_INVALID(bogus, weftCommGetAsyncError(bogus, &ae));
    weftComm_t nc = (weftComm_t)0x1;
    EXPECT_INVALID(bogus, weftCommSplit(bogus, 0, 0, &nc, NULL));
  }
  free(fake);

  /* a stream that is not a weft stream */
  {
    void *fs = calloc(1, 4096);
    EXPECT_INVALID(c, weftAllReduce(send, rb, N, weftFloat, weftSum, c, (weftStream_t)fs));
    EXPECT_INVALID(NULL, weftStreamQuery((weftStream_t)fs));
    EXPECT_INVALID(NULL, weftStreamSynchronize((weftStream_t)fs));
    EXPECT_INVALID(NULL, weftStreamSynchronize(NULL));
    EXPECT_INVALID(NULL, weftStreamCreate(NULL));
    free(fs);
  }

  /* overlapping send and receive buffers that are not in-place */
  {
    float *buf = (float *)g_recv;
    canary_set();
    /* allreduce: recvbuff starts one element into sendbuff (sendbuff is the canary buffer too) */
    EXPECT_INVALID(c, weftAllReduce(buf, buf + 1, N, weftFloat, weftSum, c, NULL));
    EXPECT_INVALID(c, weftAllReduce(buf + 1, buf, N, weftFloat, weftSum, c, NULL));
    EXPECT_INVALID(c, weftAllToAll(buf, buf, N, weftFloat, c, NULL)); /* alltoall is never in-place */
    EXPECT_INVALID(c, weftAllToAll(buf + 3, buf, N, weftFloat, c, NULL));
    EXPECT_INVALID(c, weftBroadcast(buf + 2, buf, N, weftFloat, 0, c, NULL));
    EXPECT_INVALID(c, weftReduce(buf, buf + 2, N, weftFloat, weftSum, 0, c, NULL));
    /* 2 ranks, rank 0: in-place allgather means sendbuff == recvbuff + 0; rank 1's slot overlaps */
    EXPECT_INVALID(c2[0], weftAllGather(buf + N, buf, N, weftFloat, c2[0], NULL));
    EXPECT_INVALID(c2[0], weftAllGather(buf + 1, buf, N, weftFloat, c2[0], NULL));
    /* reducescatter rank 0: in-place means recvbuff == sendbuff + 0 */
    EXPECT_INVALID(c2[0], weftReduceScatter(buf, buf + N, N, weftFloat, weftSum, c2[0], NULL));
    EXPECT_INVALID(c2[0], weftReduceScatter(buf, buf + 5, N, weftFloat, weftSum, c2[0], NULL));
  }

  /* the v-variants (1 rank): NULL arrays and buffers, overflow, a self block of two sizes, overlap */
  {
    size_t cnt[1] = {N}, dsp[1] = {0}, big[1] = {SIZE_MAX / 2}, far[1] = {SIZE_MAX - 1}, other[1] = {N - 1};
    float *buf = (float *)g_recv;
    EXPECT_INVALID(c, weftAllGatherV(send, rb, NULL, dsp, weftFloat, c, NULL));
    EXPECT_INVALID(c, weftAllGatherV(send, rb, cnt, NULL, weftFloat, c, NULL));
    EXPECT_INVALID(c, weftAllGatherV(NULL, rb, cnt, dsp, weftFloat, c, NULL));
    EXPECT_INVALID(c, weftAllGatherV(send, NULL, cnt, dsp, weftFloat, c, NULL));
    EXPECT_INVALID(c, weftAllGatherV(send, rb, cnt, far, weftFloat, c, NULL)); /* displs + counts overflows */
    EXPECT_INVALID(c, weftAllGatherV(send, rb, big, dsp, weftFloat, c, NULL)); /* bytes overflow */
    EXPECT_INVALID(c, weftAllGatherV(send, rb, cnt, dsp, weftNumTypes, c, NULL));
    EXPECT_INVALID(c, weftAllGatherV(buf + 1, buf, cnt, dsp, weftFloat, c, NULL)); /* in place is buf + 0 */
    EXPECT_INVALID(c, weftReduceScatterV(send, rb, NULL, weftFloat, weftSum, c, NULL));
    EXPECT_INVALID(c, weftReduceScatterV(send, rb, cnt, weftFloat, weftNumOps, c, NULL));
    EXPECT_INVALID(c, weftReduceScatterV(NULL, rb, cnt, weftFloat, weftSum, c, NULL));
    EXPECT_INVALID(c, weftReduceScatterV(send, rb, big, weftFloat, weftSum, c, NULL));
    EXPECT_INVALID(c, weftReduceScatterV(buf, buf + 2, cnt, weftFloat, weftSum, c, NULL));
    EXPECT_INVALID(c, weftAllToAllV(send, NULL, dsp, rb, cnt, dsp, weftFloat, c, NULL));
    EXPECT_INVALID(c, weftAllToAllV(send, cnt, dsp, rb, cnt, NULL, weftFloat, c, NULL));
    EXPECT_INVALID(c, weftAllToAllV(send, cnt, dsp, NULL, cnt, dsp, weftFloat, c, NULL));
    EXPECT_INVALID(c, weftAllToAllV(send, cnt, dsp, rb, other, dsp, weftFloat, c, NULL)); /* its own block */
    EXPECT_INVALID(c, weftAllToAllV(buf, cnt, dsp, buf, cnt, dsp, weftFloat, c, NULL));  /* never in place */
  }

  /* comm management */
  {
    int v = -7;
    EXPECT_INVALID(NULL, weftCommCount(NULL, &v));
    EXPECT_INVALID(NULL, weftCommUserRank(NULL, &v));
    EXPECT_INVALID(c, weftCommCount(c, NULL));
    EXPECT_INVALID(c, weftCommUserRank(c, NULL));
    EXPECT_INVALID(c, weftCommGetAsyncError(c, NULL));
    weftComm_t nc;
    EXPECT_INVALID(c, weftCommSplit(c, -5, 0, &nc, NULL));
    EXPECT_INVALID(c, weftCommSplit(c, 0, 0, NULL, NULL));
    weftUniqueId id, zero;
    memset(&zero, 0, sizeof zero);
    EXPECT_INVALID(NULL, weftCommInitRank(&nc, 2, zero, 0)); /* not from weftGetUniqueId */
    EXPECT_INVALID(NULL, weftGetUniqueId(NULL));
    assert_int_equal(weftGetUniqueId(&id), weftSuccess);
    EXPECT_INVALID(NULL, weftCommInitRank(NULL, 2, id, 0));
    EXPECT_INVALID(NULL, weftCommInitRank(&nc, 0, id, 0));
    EXPECT_INVALID(NULL, weftCommInitRank(&nc, 2, id, 2));
    EXPECT_INVALID(NULL, weftCommInitRank(&nc, 2, id, -1));
    weftConfig_t cfg = WEFT_CONFIG_INITIALIZER;
    cfg.magic = 0;
    EXPECT_INVALID(NULL, weftCommInitRankConfig(&nc, 1, id, 0, &cfg));
    cfg = (weftConfig_t)WEFT_CONFIG_INITIALIZER;
    cfg.timeoutMs = -5;
    EXPECT_INVALID(NULL, weftCommInitRankConfig(&nc, 1, id, 0, &cfg));
    cfg = (weftConfig_t)WEFT_CONFIG_INITIALIZER;
    cfg.algo = "bogus";
    EXPECT_INVALID(NULL, weftCommInitRankConfig(&nc, 1, id, 0, &cfg));
    cfg = (weftConfig_t)WEFT_CONFIG_INITIALIZER;
    cfg.netName = "carrier-pigeon";
    EXPECT_INVALID(NULL, weftCommInitRankConfig(&nc, 1, id, 0, &cfg));
    EXPECT_INVALID(NULL, weftCommInitAll(NULL, 2, NULL));
    EXPECT_INVALID(NULL, weftCommInitAll(&nc, 0, NULL));
    char small[16];
    EXPECT_INVALID(NULL, weftUniqueIdToString(&id, small, sizeof small));
    EXPECT_INVALID(NULL, weftUniqueIdFromString(&id, "not hex"));
    char text[2 * WEFT_UNIQUE_ID_BYTES + 1];
    memset(text, 'z', sizeof text - 1);
    text[sizeof text - 1] = 0;
    EXPECT_INVALID(NULL, weftUniqueIdFromString(&id, text));
    memset(text, '0', sizeof text - 1);
    EXPECT_INVALID(NULL, weftUniqueIdFromString(&id, text)); /* hex, but not a weft id */
  }

  /* groups */
  EXPECT_RES(weftInvalidUsage, NULL, weftGroupEnd());
  assert_int_equal(weftGroupStart(), weftSuccess);
  EXPECT_INVALID(c, weftAllReduce(NULL, rb, N, weftFloat, weftSum, c, NULL));
  {
    /* a group with a failed call fails as a whole and launches nothing */
    canary_set();
    weftResult_t r = weftGroupEnd();
    assert_int_not_equal(r, weftSuccess);
    assert_true(canary_ok());
  }
  EXPECT_RES(weftInvalidUsage, NULL, weftGroupEnd()); /* the group is closed */

  /* invalid calls did not break the communicators */
  {
    weftResult_t ae = weftInternalError;
    assert_int_equal(weftCommGetAsyncError(c, &ae), weftSuccess);
    assert_int_equal(ae, weftSuccess);
    assert_int_equal(weftAllReduce(send, rb, N, weftFloat, weftSum, c, NULL), weftSuccess);
    for (size_t i = 0; i < N; i++) assert_true(rb[i] == send[i]);
    assert_int_equal(weftCommDestroy(c1), weftSuccess);
    assert_int_equal(weftCommDestroy(c2[0]), weftSuccess);
    assert_int_equal(weftCommDestroy(c2[1]), weftSuccess);
  }
  free(g_recv);
}

/* ---- streams --------------------------------------------------------------------------- */

#define ST_OPS 10
#define ST_COUNT 100003

typedef struct {
  int query[MAXR], sync[MAXR], query_after[MAXR], destroy[MAXR], blocking[MAXR], sync2[MAXR];
  int order[MAXR]; /* the ordering phase: 0, or the first failing call */
  long wrong[MAXR], order_wrong[MAXR];
} st_report;

static int32_t st_val(int rank, int k, size_t i) { return (int32_t)((rank + 1) * 1000 + k * 7 + (int)(i % 1013)); }

/* Four calls in place on one buffer x, each result depending on what ran
 * before: A broadcast of rank 1's x (comm, stream s), B sum (comm, stream
 * s2: after A, by the comm's order), C sum (comm2, stream s2: after B, by the
 * stream's), D sum (comm2, blocking: after C, by comm2's order). Only that
 * order gives n^3 times rank 1's values, checked when D returns and again
 * after synchronizing both streams. A moves 4 MiB, more than a call may run
 * on its caller's thread, so B and C find work ahead of them; they and D
 * take the first 16 KiB, small enough to start on the caller's thread when
 * nothing is ahead. Returns 0 or the first failing step. */
static int stream_order(int rank, int n, weftComm_t comm, weftComm_t comm2, weftStream_t s, long *wrong) {
  size_t cnt = (size_t)1 << 20, head = 4096;
  weftStream_t s2;
  if (weftStreamCreate(&s2) != weftSuccess) return 1;
  int32_t *x = malloc(cnt * sizeof *x), y[16];
  for (size_t i = 0; i < cnt; i++) x[i] = st_val(rank, 3, i);
  for (int i = 0; i < 16; i++) y[i] = st_val(rank, 4, (size_t)i);
  int rc = 0;
  /* first a small call rank 1 joins 2 ms late: rank 0's starts on its own
   * thread, stops waiting after WEFT_STREAM_INLINE_US and its progress
   * thread finishes it from where it stopped (checked with the rest) */
  if (rank == 1) usleep(2000);
  if (weftAllReduce(y, y, 16, weftInt32, weftSum, comm, s2) != weftSuccess) rc = 8;
  else if (weftBroadcast(x, x, cnt, weftInt32, 1, comm, s) != weftSuccess) rc = 2;
  else if (weftAllReduce(x, x, head, weftInt32, weftSum, comm, s2) != weftSuccess) rc = 3;
  else if (weftAllReduce(x, x, head, weftInt32, weftSum, comm2, s2) != weftSuccess) rc = 4;
  else if (weftAllReduce(x, x, head, weftInt32, weftSum, comm2, NULL) != weftSuccess) rc = 5;
  for (int pass = 0; pass < 2 && !rc; pass++) { /* after D, then after synchronizing */
    for (size_t i = 0; i < (pass ? cnt : head); i++) {
      int32_t want = (i < head ? n * n * n : 1) * st_val(1, 3, i);
      if (x[i] != want && (*wrong)++ < 3)
        fprintf(stderr, "rank %d: ordered calls, %s, index %zu: expected %d got %d\n", rank,
                pass ? "synchronized" : "after the blocking call", i, want, x[i]);
    }
    if (!pass && (weftStreamSynchronize(s2) != weftSuccess || weftStreamSynchronize(s) != weftSuccess)) rc = 6;
  }
  for (int i = 0; i < 16 && !rc; i++) {
    int32_t want = 0;
    for (int r = 0; r < n; r++) want += st_val(r, 4, (size_t)i);
    if (y[i] != want && (*wrong)++ < 3)
      fprintf(stderr, "rank %d: late call, index %d: expected %d got %d\n", rank, i, want, y[i]);
  }
  if (weftStreamDestroy(s2) != weftSuccess && !rc) rc = 7;
  free(x);
  return rc;
}

static int stream_rank(int rank, int n, const weftUniqueId *id, void *arg) {
  st_report *rep = arg;
  size_t cnt = pick_count(ST_COUNT);
  weftComm_t comm, comm2;
  if (weftCommInitRank(&comm, n, *id, rank) != weftSuccess) return 10;
  if (weftCommSplit(comm, 0, rank, &comm2, NULL) != weftSuccess) return 14;
  weftStream_t s;
  if (weftStreamCreate(&s) != weftSuccess) return 11;
  int32_t *sb[2 * ST_OPS], *rb[2 * ST_OPS];
  for (int k = 0; k < 2 * ST_OPS; k++) {
    sb[k] = malloc(cnt * sizeof(int32_t));
    rb[k] = malloc(cnt * sizeof(int32_t));
    for (size_t i = 0; i < cnt; i++) sb[k][i] = st_val(rank, k, i), rb[k][i] = -1;
  }
  int rc = 0;
  for (int k = 0; k < ST_OPS; k++)
    if (weftAllReduce(sb[k], rb[k], cnt, weftInt32, weftSum, comm, s) != weftSuccess) rc = 12;
  rep->query[rank] = weftStreamQuery(s);
  /* a blocking call on the same comm runs after everything already enqueued */
  int64_t one = rank + 1, tot = 0;
  rep->blocking[rank] = weftAllReduce(&one, &tot, 1, weftInt64, weftSum, comm, NULL);
  if (tot != (int64_t)n * (n + 1) / 2) rep->blocking[rank] = -1;
  rep->sync[rank] = weftStreamSynchronize(s);
  rep->query_after[rank] = weftStreamQuery(s);
  /* one stream, two comms: ops alternate between them and complete in order */
  for (int k = ST_OPS; k < 2 * ST_OPS; k++)
    if (weftAllReduce(sb[k], rb[k], cnt, weftInt32, weftSum, k % 2 ? comm2 : comm, s) != weftSuccess) rc = 15;
  rep->sync2[rank] = weftStreamSynchronize(s);
  rep->order[rank] = stream_order(rank, n, comm, comm2, s, &rep->order_wrong[rank]);
  for (int k = 0; k < 2 * ST_OPS; k++)
    for (size_t i = 0; i < cnt; i++) {
      int32_t want = 0;
      for (int r = 0; r < n; r++) want += st_val(r, k, i);
      if (rb[k][i] != want) {
        if (rep->wrong[rank]++ < 5)
          fprintf(stderr, "rank %d: stream op %d index %zu expected %d got %d\n", rank, k, i, want, rb[k][i]);
      }
    }
  rep->destroy[rank] = weftStreamDestroy(s);
  if (weftCommDestroy(comm2) != weftSuccess || weftCommDestroy(comm) != weftSuccess) rc = 13;
  for (int k = 0; k < 2 * ST_OPS; k++) free(sb[k]), free(rb[k]);
  return rc;
}

static void test_streams(void **state) {
  (void)state;
  st_report *rep = shared_alloc(sizeof *rep);
  int status[2];
  int failed = launch(2, stream_rank, rep, 100, status);
  for (int r = 0; r < 2; r++) {
    printf("  rank %d: status %d, query %d, blocking call %d, synchronize %d, query after %d, synchronize (2 comms) %d, "
           "destroy %d, wrong %ld, ordered calls %d (wrong %ld)\n",
           r, status[r], rep->query[r], rep->blocking[r], rep->sync[r], rep->query_after[r], rep->sync2[r],
           rep->destroy[r], rep->wrong[r], rep->order[r], rep->order_wrong[r]);
    assert_int_equal(rep->order[r], 0);
    assert_int_equal(rep->order_wrong[r], 0);
    assert_int_equal(rep->sync2[r], weftSuccess);
    assert_true(rep->query[r] == weftInProgress || rep->query[r] == weftSuccess);
    assert_int_equal(rep->blocking[r], weftSuccess);
    assert_int_equal(rep->sync[r], weftSuccess);
    assert_int_equal(rep->query_after[r], weftSuccess);
    assert_int_equal(rep->destroy[r], weftSuccess);
    assert_int_equal(rep->wrong[r], 0);
    assert_int_equal(status[r], 0);
  }
  assert_int_equal(failed, 0);
  shared_free(rep, sizeof *rep);
}

/* ---- groups ------------------------------------------------------------------------------ */

#define GR_NRANKS 3
#define GR_COUNT 1031

typedef struct {
  int err[MAXR];
  char msg[MAXR][MSGLEN];
} group_report;

static double gr_val(int rank, int which, int i) { return (double)(rank * 10 + which) + (double)(i % 17) * 0.5; }

#define GR_FAIL(...)                                        \
  do {                                                      \
    snprintf(rep->msg[rank], MSGLEN, __VA_ARGS__);          \
    fprintf(stderr, "rank %d: %s\n", rank, rep->msg[rank]); \
    rep->err[rank] = __LINE__;                              \
    goto out;                                               \
  } while (0)

/* Several collectives and point-to-point calls on two comms, launched by one
 * (nested) group from one thread; then the same group on a stream. */
static int group_rank(int rank, int n, const weftUniqueId *id, void *arg) {
  group_report *rep = arg;
  weftComm_t a = NULL, b = NULL;
  weftStream_t s = NULL;
  double *ar = calloc(GR_COUNT, sizeof(double)), *as = calloc(GR_COUNT, sizeof(double));
  double *ag = calloc((size_t)n * GR_COUNT, sizeof(double)), *bc = calloc(GR_COUNT, sizeof(double));
  double *ps = calloc(GR_COUNT, sizeof(double)), *pr = calloc(GR_COUNT, sizeof(double));
  double *self_s = calloc(GR_COUNT, sizeof(double)), *self_r = calloc(GR_COUNT, sizeof(double));
  weftConfig_t tree = WEFT_CONFIG_INITIALIZER;
  tree.algo = "tree";
  if (weftCommInitRank(&a, n, *id, rank) != weftSuccess) GR_FAIL("init: %s", weftGetLastError(NULL));
  if (weftCommSplit(a, 0, rank, &b, &tree) != weftSuccess) GR_FAIL("split: %s", weftGetLastError(a));
  if (weftStreamCreate(&s) != weftSuccess) GR_FAIL("stream");
  for (int round = 0; round < 2; round++) {
    weftStream_t st = round ? s : NULL;
    for (int i = 0; i < GR_COUNT; i++) {
      as[i] = gr_val(rank, 0, i);
      bc[i] = rank == n - 1 ? gr_val(rank, 1, i) : -1;
      ps[i] = gr_val(rank, 2, i);
      self_s[i] = gr_val(rank, 3, i);
      ar[i] = pr[i] = self_r[i] = -1;
    }
    int next = (rank + 1) % n, prev = (rank + n - 1) % n;
    weftResult_t r[8];
    /* weft matches messages per pair of ranks in issue order, across
     * collectives too (docs/api.md), so the send to next and the receive from
     * prev sit at the same place relative to the collectives on every rank */
    weftGroupStart();
    r[0] = weftAllReduce(as, ar, GR_COUNT, weftDouble, weftSum, a, st);
    weftGroupStart(); /* nested: launches at the outermost end */
    r[1] = weftBroadcast(bc, bc, GR_COUNT, weftDouble, n - 1, b, st);
    r[2] = weftRecv(pr, GR_COUNT, weftDouble, prev, a, st);
    r[3] = weftSend(ps, GR_COUNT, weftDouble, next, a, st);
    r[4] = weftGroupEnd();
    r[5] = weftAllGather(as, ag, GR_COUNT, weftDouble, a, st);
    r[6] = weftSend(self_s, GR_COUNT, weftDouble, rank, b, st);
    r[7] = weftRecv(self_r, GR_COUNT, weftDouble, rank, b, st);
    weftResult_t e = weftGroupEnd();
    for (int k = 0; k < 8; k++)
      if (r[k] != weftSuccess) GR_FAIL("round %d: call %d in the group returned %d", round, k, r[k]);
    if (e != weftSuccess) GR_FAIL("round %d: weftGroupEnd returned %d: %s", round, e, weftGetLastError(a));
    if (st && weftStreamSynchronize(st) != weftSuccess)
      GR_FAIL("round %d: weftStreamSynchronize: %s", round, weftGetLastError(NULL));
    for (int i = 0; i < GR_COUNT; i++) {
      double sum = 0;
      for (int q = 0; q < n; q++) sum += gr_val(q, 0, i);
      if (ar[i] != sum) GR_FAIL("round %d: allreduce[%d] = %g, expected %g", round, i, ar[i], sum);
      if (bc[i] != gr_val(n - 1, 1, i)) GR_FAIL("round %d: broadcast[%d] = %g", round, i, bc[i]);
      if (pr[i] != gr_val(prev, 2, i)) GR_FAIL("round %d: recv[%d] = %g", round, i, pr[i]);
      if (self_r[i] != gr_val(rank, 3, i)) GR_FAIL("round %d: self recv[%d] = %g", round, i, self_r[i]);
      for (int q = 0; q < n; q++)
        if (ag[(size_t)q * GR_COUNT + (size_t)i] != gr_val(q, 0, i))
          GR_FAIL("round %d: allgather[%d][%d] = %g", round, q, i, ag[(size_t)q * GR_COUNT + (size_t)i]);
    }
  }
  /* point-to-point groups repeated (a small one reuses its plan; buffers and
   * sizes change in between) and one of 20 calls (past the inline record) */
  for (int round = 0; round < 6; round++) {
    int next = (rank + 1) % n, prev = (rank + n - 1) % n, big = round >= 4, pairs = big ? 10 : 1;
    int cnt = round == 2 ? 5 : 3;
    double *sb = round == 3 ? self_s : ps, *rb = round == 3 ? self_r : pr;
    weftGroupStart();
    for (int k = 0; k < pairs; k++) {
      for (int i = 0; i < cnt; i++) sb[k * cnt + i] = gr_val(rank, 10 + round, k * cnt + i);
      weftSend(sb + k * cnt, (size_t)cnt, weftDouble, next, a, NULL);
      weftRecv(rb + k * cnt, (size_t)cnt, weftDouble, prev, a, NULL);
    }
    if (weftGroupEnd() != weftSuccess) GR_FAIL("p2p round %d: weftGroupEnd: %s", round, weftGetLastError(a));
    for (int i = 0; i < pairs * cnt; i++)
      if (rb[i] != gr_val(prev, 10 + round, i)) GR_FAIL("p2p round %d: recv[%d] = %g", round, i, rb[i]);
  }
out:
  if (s) weftStreamDestroy(s);
  if (rep->err[rank]) {
    weftCommAbort(b);
    weftCommAbort(a);
  } else {
    weftCommDestroy(b);
    weftCommDestroy(a);
  }
  free(ar), free(as), free(ag), free(bc), free(ps), free(pr), free(self_s), free(self_r);
  return rep->err[rank] ? 1 : 0;
}

static void test_groups(void **state) {
  (void)state;
  group_report *rep = shared_alloc(sizeof *rep);
  int status[GR_NRANKS];
  int failed = launch(GR_NRANKS, group_rank, rep, 100, status);
  for (int r = 0; r < GR_NRANKS; r++) {
    if (rep->err[r]) printf("  rank %d failed (line %d): %s\n", r, rep->err[r], rep->msg[r]);
    assert_int_equal(rep->err[r], 0);
    assert_int_equal(status[r], 0);
  }
  assert_int_equal(failed, 0);
  shared_free(rep, sizeof *rep);
}

/* ---- CommSplit -------------------------------------------------------------------------- */

typedef struct {
  int err[MAXR];
  char msg[MAXR][MSGLEN];
} split_report;

#define SPLIT_FAIL(...)                                            \
  do {                                                             \
    snprintf(rep->msg[rank], MSGLEN, __VA_ARGS__);                 \
    fprintf(stderr, "rank %d: %s\n", rank, rep->msg[rank]);        \
    rep->err[rank] = __LINE__;                                     \
    return 1;                                                      \
  } while (0)

static int split_rank(int rank, int n, const weftUniqueId *id, void *arg) {
  split_report *rep = arg;
  weftComm_t world, half, three;
  if (weftCommInitRank(&world, n, *id, rank) != weftSuccess) SPLIT_FAIL("init: %s", weftGetLastError(NULL));
  /* even/odd, keys reversed: new rank order is by descending old rank */
  weftResult_t r = weftCommSplit(world, rank % 2, -rank, &half, NULL);
  if (r != weftSuccess || !half) SPLIT_FAIL("split even/odd: %d %s", r, weftGetLastError(world));
  int cnt = -1, me = -1;
  weftCommCount(half, &cnt);
  weftCommUserRank(half, &me);
  int members = (n - rank % 2 + 1) / 2; /* ranks with my parity */
  int want_me = (n - 1 - rank) / 2;      /* ranks of my parity above me come first */
  if (cnt != members || me != want_me) SPLIT_FAIL("half comm: count %d rank %d, expected %d %d", cnt, me, members, want_me);
  int32_t old = rank, olds[MAXR];
  memset(olds, 0xff, sizeof olds);
  if (weftAllGather(&old, olds, 1, weftInt32, half, NULL) != weftSuccess)
    SPLIT_FAIL("allgather on half: %s", weftGetLastError(half));
  for (int i = 0; i < cnt; i++) {
    /* new rank i = the i-th largest old rank with my parity */
    int top = (n - 1) % 2 == rank % 2 ? n - 1 : n - 2;
    if (olds[i] != top - 2 * i) SPLIT_FAIL("half comm: new rank %d is old rank %d, expected %d", i, olds[i], top - 2 * i);
  }
  enum { CNT = 4099 };
  int64_t *sb = malloc(CNT * sizeof *sb), *rb = malloc(CNT * sizeof *rb);
  for (int i = 0; i < CNT; i++) sb[i] = (int64_t)rank * 1000003 + i;
  if (weftAllReduce(sb, rb, CNT, weftInt64, weftSum, half, NULL) != weftSuccess)
    SPLIT_FAIL("allreduce on half: %s", weftGetLastError(half));
  for (int i = 0; i < CNT; i++) {
    int64_t want = 0;
    for (int q = rank % 2; q < n; q += 2) want += (int64_t)q * 1000003 + i;
    if (rb[i] != want) SPLIT_FAIL("allreduce on half: index %d expected %lld got %lld", i, (long long)want, (long long)rb[i]);
  }
  /* the last rank opts out: NULL for it, an (n-1)-rank comm for the others */
  three = (weftComm_t)0x1;
  r = weftCommSplit(world, rank == n - 1 ? WEFT_SPLIT_NOCOLOR : 7, 0, &three, NULL);
  if (r != weftSuccess) SPLIT_FAIL("split with NOCOLOR: %d %s", r, weftGetLastError(world));
  if (rank == n - 1) {
    if (three != NULL) SPLIT_FAIL("WEFT_SPLIT_NOCOLOR gave %p, expected NULL", (void *)three);
  } else {
    if (!three) SPLIT_FAIL("split gave NULL for a colored rank");
    weftCommCount(three, &cnt);
    weftCommUserRank(three, &me);
    if (cnt != n - 1 || me != rank) SPLIT_FAIL("sub comm: count %d rank %d", cnt, me);
    if (weftAllReduce(sb, rb, CNT, weftInt64, weftMax, three, NULL) != weftSuccess)
      SPLIT_FAIL("allreduce on sub comm: %s", weftGetLastError(three));
    for (int i = 0; i < CNT; i++)
      if (rb[i] != (int64_t)(n - 2) * 1000003 + i) SPLIT_FAIL("allreduce max on sub comm: index %d got %lld", i, (long long)rb[i]);
    if (weftCommDestroy(three) != weftSuccess) SPLIT_FAIL("destroy sub comm");
  }
  /* the parent still works after the splits */
  if (weftAllReduce(sb, rb, CNT, weftInt64, weftMin, world, NULL) != weftSuccess)
    SPLIT_FAIL("allreduce on world: %s", weftGetLastError(world));
  for (int i = 0; i < CNT; i++)
    if (rb[i] != i) SPLIT_FAIL("allreduce min on world: index %d got %lld", i, (long long)rb[i]);
  if (weftCommDestroy(half) != weftSuccess || weftCommDestroy(world) != weftSuccess) SPLIT_FAIL("destroy");
  free(sb);
  free(rb);
  return 0;
}

static void test_comm_split(void **state) {
  (void)state;
  split_report *rep = shared_alloc(sizeof *rep);
  int status[4];
  int failed = launch(4, split_rank, rep, 100, status);
  for (int r = 0; r < 4; r++) {
    if (rep->err[r]) printf("  rank %d failed (line %d): %s\n", r, rep->err[r], rep->msg[r]);
    assert_int_equal(rep->err[r], 0);
    assert_int_equal(status[r], 0);
  }
  assert_int_equal(failed, 0);
  shared_free(rep, sizeof *rep);
}

/* ---- bootstrap strangers ------------------------------------------------------------------ */

typedef struct {
  int idle;          /* number of silent connections to hold open */
  int idle_hold_ms;  /* how long they stay open */
  int garbage;       /* also send garbage, a wrong-secret hello, a port scan */
  int init_res[MAXR];
  double init_s[MAXR];
  int ok[MAXR];
  char msg[MAXR][MSGLEN];
} stranger_report;

typedef struct {
  weft_sockaddr root;
  int kind; /* 0 garbage, 1 wrong secret, 2 connect+close, 3 silent, 4 partial hello then silent */
  int hold_ms;
  int nranks;
  atomic_int *connected;
  atomic_int *stop; /* set once the real ranks are done */
} stranger_arg;

static void hold_open(const stranger_arg *s) {
  for (int t = 0; t < s->hold_ms && !atomic_load(s->stop); t += 10) sleep_ms(10);
}

static int stranger_connect(const weft_sockaddr *a) {
  int fd = socket(a->sa.sa_family, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  socklen_t len = a->sa.sa_family == AF_INET6 ? sizeof a->in6 : sizeof a->in;
  if (connect(fd, &a->sa, len) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

static void *stranger_main(void *p) {
  stranger_arg *s = p;
  int fd = stranger_connect(&s->root);
  atomic_fetch_add(s->connected, 1);
  if (fd < 0) return NULL;
  switch (s->kind) {
    case 0: {
      unsigned char junk[4096];
      for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)(i * 131 + 7);
      if (send(fd, junk, sizeof junk, MSG_NOSIGNAL) < 0) break;
      sleep_ms(50);
      break;
    }
    case 1: {
      boot_hello h;
      memset(&h, 0, sizeof h);
      h.magic = WEFT_ID_MAGIC;
      memset(h.mac, 0x42, sizeof h.mac); /* a proof made without the key */
      h.rank = 0; /* claims a real rank's slot */
      h.nranks = s->nranks;
      if (send(fd, &h, sizeof h, MSG_NOSIGNAL) < 0) break;
      sleep_ms(50);
      break;
    }
    case 2: break;
    case 3: hold_open(s); break;
    default: {
      uint32_t magic = WEFT_ID_MAGIC;
      if (send(fd, &magic, sizeof magic, MSG_NOSIGNAL) < 0) break;
      hold_open(s);
      break;
    }
  }
  close(fd);
  return NULL;
}

static int stranger_rank(int rank, int n, const weftUniqueId *id, void *arg) {
  stranger_report *rep = arg;
  pthread_t th[32];
  stranger_arg sa[32];
  int nth = 0;
  atomic_int connected, stop;
  atomic_init(&connected, 0);
  atomic_init(&stop, 0);
  if (rank == 0) {
    weft_id_internal in;
    memcpy(&in, id->internal, sizeof in);
    if (rep->garbage)
      for (int k = 0; k < 3; k++) sa[nth++] = (stranger_arg){in.root, k, 0, n, &connected, &stop};
    for (int k = 0; k < rep->idle && nth < 32; k++)
      sa[nth++] = (stranger_arg){in.root, k % 2 ? 3 : 4, rep->idle_hold_ms, n, &connected, &stop};
    for (int k = 0; k < nth; k++) pthread_create(&th[k], NULL, stranger_main, &sa[k]);
    while (atomic_load(&connected) < nth) sleep_ms(1);
    sleep_ms(20);
  } else {
    sleep_ms(100); /* let the strangers connect first */
  }
  weftComm_t comm;
  double t0 = now_s();
  weftResult_t r = weftCommInitRank(&comm, n, *id, rank);
  rep->init_s[rank] = now_s() - t0;
  rep->init_res[rank] = r;
  if (r != weftSuccess) {
    copy_msg(rep->msg[rank], weftGetLastError(NULL));
  } else {
    int64_t x = rank + 1, sum = 0;
    r = weftAllReduce(&x, &sum, 1, weftInt64, weftSum, comm, NULL);
    rep->ok[rank] = r == weftSuccess && sum == (int64_t)n * (n + 1) / 2;
    if (r != weftSuccess) copy_msg(rep->msg[rank], weftGetLastError(comm));
    weftCommDestroy(comm);
  }
  atomic_store(&stop, 1);
  for (int k = 0; k < nth; k++) pthread_join(th[k], NULL);
  return rep->ok[rank] ? 0 : 1;
}

/* timeout_s (WEFT_TIMEOUT) and max_init_s are scaled (time_scale.h) unless the
 * test is about how long init takes. */
static void run_strangers(int idle, int hold_ms, int garbage, double timeout_s, double max_init_s, int scaled) {
  if (scaled) {
    timeout_s = weft_test_seconds(timeout_s);
    max_init_s = weft_test_seconds(max_init_s);
  }
  char tv[32];
  snprintf(tv, sizeof tv, "%g", timeout_s);
  setenv("WEFT_TIMEOUT", tv, 1);
  stranger_report *rep = shared_alloc(sizeof *rep);
  rep->idle = idle;
  rep->idle_hold_ms = hold_ms;
  rep->garbage = garbage;
  int status[3];
  int failed = launch(3, stranger_rank, rep, 120, status);
  unsetenv("WEFT_TIMEOUT");
  for (int r = 0; r < 3; r++)
    printf("  rank %d: init %d (%s) in %.3f s, allreduce %s, status %d %s\n", r, rep->init_res[r],
           weftGetErrorString((weftResult_t)rep->init_res[r]), rep->init_s[r], rep->ok[r] ? "ok" : "FAILED", status[r],
           rep->msg[r]);
  for (int r = 0; r < 3; r++) {
    assert_int_equal(rep->init_res[r], weftSuccess);
    assert_true(rep->ok[r]);
    assert_true(rep->init_s[r] < max_init_s);
    assert_int_equal(status[r], 0);
  }
  assert_int_equal(failed, 0);
  shared_free(rep, sizeof *rep);
}

/* Garbage, a hello with a wrong secret that claims rank 0, a port scan and one
 * silent connection: the comm forms (the silent one may cost the root's
 * per-connection handshake timeout once). */
static void test_bootstrap_strangers(void **state) {
  (void)state;
  run_strangers(1, 8000, 1, 30, 15.0, 1);
}

/* KNOWN LIBRARY BUG (reported): the bootstrap root handles handshakes one at a
 * time with a 5 s receive timeout each (lib/bootstrap/root.c), so a few
 * connections that send nothing (or half a hello) delay every real rank by
 * 5 s each; 4 of them exceed a 12 s WEFT_TIMEOUT and the comm never forms.
 * Correct behaviour, asserted here: silent strangers are dropped without
 * holding up the real ranks, so the comm forms well within the timeout. */
static void test_bootstrap_idle_strangers(void **state) {
  (void)state;
  run_strangers(4, 30000, 0, 12, 8.0, 0); /* its point is the time: not scaled */
}

/* ---- env init ---------------------------------------------------------------------------- */

typedef struct {
  int port;
  int res[MAXR];
  int ok[MAXR];
  char msg[MAXR][MSGLEN];
} env_report;

static int env_rank(int rank, int n, const weftUniqueId *id, void *arg) {
  (void)id;
  env_report *rep = arg;
  char v[64];
  snprintf(v, sizeof v, "%d", rank);
  setenv("WEFT_RANK", v, 1);
  snprintf(v, sizeof v, "%d", n);
  setenv("WEFT_NRANKS", v, 1);
  snprintf(v, sizeof v, "127.0.0.1:%d", rep->port);
  setenv("WEFT_COMM_ID", v, 1);
  weftComm_t comm;
  weftResult_t r = weftCommInitFromEnv(&comm, NULL);
  rep->res[rank] = r;
  if (r != weftSuccess) {
    copy_msg(rep->msg[rank], weftGetLastError(NULL));
    return 1;
  }
  int cnt = -1, me = -1;
  weftCommCount(comm, &cnt);
  weftCommUserRank(comm, &me);
  enum { CNT = 1027 };
  uint32_t sb[CNT], rb[CNT];
  for (int i = 0; i < CNT; i++) sb[i] = (uint32_t)(rank * 100000 + i) * 2654435761u;
  r = weftAllReduce(sb, rb, CNT, weftUint32, weftSum, comm, NULL);
  int ok = r == weftSuccess && cnt == n && me == rank;
  for (int i = 0; i < CNT && ok; i++) {
    uint32_t want = 0;
    for (int q = 0; q < n; q++) want += (uint32_t)(q * 100000 + i) * 2654435761u;
    if (rb[i] != want) ok = 0;
  }
  if (r != weftSuccess) copy_msg(rep->msg[rank], weftGetLastError(comm));
  rep->ok[rank] = ok;
  weftCommDestroy(comm);
  return ok ? 0 : 1;
}

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  socklen_t len = sizeof a;
  assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  close(fd);
  return ntohs(a.sin_port);
}

static void test_env_init(void **state) {
  (void)state;
  env_report *rep = shared_alloc(sizeof *rep);
  rep->port = free_port();
  int status[3];
  int failed = launch(3, env_rank, rep, 100, status);
  for (int r = 0; r < 3; r++) {
    printf("  rank %d: init %d, allreduce %s, status %d %s\n", r, rep->res[r], rep->ok[r] ? "ok" : "FAILED",
           status[r], rep->msg[r]);
    assert_int_equal(rep->res[r], weftSuccess);
    assert_true(rep->ok[r]);
    assert_int_equal(status[r], 0);
  }
  assert_int_equal(failed, 0);
  shared_free(rep, sizeof *rep);
}

/* ---- main ------------------------------------------------------------------------------------- */

/* ---- the same failures in the node segment ------------------------------------------------ */

#define SLOTS_VARIANT(name)                       \
  static void test_##name##_slots(void **state) { \
    g_small = 1;                                  \
    test_##name(state);                           \
    g_small = 0;                                  \
  }
#define BOX_VARIANT(name)                       \
  static void test_##name##_box(void **state) { \
    g_small = g_p2p = 1;                        \
    test_##name(state);                         \
    g_small = g_p2p = 0;                        \
  }
BOX_VARIANT(kill_peer)
BOX_VARIANT(abort)
/* The survivors' first connect races the news of the death (a bootstrap
 * link closing): whether it meets the closed listener varies from run to
 * run, hence several runs. */
static void test_kill_unlinked(void **state) {
  g_unlinked = 1;
  for (int run = 0; run < 4; run++) test_kill_peer(state);
  g_unlinked = 0;
}
SLOTS_VARIANT(kill_peer)
SLOTS_VARIANT(stalled_peer)
SLOTS_VARIANT(abort)
SLOTS_VARIANT(abort_stream)
SLOTS_VARIANT(timeout)
SLOTS_VARIANT(streams)

/* Ranks that arrive late in turn, long enough for the others to go to sleep
 * in the segment (WEFT_SPIN_US=50): every call must still complete with
 * exact results (a lost wake-up would show as a 1 ms slice, not a hang). */
#define SLEEP_NRANKS 3
#define SLEEP_ITERS 30

static int sleepers_rank(int rank, int n, const weftUniqueId *id, void *arg) {
  rank_report *rep = arg;
  weftComm_t comm;
  if (weftCommInitRank(&comm, n, *id, rank) != weftSuccess) return 10;
  double sb[3], rb[3];
  int bad = 0;
  for (int it = 0; it < SLEEP_ITERS && !bad; it++) {
    if (it % n == rank) sleep_ms(1 + it % 7);
    for (int k = 0; k < 3; k++) sb[k] = rank * 100 + it * 3 + k;
    weftResult_t r = it % 2 ? weftAllReduce(sb, rb, 3, weftFloat64, weftSum, comm, NULL)
                            : weftBroadcast(sb, rb, 3, weftFloat64, it % n, comm, NULL);
    if (r != weftSuccess) {
      rep->res[rank] = r;
      copy_msg(rep->msg[rank], weftGetLastError(comm));
      bad = 1;
      break;
    }
    for (int k = 0; k < 3; k++) {
      double want = it % 2 ? 100.0 * n * (n - 1) / 2 + n * (it * 3 + k) : (it % n) * 100 + it * 3 + k;
      if (rb[k] != want) bad = 2;
    }
    if (bad) snprintf(rep->msg[rank], MSGLEN, "iteration %d: wrong result %g", it, rb[0]);
    rep->iters[rank] = it + 1;
  }
  const char *algo = weft_debug_last_algo(comm);
  if (!bad && strncmp(algo, "slots/", 6) != 0) {
    snprintf(rep->msg[rank], MSGLEN, "ran %s, not the node segment", algo);
    bad = 3;
  }
  weftCommDestroy(comm);
  return bad;
}

static void test_slots_sleepers(void **state) {
  (void)state;
  rank_report *rep = shared_alloc(sizeof *rep);
  int status[SLEEP_NRANKS];
  int failed = launch(SLEEP_NRANKS, sleepers_rank, rep, 60, status);
  for (int r = 0; r < SLEEP_NRANKS; r++)
    printf("  rank %d: status %d, %d iterations, result %d: %s\n", r, status[r], rep->iters[r], rep->res[r],
           rep->msg[r]);
  assert_int_equal(failed, 0);
  for (int r = 0; r < SLEEP_NRANKS; r++) assert_int_equal(status[r], 0);
  shared_free(rep, sizeof *rep);
}

static const struct CMUnitTest all_tests[] = {
    cmocka_unit_test(test_kill_peer_slots),
    cmocka_unit_test(test_stalled_peer_slots),
    cmocka_unit_test(test_abort_slots),
    cmocka_unit_test(test_abort_stream_slots),
    cmocka_unit_test(test_timeout_slots),
    cmocka_unit_test(test_streams_slots),
    cmocka_unit_test(test_slots_sleepers),
    cmocka_unit_test(test_kill_peer_box),
    cmocka_unit_test(test_abort_box),
    cmocka_unit_test(test_kill_peer),
    cmocka_unit_test(test_kill_unlinked),
    cmocka_unit_test(test_stalled_peer),
    cmocka_unit_test(test_abort),
    cmocka_unit_test(test_abort_stream),
    cmocka_unit_test(test_abort_connect),
    cmocka_unit_test(test_timeout),
    cmocka_unit_test(test_init_timeout),
    cmocka_unit_test(test_init_refusals),
    cmocka_unit_test(test_crypto_mismatch),
    cmocka_unit_test(test_concurrent_use),
    cmocka_unit_test(test_mismatch),
    cmocka_unit_test(test_invalid_args),
    cmocka_unit_test(test_streams),
    cmocka_unit_test(test_groups),
    cmocka_unit_test(test_comm_split),
    cmocka_unit_test(test_bootstrap_strangers),
    cmocka_unit_test(test_bootstrap_idle_strangers),
    cmocka_unit_test(test_env_init),
};
#define NTESTS (sizeof all_tests / sizeof all_tests[0])

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc == 2 && !strcmp(argv[1], "-l")) {
    for (size_t i = 0; i < NTESTS; i++) printf("%s\n", all_tests[i].name + 5);
    return 0;
  }
  if (argc < 2) return cmocka_run_group_tests_name("mp_failures", all_tests, NULL, NULL);
  struct CMUnitTest sel[NTESTS];
  size_t nsel = 0;
  for (int a = 1; a < argc; a++) {
    size_t i = 0;
    while (i < NTESTS && strcmp(all_tests[i].name + 5, argv[a]) != 0 && strcmp(all_tests[i].name, argv[a]) != 0) i++;
    if (i == NTESTS) {
      fprintf(stderr, "unknown test '%s' (-l lists them)\n", argv[a]);
      return 2;
    }
    sel[nsel++] = all_tests[i];
  }
  return _cmocka_run_group_tests("mp_failures", sel, nsel, NULL, NULL);
}
