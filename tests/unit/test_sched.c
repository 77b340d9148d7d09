/* Runs the schedules of all ranks of a collective in one process over a
 * simulated network (in-order channels per rank pair) and checks the results
 * exactly. Tiny chunks force deep pipelines, and many rank counts are cheap
 * here, so algorithm bugs show up without sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "coll/algo.h"
#include "coll/coll.h"
#include "coll/hier.h"
#include "reduce/reduce.h"

enum { WAITING = 0, READY, DONE };

typedef struct msg {
  struct msg *next;
  size_t n;
  uint64_t tag;
  char data[];
} msg;

typedef struct {
  msg *head, *tail;
} channel;

typedef struct {
  int n;
  weft_sched *s;
  channel *ch; /* ch[src * n + dst] */
  int **snext, **rnext; /* per rank, per peer: index of the next step to consider */
} sim;

static const weft_groups *g_groups; /* layout for ALGO_HIER cases */

static void push(channel *c, const void *data, size_t n, uint64_t tag) {
  msg *m = malloc(sizeof *m + n + 1);
  assert_non_null(m);
  m->next = NULL;
  m->n = n;
  m->tag = tag;
  if (n) memcpy(m->data, data, n);
  if (c->tail) c->tail->next = m;
  else c->head = m;
  c->tail = m;
}

static void finish(weft_sched *s, int i) {
  s->steps[i].state = DONE;
  for (int e = s->steps[i].succ; e >= 0; e = s->edges[e].next) s->steps[s->edges[e].to].npending--;
}

/* Next step of `kind` to `peer` after index *cur that is not done yet. */
static int next_of(weft_sched *s, int *cur, int kind, int peer) {
  while (*cur < s->nsteps) {
    weft_step *st = &s->steps[*cur];
    if (st->kind == kind && st->msg.peer == peer && st->state != DONE) return *cur;
    (*cur)++;
  }
  return -1;
}

/* Returns 1 when every step of every rank ran, 0 on deadlock. */
static int simulate(sim *S) {
  int n = S->n;
  for (;;) {
    int progress = 0, left = 0;
    for (int r = 0; r < n; r++) {
      weft_sched *s = &S->s[r];
      for (int i = 0; i < s->nsteps; i++) {
        weft_step *st = &s->steps[i];
        if (st->state == DONE) continue;
        left++;
        if (st->npending > 0) continue;
        if (st->kind == ST_REDUCE) {
          weft_reduce(st->reduce.dst, st->reduce.a, st->reduce.b, st->reduce.count, (weftDataType_t)st->reduce.dt,
                      (weftRedOp_t)st->reduce.op);
        } else if (st->kind == ST_COPY) {
          memmove(st->copy.dst, st->copy.src, st->copy.n);
        } else if (st->kind == ST_AVG) {
          weft_avg_finish(st->avg.buf, st->avg.count, (weftDataType_t)st->avg.dt, st->avg.nranks);
        } else {
          continue;
        }
        finish(s, i);
        progress = 1;
      }
      for (int p = 0; p < n; p++) {
        int i;
        while ((i = next_of(s, &S->snext[r][p], ST_SEND, p)) >= 0 && s->steps[i].npending == 0) {
          push(&S->ch[r * n + p], s->steps[i].msg.src, s->steps[i].msg.n, s->steps[i].msg.tag);
          finish(s, i);
          progress = 1;
        }
        channel *c = &S->ch[p * n + r];
        while ((i = next_of(s, &S->rnext[r][p], ST_RECV, p)) >= 0 && s->steps[i].npending == 0 && c->head) {
          msg *m = c->head;
          c->head = m->next;
          if (!c->head) c->tail = NULL;
          assert_int_equal(m->n, s->steps[i].msg.n);
          assert_int_equal(m->tag, s->steps[i].msg.tag);
          if (m->n) memcpy(s->steps[i].msg.dst, m->data, m->n);
          free(m);
          finish(s, i);
          progress = 1;
        }
      }
    }
    if (!left) return 1;
    if (!progress) return 0;
  }
}

static int32_t input(int rank, size_t i) { return (int32_t)((rank * 7 + (int)(i % 13)) % 11) - 3; }

/* Runs collective `kind` with algorithm `algo` on n ranks; checks results. */
static void run_case(weft_coll_kind kind, weft_algo algo, int n, size_t count, int inplace, int root,
                     weftRedOp_t op) {
  size_t in_elems = count, out_elems = count;
  if (kind == COLL_ALLGATHER) out_elems = count * (size_t)n;
  if (kind == COLL_REDUCESCATTER || kind == COLL_ALLTOALL) in_elems = count * (size_t)n;
  if (kind == COLL_ALLTOALL) out_elems = count * (size_t)n;
  if (kind == COLL_GATHER) out_elems = count * (size_t)n;
  if (kind == COLL_SCATTER) in_elems = count * (size_t)n;
  sim S = {n, calloc((size_t)n, sizeof(weft_sched)), calloc((size_t)n * n, sizeof(channel)),
           calloc((size_t)n, sizeof(int *)), calloc((size_t)n, sizeof(int *))};
  int32_t **in = calloc((size_t)n, sizeof *in), **out = calloc((size_t)n, sizeof *out);
  for (int r = 0; r < n; r++) {
    size_t big = (in_elems > out_elems ? in_elems : out_elems) + 1;
    in[r] = calloc(big, sizeof(int32_t));
    out[r] = calloc(big, sizeof(int32_t));
    for (size_t i = 0; i < in_elems; i++) in[r][i] = input(r, i);
    for (size_t i = 0; i < out_elems; i++) out[r][i] = -999;
    S.snext[r] = calloc((size_t)n, sizeof(int));
    S.rnext[r] = calloc((size_t)n, sizeof(int));
    weft_call c = {.kind = kind, .sendbuf = in[r], .recvbuf = out[r], .count = count, .dt = weftInt32,
                   .op = op, .root = root, .algo = algo, .chunk_bytes = 8, .tag = 0x1000u + (unsigned)kind,
                   .groups = g_groups};
    int rooted_inplace = inplace && r == root; /* gather/scatter: the root's form */
    if (kind == COLL_GATHER || kind == COLL_SCATTER) {
      if (rooted_inplace && kind == COLL_GATHER) {
        for (size_t i = 0; i < count; i++) out[r][(size_t)r * count + i] = in[r][i];
        c.sendbuf = out[r] + (size_t)r * count;
      } else if (rooted_inplace) {
        c.recvbuf = in[r] + (size_t)r * count;
      }
    } else if (inplace) {
      if (kind == COLL_ALLGATHER) {
        for (size_t i = 0; i < count; i++) out[r][(size_t)r * count + i] = in[r][i];
        c.sendbuf = out[r] + (size_t)r * count;
      } else if (kind == COLL_REDUCESCATTER) {
        c.recvbuf = in[r] + (size_t)r * count;
      } else {
        memcpy(out[r], in[r], count * sizeof(int32_t));
        c.sendbuf = out[r];
      }
    }
    weft_sched_init(&S.s[r]);
    assert_int_equal(weft_coll_build(&S.s[r], &c, r, n), 0);
  }
  assert_true(simulate(&S));
  for (int r = 0; r < n; r++) {
    const int32_t *res = (kind == COLL_REDUCESCATTER && inplace) || (kind == COLL_SCATTER && inplace && r == root)
                             ? in[r] + (size_t)r * count
                             : out[r];
    int wide = kind == COLL_ALLGATHER || kind == COLL_ALLTOALL || kind == COLL_GATHER;
    for (size_t i = 0; i < (wide ? out_elems : count); i++) {
      int64_t want = 0;
      switch (kind) {
        case COLL_ALLREDUCE:
        case COLL_REDUCE:
        case COLL_REDUCESCATTER: {
          size_t at = kind == COLL_REDUCESCATTER ? (size_t)r * count + i : i;
          int64_t acc = op == weftMax ? INT32_MIN : 0;
          for (int k = 0; k < n; k++) acc = op == weftMax ? (input(k, at) > acc ? input(k, at) : acc) : acc + input(k, at);
          want = op == weftAvg ? acc / n : acc;
          if (kind == COLL_REDUCE && r != root) want = inplace ? input(r, i) : -999;
          break;
        }
        case COLL_BROADCAST: want = input(root, i); break;
        case COLL_ALLGATHER: want = input((int)(i / count), i % count); break;
        case COLL_ALLTOALL: want = input((int)(i / count), (size_t)r * count + i % count); break;
        case COLL_GATHER: want = r == root ? input((int)(i / count), i % count) : -999; break;
        case COLL_SCATTER: want = input(root, (size_t)r * count + i); break;
        default: break;
      }
      if (res[i] != want) {
        print_error("%s/%s n=%d count=%zu inplace=%d root=%d rank=%d i=%zu: got %d want %lld\n",
                    weft_coll_name(kind), weft_algo_name(algo), n, count, inplace, root, r, i, res[i],
                    (long long)want);
        fail();
      }
    }
  }
  for (int r = 0; r < n; r++) {
    weft_sched_free(&S.s[r]);
    free(in[r]);
    free(out[r]);
    free(S.snext[r]);
    free(S.rnext[r]);
  }
  for (int i = 0; i < n * n; i++) assert_null(S.ch[i].head);
  free(in);
  free(out);
  free(S.s);
  free(S.ch);
  free(S.snext);
  free(S.rnext);
}

static const size_t counts[] = {1, 2, 5, 17, 64, 101};

/* Recursive halving-doubling allreduce: powers of two and folded pairs. */
static void test_rhd(void **state) {
  (void)state;
  for (int n = 1; n <= 16; n++)
    for (size_t ci = 0; ci < sizeof counts / sizeof *counts; ci++)
      for (int inplace = 0; inplace < 2; inplace++) {
        run_case(COLL_ALLREDUCE, ALGO_RHD, n, counts[ci], inplace, 0, weftSum);
        run_case(COLL_ALLREDUCE, ALGO_RHD, n, counts[ci], inplace, 0, weftAvg);
        run_case(COLL_ALLREDUCE, ALGO_RHD, n, counts[ci], inplace, 0, weftMax);
        run_case(COLL_ALLGATHER, ALGO_RHD, n, counts[ci], inplace, 0, weftSum);
        run_case(COLL_REDUCESCATTER, ALGO_RHD, n, counts[ci], inplace, 0, n % 2 ? weftMax : weftAvg);
      }
}

/* Hierarchical algorithms on many layouts, including groups whose ranks are
 * not contiguous (rank r in group key[r]) and groups of one rank. */
static void test_hier_layouts(void **state) {
  (void)state;
  uint64_t seed = 12345, key[16];
  int mem[4 * 16 + 1];
  weft_groups g;
  for (int trial = 0; trial < 60; trial++) {
    int n = 2 + trial % 11, ng = 1 + (trial / 11) % (n < 5 ? n : 5);
    for (int r = 0; r < n; r++) {
      seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
      key[r] = trial % 3 == 0 ? (uint64_t)(r * ng / n) : (seed >> 33) % (uint64_t)ng; /* contiguous or scattered */
    }
    weft_groups_from_keys(&g, key, n, mem);
    g_groups = &g;
    for (size_t ci = 0; ci < sizeof counts / sizeof *counts; ci += 2)
      for (int inplace = 0; inplace < 2; inplace++) {
        run_case(COLL_ALLREDUCE, ALGO_HIER, n, counts[ci], inplace, 0, trial % 2 ? weftSum : weftAvg);
        run_case(COLL_REDUCESCATTER, ALGO_HIER, n, counts[ci], inplace, 0, trial % 2 ? weftMax : weftSum);
        run_case(COLL_ALLGATHER, ALGO_HIER, n, counts[ci], inplace, 0, weftSum);
        run_case(COLL_BROADCAST, ALGO_HIER, n, counts[ci], inplace, trial % n, weftSum);
      }
    g_groups = NULL;
  }
}

/* weft_hier_slow_pair is exactly "owns a common chunk" of the pipelined
 * hierarchical allreduce (chunks j < K x pieces, owner hier_owner). */
static void test_hier_slow_pairs(void **state) {
  (void)state;
  uint64_t seed = 777, key[16];
  int mem[4 * 16 + 1];
  weft_groups g;
  for (int trial = 0; trial < 80; trial++) {
    int n = 2 + trial % 13, ng = 2 + (trial / 13) % 4;
    if (ng > n) ng = n;
    for (int r = 0; r < n; r++) {
      seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
      key[r] = trial % 2 ? (uint64_t)(r * ng / n) : (seed >> 33) % (uint64_t)ng;
    }
    weft_groups_from_keys(&g, key, n, mem);
    hier_layout l = hier_layout_of(&g, 0);
    for (int a = 0; a < n; a++)
      for (int b = 0; b < n; b++) {
        int ga = g.group_of[a], gb = g.group_of[b], shared = 0;
        for (int j = 0; j < l.k * 64 && ga != gb; j++)
          shared |= hier_owner(&g, ga, j) == a && hier_owner(&g, gb, j) == b;
        assert_int_equal(weft_hier_slow_pair(&g, a, b), shared);
      }
  }
}

static void test_reducing(void **state) {
  (void)state;
  const weft_coll_kind kinds[] = {COLL_ALLREDUCE, COLL_REDUCE, COLL_REDUCESCATTER};
  const weft_algo algos[] = {ALGO_RING, ALGO_TREE, ALGO_DIRECT};
  for (int k = 0; k < 3; k++)
    for (int a = 0; a < 3; a++) {
      weft_algo algo = algos[a];
      if (kinds[k] == COLL_REDUCESCATTER && algo != ALGO_RING) continue;
      if (kinds[k] == COLL_REDUCE && algo == ALGO_DIRECT) continue;
      for (int n = 1; n <= 9; n++)
        for (size_t ci = 0; ci < sizeof counts / sizeof *counts; ci++)
          for (int inplace = 0; inplace < 2; inplace++) {
            run_case(kinds[k], algo, n, counts[ci], inplace, n - 1, weftSum);
            run_case(kinds[k], algo, n, counts[ci], inplace, 0, weftAvg);
            run_case(kinds[k], algo, n, counts[ci], inplace, n / 2, weftMax);
          }
    }
}

static void test_moving(void **state) {
  (void)state;
  for (int n = 1; n <= 9; n++)
    for (size_t ci = 0; ci < sizeof counts / sizeof *counts; ci++)
      for (int inplace = 0; inplace < 2; inplace++) {
        for (int root = 0; root < n; root++) {
          run_case(COLL_BROADCAST, ALGO_RING, n, counts[ci], inplace, root, weftSum);
          run_case(COLL_BROADCAST, ALGO_TREE, n, counts[ci], inplace, root, weftSum);
        }
        run_case(COLL_ALLGATHER, ALGO_RING, n, counts[ci], inplace, 0, weftSum);
        for (int root = 0; root < n; root++) {
          run_case(COLL_GATHER, ALGO_DIRECT, n, counts[ci], inplace, root, weftSum);
          run_case(COLL_SCATTER, ALGO_DIRECT, n, counts[ci], inplace, root, weftSum);
        }
        if (!inplace) run_case(COLL_ALLTOALL, ALGO_PAIRWISE, n, counts[ci], 0, 0, weftSum);
      }
}

/* weft_groups_from_keys against its definition (groups numbered by their
 * lowest rank, members in rank order) for scattered and contiguous keys,
 * including one group per rank. */
static void test_groups_from_keys(void **state) {
  (void)state;
  enum { N = 300 };
  static uint64_t key[N];
  static int mem[4 * N + 1];
  uint64_t seed = 7;
  for (int trial = 0; trial < 12; trial++) {
    int n = 1 + trial * 25, ngk = 1 + trial % 5 * 70;
    for (int r = 0; r < n; r++) {
      seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
      key[r] = trial % 3 == 0 ? (uint64_t)r * 977 : (seed >> 33) % (uint64_t)ngk;
    }
    weft_groups g;
    weft_groups_from_keys(&g, key, n, mem);
    int expect_ng = 0;
    for (int r = 0; r < n; r++) {
      int q = 0;
      while (q < r && key[q] != key[r]) q++;
      int want = q < r ? g.group_of[q] : expect_ng++;
      assert_int_equal(g.group_of[r], want);
      assert_int_equal(g.members[g.start[want] + g.index_in[r]], r);
      if (g.index_in[r] > 0) assert_true(g.members[g.start[want] + g.index_in[r] - 1] < r);
    }
    assert_int_equal(g.ngroups, expect_ng);
    assert_int_equal(g.start[g.ngroups], n);
  }
}

static void test_large_rank_counts(void **state) {
  (void)state;
  const int ns[] = {16, 31, 33};
  for (int i = 0; i < 3; i++) {
    run_case(COLL_ALLREDUCE, ALGO_RING, ns[i], 100, 0, 0, weftSum);
    run_case(COLL_ALLREDUCE, ALGO_TREE, ns[i], 100, 1, 0, weftSum);
    run_case(COLL_ALLREDUCE, ALGO_DIRECT, ns[i], 100, 1, 0, weftSum);
    run_case(COLL_REDUCE, ALGO_TREE, ns[i], 50, 0, ns[i] - 3, weftSum);
    run_case(COLL_BROADCAST, ALGO_TREE, ns[i], 50, 0, 5, weftSum);
    run_case(COLL_GATHER, ALGO_DIRECT, ns[i], 20, 1, ns[i] - 1, weftSum);
    run_case(COLL_SCATTER, ALGO_DIRECT, ns[i], 20, 0, 3, weftSum);
  }
  /* the barrier's tokens: every schedule completes and every link is drained */
  for (int n = 1; n <= 33; n++) run_case(COLL_BARRIER, ALGO_DISSEM, n, 0, 0, 0, weftSum);
}

/* The v-variants: block sizes from `shape` (0: all equal, 1: ragged with
 * zeros, 2: one rank holds everything, 3: all empty but rank 1's one
 * element, sent to rank 2),
 * blocks laid out in reverse rank order with a gap of one element, so a
 * write past a block or into a gap shows (gaps must keep -999). */
static size_t vcount(int shape, int from, int to, size_t scale) {
  switch (shape) {
    case 0: return scale;
    case 1: return (size_t)((from * 5 + to * 3) % 4 == 0 ? 0 : (from * 5 + to * 3) % 7) * scale / 3;
    case 2: return from == 0 ? scale * 2 + 1 : 0;
    default: return from == 1 && to == 2 ? 1 : 0;
  }
}

/* Blocks of cnt[i] in reverse rank order, one element apart; returns the
 * buffer's extent. */
static size_t vdispls(const size_t *cnt, int n, size_t *dsp) {
  size_t at = 0;
  for (int i = n - 1; i >= 0; i--) {
    dsp[i] = at;
    at += cnt[i] + 1;
  }
  return at;
}

static void run_vcase(weft_coll_kind kind, int n, int shape, size_t scale, int inplace, weftRedOp_t op) {
  sim S = {n, calloc((size_t)n, sizeof(weft_sched)), calloc((size_t)n * n, sizeof(channel)),
           calloc((size_t)n, sizeof(int *)), calloc((size_t)n, sizeof(int *))};
  size_t *vec = calloc((size_t)n * 4 * (size_t)n, sizeof *vec); /* rank r's vec at r*4n */
  int32_t **in = calloc((size_t)n, sizeof *in), **out = calloc((size_t)n, sizeof *out);
  size_t *in_len = calloc((size_t)n, sizeof *in_len), *out_len = calloc((size_t)n, sizeof *out_len);
  for (int r = 0; r < n; r++) {
    size_t *v = vec + (size_t)r * 4 * (size_t)n;
    if (kind == COLL_ALLTOALLV) {
      for (int j = 0; j < n; j++) v[j] = vcount(shape, r, j, scale), v[2 * n + j] = vcount(shape, j, r, scale);
      in_len[r] = vdispls(v, n, v + n);
      out_len[r] = vdispls(v + 2 * n, n, v + 3 * n);
    } else {
      for (int j = 0; j < n; j++) v[j] = vcount(shape, j, j + 1, scale);
      size_t ext = vdispls(v, n, v + n);
      if (kind == COLL_REDUCESCATTERV) /* back to back, as the API lays them out */
        for (int j = 0; j < n; j++) v[n + j] = j ? v[n + j - 1] + v[j - 1] : 0, ext = v[n + j] + v[j];
      in_len[r] = kind == COLL_ALLGATHERV ? v[r] : ext;
      out_len[r] = kind == COLL_ALLGATHERV ? ext : v[r];
    }
    in[r] = calloc(in_len[r] + out_len[r] + 1, sizeof(int32_t));
    out[r] = calloc(in_len[r] + out_len[r] + 1, sizeof(int32_t));
    for (size_t i = 0; i < in_len[r]; i++) in[r][i] = input(r, i);
    for (size_t i = 0; i < out_len[r]; i++) out[r][i] = -999;
    S.snext[r] = calloc((size_t)n, sizeof(int));
    S.rnext[r] = calloc((size_t)n, sizeof(int));
    weft_call c = {.kind = kind, .sendbuf = in[r], .recvbuf = out[r], .dt = weftInt32, .op = op,
                   .algo = kind == COLL_ALLTOALLV ? ALGO_PAIRWISE : ALGO_RING, .chunk_bytes = 8,
                   .tag = 0x2000u + (unsigned)kind, .vec = v};
    if (inplace && kind == COLL_ALLGATHERV) {
      for (size_t i = 0; i < v[r]; i++) out[r][v[n + r] + i] = in[r][i];
      c.sendbuf = out[r] + v[n + r];
    } else if (inplace && kind == COLL_REDUCESCATTERV) {
      c.recvbuf = in[r] + v[n + r];
    }
    weft_sched_init(&S.s[r]);
    assert_int_equal(weft_coll_build(&S.s[r], &c, r, n), 0);
    assert_true(S.s[r].nsteps > 0);
  }
  assert_true(simulate(&S));
  for (int r = 0; r < n; r++) {
    const size_t *v = vec + (size_t)r * 4 * (size_t)n;
    int32_t *res = inplace && kind == COLL_REDUCESCATTERV ? in[r] + v[n + r] : out[r];
    for (size_t i = 0; i < out_len[r]; i++) {
      int64_t want = -999;
      for (int b = 0; b < n; b++) {
        size_t at = kind == COLL_ALLTOALLV ? v[3 * n + b] : v[n + b], len = kind == COLL_ALLTOALLV ? v[2 * n + b] : v[b];
        if (kind == COLL_ALLGATHERV && i >= at && i < at + len) want = input(b, i - at);
        if (kind == COLL_ALLTOALLV && i >= at && i < at + len) /* rank b's block for r sits at its sdispls[r] */
          want = input(b, vec[(size_t)b * 4 * (size_t)n + (size_t)n + (size_t)r] + i - at);
      }
      if (kind == COLL_REDUCESCATTERV) {
        int64_t acc = op == weftMax ? INT32_MIN : 0;
        for (int k = 0; k < n; k++) {
          int32_t x = input(k, v[n + r] + i);
          acc = op == weftMax ? (x > acc ? x : acc) : acc + x;
        }
        want = op == weftAvg ? acc / n : acc;
      }
      if (res[i] != want) {
        print_error("%s n=%d shape=%d scale=%zu inplace=%d rank=%d i=%zu: got %d want %lld\n", weft_coll_name(kind),
                    n, shape, scale, inplace, r, i, res[i], (long long)want);
        fail();
      }
    }
  }
  for (int r = 0; r < n; r++) {
    weft_sched_free(&S.s[r]);
    free(in[r]);
    free(out[r]);
    free(S.snext[r]);
    free(S.rnext[r]);
  }
  for (int i = 0; i < n * n; i++) assert_null(S.ch[i].head);
  free(in);
  free(out);
  free(in_len);
  free(out_len);
  free(vec);
  free(S.s);
  free(S.ch);
  free(S.snext);
  free(S.rnext);
}

/* AllGatherV, ReduceScatterV (sum, avg, max) and AllToAllV on 1 to 9 ranks
 * and 16, every block shape, blocks of several chunks, in place and not. */
static void test_vblocks(void **state) {
  (void)state;
  const size_t scales[] = {1, 10}; /* blocks of a chunk or less, and of up to 10 chunks (chunk_bytes 8) */
  const int ns[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 16};
  for (int ni = 0; ni < 10; ni++)
    for (int shape = 0; shape < 4; shape++)
      for (int si = 0; si < 2; si++)
        for (int inplace = 0; inplace < 2; inplace++) {
          int n = ns[ni];
          run_vcase(COLL_ALLGATHERV, n, shape, scales[si], inplace, weftSum);
          run_vcase(COLL_REDUCESCATTERV, n, shape, scales[si], inplace, shape % 2 ? weftMax : weftSum);
          run_vcase(COLL_REDUCESCATTERV, n, shape, scales[si], inplace, weftAvg);
          if (!inplace) run_vcase(COLL_ALLTOALLV, n, shape, scales[si], 0, weftSum);
        }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reducing),
      cmocka_unit_test(test_rhd),
      cmocka_unit_test(test_hier_layouts),
      cmocka_unit_test(test_hier_slow_pairs),
      cmocka_unit_test(test_moving),
      cmocka_unit_test(test_groups_from_keys),
      cmocka_unit_test(test_large_rank_counts),
      cmocka_unit_test(test_vblocks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
