/* zstd codec: lossless, any datatype.
 *
 * Format: a little-endian u64 with the raw byte count, then one zstd frame
 * (ZSTD_compress of the raw bytes at the requested level, content size
 * recorded). Decoding checks the header against the expected size, the
 * frame's content size, and the size zstd actually produced. An empty input
 * is the header alone. Built only with libzstd (WEFT_HAVE_ZSTD). */
#include <stdint.h>
#include <string.h>

#include "codec/codec.h"
#include "codec/codecs.h"
#include "codec/f32_block.h"

#define HDR 8

#ifdef WEFT_HAVE_ZSTD
#include <zstd.h>

size_t weft_zstd_max_bytes(size_t bytes) {
#ifdef ZSTD_MAX_INPUT_SIZE
  if (bytes >= ZSTD_MAX_INPUT_SIZE) return SIZE_MAX;
#else
  if (bytes > SIZE_MAX / 2) return SIZE_MAX; /* older zstd: the bound itself could wrap */
#endif
  const size_t b = ZSTD_compressBound(bytes);
  return ZSTD_isError(b) || b > SIZE_MAX - HDR ? SIZE_MAX : b + HDR;
}

int weft_zstd_encode(int level, const void *src, size_t bytes, void *dst, size_t cap, size_t *len) {
  if (cap < HDR) return -1;
  const uint64_t hdr = bytes;
  memcpy(dst, &hdr, HDR);
  if (bytes == 0) {
    *len = HDR;
    return 0;
  }
  if (level < ZSTD_minCLevel()) level = ZSTD_minCLevel();
  if (level > ZSTD_maxCLevel()) level = ZSTD_maxCLevel();
  const size_t n = ZSTD_compress((unsigned char *)dst + HDR, cap - HDR, src, bytes, level);
  if (ZSTD_isError(n)) return -1;
  *len = n + HDR;
  return 0;
}

int weft_zstd_decode(const void *src, size_t len, void *dst, size_t bytes) {
  if (len < HDR) return -1;
  uint64_t hdr;
  memcpy(&hdr, src, HDR);
  if (hdr != (uint64_t)bytes) return -1;
  if (bytes == 0) return len == HDR ? 0 : -1;
  const unsigned char *frame = (const unsigned char *)src + HDR;
  const unsigned long long fcs = ZSTD_getFrameContentSize(frame, len - HDR);
  if (fcs != (unsigned long long)bytes) return -1; /* also error / unknown size */
  const size_t n = ZSTD_decompress(dst, bytes, frame, len - HDR);
  if (ZSTD_isError(n) || n != bytes) return -1;
  return 0;
}

#else /* built without libzstd: weft_codec_available(WEFT_CODEC_ZSTD) == 0 */

size_t weft_zstd_max_bytes(size_t bytes) {
  (void)bytes;
  return SIZE_MAX;
}

int weft_zstd_encode(int level, const void *src, size_t bytes, void *dst, size_t cap, size_t *len) {
  (void)level, (void)src, (void)bytes, (void)dst, (void)cap, (void)len;
  return -1;
}

int weft_zstd_decode(const void *src, size_t len, void *dst, size_t bytes) {
  (void)src, (void)len, (void)dst, (void)bytes;
  return -1;
}

#endif
