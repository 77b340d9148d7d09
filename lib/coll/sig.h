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
/* Explains how `got` differs from `expected` in words. */
void weft_sig_explain(uint64_t expected, uint64_t got, char *buf, size_t len);

#endif
