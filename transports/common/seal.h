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
 * or cut short fails its tag and is never delivered. (tcp, a byte stream,
 * has records of its own: tcp/tcp_aead.c.) */
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
 * (len + WEFT_NET_SEAL_BYTES bytes). 0 on success. */
int weft_net_seal_msg(weft_aead *a, uint64_t pos, uint64_t tag, const void *in, size_t len, void *out);
/* Opens wire_len bytes received for position pos into out (wire_len -
 * WEFT_NET_SEAL_BYTES bytes): 0 when authentic, -1 when not (out must then be
 * ignored). */
int weft_net_open_msg(weft_aead *a, uint64_t pos, uint64_t tag, const void *in, size_t wire_len, void *out);
/* Sets obj's error: the message at position pos failed authentication. */
void weft_net_seal_forged(void *obj, const char *transport, uint64_t pos);

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
 * change (-1: none). NULL (the default) in the library. */
typedef struct {
  uint64_t seal_as;
  long long flip;
} weft_net_tamper;
extern void (*weft_net_tamper_hook)(uint64_t pos, size_t wire_len, weft_net_tamper *t);

#endif
