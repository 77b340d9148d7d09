/* The hello that opens every connection of a built-in transport, in host
 * byte order, which a transport may extend with words of its own (shm: the
 * ring size; ucx: a nonce):
 *   {magic, connId, flags, nonce_c[16], mac[32]}
 * The magic names the transport and its wire version. The connecting side
 * proves that it knows the link key without sending it: mac is
 * HMAC-SHA256(key, label | the listener's nonce | the hello and its extension
 * with mac zeroed). The listener's nonce is fresh for every listener and
 * travels in its handle (the last 16 bytes), so a hello recorded for one
 * listener is worthless to another, and a listener refuses a nonce_c it has
 * seen. The accepting side answers with a reply {magic, nonce_a[16], mac}
 * whose mac covers both nonces, which proves the key to the connecting side;
 * encrypted links derive their keys from both nonces (weft_net_link_keys). */
#ifndef WEFT_NET_HELLO_H
#define WEFT_NET_HELLO_H

#include <stddef.h>
#include <stdint.h>

#include "common/listen.h"
#include "common/netctx.h"
#include "util/crypto.h"

typedef struct {
  uint64_t magic;
  uint64_t conn_id;
  uint32_t flags; /* WEFT_NET_CONN_* */
  uint32_t pad;
  uint8_t nonce[WEFT_NONCE_BYTES];
  uint8_t mac[WEFT_MAC_BYTES];
} weft_net_hello;
_Static_assert(sizeof(weft_net_hello) == 72, "the hello is part of the wire format");

typedef struct {
  uint64_t magic;
  uint8_t nonce[WEFT_NONCE_BYTES];
  uint8_t mac[WEFT_MAC_BYTES];
} weft_net_reply;
_Static_assert(sizeof(weft_net_reply) == 56, "the reply is part of the wire format");

/* Fills the hello that starts the len-byte buffer hello (its extension, after
 * the weft_net_hello, already written) for the listener behind handle. 0 on success. */
int weft_net_hello_seal(void *hello, size_t len, uint64_t magic, const weftNetKey_t *key, const void *handle,
                        uint64_t conn_id, uint32_t flags);
/* Whether the len-byte hello opens a connection of this transport (magic) and
 * job (its mac under the listener's key and nonce), not seen before. */
int weft_net_hello_check(weft_net_listen *l, const void *hello, size_t len, uint64_t magic);
/* The accepting side's reply to a checked hello. 0 on success. */
int weft_net_reply_make(const weft_net_listen *l, const weft_net_hello *h, weft_net_reply *r);
/* The connecting side: whether r proves the key for hello h sent to the
 * listener of listen_nonce (weft_net_handle_nonce). */
int weft_net_reply_check(const weftNetKey_t *key, const uint8_t listen_nonce[WEFT_NONCE_BYTES], const weft_net_hello *h,
                         const weft_net_reply *r);
/* The key and nonce base of the encrypted connection opened by h and r,
 * derived with HKDF from the link key, both nonces and the identities. */
int weft_net_link_keys(const weftNetKey_t *key, const uint8_t listen_nonce[WEFT_NONCE_BYTES], const weft_net_hello *h,
                       const weft_net_reply *r, uint8_t aead_key[WEFT_KEY_BYTES], uint8_t iv[WEFT_AEAD_IV]);
/* The listener nonce published in a handle. */
const uint8_t *weft_net_handle_nonce(const void *handle);

/* The connecting side over TCP: connects to addr and sends hello (len bytes
 * starting with a weft_net_hello), within timeout_ms. When it cannot, sets
 * the context's error and returns weftTimeout if nothing answered the
 * connect in time (nothing is left open), else weftRemoteError. */
weftResult_t weft_net_hello_dial(weft_net_ctx *c, const weft_sockaddr *addr, const void *hello, size_t len,
                                 int timeout_ms, int *fd);
/* The accepting side: reads a len-byte hello within timeout_ms; 1 if it
 * arrived and passes weft_net_hello_check. */
int weft_net_hello_read(weft_net_listen *l, int fd, void *hello, size_t len, uint64_t magic, int timeout_ms);

#endif
