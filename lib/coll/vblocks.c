/* The v-variants: allgatherv and reducescatterv on a ring whose blocks have
 * their own sizes, alltoallv by pairwise exchange of blocks of their own
 * sizes. Every rank knows every block's size (the counts arrays), so sender
 * and receiver cut a block into the same chunks, and a block of zero
 * elements is skipped on both sides: no empty messages. */
#include <stdlib.h>

#include "coll/algo.h"
#include "coll/coll.h"
#include "util/call.h"

#define MOD(a, n) ((((a) % (n)) + (n)) % (n))

static size_t chunk_elems(const weft_call *c, size_t es) {
  size_t ce = c->chunk_bytes / es;
  return ce ? ce : 1;
}

static size_t nchunks(size_t len, size_t ce) { return (len + ce - 1) / ce; }

/* The most chunks any block has (at least 1, for the dependency arrays). */
static size_t max_chunks(const size_t *counts, int n, size_t ce) {
  size_t m = 1;
  for (int i = 0; i < n; i++)
    if (nchunks(counts[i], ce) > m) m = nchunks(counts[i], ce);
  return m;
}

/* A rank with nothing to move (a one-rank comm in place, an alltoallv
 * whose blocks of this rank are all empty) still runs one step: the call. */
static int done(weft_sched *s, int steps_before) {
  if (s->nsteps == steps_before) weft_sched_nop(s, NODEP, NODEP);
  return s->oom ? -1 : 0;
}

static size_t max_count(const size_t *counts, int n) {
  size_t m = 0;
  for (int i = 0; i < n; i++)
    if (counts[i] > m) m = counts[i];
  return m;
}

/* Step st sends block r-st (its own, from sendbuf, at st = 0) and receives
 * block r-st-1, which it forwards at st+1: a chunk is sent once received. */
int weft_ring_allgatherv(weft_sched *s, const weft_call *c, int r, int n) {
  size_t es = weft_dtype_size(c->dt);
  const size_t *cnt = c->vec, *dsp = c->vec + n;
  const char *sb = c->sendbuf;
  char *rb = c->recvbuf;
  int steps0 = s->nsteps;
  if (cnt[r] && sb != rb + dsp[r] * es) weft_sched_copy(s, rb + dsp[r] * es, sb, cnt[r] * es, NODEP, NODEP);
  if (n == 1) return done(s, steps0);
  int next = MOD(r + 1, n), prev = MOD(r - 1, n);
  size_t ce = chunk_elems(c, es);
  int *got = malloc(sizeof(int) * max_chunks(cnt, n, ce));
  if (!got) return -1;
  for (int st = 0; st < n - 1; st++) {
    int sblk = MOD(r - st, n), rblk = MOD(r - st - 1, n);
    for (size_t ch = 0, k = 0; ch < nchunks(cnt[sblk], ce); ch++) {
      size_t o = ch * ce;
      k = cnt[sblk] - o < ce ? cnt[sblk] - o : ce;
      const char *src = st == 0 ? sb + o * es : rb + (dsp[sblk] + o) * es;
      weft_sched_send(s, next, src, k * es, c->tag, st == 0 ? NODEP : got[ch], NODEP);
    }
    for (size_t ch = 0, k = 0; ch < nchunks(cnt[rblk], ce); ch++) {
      size_t o = ch * ce;
      k = cnt[rblk] - o < ce ? cnt[rblk] - o : ce;
      got[ch] = weft_sched_recv(s, prev, rb + (dsp[rblk] + o) * es, k * es, c->tag, NODEP, NODEP);
    }
  }
  free(got);
  return done(s, steps0);
}

/* Step st sends the partial sum of block r-st-1 (at st = 0 its own
 * contribution, from sendbuf) and receives that of block r-st-2, to which
 * it adds its own contribution; at the last step that block is r's, and the
 * sum lands in recvbuf. Partial sums alternate between two buffers, so a
 * step's sums are written while the previous ones are being sent. */
int weft_ring_reducescatterv(weft_sched *s, const weft_call *c, int r, int n) {
  size_t es = weft_dtype_size(c->dt);
  const size_t *cnt = c->vec, *dsp = c->vec + n;
  const char *sb = c->sendbuf;
  char *rb = c->recvbuf;
  int steps0 = s->nsteps;
  if (n == 1) {
    if (cnt[0] && sb + dsp[0] * es != rb) weft_sched_copy(s, rb, sb + dsp[0] * es, cnt[0] * es, NODEP, NODEP);
    return done(s, steps0);
  }
  int next = MOD(r + 1, n), prev = MOD(r - 1, n);
  size_t ce = chunk_elems(c, es), nch = max_chunks(cnt, n, ce), mx = max_count(cnt, n);
  char *tmp = weft_sched_alloc(s, 3 * (mx ? mx : 1) * es); /* receive buffer + two partial sums */
  int *dep = malloc(sizeof(int) * nch * 3);
  if (!tmp || !dep) {
    free(dep);
    return -1;
  }
  char *acc[2] = {tmp + mx * es, tmp + 2 * mx * es};
  /* red: the last reduce of chunk ch (it read tmp's chunk, and wrote the sum
   * the next step sends); sent[b]: the last send that read acc[b]'s chunk */
  int *red = dep, *sent[2] = {dep + nch, dep + 2 * nch};
  for (size_t ch = 0; ch < 3 * nch; ch++) dep[ch] = NODEP;
  for (int st = 0; st < n - 1; st++) {
    int sseg = MOD(r - st - 1, n), rseg = MOD(r - st - 2, n);
    for (size_t ch = 0; ch < nchunks(cnt[sseg], ce); ch++) {
      size_t o = ch * ce, k = cnt[sseg] - o < ce ? cnt[sseg] - o : ce;
      const char *src = st == 0 ? sb + (dsp[sseg] + o) * es : acc[(st - 1) % 2] + o * es;
      int sd = weft_sched_send(s, next, src, k * es, c->tag, st == 0 ? NODEP : red[ch], NODEP);
      if (st > 0) sent[(st - 1) % 2][ch] = sd;
    }
    for (size_t ch = 0; ch < nchunks(cnt[rseg], ce); ch++) {
      size_t o = ch * ce, k = cnt[rseg] - o < ce ? cnt[rseg] - o : ce;
      int rv = weft_sched_recv(s, prev, tmp + o * es, k * es, c->tag, red[ch], NODEP);
      char *dst = st == n - 2 ? rb + o * es : acc[st % 2] + o * es;
      red[ch] = weft_sched_reduce(s, dst, sb + (dsp[rseg] + o) * es, tmp + o * es, k, c->dt, c->op, rv,
                                  st == n - 2 ? NODEP : sent[st % 2][ch], NODEP);
    }
  }
  if (c->op == weftAvg)
    for (size_t ch = 0; ch < nchunks(cnt[r], ce); ch++) {
      size_t o = ch * ce, k = cnt[r] - o < ce ? cnt[r] - o : ce;
      weft_sched_avg(s, rb + o * es, k, c->dt, n, red[ch]);
    }
  free(dep);
  return done(s, steps0);
}

/* Step i sends block r+i and receives block r-i, each of its own size. */
int weft_pairwise_alltoallv(weft_sched *s, const weft_call *c, int r, int n) {
  size_t es = weft_dtype_size(c->dt);
  const size_t *scnt = c->vec, *sdsp = c->vec + n, *rcnt = c->vec + 2 * n, *rdsp = c->vec + 3 * n;
  const char *sb = c->sendbuf;
  char *rb = c->recvbuf;
  int steps0 = s->nsteps;
  if (rcnt[r]) weft_sched_copy(s, rb + rdsp[r] * es, sb + sdsp[r] * es, rcnt[r] * es, NODEP, NODEP);
  for (int i = 1; i < n; i++) {
    int to = (r + i) % n, from = (r - i + n) % n;
    if (scnt[to]) weft_sched_chunked(s, ST_SEND, to, sb + sdsp[to] * es, scnt[to] * es, c);
    if (rcnt[from]) weft_sched_chunked(s, ST_RECV, from, rb + rdsp[from] * es, rcnt[from] * es, c);
  }
  return done(s, steps0);
}
