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
 * to mac | the entries that follow it). On BOOT_OK the reply is followed by
 * the entries of the rank's link ends only, up then down for each link k
 * (weft_boot_link_entries of them, duplicates for small jobs), not the whole
 * table: the root then sends n x 2 ceil(log2 n) entries in all, not n^2. The
 * ranks gather the rest over their links. A refusal has none. */
typedef struct {
  uint32_t magic;
  int32_t status;
  int32_t nranks;
  char reason[BOOT_REASON_LEN]; /* why, when status is not BOOT_OK (NUL-terminated by the reader) */
  uint8_t mac[WEFT_MAC_BYTES];
} boot_reply;

/* First message on a ring link. mac: HMAC(bootstrap key, label | rank | the
 * sender's and the receiver's nonces from the root's answer or the table). */
typedef struct {
  uint32_t magic;
  int32_t rank;
  uint8_t mac[WEFT_MAC_BYTES];
} boot_ring_hello;

/* The MACs (0 on success). */
int weft_boot_hello_mac(const uint8_t key[WEFT_KEY_BYTES], const uint8_t challenge[WEFT_NONCE_BYTES],
                        const boot_hello *h, uint8_t mac[WEFT_MAC_BYTES]);
int weft_boot_reply_mac(const uint8_t key[WEFT_KEY_BYTES], const uint8_t challenge[WEFT_NONCE_BYTES],
                        const uint8_t rank_nonce[WEFT_NONCE_BYTES], const boot_reply *r,
                        const weft_rank_info *entries, int count, uint8_t mac[WEFT_MAC_BYTES]);
int weft_boot_ring_mac(const uint8_t key[WEFT_KEY_BYTES], int32_t rank, const uint8_t from_nonce[WEFT_NONCE_BYTES],
                       const uint8_t to_nonce[WEFT_NONCE_BYTES], uint8_t mac[WEFT_MAC_BYTES]);

/* The bootstrap links of a job of nranks ranks: ceil(log2 nranks), 0 for one
 * rank. */
static inline int weft_boot_link_count(int nranks) {
  int nl = 0;
  while (nl < WEFT_BOOT_LINKS && ((int64_t)1 << nl) < nranks) nl++;
  return nl;
}

/* The entries of the root's answer to one rank, and the rank whose entry is
 * at index i of rank's answer: link i/2's up end (rank + 2^k) at even i, its
 * down end (rank - 2^k) at odd i, mod nranks. */
static inline int weft_boot_link_entries(int nranks) { return 2 * weft_boot_link_count(nranks); }
static inline int weft_boot_entry_rank(int rank, int nranks, int i) {
  int64_t step = ((int64_t)1 << (i / 2)) % nranks;
  return (int)((i % 2 ? (int64_t)rank - step + nranks : (int64_t)rank + step) % nranks);
}

#endif
