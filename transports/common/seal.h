/* Sealed messages of the message transports (ucx, ofi) on connections that
 * weft asks to encrypt (WEFT_NET_CONN_ENCRYPT). These transports match a
 * receive with the message of the same position on its connection (0, 1,
 * 2, ...), whatever order the fabric delivers them in, so the position is
 * the AES-256-GCM record number: a message of len bytes travels as its
 * ciphertext followed by the 16-byte tag (len + WEFT_NET_SEAL_BYTES on the
 * wire), sealed under the connection's key (weft_net_link_keys) with nonce =
 * base XOR position and the sender's 64-bit weft tag and len as additional
 * data. A receive opens what arrived for its position with that position's
 * nonce, so a message that is changed, replayed, moved to another position
 * or cut short fails its tag and is never delivered. A message deleted on
 * the way leaves a gap: see weft_net_gap_check. (tcp, a byte stream, has
 * records of its own: tcp/tcp_aead.c.) */
#ifndef WEFT_NET_SEAL_H
#define WEFT_NET_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/hello.h"
#include "util/crypto.h"

#define WEFT_NET_SEAL_BYTES WEFT_AEAD_TAG /* what sealing adds to a message */

/* The sealing (seal = 1, connecting side) or opening state of the connection
 * opened by hello h and reply r; NULL on failure. */
weft_aead *weft_net_seal_new(const weftNetKey_t *key, const uint8_t listen_nonce[WEFT_NONCE_BYTES],
                             const weft_net_hello *h, const weft_net_reply *r, int seal);
/* Seals the message at position pos (len bytes of in, weft tag) into out
 * (len + WEFT_NET_SEAL_BYTES bytes). 0 on success, -1 on failure; 1 (tests
 * only: weft_net_tamper_hook dropped it) when it must not be sent, the send
 * completing as if it had been. */
int weft_net_seal_msg(weft_aead *a, uint64_t pos, uint64_t tag, const void *in, size_t len, void *out);
/* Opens wire_len bytes received for position pos into out (wire_len -
 * WEFT_NET_SEAL_BYTES bytes): 0 when authentic, -1 when not (out must then be
 * ignored). */
int weft_net_open_msg(weft_aead *a, uint64_t pos, uint64_t tag, const void *in, size_t wire_len, void *out);
/* Sets obj's error: the message at position pos failed authentication. */
void weft_net_seal_forged(void *obj, const char *transport, uint64_t pos);

/* Dropped messages. The fabric may deliver the messages of a connection out
 * of order (ucx: across lanes and protocols; ofi: a small message completes
 * while a large one before it is still being fetched), so a gap (a message
 * for a later position has arrived, the one awaited has not) is not a drop
 * at once; it is one once it has lasted longer than any reordering could:
 * WEFT_NET_GAP_MS, plus, where the awaited message is seen only when all of
 * it has landed, its size at WEFT_NET_GAP_FLOOR_KBPS. That is far below the
 * receive's own timeout (WEFT_TIMEOUT, 300 s by default), and the only
 * earlier bound the protocol allows: without an order guarantee nothing but
 * time tells a late message from a deleted one. */
#define WEFT_NET_GAP_MS 1000
#define WEFT_NET_GAP_FLOOR_KBPS 1000 /* 1 MB/s: 1 ms per KB */
typedef struct {
  long long since; /* when the gap was first seen (0: no gap) */
  uint64_t pos;    /* the position it waits for */
} weft_net_gap;
/* Looks at the connection while position pos is awaited (bytes: what must
 * land before its arrival is seen; 0 where its header shows it); later:
 * whether a message for a later position has arrived. Returns 1, with obj's
 * error naming the missing position, when the gap has outlasted its
 * allowance: a message was dropped on the way. */
int weft_net_gap_check(weft_net_gap *g, void *obj, const char *transport, uint64_t pos, size_t bytes, int later);

/* Bounce buffers for sealed messages, kept for reuse: a fresh buffer of a
 * pipeline chunk's size comes from mmap (glibc, above 128 KiB) and costs a
 * page fault per page on first touch, which cost more than the AES-GCM
 * itself. At most WEFT_NET_BOUNCE_KEEP buffers are kept; not thread-safe
 * (the owner serializes). */
#define WEFT_NET_BOUNCE_KEEP 4
typedef struct {
  void *buf[WEFT_NET_BOUNCE_KEEP];
  int n;
} weft_net_bounce_pool;
/* A buffer of at least len bytes, or NULL. */
void *weft_net_bounce_get(weft_net_bounce_pool *p, size_t len);
/* Gives b (from weft_net_bounce_get, may be NULL) back. */
void weft_net_bounce_put(weft_net_bounce_pool *p, void *b);
void weft_net_bounce_free(weft_net_bounce_pool *p);

/* Tests only: what an attacker on the path would do to the message at
 * position pos, applied when it is sealed. seal_as: the position it is
 * sealed for (another one: the message arrives where a replayed, reordered
 * or dropped-and-shifted one would); flip: a byte of the sealed message to
 * change (-1: none); drop: the message never arrives (the send completes).
 * NULL (the default) in the library. */
typedef struct {
  uint64_t seal_as;
  long long flip;
  int drop;
} weft_net_tamper;
extern void (*weft_net_tamper_hook)(uint64_t pos, size_t wire_len, weft_net_tamper *t);

#endif
