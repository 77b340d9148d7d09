/* Allreduce in place among ranks joined by slow links, with a codec on every
 * message (the inter-group phase of the hierarchical allreduce when a WAN
 * codec is on). Piece q of the buffer belongs to rank q:
 *   1. every rank encodes piece q of its partial sum and sends it to q;
 *   2. q decodes the pieces it receives and adds them, in rank order, to its
 *      own exact partial (the sum is taken in the data type, fp32 for fp32);
 *   3. q encodes the finished piece once and sends those bytes to every
 *      rank; all ranks, q included, decode the same bytes.
 * So each value is encoded at most twice whatever the number of groups (no
 * error compounding per hop), and every rank ends with the same bits.
 * Error feedback (c->ef): the residual of an element lives at its index, in
 * the piece a rank encodes it for (others' pieces as partials, its own as the
 * finished piece). Lossless codecs skip decoding their own finished piece. */
#include "codec/codec.h"
#include "coll/coll.h"
#include "reduce/reduce.h"

/* Where the decoded partial sits after the encoded bytes (aligned: the
 * reduction kernels are vectorized). */
static size_t dec_offset(size_t a, size_t b) { return ((a > b ? a : b) + 63) & ~(size_t)63; }

int wan_allreduce(weft_sched *s, const weft_call *c, int me, int n) {
  if (n == 1) return 0;
  weft_codec_id id = (weft_codec_id)c->codec;
  const weft_codec_params *prm = c->codec_params;
  weftDataType_t dt = c->dt;
  size_t es = weft_dtype_size(dt);
  char *buf = c->recvbuf;
  int fixed = weft_codec_fixed_size(id), lossy = weft_codec_lossy(id);
  size_t *cap = sched_alloc(s, sizeof(size_t) * (size_t)n * 5), *lens = cap ? cap + n : NULL;
  int *sent = sched_alloc(s, sizeof(int) * (size_t)n * 2), *read = sent ? sent + n : NULL;
  char **out = sched_alloc(s, sizeof(char *) * (size_t)n * 2), **in = out ? out + n : NULL;
  if (!cap || !sent || !out) return -1;
  size_t off_me, len_me;
  weft_split(c->count, n, me, &off_me, &len_me);
  size_t cap_me = weft_codec_max_bytes(id, prm, dt, len_me);
  for (int q = 0; q < n; q++) {
    size_t off, len;
    weft_split(c->count, n, q, &off, &len);
    cap[q] = weft_codec_max_bytes(id, prm, dt, len);
    /* out[q]: my partial of piece q, encoded; in[q]: q's partial of mine, then
     * q's finished piece (the decoded partial goes to dec, below) */
    out[q] = q == me ? NULL : sched_alloc(s, cap[q]);
    in[q] = q == me ? NULL : sched_alloc(s, dec_offset(cap_me, cap[q]) + len_me * es);
  }
  char *fin = sched_alloc(s, cap_me);
  if (!fin || s->oom) return -1;
  size_t *lo = lens, *li = lens + n, *lf = lens + 2 * n, *lfin = lens + 3 * n;
  size_t *L = fixed ? NULL : lo;
  /* 1. my partial of every other piece, encoded, to its owner */
  for (int q = 0; q < n; q++) {
    if (q == me) continue;
    size_t off, len;
    weft_split(c->count, n, q, &off, &len);
    read[q] = sched_encode(s, id, prm, dt, buf + off * es, len, out[q], cap[q], L ? &lo[q] : NULL,
                           c->ef ? c->ef + off : NULL, NODEP, NODEP);
    sent[q] = sched_send_enc(s, q, out[q], cap[q], L ? &lo[q] : NULL, c->tag, read[q], NODEP);
  }
  /* 2. the others' partials of my piece, decoded and added in rank order */
  int acc = NODEP;
  for (int q = 0; q < n; q++) {
    if (q == me) continue;
    char *dec = in[q] + dec_offset(cap_me, cap[q]);
    int got = sched_recv_enc(s, q, in[q], cap_me, L ? &li[q] : NULL, c->tag, NODEP, NODEP);
    int d = sched_decode(s, id, dt, in[q], cap_me, L ? &li[q] : NULL, dec, len_me, got, NODEP);
    acc = sched_reduce(s, buf + off_me * es, buf + off_me * es, dec, len_me, dt, c->op, acc, d, NODEP);
  }
  /* 3. my finished piece, encoded once, to everyone; theirs to me (after my
   * encoder has read the piece the decoded bytes overwrite) */
  int fe = sched_encode(s, id, prm, dt, buf + off_me * es, len_me, fin, cap_me, L ? lfin : NULL,
                        c->ef ? c->ef + off_me : NULL, acc, NODEP);
  for (int q = 0; q < n; q++)
    if (q != me) sched_send_enc(s, q, fin, cap_me, L ? lfin : NULL, c->tag, fe, NODEP);
  if (lossy) sched_decode(s, id, dt, fin, cap_me, NULL, buf + off_me * es, len_me, fe, NODEP);
  for (int q = 0; q < n; q++) {
    if (q == me) continue;
    size_t off, len;
    weft_split(c->count, n, q, &off, &len);
    /* in[q] is free again once my piece's partial from q is decoded (acc) */
    int got = sched_recv_enc(s, q, in[q], cap[q], L ? &lf[q] : NULL, c->tag, acc, NODEP);
    sched_decode(s, id, dt, in[q], cap[q], L ? &lf[q] : NULL, buf + off * es, len, got, read[q]);
  }
  return s->oom ? -1 : 0;
}
