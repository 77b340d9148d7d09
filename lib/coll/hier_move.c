/* Hierarchical broadcast, allgather and reduce-scatter over groups of any
 * and unequal sizes. In all three, each byte crosses between two groups at
 * most once, and the ranks of a group share the inter-group traffic:
 *   broadcast      the root hands chunk j to its group's owner of j, which
 *                  sends it to the owner of j in every other group; owners
 *                  then hand their chunks to the rest of their group;
 *   allgather      every rank sends its block to its counterpart (same local
 *                  index modulo the group size) in every other group, then
 *                  every rank hands what it holds to the rest of its group;
 *   reducescatter  inside each group, block b is reduced at b itself when b
 *                  is a member, else at local rank b % s; the partial sums
 *                  of the other groups go to b, which adds them in group
 *                  order (one rank computes each block, so no two ranks can
 *                  disagree on its bits). With a codec (between sites) the
 *                  partials travel encoded and b decodes them before adding:
 *                  each value is encoded once. */
#include "codec/codec.h"
#include "coll/hier.h"
#include "coll/cost_model.h"
#include "util/call.h"

int weft_hier_broadcast(weft_sched *s, const weft_call *c, int rank, int n) {
  const weft_groups *gr = c->groups;
  if (!hier_usable(gr, n)) return weft_ring_broadcast(s, c, rank, n);
  size_t es = weft_dtype_size(c->dt);
  char *rb = c->recvbuf;
  const char *src = rank == c->root ? c->sendbuf : rb;
  hier_layout l = hier_layout_of(gr, rank);
  int rg = gr->group_of[c->root];
  int *have = weft_sched_alloc(s, sizeof(int) * (size_t)l.k); /* chunk j is in rb (or src at the root) */
  if (!have) return -1;
  if (rank == c->root && c->sendbuf != rb) weft_sched_copy(s, rb, c->sendbuf, c->count * es, NODEP, NODEP);
  /* 1. in the root's group, the root hands each chunk to its owner */
  for (int j = 0; j < l.k; j++) {
    size_t off, len;
    weft_split(c->count, l.k, j, &off, &len);
    int owner = hier_owner(gr, l.g, j);
    have[j] = NODEP;
    if (l.g != rg) continue;
    if (rank == c->root && owner != rank) weft_sched_send(s, owner, src + off * es, len * es, c->tag, NODEP, NODEP);
    if (rank == owner && owner != c->root)
      have[j] = weft_sched_recv(s, c->root, rb + off * es, len * es, c->tag, NODEP, NODEP);
  }
  /* 2. owners in the root's group send to the owners elsewhere */
  for (int j = 0; j < l.k; j++) {
    size_t off, len;
    weft_split(c->count, l.k, j, &off, &len);
    if (rank != hier_owner(gr, l.g, j)) continue;
    if (l.g == rg) {
      const char *from = rank == c->root ? src : rb;
      for (int g = 0; g < gr->ngroups; g++)
        if (g != rg) weft_sched_send(s, hier_owner(gr, g, j), from + off * es, len * es, c->tag, have[j], NODEP);
    } else {
      have[j] = weft_sched_recv(s, hier_owner(gr, rg, j), rb + off * es, len * es, c->tag, NODEP, NODEP);
    }
  }
  /* 3. owners hand their chunks to the rest of the group */
  for (int j = 0; j < l.k; j++) {
    size_t off, len;
    weft_split(c->count, l.k, j, &off, &len);
    int owner = hier_owner(gr, l.g, j);
    const char *from = rank == c->root ? src : rb;
    if (rank == owner) {
      for (int i = 0; i < l.s; i++)
        if (l.members[i] != rank && l.members[i] != c->root)
          weft_sched_send(s, l.members[i], from + off * es, len * es, c->tag, have[j], NODEP);
    } else if (rank != c->root) {
      weft_sched_recv(s, owner, rb + off * es, len * es, c->tag, NODEP, NODEP);
    }
  }
  return s->oom ? -1 : 0;
}

int weft_hier_allgather(weft_sched *s, const weft_call *c, int rank, int n) {
  const weft_groups *gr = c->groups;
  if (!hier_usable(gr, n)) return weft_ring_allgather(s, c, rank, n);
  size_t bytes = c->count * weft_dtype_size(c->dt);
  char *rb = c->recvbuf;
  hier_layout l = hier_layout_of(gr, rank);
  int *ready = weft_sched_alloc(s, sizeof(int) * (size_t)n); /* block b is in rb */
  if (!ready) return -1;
  for (int b = 0; b < n; b++) ready[b] = NODEP;
  const char *mine = c->sendbuf;
  if (mine != rb + (size_t)rank * bytes) ready[rank] = weft_sched_copy(s, rb + (size_t)rank * bytes, mine, bytes, NODEP, NODEP);
  /* 1. my block to my counterpart in every other group; theirs to me */
  for (int g = 0; g < gr->ngroups; g++) {
    if (g == l.g) continue;
    weft_sched_send(s, hier_owner(gr, g, l.me), mine, bytes, c->tag, NODEP, NODEP);
    for (int i = gr->start[g]; i < gr->start[g + 1]; i++) {
      int b = gr->members[i];
      if (hier_owner(gr, l.g, i - gr->start[g]) == rank)
        ready[b] = weft_sched_recv(s, b, rb + (size_t)b * bytes, bytes, c->tag, NODEP, NODEP);
    }
  }
  /* 2. inside the group, everyone hands out what it holds, in block order */
  for (int b = 0; b < n; b++) {
    int gb = gr->group_of[b];
    int holder = gb == l.g ? b : hier_owner(gr, l.g, gr->index_in[b]);
    if (holder == rank) {
      for (int i = 0; i < l.s; i++)
        if (l.members[i] != rank) weft_sched_send(s, l.members[i], rb + (size_t)b * bytes, bytes, c->tag, ready[b], NODEP);
    } else {
      weft_sched_recv(s, holder, rb + (size_t)b * bytes, bytes, c->tag, NODEP, NODEP);
    }
  }
  return s->oom ? -1 : 0;
}

/* The rank of group g that reduces block b there. */
static int rs_holder(const weft_groups *gr, int g, int b) {
  return gr->group_of[b] == g ? b : hier_owner(gr, g, b);
}

int weft_hier_reducescatter(weft_sched *s, const weft_call *c, int rank, int n) {
  const weft_groups *gr = c->groups;
  if (!hier_usable(gr, n)) return weft_ring_reducescatter(s, c, rank, n);
  size_t es = weft_dtype_size(c->dt), cnt = c->count, bytes = cnt * es;
  const char *sb = c->sendbuf;
  char *rb = c->recvbuf;
  hier_layout l = hier_layout_of(gr, rank);
  weftRedOp_t op = c->op == weftAvg ? weftSum : c->op;
  /* blocks I reduce for my group, and partials of my own block from others */
  int nheld = 0;
  for (int b = 0; b < n; b++) nheld += rs_holder(gr, l.g, b) == rank;
  size_t slot = (size_t)(l.s > gr->ngroups ? l.s : gr->ngroups) * bytes;
  char *scratch = weft_sched_alloc(s, (size_t)(nheld + 1) * slot + bytes);
  int *got = weft_sched_alloc(s, sizeof(int) * (size_t)(l.s > gr->ngroups ? l.s : gr->ngroups));
  int *partial = weft_sched_alloc(s, sizeof(int) * (size_t)n);
  if (!scratch || !got || !partial) return -1;
  char *acc_own = scratch + (size_t)nheld * slot + slot; /* my group's partial of my block */
  /* 1. inside the group, block b is reduced at its holder */
  int h = 0;
  for (int b = 0; b < n; b++) {
    int holder = rs_holder(gr, l.g, b);
    const char *in = sb + (size_t)b * bytes;
    partial[b] = NODEP;
    if (holder != rank) {
      weft_sched_send(s, holder, in, bytes, c->tag, NODEP, NODEP);
      continue;
    }
    char *sl = scratch + (size_t)h++ * slot;
    char *dst = b == rank ? acc_own : sl + (size_t)l.me * bytes; /* where the group's partial goes */
    const char *part0 = NULL;
    int acc = NODEP;
    for (int i = 0; i < l.s; i++) {
      const char *p = l.members[i] == rank ? in : sl + (size_t)i * bytes;
      got[i] = l.members[i] == rank ? NODEP : weft_sched_recv(s, l.members[i], sl + (size_t)i * bytes, bytes, c->tag, NODEP, NODEP);
      if (i == 0) {
        part0 = p;
        acc = got[0];
        if (l.s == 1) acc = weft_sched_copy(s, dst, p, bytes, acc, NODEP);
      } else {
        acc = weft_sched_reduce(s, dst, i == 1 ? part0 : dst, p, cnt, c->dt, op, acc, got[i], NODEP);
      }
    }
    partial[b] = acc;
  }
  /* 2. partials of foreign blocks go to their rank; I add the others' partials of mine */
  weft_codec_id id = (weft_codec_id)c->codec;
  size_t cap = id ? weft_codec_max_bytes(id, c->codec_params, c->dt, cnt) : 0;
  int fixed = id ? weft_codec_fixed_size(id) : 1;
  size_t *lens = id ? weft_sched_alloc(s, sizeof(size_t) * 2 * (size_t)n) : NULL;
  if (id && !lens) return -1;
  h = 0;
  for (int b = 0; b < n; b++) {
    if (rs_holder(gr, l.g, b) != rank) continue;
    char *sl = scratch + (size_t)h++ * slot;
    if (b == rank) continue;
    if (!id) {
      weft_sched_send(s, b, sl + (size_t)l.me * bytes, bytes, c->tag, partial[b], NODEP);
      continue;
    }
    char *enc = weft_sched_alloc(s, cap);
    size_t *len = fixed ? NULL : &lens[b];
    int e = weft_sched_encode(s, id, c->codec_params, c->dt, sl + (size_t)l.me * bytes, cnt, enc, cap, len, NULL,
                         partial[b], NODEP);
    weft_sched_send_enc(s, b, enc, cap, len, c->tag, e, NODEP);
  }
  char *in_slot = scratch + (size_t)nheld * slot; /* partials of my block from the other groups */
  int acc = NODEP;
  const char *prev = NULL;
  for (int g = 0; g < gr->ngroups; g++) {
    const char *p;
    int ready;
    if (g == l.g) {
      p = acc_own;
      ready = partial[rank];
    } else {
      p = in_slot + (size_t)g * bytes;
      if (id) {
        char *enc = weft_sched_alloc(s, cap);
        size_t *len = fixed ? NULL : &lens[n + g];
        int got = weft_sched_recv_enc(s, rs_holder(gr, g, rank), enc, cap, len, c->tag, NODEP, NODEP);
        ready = weft_sched_decode(s, id, c->dt, enc, cap, len, (char *)p, cnt, got, NODEP);
      } else {
        ready = weft_sched_recv(s, rs_holder(gr, g, rank), (char *)p, bytes, c->tag, NODEP, NODEP);
      }
    }
    if (!prev) {
      prev = p;
      acc = ready;
    } else {
      int first = prev != rb;
      /* partial[rank] has read my block of sb, which rb aliases in place */
      acc = weft_sched_reduce(s, rb, first ? prev : rb, p, cnt, c->dt, op, acc, ready, partial[rank]);
      prev = rb;
    }
  }
  if (prev != rb) acc = weft_sched_copy(s, rb, prev, bytes, acc, NODEP);
  if (c->op == weftAvg) weft_sched_avg(s, rb, cnt, c->dt, n, acc);
  return s->oom ? -1 : 0;
}

/* Hierarchical broadcast, allgather and reduce-scatter (coll/hier_move.c):
 * the same transfers as the builders, one edge set per phase. */
void weft_hier_move_cost(const weft_cost_model *m, weft_coll_kind kind, double s, weft_cost_acc *a) {
  weft_edges *e = &a->e;
  const weft_groups *gr = weft_cost_slow_level(m);
  int n = m->n, k = 0, root = 0, rg = gr->group_of[root];
  for (int g = 0; g < gr->ngroups; g++)
    if (hier_size(gr, g) > k) k = hier_size(gr, g);
  for (int phase = 0; phase < 3; phase++) {
    e->n = 0;
    if (kind == COLL_BROADCAST) {
      double chunk = s / k;
      for (int j = 0; j < k; j++) {
        int o = hier_owner(gr, rg, j);
        if (phase == 0) weft_edges_add(e, root, o, chunk);
        for (int g = 0; g < gr->ngroups && phase == 1; g++)
          if (g != rg) weft_edges_add(e, o, hier_owner(gr, g, j), chunk);
        for (int g = 0; g < gr->ngroups && phase == 2; g++)
          for (int i = gr->start[g]; i < gr->start[g + 1]; i++)
            if (gr->members[i] != root) weft_edges_add(e, hier_owner(gr, g, j), gr->members[i], chunk);
      }
    } else if (kind == COLL_ALLGATHER && phase < 2) {
      for (int r = 0; r < n; r++) {
        int g = gr->group_of[r];
        for (int h = 0; h < gr->ngroups && phase == 0; h++)
          if (h != g) weft_edges_add(e, r, hier_owner(gr, h, gr->index_in[r]), s);
        for (int h = 0; h < gr->ngroups && phase == 1; h++) {
          int holder = h == g ? r : hier_owner(gr, h, gr->index_in[r]);
          for (int i = gr->start[h]; i < gr->start[h + 1]; i++) weft_edges_add(e, holder, gr->members[i], s);
        }
      }
    } else if (kind == COLL_REDUCESCATTER && phase < 2) {
      for (int b = 0; b < n; b++)
        for (int g = 0; g < gr->ngroups; g++) {
          int holder = gr->group_of[b] == g ? b : hier_owner(gr, g, b);
          for (int i = gr->start[g]; i < gr->start[g + 1] && phase == 0; i++) weft_edges_add(e, gr->members[i], holder, s);
          if (phase == 1) weft_edges_add(e, holder, b, s);
        }
      if (phase == 0) a->time += (double)n * s / m->reduce_bw;
    }
    weft_cost_step(m, e, 1, a);
  }
}
