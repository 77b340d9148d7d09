#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "common/hello.h"
#include "util/random.h"

static const char HELLO_LABEL[] = "weft net hello v2";
static const char REPLY_LABEL[] = "weft net reply v2";
static const char LINK_LABEL[] = "weft net link keys v2";

const uint8_t *weft_net_handle_nonce(const void *handle) {
  return (const uint8_t *)handle + WEFT_NET_HANDLE_BYTES - WEFT_NONCE_BYTES;
}

static int hello_mac(const weftNetKey_t *key, const uint8_t *listen_nonce, const void *hello, size_t len,
                     uint8_t mac[WEFT_MAC_BYTES]) {
  const char *b = hello;
  weft_bytes parts[] = {{HELLO_LABEL, sizeof HELLO_LABEL},
                        {listen_nonce, WEFT_NONCE_BYTES},
                        {b, offsetof(weft_net_hello, mac)},
                        {b + sizeof(weft_net_hello), len - sizeof(weft_net_hello)}};
  return weft_hmac(key->bytes, parts, 4, mac);
}

int weft_net_hello_seal(void *hello, size_t len, uint64_t magic, const weftNetKey_t *key, const void *handle,
                        uint64_t conn_id, uint32_t flags) {
  weft_net_hello *h = hello;
  memset(h, 0, sizeof *h);
  h->magic = magic;
  h->conn_id = conn_id;
  h->flags = flags;
  if (weft_random_bytes(h->nonce, sizeof h->nonce) != 0) return -1;
  return hello_mac(key, weft_net_handle_nonce(handle), hello, len, h->mac);
}

int weft_net_hello_check(weft_net_listen *l, const void *hello, size_t len, uint64_t magic) {
  const weft_net_hello *h = hello;
  uint8_t mac[WEFT_MAC_BYTES];
  if (len < sizeof *h || h->magic != magic || hello_mac(&l->key, l->nonce, hello, len, mac) != 0 ||
      !weft_bytes_equal(mac, h->mac, sizeof mac))
    return 0;
  for (int i = 0; i < WEFT_NET_SEEN_MAX; i++) /* a replayed hello */
    if (memcmp(l->seen[i], h->nonce, WEFT_NONCE_BYTES) == 0) return 0;
  memcpy(l->seen[l->nseen++ % WEFT_NET_SEEN_MAX], h->nonce, WEFT_NONCE_BYTES);
  return 1;
}

static int reply_mac(const weftNetKey_t *key, const uint8_t *listen_nonce, const weft_net_hello *h,
                     const weft_net_reply *r, uint8_t mac[WEFT_MAC_BYTES]) {
  weft_bytes parts[] = {{REPLY_LABEL, sizeof REPLY_LABEL},
                        {listen_nonce, WEFT_NONCE_BYTES},
                        {h, offsetof(weft_net_hello, mac)},
                        {r, offsetof(weft_net_reply, mac)}};
  return weft_hmac(key->bytes, parts, 4, mac);
}

int weft_net_reply_make(const weft_net_listen *l, const weft_net_hello *h, weft_net_reply *r) {
  memset(r, 0, sizeof *r);
  r->magic = h->magic ^ 1;
  if (weft_random_bytes(r->nonce, sizeof r->nonce) != 0) return -1;
  return reply_mac(&l->key, l->nonce, h, r, r->mac);
}

int weft_net_reply_check(const weftNetKey_t *key, const uint8_t listen_nonce[WEFT_NONCE_BYTES], const weft_net_hello *h,
                         const weft_net_reply *r) {
  uint8_t mac[WEFT_MAC_BYTES];
  return r->magic == (h->magic ^ 1) && reply_mac(key, listen_nonce, h, r, mac) == 0 &&
         weft_bytes_equal(mac, r->mac, sizeof mac);
}

int weft_net_link_keys(const weftNetKey_t *key, const uint8_t listen_nonce[WEFT_NONCE_BYTES], const weft_net_hello *h,
                       const weft_net_reply *r, uint8_t aead_key[WEFT_KEY_BYTES], uint8_t iv[WEFT_AEAD_IV]) {
  uint8_t salt[2 * WEFT_NONCE_BYTES], info[sizeof LINK_LABEL + WEFT_NONCE_BYTES + 16], out[WEFT_KEY_BYTES + WEFT_AEAD_IV];
  memcpy(salt, h->nonce, WEFT_NONCE_BYTES);
  memcpy(salt + WEFT_NONCE_BYTES, r->nonce, WEFT_NONCE_BYTES);
  /* identities: the connection (connecting rank, stream) and the listener */
  memcpy(info, LINK_LABEL, sizeof LINK_LABEL);
  memcpy(info + sizeof LINK_LABEL, listen_nonce, WEFT_NONCE_BYTES);
  memcpy(info + sizeof LINK_LABEL + WEFT_NONCE_BYTES, &h->magic, 8);
  memcpy(info + sizeof LINK_LABEL + WEFT_NONCE_BYTES + 8, &h->conn_id, 8);
  int rc = weft_hkdf(out, sizeof out, key->bytes, WEFT_KEY_BYTES, salt, sizeof salt, info, sizeof info);
  memcpy(aead_key, out, WEFT_KEY_BYTES);
  memcpy(iv, out + WEFT_KEY_BYTES, WEFT_AEAD_IV);
  weft_wipe(out, sizeof out);
  return rc;
}

weftResult_t weft_net_hello_dial(weft_net_ctx *c, const weft_sockaddr *addr, const void *hello, size_t len,
                                 int timeout_ms, int *fd) {
  char err[WEFT_SOCK_ERRLEN];
  int rc = weft_sock_dial(addr, timeout_ms, fd, err);
  if (rc != 0) {
    weft_net_obj_err(c, "%s", err);
    return rc == WEFT_SOCK_NO_ANSWER ? weftTimeout : weftRemoteError;
  }
  if (weft_sock_send_all(*fd, hello, len, timeout_ms, err) != 0) {
    weft_net_obj_err(c, "%s", err);
    close(*fd);
    *fd = -1;
    return weftRemoteError;
  }
  return weftSuccess;
}

int weft_net_hello_read(weft_net_listen *l, int fd, void *hello, size_t len, uint64_t magic, int timeout_ms) {
  char err[WEFT_SOCK_ERRLEN];
  return weft_sock_recv_all(fd, hello, len, timeout_ms, err) == 0 && weft_net_hello_check(l, hello, len, magic);
}
