/* Bootstrap wire messages (host byte order: all ranks of a job share an ABI).
 * No message carries the secret or a key: each proves the bootstrap key
 * with an HMAC-SHA256 over fresh nonces (bootstrap/handshake.c). */
#ifndef WEFT_BOOT_WIRE_H
#define WEFT_BOOT_WIRE_H

#include <stdint.h>

#include "bootstrap/bootstrap.h"
#include "util/crypto.h"

/* Root replies. A refused rank (BOOT_BAD_NRANKS, BOOT_DUP_RANK) fails the
 * whole job: every rank waiting on the root gets BOOT_JOB_FAILED with the
 * same reason at once, and BOOT_TIMEOUT names the ranks that never came. */
enum { BOOT_OK = 0, BOOT_BAD_NRANKS = 1, BOOT_DUP_RANK = 2, BOOT_JOB_FAILED = 3, BOOT_TIMEOUT = 4 };
#define BOOT_REASON_LEN 320

/* The root's first message on every connection: a fresh challenge. */
typedef struct {
  uint32_t magic;
  uint8_t nonce[WEFT_NONCE_BYTES];
} boot_challenge;

/* mac: HMAC(bootstrap key, label | challenge | the hello up to mac). The
 * rank's own nonce is info.nonce. */
typedef struct {
  uint32_t magic;
  int32_t rank;
  int32_t nranks;
  weft_rank_info info;
  uint8_t mac[WEFT_MAC_BYTES];
} boot_hello;

/* mac: HMAC(bootstrap key, label | challenge | the rank's nonce | the reply up
 * to mac | the rank table when status is BOOT_OK). */
typedef struct {
  uint32_t magic;
  int32_t status;
  int32_t nranks;
  char reason[BOOT_REASON_LEN]; /* why, when status is not BOOT_OK (NUL-terminated by the reader) */
  uint8_t mac[WEFT_MAC_BYTES];
} boot_reply;

/* First message on a ring link. mac: HMAC(bootstrap key, label | rank | the
 * sender's and the receiver's nonces from the rank table). */
typedef struct {
  uint32_t magic;
  int32_t rank;
  uint8_t mac[WEFT_MAC_BYTES];
} boot_ring_hello;

/* The MACs (0 on success). */
int weft_boot_hello_mac(const uint8_t key[WEFT_KEY_BYTES], const uint8_t challenge[WEFT_NONCE_BYTES],
                        const boot_hello *h, uint8_t mac[WEFT_MAC_BYTES]);
int weft_boot_reply_mac(const uint8_t key[WEFT_KEY_BYTES], const uint8_t challenge[WEFT_NONCE_BYTES],
                        const uint8_t rank_nonce[WEFT_NONCE_BYTES], const boot_reply *r, const weft_rank_info *table,
                        int n, uint8_t mac[WEFT_MAC_BYTES]);
int weft_boot_ring_mac(const uint8_t key[WEFT_KEY_BYTES], int32_t rank, const uint8_t from_nonce[WEFT_NONCE_BYTES],
                       const uint8_t to_nonce[WEFT_NONCE_BYTES], uint8_t mac[WEFT_MAC_BYTES]);

#endif
