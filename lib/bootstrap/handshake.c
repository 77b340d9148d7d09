/* The MACs of the bootstrap handshakes (wire.h). Each covers a label, so a
 * proof made for one message is worthless for another. */
#include <stddef.h>

#include "bootstrap/wire.h"

int weft_boot_hello_mac(const uint8_t key[WEFT_KEY_BYTES], const uint8_t challenge[WEFT_NONCE_BYTES],
                        const boot_hello *h, uint8_t mac[WEFT_MAC_BYTES]) {
  static const char label[] = "weft root hello v2";
  weft_bytes parts[] = {{label, sizeof label}, {challenge, WEFT_NONCE_BYTES}, {h, offsetof(boot_hello, mac)}};
  return weft_hmac(key, parts, 3, mac);
}

int weft_boot_reply_mac(const uint8_t key[WEFT_KEY_BYTES], const uint8_t challenge[WEFT_NONCE_BYTES],
                        const uint8_t rank_nonce[WEFT_NONCE_BYTES], const boot_reply *r,
                        const weft_rank_info *entries, int count, uint8_t mac[WEFT_MAC_BYTES]) {
  static const char label[] = "weft root reply v3"; /* v3: the link entries, not the whole table */
  weft_bytes parts[] = {{label, sizeof label},
                        {challenge, WEFT_NONCE_BYTES},
                        {rank_nonce, WEFT_NONCE_BYTES},
                        {r, offsetof(boot_reply, mac)},
                        {entries, entries ? sizeof *entries * (size_t)count : 0}};
  return weft_hmac(key, parts, 5, mac);
}

int weft_boot_ring_mac(const uint8_t key[WEFT_KEY_BYTES], int32_t rank, const uint8_t from_nonce[WEFT_NONCE_BYTES],
                       const uint8_t to_nonce[WEFT_NONCE_BYTES], uint8_t mac[WEFT_MAC_BYTES]) {
  static const char label[] = "weft ring hello v2";
  weft_bytes parts[] = {
      {label, sizeof label}, {&rank, sizeof rank}, {from_nonce, WEFT_NONCE_BYTES}, {to_nonce, WEFT_NONCE_BYTES}};
  return weft_hmac(key, parts, 4, mac);
}
