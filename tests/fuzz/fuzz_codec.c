/* WAN codec decoders (lib/codec): bytes from the network decoded as each
 * codec, into each type it decodes, and decode-add: -1 or a result, never a
 * read or write out of bounds. The first byte picks codec and type, the
 * next two the element count. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  static const weftDataType_t types[] = {weftFloat, weftFloat16, weftBfloat16, weftDouble, weftInt32, weftUint8};
  weft_codec_id id = (weft_codec_id)(1 + data[0] % (WEFT_CODEC_COUNT - 1));
  weftDataType_t dt = types[(data[0] / (WEFT_CODEC_COUNT - 1)) % 6];
  size_t count = ((size_t)data[1] | (size_t)data[2] << 8) % 4097;
  const uint8_t *src = data + 3;
  size_t len = size - 3;
  if (!weft_codec_available(id)) return 0;
  void *dst = malloc(count * 8 + 1);
  if (!dst) return 0;
  weft_codec_decode(id, dt, src, len, dst, count);
  if (weft_codec_can_decode_add(id, weftFloat)) {
    memset(dst, 0, count * sizeof(float));
    weft_codec_decode_add(id, weftFloat, src, len, (float *)dst, count);
  }
  free(dst);
  return 0;
}
