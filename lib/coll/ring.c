/* Ring algorithms, pipelined in chunks: bandwidth-optimal for large messages.
 * Each rank sends to rank+1 and receives from rank-1; every segment is
 * reduced in the same fixed order around the ring and then forwarded as-is,
 * so all ranks end with identical bits. */
#include <stdlib.h>

#include "coll/coll.h"
#include "coll/algo.h"
#include "util/call.h"

#define MOD(a, n) ((((a) % (n)) + (n)) % (n))
enum { RING_SLOTS = 4 };

static size_t chunk_elems(const weft_call *c, size_t es) {
  size_t ce = c->chunk_bytes / es;
  return ce ? ce : 1;
}

static size_t nchunks(size_t len, size_t ce) {
  size_t k = (len + ce - 1) / ce;
  return k ? k : 1;
}

/* Chunk i of a run of len elements: [*off, *off + *n). */
static void chunk_of(size_t len, size_t ce, size_t i, size_t *off, size_t *n) {
  size_t o = i * ce;
  *off = o < len ? o : len;
  *n = o < len ? (len - o < ce ? len - o : ce) : 0;
}

int weft_ring_allreduce(weft_sched *s, const weft_call *c, int r, int n) {
  size_t es = weft_dtype_size(c->dt);
  const char *sb = c->sendbuf;
  char *rb = c->recvbuf;
  if (n == 1) {
    if (sb != rb) weft_sched_copy(s, rb, sb, c->count * es, NODEP, NODEP);
    return s->oom ? -1 : 0;
  }
  int next = MOD(r + 1, n), prev = MOD(r - 1, n);
  size_t segmax = (c->count + (size_t)n - 1) / (size_t)n;
  size_t ce = chunk_elems(c, es), nch = nchunks(segmax, ce);
  /* In place, incoming chunks land in a few cache-sized slots, reused
   * round-robin, so the reduction reads them from cache rather than from
   * memory. Out of place they land in recvbuf, where their reduction goes
   * (recvbuf = sendbuf op recvbuf): no slots, a smaller working set. */
  int into_rb = sb != rb;
  size_t nslot = nch < RING_SLOTS ? nch : RING_SLOTS;
  char *tmp = into_rb ? NULL : weft_sched_alloc(s, nslot * ce * es);
  int *last = malloc(sizeof(int) * nch * (size_t)(n + 1));
  if ((!into_rb && !tmp) || !last) {
    free(last);
    return -1;
  }
  int *red = last;            /* last reduce (then final value) per chunk */
  int *rs_send = last + nch;  /* rs_send[s * nch + ch] */
  int slot_free[RING_SLOTS];  /* the reduce that last read each slot */
  for (size_t ch = 0; ch < nch; ch++) red[ch] = NODEP;
  for (int k = 0; k < RING_SLOTS; k++) slot_free[k] = NODEP;

  /* Reduce-scatter: after n-1 steps rank r owns segment r+1. */
  for (int st = 0; st < n - 1; st++) {
    int sseg = MOD(r - st, n), rseg = MOD(r - st - 1, n);
    size_t soff, slen, roff, rlen;
    weft_split(c->count, n, sseg, &soff, &slen);
    weft_split(c->count, n, rseg, &roff, &rlen);
    for (size_t ch = 0; ch < nch; ch++) {
      size_t so, sn, ro, rn;
      chunk_of(slen, ce, ch, &so, &sn);
      chunk_of(rlen, ce, ch, &ro, &rn);
      const char *src = (st == 0 ? sb : rb) + (soff + so) * es;
      rs_send[(size_t)st * nch + ch] = weft_sched_send(s, next, src, sn * es, c->tag, red[ch], NODEP);
      size_t k = ch % nslot, at = (roff + ro) * es;
      char *t = into_rb ? rb + at : tmp + k * ce * es;
      int rv = weft_sched_recv(s, prev, t, rn * es, c->tag, into_rb ? NODEP : slot_free[k], NODEP);
      red[ch] = slot_free[k] = weft_sched_reduce(s, rb + at, sb + at, t, rn, c->dt, c->op, rv, red[ch], NODEP);
    }
  }
  int own = MOD(r + 1, n);
  size_t ooff, olen;
  weft_split(c->count, n, own, &ooff, &olen);
  if (c->op == weftAvg) {
    for (size_t ch = 0; ch < nch; ch++) {
      size_t o, k;
      chunk_of(olen, ce, ch, &o, &k);
      red[ch] = weft_sched_avg(s, rb + (ooff + o) * es, k, c->dt, n, red[ch]);
    }
  }
  /* Allgather of the reduced segments. */
  for (int st = 0; st < n - 1; st++) {
    int sseg = MOD(r + 1 - st, n), rseg = MOD(r - st, n);
    size_t soff, slen, roff, rlen;
    weft_split(c->count, n, sseg, &soff, &slen);
    weft_split(c->count, n, rseg, &roff, &rlen);
    for (size_t ch = 0; ch < nch; ch++) {
      size_t so, sn, ro, rn;
      chunk_of(slen, ce, ch, &so, &sn);
      chunk_of(rlen, ce, ch, &ro, &rn);
      weft_sched_send(s, next, rb + (soff + so) * es, sn * es, c->tag, red[ch], NODEP);
      /* the segment received now was read by the reduce-scatter send of this step */
      red[ch] = weft_sched_recv(s, prev, rb + (roff + ro) * es, rn * es, c->tag,
                           rs_send[(size_t)st * nch + ch], NODEP);
    }
  }
  free(last);
  return s->oom ? -1 : 0;
}

int weft_ring_allgather(weft_sched *s, const weft_call *c, int r, int n) {
  size_t es = weft_dtype_size(c->dt), cnt = c->count;
  const char *sb = c->sendbuf;
  char *rb = c->recvbuf;
  if (sb != rb + (size_t)r * cnt * es) weft_sched_copy(s, rb + (size_t)r * cnt * es, sb, cnt * es, NODEP, NODEP);
  if (n == 1) return s->oom ? -1 : 0;
  int next = MOD(r + 1, n), prev = MOD(r - 1, n);
  size_t ce = chunk_elems(c, es), nch = nchunks(cnt, ce);
  int *got = malloc(sizeof(int) * nch);
  if (!got) return -1;
  for (int st = 0; st < n - 1; st++) {
    int sblk = MOD(r - st, n), rblk = MOD(r - st - 1, n);
    for (size_t ch = 0; ch < nch; ch++) {
      size_t o, k;
      chunk_of(cnt, ce, ch, &o, &k);
      const char *src = st == 0 ? sb + o * es : rb + ((size_t)sblk * cnt + o) * es;
      weft_sched_send(s, next, src, k * es, c->tag, st == 0 ? NODEP : got[ch], NODEP);
      got[ch] = weft_sched_recv(s, prev, rb + ((size_t)rblk * cnt + o) * es, k * es, c->tag, NODEP, NODEP);
    }
  }
  free(got);
  return s->oom ? -1 : 0;
}

int weft_ring_reducescatter(weft_sched *s, const weft_call *c, int r, int n) {
  size_t es = weft_dtype_size(c->dt), cnt = c->count;
  const char *sb = c->sendbuf;
  char *rb = c->recvbuf;
  if (n == 1) {
    if (sb != rb) weft_sched_copy(s, rb, sb, cnt * es, NODEP, NODEP);
    return s->oom ? -1 : 0;
  }
  int next = MOD(r + 1, n), prev = MOD(r - 1, n);
  size_t ce = chunk_elems(c, es), nch = nchunks(cnt, ce);
  char *tmp = weft_sched_alloc(s, 3 * cnt * es); /* receive buffer + two partial sums */
  int *dep = malloc(sizeof(int) * nch * 2);
  if (!tmp || !dep) {
    free(dep);
    return -1;
  }
  char *acc[2] = {tmp + cnt * es, tmp + 2 * cnt * es};
  int *red = dep, *psend = dep + nch;
  for (size_t ch = 0; ch < nch; ch++) red[ch] = psend[ch] = NODEP;
  for (int st = 0; st < n - 1; st++) {
    int sseg = MOD(r - st - 1, n), rseg = MOD(r - st - 2, n);
    for (size_t ch = 0; ch < nch; ch++) {
      size_t o, k;
      chunk_of(cnt, ce, ch, &o, &k);
      const char *src = st == 0 ? sb + ((size_t)sseg * cnt + o) * es : acc[(st - 1) % 2] + o * es;
      int sd = weft_sched_send(s, next, src, k * es, c->tag, red[ch], NODEP);
      int rv = weft_sched_recv(s, prev, tmp + o * es, k * es, c->tag, red[ch], NODEP);
      char *dst = st == n - 2 ? rb + o * es : acc[st % 2] + o * es;
      /* acc[st % 2] was last read by the previous step's send */
      red[ch] = weft_sched_reduce(s, dst, sb + ((size_t)rseg * cnt + o) * es, tmp + o * es, k, c->dt,
                             c->op, rv, psend[ch], NODEP);
      psend[ch] = sd;
    }
  }
  if (c->op == weftAvg) {
    for (size_t ch = 0; ch < nch; ch++) {
      size_t o, k;
      chunk_of(cnt, ce, ch, &o, &k);
      weft_sched_avg(s, rb + o * es, k, c->dt, n, red[ch]);
    }
  }
  free(dep);
  return s->oom ? -1 : 0;
}

/* Pipelined chain from the root: best for large broadcasts. */
int weft_ring_broadcast(weft_sched *s, const weft_call *c, int r, int n) {
  size_t es = weft_dtype_size(c->dt), cnt = c->count;
  const char *sb = c->sendbuf;
  char *rb = c->recvbuf;
  int v = MOD(r - c->root, n), next = MOD(r + 1, n), prev = MOD(r - 1, n);
  size_t ce = chunk_elems(c, es), nch = nchunks(cnt, ce);
  for (size_t ch = 0; ch < nch; ch++) {
    size_t o, k;
    chunk_of(cnt, ce, ch, &o, &k);
    if (v == 0) {
      if (sb != rb) weft_sched_copy(s, rb + o * es, sb + o * es, k * es, NODEP, NODEP);
      if (n > 1) weft_sched_send(s, next, sb + o * es, k * es, c->tag, NODEP, NODEP);
    } else {
      int rv = weft_sched_recv(s, prev, rb + o * es, k * es, c->tag, NODEP, NODEP);
      if (v < n - 1) weft_sched_send(s, next, rb + o * es, k * es, c->tag, rv, NODEP);
    }
  }
  return s->oom ? -1 : 0;
}

/* Pipelined chain toward the root: rank root+n-1 starts, root finishes. */
int weft_ring_reduce(weft_sched *s, const weft_call *c, int r, int n) {
  size_t es = weft_dtype_size(c->dt), cnt = c->count;
  const char *sb = c->sendbuf;
  char *rb = c->recvbuf;
  int v = MOD(r - c->root, n), up = MOD(r - 1, n), down = MOD(r + 1, n);
  size_t ce = chunk_elems(c, es), nch = nchunks(cnt, ce);
  char *tmp = NULL, *acc = rb;
  if (n > 1 && v < n - 1) {
    tmp = weft_sched_alloc(s, (v == 0 ? 1 : 2) * cnt * es);
    if (!tmp) return -1;
    if (v != 0) acc = tmp + cnt * es;
  }
  for (size_t ch = 0; ch < nch; ch++) {
    size_t o, k;
    chunk_of(cnt, ce, ch, &o, &k);
    int d = NODEP;
    const char *val = sb + o * es;
    if (n == 1) {
      if (sb != rb) d = weft_sched_copy(s, rb + o * es, sb + o * es, k * es, NODEP, NODEP);
    } else if (v < n - 1) {
      int rv = weft_sched_recv(s, down, tmp + o * es, k * es, c->tag, NODEP, NODEP);
      d = weft_sched_reduce(s, acc + o * es, sb + o * es, tmp + o * es, k, c->dt, c->op, rv, NODEP, NODEP);
      val = acc + o * es;
    }
    if (v > 0) weft_sched_send(s, up, val, k * es, c->tag, d, NODEP);
    else if (c->op == weftAvg) weft_sched_avg(s, rb + o * es, k, c->dt, n, d);
  }
  return s->oom ? -1 : 0;
}

/* Cost: allreduce is 2(n-1) steps of n-th parts; broadcast and reduce a
 * pipelined chain where the message streams once over the slowest link. */
int weft_ring_cost(const weft_cost_model *m, weft_coll_kind kind, double s, weft_cost_acc *a) {
  int n = m->n;
  switch (kind) {
    case COLL_ALLREDUCE:
      weft_cost_ring_steps(m, 2.0 * (n - 1), s / n, a);
      a->time += s * (n - 1) / n / m->reduce_bw;
      return 0;
    case COLL_BROADCAST:
    case COLL_REDUCE: {
      double chunk = s < (512 << 10) ? s : (512 << 10);
      weft_cost_ring_steps(m, (n - 2) + s / chunk, chunk, a);
      if (kind == COLL_REDUCE) a->time += 1 * s / m->reduce_bw;
      return 0;
    }
    case COLL_ALLGATHER:
    case COLL_REDUCESCATTER:
      weft_cost_ring_steps(m, n - 1, s, a);
      if (kind == COLL_REDUCESCATTER) a->time += (n - 1) * s / m->reduce_bw;
      return 0;
    default: return -1;
  }
}
