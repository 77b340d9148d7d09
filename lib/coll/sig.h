/* Call signatures carried as the 64-bit message tag, so that calls which do
 * not match across ranks (different collective, type, op, root, count or
 * order) are detected by the receiver instead of corrupting data.
 * Layout: kind:4 | dtype:4 | op:4 | root:20 | count hash:16 | sequence:16. */
#ifndef WEFT_SIG_H
#define WEFT_SIG_H

#include <stddef.h>
#include <stdint.h>

#include "coll/coll.h"

uint64_t weft_sig_tag(const weft_call *c, uint32_t seq);
#define WEFT_SIG_COUNT_UNKNOWN SIZE_MAX
/* Explains in words how `got` (a peer's call) differs from `expected` (this
 * rank's): mine and theirs are the calls' element counts where they are
 * known (WEFT_SIG_COUNT_UNKNOWN where only the tag's hash of it is). */
void weft_sig_explain(uint64_t expected, uint64_t got, size_t mine, size_t theirs, char *buf, size_t len);

#endif
