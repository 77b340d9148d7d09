#include "coll/sig.h"

#include <stdio.h>

#include "reduce/reduce.h"

static uint64_t count_hash(size_t count) {
  uint64_t x = (uint64_t)count * 0x9E3779B97F4A7C15ULL;
  return (x >> 48) & 0xffff;
}

uint64_t weft_sig_tag(const weft_call *c, uint32_t seq) {
  /* send and recv must produce the same signature */
  uint64_t kind = c->kind == COLL_RECV ? COLL_SEND : c->kind;
  int has_op = c->kind == COLL_ALLREDUCE || c->kind == COLL_REDUCESCATTER || c->kind == COLL_REDUCE;
  int has_root = c->kind == COLL_BROADCAST || c->kind == COLL_REDUCE || c->kind == COLL_GATHER ||
                 c->kind == COLL_SCATTER;
  uint64_t op = has_op ? (uint64_t)c->op : 0;
  uint64_t root = has_root ? ((uint64_t)c->root & 0xfffff) : 0;
  return (kind & 15) << 60 | ((uint64_t)c->dt & 15) << 56 | (op & 15) << 52 | root << 32 |
         count_hash(c->count) << 16 | (seq & 0xffff);
}

static void describe(uint64_t t, char *buf, size_t len) {
  weft_coll_kind k = (weft_coll_kind)(t >> 60);
  snprintf(buf, len, "%s(type %s, op %s, root %u, count#%04x, call #%u)", weft_coll_name(k),
           weft_dtype_name((weftDataType_t)((t >> 56) & 15)), weft_op_name((weftRedOp_t)((t >> 52) & 15)),
           (unsigned)((t >> 32) & 0xfffff), (unsigned)((t >> 16) & 0xffff), (unsigned)(t & 0xffff));
}

void weft_sig_explain(uint64_t expected, uint64_t got, char *buf, size_t len) {
  char a[160], b[160];
  describe(expected, a, sizeof a);
  describe(got, b, sizeof b);
  const char *what = (expected >> 60) != (got >> 60)                 ? "collective"
                     : ((expected >> 56) & 15) != ((got >> 56) & 15) ? "datatype"
                     : ((expected >> 52) & 15) != ((got >> 52) & 15) ? "reduction op"
                     : ((expected >> 32) & 0xfffff) != ((got >> 32) & 0xfffff) ? "root"
                     : ((expected >> 16) & 0xffff) != ((got >> 16) & 0xffff)   ? "count"
                                                                               : "call order";
  snprintf(buf, len, "%s differs: this rank called %s, the peer called %s", what, a, b);
}
