#include "util/crypto.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>

int weft_hkdf(void *out, size_t len, const void *ikm, size_t ikm_len, const void *salt, size_t salt_len,
              const void *info, size_t info_len) {
  static const uint8_t zero = 0;
  EVP_PKEY_CTX *k = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
  int ok = k && EVP_PKEY_derive_init(k) > 0 && EVP_PKEY_CTX_set_hkdf_md(k, EVP_sha256()) > 0 &&
           EVP_PKEY_CTX_set1_hkdf_key(k, ikm, (int)ikm_len) > 0 &&
           EVP_PKEY_CTX_set1_hkdf_salt(k, salt_len ? salt : &zero, (int)salt_len) > 0 &&
           EVP_PKEY_CTX_add1_hkdf_info(k, info_len ? info : &zero, (int)info_len) > 0 &&
           EVP_PKEY_derive(k, out, &len) > 0;
  EVP_PKEY_CTX_free(k);
  return ok ? 0 : -1;
}

int weft_hmac(const uint8_t key[WEFT_KEY_BYTES], const weft_bytes *pieces, int n, uint8_t mac[WEFT_MAC_BYTES]) {
  EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
  EVP_MAC_CTX *c = m ? EVP_MAC_CTX_new(m) : NULL;
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0), OSSL_PARAM_construct_end()};
  int ok = c && EVP_MAC_init(c, key, WEFT_KEY_BYTES, params) > 0;
  for (int i = 0; ok && i < n; i++) ok = !pieces[i].n || EVP_MAC_update(c, pieces[i].p, pieces[i].n) > 0;
  size_t got = 0;
  ok = ok && EVP_MAC_final(c, mac, &got, WEFT_MAC_BYTES) > 0 && got == WEFT_MAC_BYTES;
  EVP_MAC_CTX_free(c);
  EVP_MAC_free(m);
  return ok ? 0 : -1;
}

int weft_bytes_equal(const void *a, const void *b, size_t n) { return CRYPTO_memcmp(a, b, n) == 0; }

void weft_wipe(void *p, size_t n) { OPENSSL_cleanse(p, n); }

struct weft_aead {
  EVP_CIPHER_CTX *ctx;
  uint8_t iv_base[WEFT_AEAD_IV];
  uint64_t seq;
  int seal;
};

weft_aead *weft_aead_new(const uint8_t *key, const uint8_t *iv_base, int seal) {
  weft_aead *a = calloc(1, sizeof *a);
  if (!a) return NULL;
  a->seal = seal;
  memcpy(a->iv_base, iv_base, WEFT_AEAD_IV);
  a->ctx = EVP_CIPHER_CTX_new();
  /* the key is set once; every record only sets its nonce */
  int ok = a->ctx && (seal ? EVP_EncryptInit_ex(a->ctx, EVP_aes_256_gcm(), NULL, key, NULL)
                           : EVP_DecryptInit_ex(a->ctx, EVP_aes_256_gcm(), NULL, key, NULL)) > 0;
  if (!ok) {
    weft_aead_free(a);
    return NULL;
  }
  return a;
}

void weft_aead_free(weft_aead *a) {
  if (!a) return;
  EVP_CIPHER_CTX_free(a->ctx);
  weft_wipe(a, sizeof *a);
  free(a);
}

uint64_t weft_aead_count(const weft_aead *a) { return a->seq; }

/* Record n's nonce: the base with n XORed into its last 8 bytes
 * (big-endian), so nonces never repeat under one key. */
static void record_iv(const weft_aead *a, uint64_t n, uint8_t iv[WEFT_AEAD_IV]) {
  memcpy(iv, a->iv_base, WEFT_AEAD_IV);
  for (int i = 0; i < 8; i++) iv[WEFT_AEAD_IV - 1 - i] ^= (uint8_t)(n >> (8 * i));
}

/* GCM through EVP takes int lengths: long records go in slices. */
#define SLICE ((size_t)1 << 30)

/* Seals (enc) or opens record n with additional data ad; tag is written or checked. */
static int crypt_record(weft_aead *a, int enc, uint64_t n, const void *ad, size_t ad_len, const void *in, void *out,
                        size_t len, uint8_t *tag) {
  uint8_t iv[WEFT_AEAD_IV];
  int k;
  if (a->seal != enc || n == UINT64_MAX || ad_len > INT_MAX) return -1;
  record_iv(a, n, iv);
  if (EVP_CipherInit_ex(a->ctx, NULL, NULL, NULL, iv, enc) <= 0 ||
      (ad_len && EVP_CipherUpdate(a->ctx, NULL, &k, ad, (int)ad_len) <= 0))
    return -1;
  for (size_t off = 0; off < len; off += SLICE) {
    size_t m = len - off < SLICE ? len - off : SLICE;
    if (EVP_CipherUpdate(a->ctx, (uint8_t *)out + off, &k, (const uint8_t *)in + off, (int)m) <= 0) return -1;
  }
  if (enc)
    return EVP_CipherFinal_ex(a->ctx, (uint8_t *)out + len, &k) > 0 &&
                   EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_GCM_GET_TAG, WEFT_AEAD_TAG, tag) > 0
               ? 0
               : -1;
  if (EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_GCM_SET_TAG, WEFT_AEAD_TAG, tag) <= 0) return -1;
  return EVP_CipherFinal_ex(a->ctx, (uint8_t *)out + len, &k) > 0 ? 0 : -1;
}

/* The counted records authenticate their kind (4 bytes, little-endian). */
static int crypt_next(weft_aead *a, int enc, uint32_t kind, const void *in, void *out, size_t len, uint8_t *tag) {
  uint8_t aad[4] = {(uint8_t)kind, (uint8_t)(kind >> 8), (uint8_t)(kind >> 16), (uint8_t)(kind >> 24)};
  if (a->seal != enc || a->seq == UINT64_MAX) return -1;
  return crypt_record(a, enc, a->seq++, aad, sizeof aad, in, out, len, tag);
}

int weft_aead_seal(weft_aead *a, uint32_t kind, const void *in, void *out, size_t len, uint8_t tag[WEFT_AEAD_TAG]) {
  return crypt_next(a, 1, kind, in, out, len, tag);
}

int weft_aead_open(weft_aead *a, uint32_t kind, const void *in, void *out, size_t len,
                   const uint8_t tag[WEFT_AEAD_TAG]) {
  return crypt_next(a, 0, kind, in, out, len, (uint8_t *)tag);
}

int weft_aead_seal_at(weft_aead *a, uint64_t n, const void *ad, size_t ad_len, const void *in, void *out, size_t len,
                      uint8_t tag[WEFT_AEAD_TAG]) {
  return crypt_record(a, 1, n, ad, ad_len, in, out, len, tag);
}

int weft_aead_open_at(weft_aead *a, uint64_t n, const void *ad, size_t ad_len, const void *in, void *out, size_t len,
                      const uint8_t tag[WEFT_AEAD_TAG]) {
  return crypt_record(a, 0, n, ad, ad_len, in, out, len, (uint8_t *)tag);
}
