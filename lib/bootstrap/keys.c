#include "bootstrap/keys.h"

#include <string.h>

static const char SALT[] = "weft key schedule v2";

int weft_key_from_secret(const uint8_t secret[16], uint8_t comm_key[WEFT_KEY_BYTES]) {
  static const char info[] = "weft comm key v2";
  return weft_hkdf(comm_key, WEFT_KEY_BYTES, secret, 16, SALT, sizeof SALT, info, sizeof info);
}

int weft_key_derive(const uint8_t key[WEFT_KEY_BYTES], const char *label, const void *ctx, size_t ctx_len,
                    uint8_t out[WEFT_KEY_BYTES]) {
  uint8_t info[128];
  size_t n = strlen(label) + 1;
  if (n + ctx_len > sizeof info) return -1;
  memcpy(info, label, n);
  if (ctx_len) memcpy(info + n, ctx, ctx_len);
  return weft_hkdf(out, WEFT_KEY_BYTES, key, WEFT_KEY_BYTES, SALT, sizeof SALT, info, n + ctx_len);
}
