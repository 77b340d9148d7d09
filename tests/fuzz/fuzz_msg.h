/* What the message harnesses (fuzz_ucx_msg, fuzz_ofi_msg) share: the record
 * of what the peer sent for each position of the connection, how a message
 * is made (sealed at its position on an encrypted connection) and changed,
 * how receives are posted, and the in-order test of the receives with the
 * checks that hold whatever came. */
#ifndef WEFT_FUZZ_MSG_H
#define WEFT_FUZZ_MSG_H

#include "common/seal.h"
#include "fuzz_input.h"
#include "weft_net.h"

#define FZ_MAXMSG 4096 /* the largest message and receive */

/* What a message harness (ucx, ofi) sent for a position of the connection:
 * size, weft tag and fill byte; sent: 1 as sealed, -1 changed on the way, 0
 * never (dropped, or not yet). */
typedef struct {
  size_t size;
  uint64_t tag;
  uint8_t fill;
  int sent;
} fz_msg;

/* Tests the receives q[*tested..nq) in order with test (the transport's
 * test()), stopping at the first not done; qpos: each one's position. A
 * completed one must fit its receive and, on an encrypted connection
 * (sealed), be exactly the message sent as sealed for its position. */
static inline void fz_test_in_order(weftResult_t (*test)(void *, int *, size_t *, uint64_t *), posted *q,
                                    const uint64_t *qpos, int nq, int *tested, const fz_msg *msgs, uint64_t nmsgs,
                                    int sealed) {
  for (; *tested < nq; (*tested)++) {
    posted *p = &q[*tested];
    if (!p->req) continue;
    int done = 0;
    size_t got = 0;
    uint64_t tag = 0;
    weftResult_t res = test(p->req, &done, &got, &tag);
    if (!done) {
      if (res != weftSuccess) p->req = NULL; /* failed: the endpoint frees it */
      return;
    }
    p->req = NULL;
    if (got > p->size) abort(); /* more than the receive holds */
    if (!sealed) continue;
    const fz_msg *m = qpos[*tested] < nmsgs ? &msgs[qpos[*tested]] : NULL;
    if (!m || m->sent != 1 || got != m->size || tag != m->tag) abort(); /* not what was sealed there */
    for (size_t k = 0; k < got; k++)
      if ((uint8_t)p->buf[k] != m->fill) abort();
  }
}

/* The opening (*open) and sealing (*seal) sides of a fresh encrypted
 * connection: each input a connection with keys of its own, as in the
 * library, so that a stale bounce buffer of an earlier input never holds a
 * message that opens. */
static inline void fz_conn_keys(weft_aead **open, weft_aead **seal) {
  static const weftNetKey_t key = {{1, 4, 1, 4, 2, 1, 3, 5, 6, 2, 3, 7, 3, 0, 9, 5,
                                    0, 4, 8, 8, 0, 1, 6, 8, 8, 7, 2, 4, 2, 0, 9, 6}};
  static uint64_t conn;
  weft_net_hello h;
  weft_net_reply r;
  memset(&h, 0, sizeof h);
  memset(&r, 0, sizeof r);
  uint8_t ln[WEFT_NONCE_BYTES] = {0};
  conn++;
  memcpy(ln, &conn, sizeof conn);
  *open = weft_net_seal_new(&key, ln, &h, &r, 0);
  *seal = weft_net_seal_new(&key, ln, &h, &r, 1);
  if (!*open || !*seal) abort();
}

/* The message for position pos: size and weft tag from the input, bytes
 * of one fill value; sealed into wire (FZ_MAXMSG + WEFT_NET_SEAL_BYTES
 * bytes) when seal is given, else copied. Returns its length on the wire. */
static inline size_t fz_msg_make(fz_in *in, fz_msg *m, uint64_t pos, size_t max, weft_aead *seal, uint8_t *wire) {
  static uint8_t plain[FZ_MAXMSG];
  m->size = fz_u16(in) % (max + 1);
  m->tag = fz_u8(in);
  m->fill = (uint8_t)(pos * 37 + 1);
  m->sent = 1;
  memset(plain, m->fill, m->size);
  if (!seal) {
    memcpy(wire, plain, m->size);
    return m->size;
  }
  if (weft_net_seal_msg(seal, pos, m->tag, plain, m->size, wire) != 0) abort();
  return m->size + WEFT_NET_SEAL_BYTES;
}

/* A byte of the message's len wire bytes changed on the way (where from the
 * input): it is no longer what was sent. */
static inline void fz_msg_flip(fz_in *in, fz_msg *m, uint8_t *wire, size_t len) {
  if (!len) return;
  wire[fz_u16(in) % len] ^= 0x10;
  m->sent = -1;
}

/* Posts a receive of up to max bytes (size from the input) with irecv on
 * ep, as q[*nq], whose position is pos. */
static inline void fz_post_recv(fz_in *in, weftResult_t (*irecv)(void *, void *, size_t, uint64_t, void *, void **),
                                void *ep, posted *q, uint64_t *qpos, int *nq, uint64_t pos, size_t max) {
  size_t n = fz_u16(in) % (max + 1);
  posted *p = &q[*nq];
  p->buf = malloc(n ? n : 1);
  p->size = n;
  p->done = 0;
  qpos[*nq] = pos;
  if (irecv(ep, p->buf, n, 0, NULL, &p->req) != weftSuccess) p->req = NULL;
  (*nq)++;
}

#endif
