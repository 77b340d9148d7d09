/* What every built-in listener (tcp, shm, ofi; ucx reads its hellos with
 * the same checks) reads from strangers before authentication: the shared
 * accept loop (common/accept.c: connections waiting side by side for their
 * hellos, a full list closing its oldest one whose hello is not whole, hellos
 * peeked until whole) and
 * the hello checks, reply and link keys (common/hello.c), driven as they
 * are over a Unix listening socket. The script opens up to 80 connections
 * (more than WEFT_NET_PENDING_MAX) that send a genuine hello (with a
 * transport's extension: 72 or 80 bytes), forged bytes, a genuine one with a
 * byte changed, a cut one (silent when cut to nothing), a replay of an
 * earlier connection's bytes, a genuine one then end-of-file, nothing then
 * end-of-file, or a genuine one in two pieces; accept() runs with a zero
 * timeout between the steps (it never waits), and its take step is what a
 * transport's is: read the hello, check it, answer.
 * Never an access out of bounds; a connection is taken only for a hello the
 * harness sealed, never twice for the same hello nonce; the connecting side
 * accepts the reply it gets, and both sides derive the same link keys. */
#include <stddef.h>
#include <stdio.h>
#include <sys/un.h>

#include "common/accept.h"
#include "common/hello.h"

#include "fuzz_input.h"

#define MAXCONN 80
#define MAGIC 0x77656674667a7a31ULL /* "weftfzz1" */

static weft_net_ctx fz_ctx;
static weft_net_listen fz_listen;
static char fz_handle[WEFT_NET_HANDLE_BYTES];
static const weftNetKey_t fz_key = {{2, 7, 1, 8, 2, 8, 1, 8, 2, 8, 4, 5, 9, 0, 4, 5,
                                     2, 3, 5, 3, 6, 0, 2, 8, 7, 4, 7, 1, 3, 5, 2, 6}};
static struct sockaddr_un fz_addr;
static socklen_t fz_addr_len;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  setenv("WEFT_DEBUG", "NONE", 1);
  weft_net_ctx_init(&fz_ctx, "fuzz", &(weftNetInitArgs_t){0});
  if (weft_net_listen_init(&fz_listen, &fz_ctx, &fz_key) != 0) abort();
  weft_net_handle_put(fz_handle, "fuzz", 4, &fz_listen);
  fz_listen.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  memset(&fz_addr, 0, sizeof fz_addr);
  fz_addr.sun_family = AF_UNIX;
  int n = snprintf(fz_addr.sun_path + 1, sizeof fz_addr.sun_path - 1, "weft-fuzz-accept-%d", (int)getpid());
  fz_addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
  if (fz_listen.fd < 0 || bind(fz_listen.fd, (struct sockaddr *)&fz_addr, fz_addr_len) != 0 ||
      listen(fz_listen.fd, 2 * MAXCONN) != 0)
    abort();
  return 0;
}

/* One connecting peer: its socket, the bytes it sends (sent: how many went
 * so far) and whether they are a hello as the harness sealed it (genuine). */
typedef struct {
  int fd;
  _Alignas(uint64_t) uint8_t hello[80];
  size_t len, sent;
  int genuine, eof;
} conn;

static conn cs[MAXCONN];
static int ncs;
static size_t fz_hello_bytes;

/* What a transport's take step does with a whole hello: read and check it,
 * answer with the reply. The connection's index travels as its conn_id. */
static weft_net_verdict take(weft_net_listen *l, int fd, int hello_ms, void **out, uint64_t *conn_id,
                             uint32_t *flags, weftResult_t *res) {
  _Alignas(uint64_t) uint8_t buf[80];
  weft_net_reply rep;
  char err[WEFT_SOCK_ERRLEN];
  (void)res;
  if (!weft_net_hello_read(l, fd, buf, fz_hello_bytes, MAGIC, hello_ms)) return WEFT_NET_NO_KEY;
  if (weft_net_reply_make(l, (const weft_net_hello *)buf, &rep) != 0 ||
      weft_sock_send_all(fd, &rep, sizeof rep, hello_ms, err) != 0)
    return WEFT_NET_DROPPED;
  const weft_net_hello *h = (const weft_net_hello *)buf;
  *conn_id = h->conn_id;
  *flags = h->flags;
  *out = (void *)(intptr_t)(fd + 1);
  return WEFT_NET_TAKEN;
}

/* The connecting side of a taken connection (the one of those that sent
 * hello c's bytes that got the reply): the reply proves the key and gives
 * the keys the listener derived. */
static void check_reply(const conn *c) {
  weft_net_reply rep;
  int got = 0;
  for (int i = 0; i < ncs; i++)
    if (memcmp(cs[i].hello, c->hello, sizeof c->hello) == 0 &&
        recv(cs[i].fd, &rep, sizeof rep, MSG_DONTWAIT) == (ssize_t)sizeof rep)
      got++;
  if (got != 1) abort();
  const weft_net_hello *h = (const weft_net_hello *)c->hello;
  if (!weft_net_reply_check(&fz_key, weft_net_handle_nonce(fz_handle), h, &rep)) abort();
  uint8_t k1[WEFT_KEY_BYTES], iv1[WEFT_AEAD_IV], k2[WEFT_KEY_BYTES], iv2[WEFT_AEAD_IV];
  if (weft_net_link_keys(&fz_key, weft_net_handle_nonce(fz_handle), h, &rep, k1, iv1) != 0 ||
      weft_net_link_keys(&fz_listen.key, fz_listen.nonce, h, &rep, k2, iv2) != 0 || memcmp(k1, k2, sizeof k1) ||
      memcmp(iv1, iv2, sizeof iv1))
    abort();
  /* a changed reply is refused */
  rep.nonce[rep.nonce[0] % WEFT_NONCE_BYTES] ^= 1;
  if (weft_net_reply_check(&fz_key, weft_net_handle_nonce(fz_handle), h, &rep)) abort();
}

/* Runs accept() with a zero timeout until it takes nothing more; checks
 * every connection taken. */
static void accept_all(uint8_t taken_nonces[][WEFT_NONCE_BYTES], int *ntaken) {
  for (;;) {
    void *out = NULL;
    uint64_t id = ~0ull;
    uint32_t flags = 0;
    if (weft_net_accept(&fz_listen, 0, "peer", fz_hello_bytes, take, &out, &id, &flags) != weftSuccess) return;
    close((int)(intptr_t)out - 1);
    if (id >= (uint64_t)ncs || !cs[id].genuine) abort(); /* taken without the key */
    const weft_net_hello *h = (const weft_net_hello *)cs[id].hello;
    for (int i = 0; i < *ntaken; i++)
      if (memcmp(taken_nonces[i], h->nonce, WEFT_NONCE_BYTES) == 0) abort(); /* a replay taken */
    memcpy(taken_nonces[(*ntaken)++], h->nonce, WEFT_NONCE_BYTES);
    check_reply(&cs[id]);
  }
}

static void send_more(conn *c, size_t upto) {
  if (upto > c->len) upto = c->len;
  if (upto > c->sent) c->sent += fz_write_some(c->fd, c->hello + c->sent, upto - c->sent);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_in in = {data, size};
  fz_hello_bytes = fz_u8(&in) & 1 ? 80 : 72;
  uint8_t taken[MAXCONN][WEFT_NONCE_BYTES];
  int ntaken = 0;
  ncs = 0;
  while (fz_more(&in) && ncs < MAXCONN) {
    uint8_t op = fz_u8(&in);
    conn *c = &cs[ncs];
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) break;
    if (connect(c->fd, (struct sockaddr *)&fz_addr, fz_addr_len) != 0) {
      close(c->fd);
      break;
    }
    ncs++;
    int kind = op % 8;
    c->len = fz_hello_bytes;
    if (kind == 1) { /* forged: bytes from the input, the magic right or not */
      fz_fill(&in, c->hello, c->len);
      if (op & 0x80) memcpy(c->hello, &(uint64_t){MAGIC}, 8);
    } else if (kind == 4 && ncs > 1) { /* a replay of an earlier connection's bytes */
      conn *o = &cs[fz_u8(&in) % (ncs - 1)];
      memcpy(c->hello, o->hello, sizeof c->hello);
      c->genuine = o->genuine;
    } else if (kind != 6) { /* genuine (the extension from the input) */
      fz_fill(&in, c->hello + sizeof(weft_net_hello), c->len - sizeof(weft_net_hello));
      if (weft_net_hello_seal(c->hello, c->len, MAGIC, &fz_key, fz_handle, (uint64_t)(ncs - 1),
                              fz_u8(&in)) != 0)
        abort();
      c->genuine = 1;
    }
    switch (kind) {
      case 2: { /* a byte changed */
        size_t at = fz_u8(&in) % c->len;
        uint8_t x = fz_u8(&in);
        c->hello[at] ^= x ? x : 1;
        c->genuine = 0;
        break;
      }
      case 3: /* cut: never all there (the bytes that are, as sealed) */
        c->len = fz_u8(&in) % c->len;
        break;
      case 5: /* end-of-file after the hello */
      case 6: /* end-of-file, nothing sent */
        c->len = kind == 6 ? 0 : c->len;
        c->eof = 1;
        break;
      case 7: /* in two pieces, accept() between them */
        send_more(c, fz_u8(&in) % c->len);
        accept_all(taken, &ntaken);
        break;
    }
    send_more(c, c->len);
    if (c->eof) shutdown(c->fd, SHUT_WR);
    if (fz_u8(&in) & 1) accept_all(taken, &ntaken);
  }
  accept_all(taken, &ntaken);
  /* the connections still waiting (partial hellos) go, as at a listener's close */
  weft_net_listen_drop_pending(&fz_listen);
  for (int i = 0; i < ncs; i++) close(cs[i].fd);
  return 0;
}
