/* Barrier by dissemination: in round k every rank sends a token to rank
 * r + 2^k and waits for the one from r - 2^k before its next round. After
 * ceil(log2 n) rounds every rank has heard, through some chain, from every
 * other, so none leaves before all have arrived; any n, no root. */
#include <string.h>

#include "coll/algo.h"
#include "coll/coll.h"
#include "util/call.h"

int weft_dissem_barrier(weft_sched *s, const weft_call *c, int r, int n) {
  int rounds = 0;
  while ((1 << rounds) < n) rounds++;
  /* one token to send, and one landing byte per round (no two receives
   * share a byte) */
  char *bytes = weft_sched_alloc(s, (size_t)rounds + 1);
  if (!bytes) return -1;
  memset(bytes, 0, (size_t)rounds + 1);
  int prev = weft_sched_nop(s, NODEP, NODEP); /* n = 1: the barrier is this step */
  for (int k = 0; k < rounds; k++) {
    int dist = 1 << k, to = (r + dist) % n, from = (r - dist % n + n) % n;
    weft_sched_send(s, to, bytes, 1, c->tag, prev, NODEP);
    prev = weft_sched_recv(s, from, bytes + 1 + k, 1, c->tag, prev, NODEP);
  }
  return s->oom ? -1 : 0;
}
