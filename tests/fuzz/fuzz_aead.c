/* The decryption path of encrypted links (lib/util/crypto.c, as the tcp
 * transport's records use it): bytes from the network opened as records of a
 * connection. Every forged record must fail (never be taken as authentic,
 * never read or write out of bounds); and a genuine stream with one byte,
 * one record or the order changed by the input must fail at that record
 * while the records before it open. The first byte picks the case. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/crypto.h"

#define MAXREC 4096

static const uint8_t key[WEFT_KEY_BYTES] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                            17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t iv[WEFT_AEAD_IV] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2};

/* Forged records: the input cut into length-prefixed records, each with the
 * tag that follows it; none may open. */
static void forged(const uint8_t *d, size_t n) {
  weft_aead *o = weft_aead_new(key, iv, 0);
  uint8_t out[MAXREC];
  while (n >= 2 + WEFT_AEAD_TAG) {
    size_t len = ((size_t)d[0] | (size_t)d[1] << 8) % MAXREC;
    d += 2, n -= 2;
    if (len > n - WEFT_AEAD_TAG) len = n - WEFT_AEAD_TAG;
    if (weft_aead_open(o, (uint32_t)(len & 1), d, out, len, d + len) == 0) abort(); /* a forgery opened */
    d += len + WEFT_AEAD_TAG, n -= len + WEFT_AEAD_TAG;
  }
  weft_aead_free(o);
}

/* Genuine records of the input's bytes, then one change: the records before
 * it open to their plaintext, the changed one fails. */
static void tampered(const uint8_t *d, size_t n) {
  if (n < 4) return;
  int what = d[0] % 3, nrec = 1 + d[1] % 6;
  size_t at = d[2], len = (n - 3) / (size_t)nrec;
  const uint8_t *plain = d + 3;
  weft_aead *s = weft_aead_new(key, iv, 1), *o = weft_aead_new(key, iv, 0);
  uint8_t *ct = malloc((size_t)nrec * (len + WEFT_AEAD_TAG) + 1), out[MAXREC + 64];
  if (!ct || len > MAXREC) goto done;
  for (int r = 0; r < nrec; r++)
    if (weft_aead_seal(s, 1, plain + (size_t)r * len, ct + (size_t)r * (len + WEFT_AEAD_TAG), len,
                       ct + (size_t)r * (len + WEFT_AEAD_TAG) + len) != 0)
      abort();
  int bad = (int)(at % (size_t)nrec);
  uint8_t *rec = ct + (size_t)bad * (len + WEFT_AEAD_TAG);
  if (what == 0) rec[at % (len + WEFT_AEAD_TAG)] ^= (uint8_t)(1 + d[2] % 255); /* a flipped byte */
  for (int r = 0; r < nrec; r++) {
    /* what 1: record bad is dropped (the next one arrives in its place);
     * what 2: record bad is the previous one replayed */
    int src = r;
    if (what == 1 && r >= bad) src = r + 1;
    if (what == 2 && r == bad) src = bad > 0 ? bad - 1 : -1;
    if (src < 0 || src >= nrec) break;
    const uint8_t *c = ct + (size_t)src * (len + WEFT_AEAD_TAG);
    int ok = weft_aead_open(o, 1, c, out, len, c + len) == 0;
    if (r < bad && (!ok || memcmp(out, plain + (size_t)r * len, len) != 0)) abort(); /* a genuine one refused */
    if (r == bad && ok) abort(); /* the change went through */
    if (r >= bad) break;
  }
done:
  free(ct);
  weft_aead_free(s);
  weft_aead_free(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  if (data[0] & 1) tampered(data + 1, size - 1);
  else forged(data + 1, size - 1);
  return 0;
}
