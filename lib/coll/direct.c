/* One-shot allreduce for small messages: every rank sends its whole vector
 * to every other rank and reduces all n contributions itself, in rank order.
 * One message latency instead of the tree's 2*log2(n) or the ring's 2*(n-1),
 * at (n-1)x the bytes, so the tuner uses it only for small messages. Every
 * rank applies the same reduction order to the same inputs, so results are
 * bitwise identical everywhere. */
#include "coll/coll.h"
#include "coll/algo.h"
#include "util/call.h"

int weft_direct_allreduce(weft_sched *s, const weft_call *c, int r, int n) {
  size_t bytes = c->count * weft_dtype_size(c->dt);
  const char *sb = c->sendbuf;
  char *rb = c->recvbuf;
  char *slots = weft_sched_alloc(s, (size_t)n * bytes); /* contribution of rank k in slot k */
  if (!slots) return -1;
  const char *own = sb;
  int own_ready = NODEP;
  if (sb == rb) { /* in place: keep our input, recvbuf becomes the accumulator */
    own = slots + (size_t)r * bytes;
    own_ready = weft_sched_copy(s, slots + (size_t)r * bytes, sb, bytes, NODEP, NODEP);
  }
  int *got = weft_sched_alloc(s, sizeof(int) * (size_t)n);
  int *sent = weft_sched_alloc(s, sizeof(int) * (size_t)n);
  if (!got || !sent) return -1;
  for (int i = 1; i < n; i++) {
    int to = (r + i) % n, from = (r - i + n) % n;
    sent[i] = weft_sched_send(s, to, sb, bytes, c->tag, NODEP, NODEP);
    got[from] = weft_sched_recv(s, from, slots + (size_t)from * bytes, bytes, c->tag, NODEP, NODEP);
  }
  got[r] = own_ready;
  const char *x0 = r == 0 ? own : slots;
  int prev = NODEP;
  if (n == 1) {
    prev = weft_sched_copy(s, rb, own, bytes, own_ready, NODEP);
  } else {
    const char *x1 = r == 1 ? own : slots + bytes;
    prev = weft_sched_reduce(s, rb, x0, x1, c->count, c->dt, c->op, got[0], got[1], NODEP);
    /* recvbuf may be our send buffer: overwrite it only once every send is done */
    for (int i = 1; i < n; i++) weft_sched_dep(s, sent[i], prev);
    for (int k = 2; k < n; k++) {
      const char *xk = k == r ? own : slots + (size_t)k * bytes;
      prev = weft_sched_reduce(s, rb, rb, xk, c->count, c->dt, c->op, prev, got[k], NODEP);
    }
  }
  if (c->op == weftAvg) weft_sched_avg(s, rb, c->count, c->dt, n, prev);
  return s->oom ? -1 : 0;
}

/* Cost: one step where every rank sends everything to every other. */
int weft_direct_cost(const weft_cost_model *m, weft_coll_kind kind, double s, weft_cost_acc *a) {
  int n = m->n;
  if (kind != COLL_ALLREDUCE) return -1;
  for (int x = 0; x < n; x++)
    for (int y = 0; y < n; y++) weft_edges_add(&a->e, x, y, s);
  weft_cost_step(m, &a->e, 1, a);
  a->time += (n - 1) * s / m->reduce_bw;
  return 0;
}
