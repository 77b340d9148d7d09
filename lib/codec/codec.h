/* WAN codecs: fp16, bf16, int8 block-scaled, top-k (with error feedback), zstd.
 *
 * Self-contained: a codec turns `count` elements of one datatype into bytes and
 * back, and knows nothing of ranks, transports or collectives. The collective
 * layer applies codecs on WAN (inter-site) hops only. Formats, error bounds and
 * measured throughput are in docs/codecs.md.
 *
 * Common rules
 * - Every function is thread-safe and keeps no state between calls; the only
 *   state is the caller-owned error-feedback residual.
 * - Encoding is deterministic: the same input (and residual) gives the same bytes.
 * - Encode and decode never abort or print; they return -1 on bad arguments,
 *   on a too small `cap`, on malformed input (decode) or when out of memory.
 * - The user-side buffers (encode's src, decode's dst) must be aligned for
 *   their datatype; the encoded buffer may have any alignment.
 * - Lossy codecs (fp16, bf16, int8, topk) accept weftFloat, weftFloat16,
 *   weftBfloat16 and weftDouble. Every value goes through float32 and the
 *   encoded bytes do not depend on the input datatype beyond the values, so
 *   bytes encoded from any of these types can be decoded into any of them
 *   (the collective layer decodes into fp32 to reduce).
 */
#ifndef WEFT_CODEC_H
#define WEFT_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "weft.h"

typedef enum {
  WEFT_CODEC_NONE = 0,
  WEFT_CODEC_FP16,
  WEFT_CODEC_BF16,
  WEFT_CODEC_INT8,
  WEFT_CODEC_TOPK,
  WEFT_CODEC_ZSTD,
  WEFT_CODEC_COUNT
} weft_codec_id;

typedef struct {
  double topk_ratio; /* fraction of elements kept by topk, default 0.01 */
  int zstd_level;    /* zstd compression level, default 1 */
} weft_codec_params;

/* Elements per int8 block (one float32 scale each). */
#define WEFT_CODEC_INT8_BLOCK 256

void weft_codec_params_default(weft_codec_params *p);
/* "none", "fp16", "bf16", "int8", "topk", "zstd"; "?" for an invalid id. */
const char *weft_codec_name(weft_codec_id id);
/* Parses the names above, case-insensitive; 0 ok, -1 unknown. */
int weft_codec_parse(const char *name, weft_codec_id *out);
/* 1 if the codec is built in (zstd: 0 when built without libzstd). */
int weft_codec_available(weft_codec_id id);
/* 1 for fp16, bf16, int8 and topk. */
int weft_codec_lossy(weft_codec_id id);
/* Whether the collective layer may use codec id for data of type dt reduced
 * with op. none/zstd: every datatype and op (zstd only when available).
 * Lossy codecs: only float, half, bfloat16 and double, and only sum/avg; the
 * 16-bit float codecs are refused for 16-bit float data (no size reduction).
 * Invalid ids, datatypes or ops: 0. */
int weft_codec_supports(weft_codec_id id, weftDataType_t dt, weftRedOp_t op);
/* Whether the encoded size depends only on (dt, count, params): all but zstd. */
int weft_codec_fixed_size(weft_codec_id id);
/* Exact encoded size for fixed-size codecs, upper bound for zstd. p may be
 * NULL (defaults). SIZE_MAX when the size does not fit or the arguments are
 * invalid. */
size_t weft_codec_max_bytes(weft_codec_id id, const weft_codec_params *p, weftDataType_t dt,
                            size_t count);
/* Encodes count elements of src into dst (capacity cap >= max_bytes); *len is
 * the number of bytes written. residual: NULL, or count floats of error
 * feedback (in/out): the codec encodes v = float(x) + residual and stores
 * residual = v - d, d being the float32 value decode gives back (0 where that
 * difference is not finite). Accepted by every lossy codec, ignored by the
 * lossless ones. p may be NULL (defaults). Returns 0 or -1. */
int weft_codec_encode(weft_codec_id id, const weft_codec_params *p, weftDataType_t dt,
                      const void *src, size_t count, void *dst, size_t cap, size_t *len,
                      float *residual);
/* Decodes exactly count elements of dtype dt into dst from len bytes.
 * Returns 0, or -1 on malformed input (wrong size, index out of range, zstd
 * error, ...). dst may be partly written when -1 is returned. */
int weft_codec_decode(weft_codec_id id, weftDataType_t dt, const void *src, size_t len, void *dst,
                      size_t count);
/* Whether weft_codec_decode_add serves codec id for data of type dt: the
 * dense lossy codecs (fp16, bf16, int8) into float32. */
int weft_codec_can_decode_add(weft_codec_id id, weftDataType_t dt);
/* dst[i] = dst[i] + decoded element i, i < count, dt == weftFloat: the
 * receiving side's decode and sum in one pass over dst (the decoded values
 * pass through a cache-sized block, not a buffer as large as the data). The
 * same bits as weft_codec_decode into a buffer and adding that. Returns 0, or
 * -1 as weft_codec_decode (dst may then be partly updated). */
int weft_codec_decode_add(weft_codec_id id, weftDataType_t dt, const void *src, size_t len, float *dst,
                          size_t count);
/* Nominal encode+decode throughput, bytes of fp32 input per second and core,
 * measured with weft-codec-bench (docs/codecs.md); 0 for an invalid id. */
double weft_codec_throughput(weft_codec_id id);
/* Compression ratio encoded/raw for the cost model: exact (for large counts)
 * for fixed-size codecs, a nominal figure for zstd. 1 for an invalid id. */
double weft_codec_ratio(weft_codec_id id, const weft_codec_params *p, weftDataType_t dt);

/* Number of elements topk keeps out of count: min(count, max(1,
 * ceil(ratio * count))), count when ratio >= 1, computed in double. */
size_t weft_codec_topk_k(const weft_codec_params *p, size_t count);

#endif
