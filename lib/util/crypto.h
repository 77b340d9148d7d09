/* The few cryptographic operations weft needs, all through OpenSSL's
 * libcrypto (never written by hand): HKDF-SHA256 to derive keys, HMAC-SHA256
 * for the challenge-response handshakes, AES-256-GCM for the frames of
 * encrypted links. docs/security.md describes the key schedule. */
#ifndef WEFT_CRYPTO_H
#define WEFT_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define WEFT_KEY_BYTES 32   /* every derived key */
#define WEFT_MAC_BYTES 32   /* HMAC-SHA256 */
#define WEFT_NONCE_BYTES 16 /* handshake nonces */
#define WEFT_AEAD_TAG 16    /* GCM tag after every sealed record */
#define WEFT_AEAD_IV 12

/* A byte string to authenticate or derive from (pieces are concatenated). */
typedef struct {
  const void *p;
  size_t n;
} weft_bytes;

/* HKDF-SHA256 (RFC 5869): out (len bytes) from ikm, salt and info; 0 on success. */
int weft_hkdf(void *out, size_t len, const void *ikm, size_t ikm_len, const void *salt, size_t salt_len,
              const void *info, size_t info_len);
/* HMAC-SHA256 under key (WEFT_KEY_BYTES) over the concatenation of n pieces. */
int weft_hmac(const uint8_t key[WEFT_KEY_BYTES], const weft_bytes *pieces, int n, uint8_t mac[WEFT_MAC_BYTES]);
/* Constant-time comparison: 1 when equal. */
int weft_bytes_equal(const void *a, const void *b, size_t n);
/* Overwrites secret material so that it does not linger in freed memory. */
void weft_wipe(void *p, size_t n);

/* One direction of an encrypted link: AES-256-GCM with a 96-bit nonce made of
 * a derived base XOR a 64-bit record counter. Every record consumes the next
 * counter value on both ends, so a replayed, reordered or dropped record
 * fails its tag. */
typedef struct weft_aead weft_aead;

/* key: WEFT_KEY_BYTES, iv_base: WEFT_AEAD_IV; seal: 1 for the sending side. NULL on failure. */
weft_aead *weft_aead_new(const uint8_t *key, const uint8_t *iv_base, int seal);
void weft_aead_free(weft_aead *a);
/* Encrypts len bytes of in into out (may be the same) and writes the tag; the
 * record's kind is authenticated with it. 0 on success. */
int weft_aead_seal(weft_aead *a, uint32_t kind, const void *in, void *out, size_t len, uint8_t tag[WEFT_AEAD_TAG]);
/* Decrypts in place-or-not and checks the tag: 0 when authentic, -1 when not
 * (the output must then be ignored). */
int weft_aead_open(weft_aead *a, uint32_t kind, const void *in, void *out, size_t len,
                   const uint8_t tag[WEFT_AEAD_TAG]);
/* The same for record number n given by the caller (transports that match
 * messages by position: the position is the record number, whatever order
 * they arrive in), with ad_len bytes of additional data authenticated with
 * it. The caller never seals two records with one n under one key. */
int weft_aead_seal_at(weft_aead *a, uint64_t n, const void *ad, size_t ad_len, const void *in, void *out, size_t len,
                      uint8_t tag[WEFT_AEAD_TAG]);
int weft_aead_open_at(weft_aead *a, uint64_t n, const void *ad, size_t ad_len, const void *in, void *out, size_t len,
                      const uint8_t tag[WEFT_AEAD_TAG]);
/* Records sealed or opened so far with weft_aead_seal/open. */
uint64_t weft_aead_count(const weft_aead *a);

#endif
