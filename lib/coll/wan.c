/* Allreduce in place among ranks joined by slow links: the inter-site phase
 * of the hierarchical allreduce. Piece q of the buffer belongs to rank q:
 *   stage 1 (reduce)  every rank sends piece q of its partial sum to q,
 *                     encoded when a codec is on; q decodes the pieces it
 *                     receives and adds them, in rank order, to its own
 *                     exact partial (in the data type: fp32 for fp32);
 *   stage 2 (gather)  q sends its finished piece to every rank, encoded
 *                     once; all ranks, q included, decode the same bytes.
 * So each value is encoded at most twice whatever the number of groups (no
 * error compounding per hop), and every rank ends with the same bits.
 *
 * The two stages are separate builders so that the hierarchical allreduce
 * can add stage 1 of every chunk before stage 2 of any: messages to a peer
 * are sent in the order they were added, so no finished piece waits for a
 * round trip in front of partials that could already travel, and a long
 * link stays busy. Without a codec, pieces travel raw (no copies).
 * Error feedback (c->ef): the residual of an element lives at its index, in
 * the piece a rank encodes it for (others' pieces as partials, its own as the
 * finished piece). Lossless codecs skip decoding their own finished piece. */
#include "codec/codec.h"
#include "coll/coll.h"
#include "util/call.h"

struct wan_state {
  weft_call call; /* this chunk: sendbuf = recvbuf = the chunk, in place */
  /* derived once from the call, for both stages */
  weft_codec_id id;
  const weft_codec_params *prm;
  size_t es, off_me, len_me; /* element size; my piece */
  int fixed;                 /* encoded sizes are known (no length words) */
  size_t *cap, *lens;  /* per piece: encoded capacity; lengths (4n) */
  char **out, **in;    /* per piece: encoded partial out; partial then finished in */
  int *read;           /* per piece: my partial has been read (encoded or sent) */
};

/* Where the decoded partial sits after the encoded bytes (aligned: the
 * reduction kernels are vectorized). */
static size_t dec_offset(size_t a, size_t b) { return ((a > b ? a : b) + 63) & ~(size_t)63; }

wan_state *weft_wan_state_new(weft_sched *s, const weft_call *c, int me, int n) {
  wan_state *w = weft_sched_alloc(s, sizeof *w);
  if (!w) return NULL;
  w->call = *c;
  w->id = (weft_codec_id)c->codec;
  w->prm = c->codec_params;
  w->es = weft_dtype_size(c->dt);
  w->fixed = !w->id || weft_codec_fixed_size(w->id);
  weft_split(c->count, n, me, &w->off_me, &w->len_me);
  w->cap = weft_sched_alloc(s, sizeof(size_t) * (size_t)n * 5);
  w->lens = w->cap ? w->cap + n : NULL;
  w->out = weft_sched_alloc(s, sizeof(char *) * (size_t)n * 2);
  w->in = w->out ? w->out + n : NULL;
  w->read = weft_sched_alloc(s, sizeof(int) * (size_t)n);
  return s->oom ? NULL : w;
}

int weft_wan_reduce_stage(weft_sched *s, const void *state, int me, int n) {
  const wan_state *w = state;
  const weft_call *c = &w->call;
  weft_codec_id id = w->id;
  const weft_codec_params *prm = w->prm;
  weftDataType_t dt = c->dt;
  size_t es = w->es, off_me = w->off_me, len_me = w->len_me;
  int fixed = w->fixed;
  char *buf = c->recvbuf;
  if (n == 1) return 0;
  size_t cap_me = id ? weft_codec_max_bytes(id, prm, dt, len_me) : len_me * es;
  /* a float32 sum takes each decoded block straight into my piece: no
   * room for a decoded partial after the encoded bytes */
  int fused = id && weft_codec_can_decode_add(id, dt) && (c->op == weftSum || c->op == weftAvg);
  for (int q = 0; q < n; q++) {
    size_t off, len;
    weft_split(c->count, n, q, &off, &len);
    w->cap[q] = id ? weft_codec_max_bytes(id, prm, dt, len) : len * es;
    w->out[q] = q == me || !id ? NULL : weft_sched_alloc(s, w->cap[q]);
    w->in[q] = q == me ? NULL
                       : weft_sched_alloc(s, dec_offset(id ? cap_me : 0, id ? w->cap[q] : 0) + (fused ? 0 : len_me * es));
  }
  if (s->oom) return -1;
  size_t *lo = w->lens, *li = w->lens + n;
  /* my partial of every other piece to its owner */
  for (int q = 0; q < n; q++) {
    if (q == me) continue;
    size_t off, len;
    weft_split(c->count, n, q, &off, &len);
    if (!id) {
      w->read[q] = weft_sched_send(s, q, buf + off * es, len * es, c->tag, NODEP, NODEP);
      continue;
    }
    w->read[q] = weft_sched_encode(s, id, prm, dt, buf + off * es, len, w->out[q], w->cap[q], fixed ? NULL : &lo[q],
                              c->ef ? c->ef + off : NULL, NODEP, NODEP);
    weft_sched_send_enc(s, q, w->out[q], w->cap[q], fixed ? NULL : &lo[q], c->tag, w->read[q], NODEP);
  }
  /* the others' partials of my piece, decoded and added in rank order */
  int acc = NODEP;
  for (int q = 0; q < n; q++) {
    if (q == me) continue;
    char *dec = w->in[q] + dec_offset(id ? cap_me : 0, id ? w->cap[q] : 0);
    int ready;
    if (!id) {
      ready = weft_sched_recv(s, q, dec, len_me * es, c->tag, NODEP, NODEP);
    } else {
      int got = weft_sched_recv_enc(s, q, w->in[q], cap_me, fixed ? NULL : &li[q], c->tag, NODEP, NODEP);
      if (fused) {
        acc = weft_sched_decode_add(s, id, dt, w->in[q], cap_me, NULL, buf + off_me * es, len_me, got, acc);
        continue;
      }
      ready = weft_sched_decode(s, id, dt, w->in[q], cap_me, fixed ? NULL : &li[q], dec, len_me, got, NODEP);
    }
    acc = weft_sched_reduce(s, buf + off_me * es, buf + off_me * es, dec, len_me, dt, c->op, acc, ready, NODEP);
  }
  return s->oom ? -1 : 0;
}

int weft_wan_gather_stage(weft_sched *s, const void *state, int me, int n) {
  const wan_state *w = state;
  const weft_call *c = &w->call;
  weft_codec_id id = w->id;
  const weft_codec_params *prm = w->prm;
  weftDataType_t dt = c->dt;
  size_t es = w->es, off_me = w->off_me, len_me = w->len_me;
  int fixed = w->fixed;
  char *buf = c->recvbuf;
  if (n == 1) return 0;
  size_t *lf = w->lens + 2 * n, *lfin = w->lens + 3 * n;
  /* my finished piece, encoded once, to everyone (the sub-schedule runs
   * after stage 1: the piece is reduced and my partials have been read) */
  if (!id) {
    for (int q = 0; q < n; q++)
      if (q != me) weft_sched_send(s, q, buf + off_me * es, len_me * es, c->tag, NODEP, NODEP);
  } else {
    char *fin = weft_sched_alloc(s, w->cap[me]);
    if (!fin) return -1;
    int fe = weft_sched_encode(s, id, prm, dt, buf + off_me * es, len_me, fin, w->cap[me], fixed ? NULL : lfin,
                          c->ef ? c->ef + off_me : NULL, NODEP, NODEP);
    for (int q = 0; q < n; q++)
      if (q != me) weft_sched_send_enc(s, q, fin, w->cap[me], fixed ? NULL : lfin, c->tag, fe, NODEP);
    if (weft_codec_lossy(id)) weft_sched_decode(s, id, dt, fin, w->cap[me], NULL, buf + off_me * es, len_me, fe, NODEP);
  }
  /* the others' finished pieces, into place */
  for (int q = 0; q < n; q++) {
    if (q == me) continue;
    size_t off, len;
    weft_split(c->count, n, q, &off, &len);
    if (!id) {
      weft_sched_recv(s, q, buf + off * es, len * es, c->tag, NODEP, NODEP);
      continue;
    }
    int got = weft_sched_recv_enc(s, q, w->in[q], w->cap[q], fixed ? NULL : &lf[q], c->tag, NODEP, NODEP);
    weft_sched_decode(s, id, dt, w->in[q], w->cap[q], fixed ? NULL : &lf[q], buf + off * es, len, got, NODEP);
  }
  return s->oom ? -1 : 0;
}
