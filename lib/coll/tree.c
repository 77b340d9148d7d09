/* Binomial-tree algorithms: log2(n) latency steps, for small messages.
 * Ranks are renumbered relative to the root (v = rank - root mod n); rank v's
 * parent clears v's lowest set bit and its children are v + 2^k for every
 * 2^k below that bit. Reductions combine children in a fixed order, so the
 * root's result is the same on every run, and broadcasting it keeps every
 * rank bitwise identical. */
#include <stdlib.h>

#include "coll/coll.h"
#include "coll/algo.h"
#include "util/call.h"

#define MOD(a, n) ((((a) % (n)) + (n)) % (n))
#define MAX_CHILDREN 32

/* Fills children (real ranks, ascending subtree size) and returns how many;
 * *parent gets the parent's real rank or -1 at the root. */
static int tree_links(int r, int root, int n, int *parent, int *children) {
  int v = MOD(r - root, n), nc = 0, mask = 1;
  *parent = -1;
  while (mask < n) {
    if (v & mask) {
      *parent = MOD(v - mask + root, n);
      break;
    }
    mask <<= 1;
  }
  for (int m = 1; m < mask && m < n; m <<= 1)
    if (v + m < n) children[nc++] = MOD(v + m + root, n);
  return nc;
}

static size_t tree_chunk_elems(const weft_call *c, size_t es) {
  size_t ce = c->chunk_bytes / es;
  return ce ? ce : 1;
}

/* Reduce toward root into acc (acc may be recvbuf). final[ch] receives the
 * step after which chunk ch of the result (root) or of the contribution sent
 * up (others) is complete; sent[ch] the send step (NODEP at the root). */
static int tree_reduce_into(weft_sched *s, const weft_call *c, int r, int n, int root, char *acc,
                            int *final, int *sent, size_t nch, size_t ce) {
  size_t es = weft_dtype_size(c->dt), cnt = c->count;
  const char *sb = c->sendbuf;
  int parent, children[MAX_CHILDREN];
  int nc = tree_links(r, root, n, &parent, children);
  char *tmp = NULL;
  if (nc > 0 && !(tmp = weft_sched_alloc(s, (size_t)nc * cnt * es))) return -1;
  for (size_t ch = 0; ch < nch; ch++) {
    size_t o = ch * ce, k = cnt - o < ce ? cnt - o : ce;
    if (cnt == 0) o = k = 0;
    int prev = NODEP;
    const char *val = sb + o * es;
    for (int i = 0; i < nc; i++) {
      char *t = tmp + ((size_t)i * cnt + o) * es;
      int rv = weft_sched_recv(s, children[i], t, k * es, c->tag, NODEP, NODEP);
      prev = weft_sched_reduce(s, acc + o * es, val, t, k, c->dt, c->op, rv, prev, NODEP);
      val = acc + o * es;
    }
    sent[ch] = NODEP;
    if (parent >= 0) {
      sent[ch] = weft_sched_send(s, parent, val, k * es, c->tag, prev, NODEP);
    } else {
      if (nc == 0 && acc != sb) prev = weft_sched_copy(s, acc + o * es, sb + o * es, k * es, NODEP, NODEP);
      if (c->op == weftAvg) prev = weft_sched_avg(s, acc + o * es, k, c->dt, n, prev);
    }
    final[ch] = prev;
  }
  return s->oom ? -1 : 0;
}

/* Broadcast chunks of buf from root; chunk ch may be sent once ready[ch] is
 * done (root) and may be overwritten once ready[ch] is done (others). */
static int tree_bcast_from(weft_sched *s, const weft_call *c, int r, int n, int root,
                           const char *src, char *buf, const int *ready, size_t nch, size_t ce) {
  size_t es = weft_dtype_size(c->dt), cnt = c->count;
  int parent, children[MAX_CHILDREN];
  int nc = tree_links(r, root, n, &parent, children);
  for (size_t ch = 0; ch < nch; ch++) {
    size_t o = ch * ce, k = cnt - o < ce ? cnt - o : ce;
    if (cnt == 0) o = k = 0;
    int d = ready ? ready[ch] : NODEP;
    const char *from = src + o * es;
    if (parent >= 0) {
      d = weft_sched_recv(s, parent, buf + o * es, k * es, c->tag, d, NODEP);
      from = buf + o * es;
    } else if (src != buf) {
      weft_sched_copy(s, buf + o * es, src + o * es, k * es, d, NODEP);
    }
    /* largest subtree first: it has the longest way to go */
    for (int i = nc - 1; i >= 0; i--) weft_sched_send(s, children[i], from, k * es, c->tag, d, NODEP);
  }
  return s->oom ? -1 : 0;
}

static size_t tree_nchunks(size_t cnt, size_t ce) {
  size_t k = (cnt + ce - 1) / ce;
  return k ? k : 1;
}

int weft_tree_broadcast(weft_sched *s, const weft_call *c, int r, int n) {
  size_t ce = tree_chunk_elems(c, weft_dtype_size(c->dt));
  return tree_bcast_from(s, c, r, n, c->root, c->sendbuf, c->recvbuf, NULL, tree_nchunks(c->count, ce), ce);
}

int weft_tree_reduce(weft_sched *s, const weft_call *c, int r, int n) {
  size_t es = weft_dtype_size(c->dt), cnt = c->count;
  size_t ce = tree_chunk_elems(c, es), nch = tree_nchunks(cnt, ce);
  /* non-roots accumulate in scratch: their recvbuf may be NULL */
  char *acc = r == c->root ? c->recvbuf : weft_sched_alloc(s, cnt * es);
  int *deps = malloc(sizeof(int) * nch * 2);
  int rc = -1;
  if (acc && deps) rc = tree_reduce_into(s, c, r, n, c->root, acc, deps, deps + nch, nch, ce);
  free(deps);
  return rc;
}

int weft_tree_allreduce(weft_sched *s, const weft_call *c, int r, int n) {
  size_t es = weft_dtype_size(c->dt), cnt = c->count;
  size_t ce = tree_chunk_elems(c, es), nch = tree_nchunks(cnt, ce);
  int *deps = malloc(sizeof(int) * nch * 2);
  if (!deps) return -1;
  int *final = deps, *sent = deps + nch;
  int rc = tree_reduce_into(s, c, r, n, 0, c->recvbuf, final, sent, nch, ce);
  if (rc == 0) {
    /* root: send once final; others: overwrite once their contribution is sent */
    for (size_t ch = 0; ch < nch; ch++)
      if (r != 0) final[ch] = sent[ch];
    rc = tree_bcast_from(s, c, r, n, 0, c->recvbuf, c->recvbuf, final, nch, ce);
  }
  free(deps);
  return rc;
}

/* Cost: up the tree and (allreduce) down again, a reduction per level. */
int weft_tree_cost(const weft_cost_model *m, weft_coll_kind kind, double s, weft_cost_acc *a) {
  int n = m->n;
  switch (kind) {
    case COLL_ALLREDUCE:
      for (int phase = 0; phase < 2; phase++) weft_cost_tree_levels(m, s, a);
      a->time += weft_cost_levels(n) * s / m->reduce_bw;
      return 0;
    case COLL_BROADCAST:
    case COLL_REDUCE:
      weft_cost_tree_levels(m, s, a);
      if (kind == COLL_REDUCE) a->time += weft_cost_levels(n) * s / m->reduce_bw;
      return 0;
    default: return -1;
  }
}
