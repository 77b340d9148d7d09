/* The key schedule (docs/security.md). The 16-byte job secret of the unique
 * id never leaves the process; everything on the wire proves knowledge of a
 * key derived from it, with HKDF-SHA256:
 *   comm key      = HKDF(secret, "weft comm key v2")       a communicator
 *   child key     = HKDF(parent comm key, "weft split v2" | split number | color)
 *   agreement key = HKDF(comm key, "weft shrink agreement v1" | shrink number)
 *   shrunk key    = HKDF(comm key, "weft shrink v1" | shrink number | coordinator | ballot)
 *   bootstrap key = HKDF(comm key, "weft bootstrap v2")    root and ring hellos (HMAC)
 *   link key      = HKDF(comm key, "weft net link v2")     handed to the transports,
 *                   which derive per-connection keys from it and both sides' nonces */
#ifndef WEFT_BOOT_KEYS_H
#define WEFT_BOOT_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "util/crypto.h"

#define WEFT_KEY_LABEL_BOOTSTRAP "weft bootstrap v2"
#define WEFT_KEY_LABEL_NET "weft net link v2"
#define WEFT_KEY_LABEL_SPLIT "weft split v2"
#define WEFT_KEY_LABEL_NODESEG "weft node segment v2"
#define WEFT_KEY_LABEL_AGREE "weft shrink agreement v1"
#define WEFT_KEY_LABEL_SHRINK "weft shrink v1"

/* 0 on success. */
int weft_key_from_secret(const uint8_t secret[16], uint8_t comm_key[WEFT_KEY_BYTES]);
/* out = HKDF(key, label | ctx). 0 on success. */
int weft_key_derive(const uint8_t key[WEFT_KEY_BYTES], const char *label, const void *ctx, size_t ctx_len,
                    uint8_t out[WEFT_KEY_BYTES]);

#endif
