#include "coll/sig.h"

#include <stdio.h>
#include <string.h>

#include "reduce/reduce.h"

static uint64_t count_hash(size_t count) {
  uint64_t x = (uint64_t)count * 0x9E3779B97F4A7C15ULL;
  return (x >> 48) & 0xffff;
}

uint64_t weft_sig_tag(const weft_call *c, uint32_t seq) {
  /* send and recv must produce the same signature */
  uint64_t kind = c->kind == COLL_RECV ? COLL_SEND : c->kind;
  int has_op = c->kind == COLL_ALLREDUCE || c->kind == COLL_REDUCESCATTER || c->kind == COLL_REDUCE ||
               c->kind == COLL_REDUCESCATTERV;
  int has_root = c->kind == COLL_BROADCAST || c->kind == COLL_REDUCE || c->kind == COLL_GATHER ||
                 c->kind == COLL_SCATTER;
  uint64_t op = has_op ? (uint64_t)c->op : 0;
  uint64_t root = has_root ? ((uint64_t)c->root & 0xfffff) : 0;
  /* the v-variants: the counts of allgatherv and reducescatterv are the
   * same on every rank; alltoallv's differ by rank, so only its kind and
   * type are compared (a block of another size fails as a message) */
  uint64_t cnt = c->kind == COLL_ALLTOALLV       ? 0
                 : weft_coll_is_v(c->kind) ? (c->vhash >> 48) & 0xffff
                                           : count_hash(c->count);
  return (kind & 15) << 60 | ((uint64_t)c->dt & 15) << 56 | (op & 15) << 52 | root << 32 | cnt << 16 |
         (seq & 0xffff);
}

/* "allreduce(float, sum, count 1000, call #3)": the fields the kind has;
 * a count that is not known is "another count" where the other call's hash
 * of it differs (other: the tag compared with). */
static void describe(uint64_t t, size_t count, uint64_t other, char *buf, size_t len) {
  weft_coll_kind k = (weft_coll_kind)(t >> 60);
  int has_op = k == COLL_ALLREDUCE || k == COLL_REDUCESCATTER || k == COLL_REDUCE || k == COLL_REDUCESCATTERV;
  int has_root = k == COLL_BROADCAST || k == COLL_REDUCE || k == COLL_GATHER || k == COLL_SCATTER;
  char op[40] = "", root[32] = "", cnt[48] = "";
  if (has_op) snprintf(op, sizeof op, ", %s", weft_op_name((weftRedOp_t)((t >> 52) & 15)));
  if (has_root) snprintf(root, sizeof root, ", root %u", (unsigned)((t >> 32) & 0xfffff));
  if (count != WEFT_SIG_COUNT_UNKNOWN)
    snprintf(cnt, sizeof cnt, weft_coll_is_v(k) ? ", %zu elements in all" : ", count %zu", count);
  else if (((t ^ other) >> 16 & 0xffff) != 0) snprintf(cnt, sizeof cnt, weft_coll_is_v(k) ? ", other counts" : ", another count");
  snprintf(buf, len, "%s(%s%s%s%s, call #%u)", weft_coll_name(k), weft_dtype_name((weftDataType_t)((t >> 56) & 15)),
           op, root, cnt, (unsigned)(t & 0xffff));
}

void weft_sig_explain(uint64_t expected, uint64_t got, size_t mine, size_t theirs, char *buf, size_t len) {
  char a[160], b[160];
  describe(expected, mine, expected, a, sizeof a); /* this rank's own count: said by the caller when unknown */
  describe(got, theirs, expected, b, sizeof b);
  const char *what = (expected >> 60) != (got >> 60)                 ? "collective"
                     : ((expected >> 56) & 15) != ((got >> 56) & 15) ? "datatype"
                     : ((expected >> 52) & 15) != ((got >> 52) & 15) ? "reduction op"
                     : ((expected >> 32) & 0xfffff) != ((got >> 32) & 0xfffff) ? "root"
                     : ((expected >> 16) & 0xffff) != ((got >> 16) & 0xffff)
                         ? (weft_coll_is_v((weft_coll_kind)(expected >> 60)) ? "counts" : "count")
                                                                               : "call order";
  snprintf(buf, len, "%s %s: this rank called %s, the peer called %s", what, strcmp(what, "counts") ? "differs" : "differ",
           a, b);
}
