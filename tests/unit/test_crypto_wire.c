/* What goes on the wire, seen by a man in the middle: a small proxy (one
 * thread per connection) sits between the tcp transport's endpoints, or
 * between the ranks and the bootstrap root, records every byte in both
 * directions, and can flip, drop, replay or cut the connecting side's bytes.
 *   - the link key, the comm key and the job secret never appear in what it
 *     records; a known payload appears on a plain link and not on an
 *     encrypted one;
 *   - an encrypted link refuses a flipped byte (header or data), a replayed
 *     or a dropped message, and a cut stream, with weftRemoteError and
 *     without completing the receive. */
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
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bootstrap/bootstrap.h"
#include "bootstrap/keys.h"
#include "bootstrap/wire.h"
#include "common/hello.h"
#include "tcp/tcp.h"
#include "tcp/tcp_impl.h"
#include "util/clock.h"
#include "util/sock.h"
#include "weft_net.h"

enum { PASS, FLIP, DROP, REPLAY, CUT };

typedef struct {
  int lfd;
  weft_sockaddr addr, to; /* where it listens, where it forwards */
  int mode;               /* applied to the first connection's connecting side */
  size_t at, len;
  pthread_mutex_t mu;
  unsigned char *cap; /* every byte seen, both directions */
  size_t ncap;
  int nconn;
  pthread_t th[8];
  int stop;
} proxy;

typedef struct {
  proxy *p;
  int in, out, first;
} link_arg;

static void capture(proxy *p, const unsigned char *b, size_t n) {
  pthread_mutex_lock(&p->mu);
  p->cap = realloc(p->cap, p->ncap + n);
  memcpy(p->cap + p->ncap, b, n);
  p->ncap += n;
  pthread_mutex_unlock(&p->mu);
}

static int send_all(int fd, const unsigned char *b, size_t n) {
  while (n) {
    ssize_t k = send(fd, b, n, MSG_NOSIGNAL);
    if (k <= 0) return -1;
    b += k;
    n -= (size_t)k;
  }
  return 0;
}

/* Forwards both directions until either side closes; the connecting side's
 * bytes of the first connection go through the proxy's mode. */
static void *forward(void *arg) {
  link_arg *a = arg;
  proxy *p = a->p;
  size_t pos = 0;
  unsigned char buf[65536], out[2 * 65536 + 4096], *saved = calloc(1, p->len + 1);
  size_t nsaved = 0;
  for (;;) {
    struct pollfd pf[2] = {{a->in, POLLIN, 0}, {a->out, POLLIN, 0}};
    if (poll(pf, 2, 100) < 0 || p->stop) break;
    if (pf[1].revents) { /* answers go back untouched */
      ssize_t k = recv(a->out, buf, sizeof buf, 0);
      if (k <= 0) break;
      capture(p, buf, (size_t)k);
      if (send_all(a->in, buf, (size_t)k) != 0) break;
    }
    if (pf[0].revents) {
      ssize_t k = recv(a->in, buf, sizeof buf, 0);
      if (k <= 0) break;
      capture(p, buf, (size_t)k);
      size_t n = 0;
      int cut = 0;
      for (ssize_t i = 0; i < k; i++, pos++) {
        unsigned char c = buf[i];
        int mode = a->first ? p->mode : PASS;
        if (mode == CUT && pos >= p->at) {
          cut = 1;
          break;
        }
        if (mode == DROP && pos >= p->at && pos < p->at + p->len) continue;
        if (mode == FLIP && pos == p->at) c ^= 0x40;
        out[n++] = c;
        if (mode == REPLAY && pos >= p->at && pos < p->at + p->len) saved[nsaved++] = c;
        if (mode == REPLAY && pos == p->at + p->len - 1) {
          memcpy(out + n, saved, nsaved);
          n += nsaved;
        }
      }
      if (send_all(a->out, out, n) != 0 || cut) break;
    }
  }
  close(a->in);
  close(a->out);
  free(saved);
  free(a);
  return NULL;
}

static void *accept_loop(void *arg) {
  proxy *p = arg;
  char err[WEFT_SOCK_ERRLEN];
  while (!p->stop && p->nconn < 7) {
    int fd, out;
    if (weft_sock_accept(p->lfd, 100, NULL, &fd, err) != 0) continue;
    if (weft_sock_connect(&p->to, 2000, &out, err) != 0) {
      close(fd);
      continue;
    }
    link_arg *a = malloc(sizeof *a);
    *a = (link_arg){p, fd, out, p->nconn == 0};
    pthread_create(&p->th[1 + p->nconn++], NULL, forward, a);
  }
  return NULL;
}

static void proxy_start(proxy *p, const weft_sockaddr *to, int mode, size_t at, size_t len) {
  char err[WEFT_SOCK_ERRLEN];
  memset(p, 0, sizeof *p);
  pthread_mutex_init(&p->mu, NULL);
  p->to = *to;
  p->mode = mode;
  p->at = at;
  p->len = len;
  assert_int_equal(weft_sockaddr_parse("127.0.0.1:0", &p->addr, err), 0);
  assert_int_equal(weft_sock_listen(&p->addr, &p->lfd, err), 0);
  pthread_create(&p->th[0], NULL, accept_loop, p);
}

static void proxy_stop(proxy *p) {
  p->stop = 1;
  for (int i = 0; i <= p->nconn; i++) pthread_join(p->th[i], NULL);
  close(p->lfd);
  free(p->cap);
  pthread_mutex_destroy(&p->mu);
}

static int contains(const proxy *p, const void *needle, size_t n) {
  return p->ncap >= n && memmem(p->cap, p->ncap, needle, n) != NULL;
}

/* ---- the tcp transport behind the proxy --------------------------------------------- */

static const weftNetKey_t KEY = {{0x6b, 0x65, 0x79, 0x21, 0x9a, 0x3c, 0x11, 0x07, 0xee, 0x42, 0x5d, 0x80, 0x01, 0xfe,
                                  0x33, 0x77, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x0f, 0x1e, 0x2d, 0x3c,
                                  0x4b, 0x5a, 0x69, 0x78}};

typedef struct {
  const weftNet_t *net;
  void *ctx, *lis, *send, *recv;
  proxy px;
} link_t;

/* A tcp link whose connection runs through a proxy in mode. */
static void link_open(link_t *l, uint32_t flags, int mode, size_t at, size_t len) {
  memset(l, 0, sizeof *l);
  l->net = &weft_net_tcp;
  weftNetInitArgs_t args = {WEFT_NET_ABI_VERSION, NULL, NULL, "127.0.0.1", NULL};
  char handle[WEFT_NET_HANDLE_BYTES], via[WEFT_NET_HANDLE_BYTES];
  assert_int_equal(l->net->init(&args, &l->ctx), weftSuccess);
  assert_int_equal(l->net->listen(l->ctx, 0, &KEY, handle, &l->lis), weftSuccess);
  weft_sockaddr real;
  memcpy(&real, handle, sizeof real);
  proxy_start(&l->px, &real, mode, at, len);
  memcpy(via, handle, sizeof via); /* the same handle (nonce included), the proxy's address */
  memcpy(via, &l->px.addr, sizeof l->px.addr);
  assert_int_equal(l->net->connect(l->ctx, 0, via, &KEY, 5, flags, 5000, &l->send), weftSuccess);
  uint64_t id = 0;
  uint32_t got_flags = 99;
  assert_int_equal(l->net->accept(l->lis, 5000, &l->recv, &id, &got_flags), weftSuccess);
  assert_int_equal(id, 5);
  assert_int_equal(got_flags, flags);
}

static void link_close(link_t *l) {
  l->net->closeSend(l->send);
  l->net->closeRecv(l->recv);
  l->net->closeListen(l->lis);
  proxy_stop(&l->px);
  l->net->finalize(l->ctx);
}

/* Sends n messages of size bytes (pattern) and receives them; returns the
 * result of the first receive that fails (weftSuccess if none), *ok the
 * number that completed intact. */
static weftResult_t exchange(link_t *l, int n, size_t size, int *ok) {
  unsigned char *src = malloc(size), *dst = malloc(size * (size_t)n);
  for (size_t i = 0; i < size; i++) src[i] = (unsigned char)"GRADIENT"[i % 8];
  void *sreq[4], *rreq[4];
  int sdone[4] = {0}, rdone[4] = {0};
  for (int i = 0; i < n; i++) {
    assert_int_equal(l->net->irecv(l->recv, dst + (size_t)i * size, size, 0, NULL, &rreq[i]), weftSuccess);
    /* a send may fail at once once the proxy has cut the stream */
    if (l->net->isend(l->send, src, size, 100 + (uint64_t)i, NULL, &sreq[i]) != weftSuccess) sdone[i] = 1;
  }
  weftResult_t res = weftSuccess;
  *ok = 0;
  long long deadline = weft_now_ms() + 5000;
  while (res == weftSuccess && *ok < n && weft_now_ms() < deadline) {
    for (int i = 0; i < n; i++) {
      size_t got;
      uint64_t tag;
      if (!sdone[i] && l->net->test(sreq[i], &sdone[i], &got, &tag) != weftSuccess) sdone[i] = 1; /* peer gone */
      if (!rdone[i] && res == weftSuccess && (i == 0 || rdone[i - 1])) { /* in order: what completed counts */
        weftResult_t r = l->net->test(rreq[i], &rdone[i], &got, &tag);
        if (r != weftSuccess) res = r;
        else if (rdone[i]) {
          assert_int_equal(got, size);
          assert_int_equal(tag, 100 + (uint64_t)i);
          assert_memory_equal(dst + (size_t)i * size, src, size);
          (*ok)++;
        }
      }
    }
  }
  if (res == weftSuccess && *ok < n) res = weftTimeout;
  free(src);
  free(dst);
  return res;
}

#define HELLO sizeof(weft_net_hello)
#define HDR_REC (sizeof(tcp_frame) + WEFT_AEAD_TAG)

static void test_plain_link_shows_payload_not_key(void **state) {
  (void)state;
  link_t l;
  int ok;
  link_open(&l, 0, PASS, 0, 0);
  assert_int_equal(exchange(&l, 1, 65536, &ok), weftSuccess);
  assert_true(contains(&l.px, "GRADIENTGRADIENT", 16)); /* the capture sees what a plain link carries */
  assert_false(contains(&l.px, KEY.bytes, 8));
  link_close(&l);
}

static void test_encrypted_link_hides_payload_and_key(void **state) {
  (void)state;
  link_t l;
  int ok;
  link_open(&l, WEFT_NET_CONN_ENCRYPT, PASS, 0, 0);
  assert_int_equal(exchange(&l, 2, 600 << 10, &ok), weftSuccess); /* 3 records each */
  assert_true(l.px.ncap > 2 * (600 << 10));
  assert_false(contains(&l.px, "GRADIENT", 8));
  assert_false(contains(&l.px, KEY.bytes, 8));
  link_close(&l);
}

/* The receive fails with weftRemoteError naming the cause, and never completes. */
static void expect_refused(int mode, size_t at, size_t len, int nmsg, size_t size, int ok_before) {
  link_t l;
  int ok;
  link_open(&l, WEFT_NET_CONN_ENCRYPT, mode, at, len);
  assert_int_equal(exchange(&l, nmsg, size, &ok), weftRemoteError);
  assert_int_equal(ok, ok_before);
  const char *e = l.net->lastError(l.recv);
  if (mode != CUT) assert_non_null(strstr(e, "failed authentication"));
  else assert_non_null(strstr(e, "closed"));
  link_close(&l);
}

static void test_flipped_data_byte_refused(void **state) {
  (void)state;
  expect_refused(FLIP, HELLO + HDR_REC + 300000, 0, 1, 600 << 10, 0); /* in the second record */
}

static void test_flipped_header_byte_refused(void **state) {
  (void)state;
  expect_refused(FLIP, HELLO + 3, 0, 1, 1000, 0);
}

static void test_replayed_message_refused(void **state) {
  (void)state;
  size_t msg = HDR_REC + 100 + WEFT_AEAD_TAG;
  expect_refused(REPLAY, HELLO, msg, 2, 100, 1); /* the first arrives, its copy does not */
}

static void test_dropped_message_refused(void **state) {
  (void)state;
  size_t msg = HDR_REC + 100 + WEFT_AEAD_TAG;
  expect_refused(DROP, HELLO, msg, 2, 100, 0); /* the second, in the first's place */
}

static void test_cut_stream_refused(void **state) {
  (void)state;
  expect_refused(CUT, HELLO + HDR_REC + 5000, 0, 1, 600 << 10, 0);
}

/* ---- the bootstrap root behind the proxy -------------------------------------------- */

typedef struct {
  weft_id_internal id;
  int rank;
  weftResult_t res;
  char err[WEFT_SOCK_ERRLEN];
} rank_arg;

static void *rank_main(void *p) {
  rank_arg *a = p;
  bootstrap_t *b = NULL;
  a->res = weft_bootstrap_init(&a->id, a->rank, 2, 10000, &b, a->err);
  if (a->res == weftSuccess) {
    a->res = weft_bootstrap_barrier(b, a->err);
    weft_bootstrap_close(b);
  }
  return NULL;
}

static void test_bootstrap_never_sends_the_secret(void **state) {
  (void)state;
  char err[WEFT_SOCK_ERRLEN];
  weft_id_internal id;
  memset(&id, 0, sizeof id);
  id.magic = WEFT_ID_MAGIC;
  for (int i = 0; i < 16; i++) id.secret[i] = (uint8_t)(0xa0 + i);
  weft_sockaddr root;
  assert_int_equal(weft_sockaddr_parse("127.0.0.1:0", &root, err), 0);
  assert_int_equal(weft_root_start(&root, id.secret, 10000, err), 0);
  proxy px;
  proxy_start(&px, &root, PASS, 0, 0);
  id.root = px.addr; /* the ranks reach the root through the proxy */
  rank_arg ra[2];
  pthread_t th[2];
  for (int r = 0; r < 2; r++) {
    ra[r] = (rank_arg){id, r, weftInternalError, ""};
    pthread_create(&th[r], NULL, rank_main, &ra[r]);
  }
  for (int r = 0; r < 2; r++) pthread_join(th[r], NULL);
  for (int r = 0; r < 2; r++) assert_int_equal(ra[r].res, weftSuccess);
  uint8_t comm_key[WEFT_KEY_BYTES], boot_key[WEFT_KEY_BYTES], link_key[WEFT_KEY_BYTES];
  assert_int_equal(weft_key_from_secret(id.secret, comm_key), 0);
  assert_int_equal(weft_key_derive(comm_key, WEFT_KEY_LABEL_BOOTSTRAP, NULL, 0, boot_key), 0);
  assert_int_equal(weft_key_derive(comm_key, WEFT_KEY_LABEL_NET, NULL, 0, link_key), 0);
  assert_true(px.ncap > 2 * sizeof(weft_rank_info)); /* hellos, replies and the table went through */
  for (int off = 0; off + 8 <= 16; off += 8) assert_false(contains(&px, id.secret + off, 8));
  for (int off = 0; off + 8 <= WEFT_KEY_BYTES; off += 8) {
    assert_false(contains(&px, comm_key + off, 8));
    assert_false(contains(&px, boot_key + off, 8));
    assert_false(contains(&px, link_key + off, 8));
  }
  proxy_stop(&px);
}

/* ---- the bootstrap ring behind the proxy -------------------------------------------- */

typedef struct {
  int lfd, rank;
  weft_rank_info *table;
  uint8_t key[WEFT_KEY_BYTES];
  weftResult_t res;
  char err[WEFT_SOCK_ERRLEN];
  int got; /* the allgathered value of the other rank */
} ring_arg;

static void *ring_main(void *p) {
  ring_arg *a = p;
  bootstrap_t *b = NULL;
  a->res = weft_bootstrap_from_table(a->lfd, a->table, a->rank, 2, a->key, 5000, &b, a->err);
  if (a->res == weftSuccess) {
    int v[2] = {0, 0};
    v[a->rank] = 1000 + a->rank;
    a->res = weft_bootstrap_allgather(b, v, sizeof v[0], a->err);
    a->got = v[1 - a->rank];
    weft_bootstrap_close(b);
  }
  return NULL;
}

/* Two ranks build a ring from a table whose entry for rank 1 is the proxy's
 * address: rank 0's link to rank 1 runs through it. */
static void run_ring(int mode, size_t at, ring_arg ra[2], proxy *px) {
  char err[WEFT_SOCK_ERRLEN];
  weft_rank_info table[2];
  weft_sockaddr lo;
  assert_int_equal(weft_sockaddr_parse("127.0.0.1:1", &lo, err), 0);
  int lfd[2];
  for (int r = 0; r < 2; r++) {
    assert_int_equal(weft_bootstrap_prepare_listener(&lo, &table[r], &lfd[r], err), 0);
    table[r].rank = r;
  }
  proxy_start(px, &table[1].addr, mode, at, 0);
  table[1].addr = px->addr;
  pthread_t th[2];
  for (int r = 0; r < 2; r++) {
    ra[r] = (ring_arg){lfd[r], r, table, {0}, weftInternalError, "", 0};
    memset(ra[r].key, 0x5c, sizeof ra[r].key);
    pthread_create(&th[r], NULL, ring_main, &ra[r]);
  }
  for (int r = 0; r < 2; r++) pthread_join(th[r], NULL);
}

static void test_ring_message_changed_refused(void **state) {
  (void)state;
  ring_arg ra[2];
  proxy px;
  run_ring(PASS, 0, ra, &px); /* as is, it works and no key goes by */
  for (int r = 0; r < 2; r++) assert_int_equal(ra[r].res, weftSuccess);
  assert_int_equal(ra[1].got, 1000);
  uint8_t boot_key[WEFT_KEY_BYTES];
  assert_int_equal(weft_key_derive(ra[0].key, WEFT_KEY_LABEL_BOOTSTRAP, NULL, 0, boot_key), 0);
  assert_true(px.ncap > 0);
  assert_false(contains(&px, ra[0].key, 8));
  assert_false(contains(&px, boot_key, 8));
  proxy_stop(&px);
  /* a byte of rank 0's value, after its ring hello, changed on the way */
  run_ring(FLIP, sizeof(boot_ring_hello) + 1, ra, &px);
  assert_int_equal(ra[1].res, weftRemoteError);
  assert_non_null(strstr(ra[1].err, "failed authentication"));
  proxy_stop(&px);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plain_link_shows_payload_not_key),
      cmocka_unit_test(test_encrypted_link_hides_payload_and_key),
      cmocka_unit_test(test_flipped_data_byte_refused),
      cmocka_unit_test(test_flipped_header_byte_refused),
      cmocka_unit_test(test_replayed_message_refused),
      cmocka_unit_test(test_dropped_message_refused),
      cmocka_unit_test(test_cut_stream_refused),
      cmocka_unit_test(test_bootstrap_never_sends_the_secret),
      cmocka_unit_test(test_ring_message_changed_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
