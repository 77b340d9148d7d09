/* Recursive halving-doubling allreduce (Rabenseifner): a reduce-scatter by
 * recursive halving, then an allgather by recursive doubling, 2*log2(p)
 * steps moving 2(p-1)/p of the message: fewer steps than the ring, the same
 * bytes, so it suits mid-size messages. With n not a power of two, the first
 * 2*rem ranks fold in pairs first (the even rank hands its vector to the odd
 * one) and get the result back at the end. Every block is reduced by one
 * rank only, so all ranks end with the same bits. */
#include "coll/coll.h"
#include "coll/algo.h"
#include "util/call.h"

typedef struct {
  size_t count, es;
  int p;
} blocks;

/* Byte range of blocks [b0, b0 + nb) of p nearly equal blocks. */
static void range(const blocks *b, int b0, int nb, size_t *off, size_t *len) {
  size_t o0, l0, o1, l1;
  weft_split(b->count, b->p, b0, &o0, &l0);
  weft_split(b->count, b->p, b0 + nb - 1, &o1, &l1);
  *off = o0 * b->es;
  *len = (o1 + l1 - o0) * b->es;
}

int weft_rhd_allreduce(weft_sched *s, const weft_call *c, int r, int n) {
  size_t es = weft_dtype_size(c->dt), bytes = c->count * es;
  const char *sb = c->sendbuf;
  char *rb = c->recvbuf;
  int p = 1;
  while (p * 2 <= n) p *= 2;
  int rem = n - p;
  weftRedOp_t op = c->op == weftAvg ? weftSum : c->op;
  char *tmp = weft_sched_alloc(s, bytes ? bytes : 1);
  if (!tmp) return -1;
  int prev = sb != rb ? weft_sched_copy(s, rb, sb, bytes, NODEP, NODEP) : NODEP;
  if (n == 1) {
    if (c->op == weftAvg) weft_sched_avg(s, rb, c->count, c->dt, n, prev);
    return s->oom ? -1 : 0;
  }
  /* fold: even ranks below 2*rem hand their vector over and wait */
  if (r < 2 * rem && r % 2 == 0) {
    int sent = weft_sched_send(s, r + 1, rb, bytes, c->tag, prev, NODEP);
    weft_sched_recv(s, r + 1, rb, bytes, c->tag, sent, NODEP);
    return s->oom ? -1 : 0;
  }
  if (r < 2 * rem) {
    int got = weft_sched_recv(s, r - 1, tmp, bytes, c->tag, NODEP, NODEP);
    prev = weft_sched_reduce(s, rb, tmp, rb, c->count, c->dt, op, got, prev, NODEP);
  }
  int v = r < 2 * rem ? r / 2 : r - rem;
  blocks b = {c->count, es, p};
#define REAL(u) ((u) < rem ? 2 * (u) + 1 : (u) + rem)
  /* reduce-scatter by recursive halving: keep half of the range each step */
  int lo = 0, nb = p;
  for (int mask = p / 2; mask >= 1; mask /= 2) {
    int partner = REAL(v ^ mask), half = nb / 2;
    int keep = (v & mask) ? lo + half : lo, give = (v & mask) ? lo : lo + half;
    size_t ko, kl, go, gl;
    range(&b, keep, half, &ko, &kl);
    range(&b, give, half, &go, &gl);
    int sent = weft_sched_send(s, partner, rb + go, gl, c->tag, prev, NODEP);
    int got = weft_sched_recv(s, partner, tmp, kl, c->tag, prev, NODEP);
    prev = weft_sched_reduce(s, rb + ko, rb + ko, tmp, kl / es, c->dt, op, got, sent, prev);
    lo = keep;
    nb = half;
  }
  if (c->op == weftAvg) {
    size_t ko, kl;
    range(&b, lo, nb, &ko, &kl);
    prev = weft_sched_avg(s, rb + ko, kl / es, c->dt, n, prev);
  }
  /* allgather by recursive doubling */
  for (int mask = 1; mask < p; mask *= 2) {
    int partner = REAL(v ^ mask);
    int theirs = (v & mask) ? lo - nb : lo + nb;
    size_t mo, ml, to, tl;
    range(&b, lo, nb, &mo, &ml);
    range(&b, theirs, nb, &to, &tl);
    int sent = weft_sched_send(s, partner, rb + mo, ml, c->tag, prev, NODEP);
    int got = weft_sched_recv(s, partner, rb + to, tl, c->tag, prev, NODEP);
    prev = weft_sched_nop(s, sent, got);
    if (theirs < lo) lo = theirs;
    nb *= 2;
  }
#undef REAL
  /* unfold: the odd rank of a folded pair returns the result */
  if (r < 2 * rem) weft_sched_send(s, r - 1, rb, bytes, c->tag, prev, NODEP);
  return s->oom ? -1 : 0;
}

static int is_pow2(int n) { return n > 0 && (n & (n - 1)) == 0; }

/* Allgather by recursive doubling (n a power of two; else the ring): at step
 * k each rank swaps the 2^k blocks it holds, contiguous in rank order, with
 * the rank 2^k away. log2(n) steps instead of n-1. */
int weft_rhd_allgather(weft_sched *s, const weft_call *c, int r, int n) {
  if (!is_pow2(n)) return weft_ring_allgather(s, c, r, n);
  size_t bytes = c->count * weft_dtype_size(c->dt);
  char *rb = c->recvbuf;
  int prev = NODEP;
  if (c->sendbuf != rb + (size_t)r * bytes) prev = weft_sched_copy(s, rb + (size_t)r * bytes, c->sendbuf, bytes, NODEP, NODEP);
  for (int mask = 1; mask < n; mask *= 2) {
    int partner = r ^ mask, base = r & ~(mask - 1), pbase = partner & ~(mask - 1);
    int sent = weft_sched_send(s, partner, rb + (size_t)base * bytes, (size_t)mask * bytes, c->tag, prev, NODEP);
    int got = weft_sched_recv(s, partner, rb + (size_t)pbase * bytes, (size_t)mask * bytes, c->tag, prev, NODEP);
    prev = weft_sched_nop(s, sent, got);
  }
  return s->oom ? -1 : 0;
}

/* Reduce-scatter by recursive halving (n a power of two; else the ring): at
 * step k each rank keeps half of its current range of blocks, receives the
 * partner's partial sums of that half and adds them. Block r is completed
 * by rank r alone. */
int weft_rhd_reducescatter(weft_sched *s, const weft_call *c, int r, int n) {
  if (!is_pow2(n)) return weft_ring_reducescatter(s, c, r, n);
  size_t es = weft_dtype_size(c->dt), cnt = c->count, bytes = cnt * es;
  const char *sb = c->sendbuf;
  char *rb = c->recvbuf;
  weftRedOp_t op = c->op == weftAvg ? weftSum : c->op;
  if (n == 1) {
    int d = sb != rb ? weft_sched_copy(s, rb, sb, bytes, NODEP, NODEP) : NODEP;
    if (c->op == weftAvg) weft_sched_avg(s, rb, cnt, c->dt, n, d);
    return s->oom ? -1 : 0;
  }
  char *acc = weft_sched_alloc(s, (size_t)n / 2 * bytes), *tmp = weft_sched_alloc(s, (size_t)n / 2 * bytes);
  if (!acc || !tmp) return -1;
  int lo = 0, prev = NODEP;
  const char *cur = sb; /* where the partial sums of block b are: cur + (b - cur_lo) * bytes */
  int cur_lo = 0;
  for (int mask = n / 2; mask >= 1; mask /= 2) {
    int partner = r ^ mask;
    int keep = (r & mask) ? lo + mask : lo, give = (r & mask) ? lo : lo + mask;
    int sent = weft_sched_send(s, partner, cur + (size_t)(give - cur_lo) * bytes, (size_t)mask * bytes, c->tag, prev, NODEP);
    int got = weft_sched_recv(s, partner, tmp, (size_t)mask * bytes, c->tag, prev, NODEP);
    /* the last step writes block r straight into rb (in place, rb is part of
     * sb: it is read here, element by element, before being written) */
    char *dst = mask == 1 ? rb : acc;
    prev = weft_sched_reduce(s, dst, cur + (size_t)(keep - cur_lo) * bytes, tmp, (size_t)mask * cnt, c->dt, op, got, sent,
                        prev);
    cur = acc;
    cur_lo = keep;
    lo = keep;
  }
  if (c->op == weftAvg) weft_sched_avg(s, rb, cnt, c->dt, n, prev);
  return s->oom ? -1 : 0;
}

/* Cost: the fold, then log2(p) halving steps each with its doubling twin
 * (allreduce); 2^k blocks swapped at step k (allgather, reduce-scatter). */
int weft_rhd_cost(const weft_cost_model *m, weft_coll_kind kind, double s, weft_cost_acc *a) {
  int n = m->n;
  if (kind == COLL_ALLREDUCE) {
    int p2 = 1;
    while (p2 * 2 <= n) p2 *= 2;
    int rem = n - p2;
    a->e.n = 0;
    for (int r = 0; r < 2 * rem; r += 2) weft_edges_add(&a->e, r, r + 1, s);
    weft_cost_step(m, &a->e, 2, a); /* fold and unfold */
    for (int mask = p2 / 2; mask >= 1; mask /= 2) {
      a->e.n = 0;
      for (int v = 0; v < p2; v++) {
        int x = v < rem ? 2 * v + 1 : v + rem, u = v ^ mask, y = u < rem ? 2 * u + 1 : u + rem;
        weft_edges_add(&a->e, x, y, s * mask / p2);
      }
      weft_cost_step(m, &a->e, 2, a); /* the halving step and its doubling twin */
    }
    a->time += (rem ? s : 0) / m->reduce_bw + s * (p2 - 1) / p2 / m->reduce_bw;
    return 0;
  }
  if ((kind != COLL_ALLGATHER && kind != COLL_REDUCESCATTER) || !is_pow2(n)) return -1;
  for (int mask = 1; mask < n; mask *= 2) {
    a->e.n = 0;
    for (int r = 0; r < n; r++) weft_edges_add(&a->e, r, r ^ mask, s * mask);
    weft_cost_step(m, &a->e, 1, a);
  }
  if (kind == COLL_REDUCESCATTER) a->time += (n - 1) * s / m->reduce_bw;
  return 0;
}

/* Blocks swapped between partners need a power of two ranks (the allreduce
 * folds the rest in first). */
int weft_rhd_eligible(const weft_algo_env *env, weft_coll_kind kind, size_t bytes) {
  (void)bytes;
  return kind == COLL_ALLREDUCE || (env->nranks & (env->nranks - 1)) == 0;
}
