/* The tcp transport against a hostile network: the bytes of a connection,
 * fed through a socket pair in pieces of any size. The transport's source is
 * compiled into this harness (its functions are static) and driven as it is,
 * unchanged; tcp_aead.c is linked as usual.
 *  - accept: the hello a connecting peer sends (sealed with the job key, or
 *    forged, cut short, replayed), tcp_take's checks and reply; a connection
 *    taken goes on with frames, encrypted when the hello asked for it (the
 *    harness derives the keys from the reply, as the connecting side does);
 *  - connect: the acceptor's reply (genuine, changed or forged) read by the
 *    connecting side before its first frame;
 *  - frames: a receiving endpoint, plain or encrypted, over a stream of
 *    frames, sealed records, raw bytes, flipped or cut bytes and dropped
 *    records, against receives of any size. The fuzz build makes records
 *    4 KiB (TCP_AEAD_CHUNK) instead of 256: the same code, so that messages
 *    of several records are cheap inputs.
 * Never an access out of bounds; a forged hello or reply never opens a
 * connection; on an encrypted connection nothing completes that the harness
 * did not seal, and nothing completes larger than its receive. The first
 * byte picks the case; the rest is the script. */
#include "tcp/tcp.c"

#include "fuzz_input.h"

#define MAXREQ 16
#define MAXOPS 64
#define MAXSTREAM ((size_t)3 << 20)

static tcp_ctx fz_ctx;
static const weftNetKey_t fz_key = {{3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3,
                                     2, 3, 8, 4, 6, 2, 6, 4, 3, 3, 8, 3, 2, 7, 9, 5}};
static weft_net_listen fz_listen;
static char fz_handle[WEFT_NET_HANDLE_BYTES];
static const uint8_t fz_iv[WEFT_AEAD_IV] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
static uint8_t *stream; /* what the peer sends, MAXSTREAM bytes */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  setenv("WEFT_DEBUG", "NONE", 1);
  weft_net_ctx_init(&fz_ctx.base, "tcp", &(weftNetInitArgs_t){0});
  if (weft_net_listen_init(&fz_listen, &fz_ctx.base, &fz_key) != 0) abort();
  char addr[16] = "fuzz";
  weft_net_handle_put(fz_handle, addr, sizeof addr, &fz_listen);
  stream = malloc(MAXSTREAM);
  if (!stream) abort();
  return 0;
}

typedef struct {
  size_t len;
  weft_aead *seal; /* encrypted connection: the peer's sealing side */
  int sealed;      /* records sealed so far */
} peer;

static void put(peer *p, const void *b, size_t n) {
  if (n > MAXSTREAM - p->len) n = MAXSTREAM - p->len;
  memcpy(stream + p->len, b, n);
  p->len += n;
}

static void put_fill(peer *p, size_t n, uint8_t v) {
  if (n > MAXSTREAM - p->len) n = MAXSTREAM - p->len;
  memset(stream + p->len, v, n);
  p->len += n;
}

/* A record sealed as the tcp sender seals it: n bytes of plaintext (from
 * pt, else v repeated), then the tag. */
static void put_record(peer *p, uint32_t type, const void *pt, size_t n, uint8_t v) {
  if (n + WEFT_AEAD_TAG > MAXSTREAM - p->len) return;
  uint8_t *at = stream + p->len;
  if (pt) memcpy(at, pt, n);
  else memset(at, v, n);
  if (weft_aead_seal(p->seal, type, at, at, n, at + n) != 0) abort();
  p->len += n + WEFT_AEAD_TAG;
  p->sealed++;
}

/* A whole message as the sender writes it: header record, then the chunks. */
static void put_message(peer *p, uint64_t tag, size_t size, uint8_t v) {
  tcp_frame f = {tag, size};
  if (!p->seal) {
    put(p, &f, sizeof f);
    put_fill(p, size, v);
    return;
  }
  put_record(p, TCP_REC_HEADER, &f, sizeof f, 0);
  for (size_t at = 0; at < size; at += TCP_AEAD_CHUNK)
    put_record(p, TCP_REC_DATA, NULL, size - at < TCP_AEAD_CHUNK ? size - at : TCP_AEAD_CHUNK, v);
}

/* The script: what the peer sends and the receives posted; then the stream
 * goes through the socket in pieces while the receives are tested, and
 * (if the script says so) ends. Closes e, leaving its socket to the caller;
 * returns whether the stream was shut down. */
static int run_frames(tcp_ep *e, int peer_fd, weft_aead *seal, fz_in *in) {
  peer p = {0, seal, 0};
  posted q[MAXREQ] = {{0}};
  int nq = 0, end = fz_u8(in) & 1; /* whether the stream ends (EOF) after the script */
  for (int op = 0; op < MAXOPS && fz_more(in); op++) {
    switch (fz_u8(in) % 8) {
      case 0: { /* a receive, of up to 4 records */
        if (nq == MAXREQ) break;
        size_t n = fz_u16(in) % (TCP_AEAD_CHUNK * 4 + 1);
        q[nq].buf = malloc(n ? n : 1);
        q[nq].size = n;
        if (tcp_irecv(e, q[nq].buf, n, 0, NULL, &q[nq].req) != weftSuccess) q[nq].req = NULL;
        nq++;
        break;
      }
      case 1: { /* a genuine message, of up to 4 records */
        size_t n = fz_u16(in) % (TCP_AEAD_CHUNK * 4 + 1);
        uint8_t tag = fz_u8(in);
        put_message(&p, tag, n, fz_u8(in));
        break;
      }
      case 2: { /* a header of any size, as the peer's sender would seal it */
        tcp_frame f = {fz_u8(in), fz_u64(in)};
        if (seal) put_record(&p, TCP_REC_HEADER, &f, sizeof f, 0);
        else put(&p, &f, sizeof f);
        break;
      }
      case 3: { /* a sealed record of any type and length */
        uint32_t type = fz_u8(in) % 4;
        size_t n = fz_u32(in) % (TCP_AEAD_CHUNK + 64);
        if (seal) put_record(&p, type, NULL, n, (uint8_t)type);
        else put_fill(&p, n, (uint8_t)type);
        break;
      }
      case 4: { /* raw bytes from the input */
        uint8_t raw[256];
        size_t n = fz_fill(in, raw, fz_u8(in));
        put(&p, raw, n);
        break;
      }
      case 5: /* a flipped byte anywhere */
        if (p.len) {
          size_t at = fz_u32(in) % p.len;
          uint8_t x = fz_u8(in);
          stream[at] ^= x ? x : 1;
        }
        break;
      case 6: /* the end cut off */
        p.len -= p.len ? fz_u32(in) % p.len : 0;
        break;
      case 7: /* a record dropped on the way */
        if (seal) {
          uint8_t t[WEFT_AEAD_TAG], none[1];
          weft_aead_seal(seal, TCP_REC_DATA, none, none, 0, t);
        }
        break;
    }
  }
  /* the stream in pieces of 1 byte to 64 KiB, testing after each */
  uint32_t rng = 0x9e3779b9u ^ (uint32_t)p.len ^ (uint32_t)nq << 24;
  size_t sent = 0;
  int shut = 0;
  for (;;) {
    rng = rng * 1664525u + 1013904223u;
    size_t piece = (rng >> 8) % 4 == 0 ? 1 + (rng >> 12) % 64 : 1 + (rng >> 12) % 65536;
    if (piece > p.len - sent) piece = p.len - sent;
    size_t w = fz_write_some(peer_fd, stream + sent, piece);
    sent += w;
    if (sent == p.len && end && !shut) shut = shutdown(peer_fd, SHUT_WR) == 0; /* the end of the stream */
    int progressed = 0;
    for (int i = 0; i < nq; i++) {
      if (!q[i].req || q[i].done) continue;
      int done = 0;
      size_t size = 0;
      uint64_t tag = 0;
      weftResult_t res = tcp_test(q[i].req, &done, &size, &tag);
      if (done) {
        if (size > q[i].size) abort(); /* more than the receive can hold */
        if (seal && !p.sealed) abort(); /* an encrypted connection delivered what nobody sealed */
        q[i].done = progressed = 1;
      }
      if (res != weftSuccess || !done) break; /* in order: the later ones wait */
    }
    /* done when the endpoint failed, or when nothing moves: all sent and
     * read, or the socket full with no receive to read it */
    if (e->failed || (!w && !progressed)) break;
  }
  e->fd = -1;
  tcp_close_ep(e); /* the requests too */
  for (int i = 0; i < nq; i++) free(q[i].buf);
  return shut;
}

/* Frames on an endpoint made here (plain, or encrypted with a fixed key). */
static void run_plain_or_sealed(int encrypted, fz_in *in) {
  int sv[2];
  if (fz_pair_get(sv) != 0) return;
  tcp_ep *e = ep_new(-1, WEFT_NET_OBJ_RECV); /* fd: the kept pair's, closed here */
  weft_aead *seal = NULL;
  if (!e) return;
  e->fd = sv[0];
  if (encrypted) {
    uint8_t k[WEFT_KEY_BYTES];
    memcpy(k, fz_key.bytes, sizeof k);
    e->aead = weft_aead_new(k, fz_iv, 0);
    seal = weft_aead_new(k, fz_iv, 1);
    if (!e->aead || !seal) {
      e->fd = -1;
      tcp_close_ep(e);
      weft_aead_free(seal);
      return;
    }
  }
  if (run_frames(e, sv[1], seal, in)) fz_pair_spent();
  weft_aead_free(seal);
}

/* The accepting side: a hello, then (taken) frames. */
static void run_accept(fz_in *in) {
  uint8_t how = fz_u8(in);
  weft_net_hello h;
  if (how & 1) { /* forged */
    fz_fill(in, &h, sizeof h);
  } else {
    uint64_t conn = fz_u64(in);
    uint32_t flags = how & 2 ? fz_u32(in) : (how & 4 ? WEFT_NET_CONN_ENCRYPT : 0);
    uint64_t magic = how & 8 ? fz_u64(in) : TCP_HELLO_MAGIC;
    if (weft_net_hello_seal(&h, sizeof h, magic, &fz_key, fz_handle, conn, flags) != 0) return;
    if (how & 16) { /* changed on the way */
      ((uint8_t *)&h)[fz_u8(in) % sizeof h] ^= 1 + fz_u8(in) % 255;
      how |= 1;
    }
  }
  memset(fz_listen.seen, 0, sizeof fz_listen.seen); /* every input starts afresh */
  fz_listen.nseen = 0;
  int replays = how & 32 ? 2 : 1; /* the same hello twice: the second must be refused */
  for (int round = 0; round < replays; round++) {
    int sv[2];
    if (fz_socketpair(sv) != 0) return;
    size_t cut = how & 64 ? fz_u8(in) % sizeof h : sizeof h;
    fz_write_some(sv[1], &h, cut);
    if (cut < sizeof h) shutdown(sv[1], SHUT_WR);
    void *ep = NULL;
    uint64_t conn_id;
    uint32_t flags;
    weftResult_t res = weftSuccess;
    weft_net_verdict v = tcp_take(&fz_listen, sv[0], 1000, &ep, &conn_id, &flags, &res);
    if (v != WEFT_NET_TAKEN) {
      close(sv[0]);
      close(sv[1]);
      continue;
    }
    if ((how & 1) || round > 0) abort(); /* a forged or replayed hello opened a connection */
    tcp_ep *e = ep;
    weft_aead *seal = NULL;
    if (flags & WEFT_NET_CONN_ENCRYPT) { /* the connecting side's keys, from the reply */
      weft_net_reply rep;
      uint8_t k[WEFT_KEY_BYTES], iv[WEFT_AEAD_IV];
      if (recv(sv[1], &rep, sizeof rep, MSG_DONTWAIT) != (ssize_t)sizeof rep ||
          !weft_net_reply_check(&fz_key, weft_net_handle_nonce(fz_handle), &h, &rep))
        abort(); /* the acceptor's reply does not prove the key */
      if (weft_net_link_keys(&fz_key, weft_net_handle_nonce(fz_handle), &h, &rep, k, iv) == 0)
        seal = weft_aead_new(k, iv, 1);
    } else {
      fz_drain(sv[1]);
    }
    if ((flags & WEFT_NET_CONN_ENCRYPT) && !seal) tcp_close_ep(e);
    else run_frames(e, sv[1], seal, in), close(sv[0]);
    weft_aead_free(seal);
    close(sv[1]);
  }
}

/* The connecting side: the acceptor's reply. */
static void run_connect(fz_in *in) {
  uint8_t how = fz_u8(in);
  int sv[2];
  if (fz_socketpair(sv) != 0) return;
  tcp_ep *e = ep_new(sv[0], WEFT_NET_OBJ_SEND);
  if (!e) {
    close(sv[0]);
    close(sv[1]);
    return;
  }
  e->awaiting_reply = 1;
  e->key = fz_key;
  memcpy(e->listen_nonce, weft_net_handle_nonce(fz_handle), WEFT_NONCE_BYTES);
  uint32_t flags = how & 2 ? WEFT_NET_CONN_ENCRYPT : 0;
  if (flags) e->stage = malloc(TCP_AEAD_CHUNK + WEFT_AEAD_TAG);
  if (weft_net_hello_seal(&e->hello, sizeof e->hello, TCP_HELLO_MAGIC, &fz_key, fz_handle, 1, flags) != 0) goto out;
  weft_net_reply rep;
  int forged = 0;
  if (how & 1) { /* forged */
    fz_fill(in, &rep, sizeof rep);
    forged = 1;
  } else {
    if (weft_net_reply_make(&fz_listen, &e->hello, &rep) != 0) goto out;
    if (how & 4) { /* changed on the way */
      ((uint8_t *)&rep)[fz_u8(in) % sizeof rep] ^= 1 + fz_u8(in) % 255;
      forged = 1;
    }
  }
  size_t cut = how & 8 ? fz_u8(in) % sizeof rep : sizeof rep;
  /* the reply in two pieces, the handshake tried after each */
  size_t first = how & 16 ? fz_u8(in) % (cut + 1) : cut;
  fz_write_some(sv[1], &rep, first);
  int r = finish_handshake(e);
  if (r == 0) {
    fz_write_some(sv[1], (char *)&rep + first, cut - first);
    if (cut < sizeof rep) shutdown(sv[1], SHUT_WR);
    r = finish_handshake(e);
  }
  if (r == 1 && forged) abort(); /* a reply that does not prove the key was taken */
  if (r == 1 && flags && !e->aead) abort();
  if (r == 1) { /* and the first frame goes out */
    char msg[100] = "first";
    void *req;
    int done;
    if (tcp_isend(e, msg, sizeof msg, 7, NULL, &req) == weftSuccess) tcp_test(req, &done, NULL, NULL);
  }
out:
  tcp_close_ep(e);
  close(sv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_in in = {data, size};
  switch (fz_u8(&in) % 4) {
    case 0: run_accept(&in); break;
    case 1: run_connect(&in); break;
    case 2: run_plain_or_sealed(0, &in); break;
    case 3: run_plain_or_sealed(1, &in); break;
  }
  return 0;
}
