/* Sealed messages of the message transports (ucx, ofi with the sockets
 * provider) on encrypted connections (common/seal.h). A connection of one
 * process to itself carries small (eager) and large (rendezvous, several
 * chunks) messages; the transports' test hook (weft_net_tamper_hook) does to
 * one sealed message what an attacker on the path would:
 *   - intact: every message arrives whole, with its size and tag;
 *   - a flipped byte (ciphertext or GCM tag), a replayed message (one sealed
 *     for an earlier position, bit for bit the same), a message dropped and
 *     the next one shifted into its place: the receive at that position
 *     fails with weftRemoteError naming the position, and never completes;
 *   - a message deleted (the later ones arrive): the receive at its position
 *     fails with weftRemoteError naming it as dropped, once the gap has
 *     outlasted the reordering allowance (about 1 s here), long before the
 *     receive's own timeout;
 * and the sealing itself: the ciphertext hides the payload; opening at
 * another position, with another tag or cut short fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/seal.h"
#include "util/clock.h"
#include "weft_net.h"
#ifdef WEFT_HAVE_UCX
#include "ucx/ucx.h"
#endif
#ifdef WEFT_HAVE_OFI
#include "ofi/ofi.h"
#endif

static const weftNetKey_t KEY = {{0x4d, 0x1f, 0xa2, 0x07, 0x9c, 0x33, 0x5e, 0xd1, 0x02, 0x88, 0x6b, 0xf4, 0x10, 0xc7,
                                  0x3a, 0x95, 0xe2, 0x41, 0x0d, 0x7e, 0xb3, 0x56, 0x29, 0xcf, 0x64, 0x1a, 0x8d, 0x70,
                                  0xfb, 0x05, 0x9e, 0x37}};

enum { PASS, FLIP_DATA, FLIP_TAG, REPLAY, SHIFT, DROP };
static int g_mode;
static uint64_t g_at; /* the position tampered with */
static int g_sealed;  /* messages sealed */

/* The attacker: acts on the message at position g_at. */
static void tamper(uint64_t pos, size_t wire_len, weft_net_tamper *t) {
  g_sealed++;
  if (pos != g_at) return;
  switch (g_mode) {
    case FLIP_DATA: t->flip = 3; break;
    case FLIP_TAG: t->flip = (long long)wire_len - 1; break;
    case REPLAY: t->seal_as = 0; break;  /* message 0 again (same size, tag and bytes) */
    case SHIFT: t->seal_as = pos + 1; break; /* gone; the next one takes its place */
    case DROP: t->drop = 1; break;             /* gone */
    default: break;
  }
}

typedef struct {
  const weftNet_t *net;
  void *ctx, *lis, *send, *recv;
} link_t;

static void link_open(link_t *l, const weftNet_t *net, uint32_t flags) {
  memset(l, 0, sizeof *l);
  l->net = net;
  weftNetInitArgs_t args = {WEFT_NET_ABI_VERSION, NULL, NULL, "127.0.0.1", NULL};
  char handle[WEFT_NET_HANDLE_BYTES];
  assert_int_equal(net->init(&args, &l->ctx), weftSuccess);
  weftNetProperties_t p;
  memset(&p, 0, sizeof p);
  assert_int_equal(net->getProperties(l->ctx, 0, &p), weftSuccess);
  assert_int_equal(p.encrypts, 1);
  assert_int_equal(net->listen(l->ctx, 0, &KEY, handle, &l->lis), weftSuccess);
  assert_int_equal(net->connect(l->ctx, 0, handle, &KEY, 7, flags, 5000, &l->send), weftSuccess);
  uint64_t id = 0;
  uint32_t got_flags = 99;
  assert_int_equal(net->accept(l->lis, 5000, &l->recv, &id, &got_flags), weftSuccess);
  assert_int_equal(id, 7);
  assert_int_equal(got_flags, flags);
}

static void link_close(link_t *l) {
  l->net->closeSend(l->send);
  l->net->closeRecv(l->recv);
  l->net->closeListen(l->lis);
  l->net->finalize(l->ctx);
}

#define NMSG 4
/* Message i's size: eager and rendezvous (and, for ofi, several chunks). */
static size_t msg_size(int i, size_t big) { return i % 2 ? big : 1000; }

/* Sends NMSG messages (message 2 repeats message 0, so that a replay is bit
 * for bit) and receives them. Returns the first failure of a receive
 * (weftSuccess if none) and its position in *bad; *ok: receives complete. */
static weftResult_t exchange(link_t *l, size_t big, int *ok, int *bad) {
  unsigned char *src[NMSG], *dst[NMSG];
  void *sreq[NMSG], *rreq[NMSG];
  int sdone[NMSG] = {0}, rdone[NMSG] = {0};
  for (int i = 0; i < NMSG; i++) {
    size_t n = msg_size(i, big);
    src[i] = malloc(n);
    dst[i] = calloc(1, n);
    for (size_t k = 0; k < n; k++) src[i][k] = (unsigned char)("GRADIENT"[k % 8] + (i % 2) * (int)(k % 5));
    assert_int_equal(l->net->irecv(l->recv, dst[i], n, 0, NULL, &rreq[i]), weftSuccess);
  }
  for (int i = 0; i < NMSG; i++)
    assert_int_equal(l->net->isend(l->send, src[i], msg_size(i, big), i == 2 ? 100 : 100 + (uint64_t)i, NULL,
                                   &sreq[i]),
                     weftSuccess);
  weftResult_t res = weftSuccess;
  *ok = 0;
  *bad = -1;
  long long deadline = weft_now_ms() + 4000;
  while (res == weftSuccess && *ok < NMSG && weft_now_ms() < deadline) {
    for (int i = 0; i < NMSG; i++) {
      size_t got;
      uint64_t tag;
      if (!sdone[i] && l->net->test(sreq[i], &sdone[i], &got, &tag) != weftSuccess) sdone[i] = 1;
      if (rdone[i] || res != weftSuccess || (i > 0 && !rdone[i - 1])) continue; /* in order */
      weftResult_t r = l->net->test(rreq[i], &rdone[i], &got, &tag);
      if (r != weftSuccess) {
        res = r;
        *bad = i;
        assert_false(rdone[i]);
      } else if (rdone[i]) {
        assert_int_equal(got, msg_size(i, big));
        assert_int_equal(tag, i == 2 ? 100 : 100 + (uint64_t)i);
        assert_memory_equal(dst[i], src[i], got);
        (*ok)++;
      }
    }
  }
  if (res == weftSuccess && *ok < NMSG) res = weftTimeout;
  for (int i = 0; i < NMSG; i++) {
    free(src[i]);
    free(dst[i]);
  }
  return res;
}

static void run(const weftNet_t *net, size_t big, uint32_t flags, int mode, uint64_t at) {
  link_t l;
  int ok, bad;
  g_mode = mode;
  g_at = at;
  g_sealed = 0;
  weft_net_tamper_hook = tamper;
  link_open(&l, net, flags);
  weftResult_t res = exchange(&l, big, &ok, &bad);
  if (mode == PASS) {
    assert_int_equal(res, weftSuccess);
    assert_int_equal(ok, NMSG);
    assert_int_equal(g_sealed, flags ? NMSG : 0);
  } else {
    assert_int_equal(res, weftRemoteError);
    assert_int_equal(bad, (int)at);
    char want[64];
    snprintf(want, sizeof want, "message %llu of the connection", (unsigned long long)at);
    const char *err = net->lastError(l.recv);
    assert_non_null(strstr(err, mode == DROP ? "never arrived" : "failed authentication"));
    assert_non_null(strstr(err, want));
  }
  weft_net_tamper_hook = NULL;
  link_close(&l);
}

/* Every case over one transport; big: the large messages' size. */
static void run_all(const weftNet_t *net, size_t big) {
  run(net, big, 0, PASS, 0); /* plain: nothing is sealed */
  run(net, big, WEFT_NET_CONN_ENCRYPT, PASS, 0);
  run(net, big, WEFT_NET_CONN_ENCRYPT, FLIP_DATA, 1);  /* large */
  run(net, big, WEFT_NET_CONN_ENCRYPT, FLIP_DATA, 0);  /* small */
  run(net, big, WEFT_NET_CONN_ENCRYPT, FLIP_TAG, 3);
  run(net, big, WEFT_NET_CONN_ENCRYPT, REPLAY, 2);
  run(net, big, WEFT_NET_CONN_ENCRYPT, SHIFT, 1);
  run(net, big, WEFT_NET_CONN_ENCRYPT, DROP, 1); /* large: ofi sees it only whole */
}

#ifdef WEFT_HAVE_UCX
static void test_ucx_sealed_messages(void **state) {
  (void)state;
  run_all(&weft_net_ucx, 1 << 20);
}
#endif

#ifdef WEFT_HAVE_OFI
static void test_ofi_sealed_messages(void **state) {
  (void)state;
  /* the sockets provider, with 64 KiB chunks: a large message is 5 of them,
   * the tag in the last */
  setenv("WEFT_OFI_PROVIDER", "sockets", 1);
  setenv("WEFT_OFI_MAX_MSG", "65536", 1);
  run_all(&weft_net_ofi, 300000);
  unsetenv("WEFT_OFI_MAX_MSG");
  unsetenv("WEFT_OFI_PROVIDER");
}
#endif

static void test_seal_open(void **state) {
  (void)state;
  weft_net_hello h;
  weft_net_reply r;
  memset(&h, 0, sizeof h);
  memset(&r, 0, sizeof r);
  uint8_t nonce[WEFT_NONCE_BYTES] = {1, 2, 3};
  weft_aead *s = weft_net_seal_new(&KEY, nonce, &h, &r, 1), *o = weft_net_seal_new(&KEY, nonce, &h, &r, 0);
  assert_non_null(s);
  assert_non_null(o);
  char msg[64] = "GRADIENTGRADIENTGRADIENTGRADIENT", wire[64 + WEFT_NET_SEAL_BYTES], out[64];
  assert_int_equal(weft_net_seal_msg(s, 5, 42, msg, sizeof msg, wire), 0);
  assert_null(memmem(wire, sizeof wire, "GRADIENT", 8));
  assert_int_equal(weft_net_open_msg(o, 4, 42, wire, sizeof wire, out), -1);     /* another position */
  assert_int_equal(weft_net_open_msg(o, 5, 43, wire, sizeof wire, out), -1);     /* another weft tag */
  assert_int_equal(weft_net_open_msg(o, 5, 42, wire, sizeof wire - 1, out), -1); /* cut short */
  assert_int_equal(weft_net_open_msg(o, 5, 42, wire, 3, out), -1);               /* shorter than a tag */
  assert_int_equal(weft_net_open_msg(o, 5, 42, wire, sizeof wire, out), 0);
  assert_memory_equal(out, msg, sizeof msg);
  assert_int_equal(weft_net_seal_msg(s, 6, 1, NULL, 0, wire), 0); /* an empty message is sealed too */
  assert_int_equal(weft_net_open_msg(o, 6, 1, wire, WEFT_NET_SEAL_BYTES, out), 0);
  weft_aead_free(s);
  weft_aead_free(o);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_seal_open),
#ifdef WEFT_HAVE_UCX
      cmocka_unit_test(test_ucx_sealed_messages),
#endif
#ifdef WEFT_HAVE_OFI
      cmocka_unit_test(test_ofi_sealed_messages),
#endif
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
