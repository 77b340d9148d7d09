/* The ofi transport's receive side against a hostile network: the chunks of
 * messages that land in a receive endpoint's posted receives, plain or
 * encrypted (common/seal.h), with the weft tag as CQ data or in band. The
 * transport's data path (data.c, post.c, cq.c, ops.c, liveness.c, close.c)
 * is linked into this harness as it is; the provider it talks to is played
 * here: receives are recorded as they are posted, and the completion queue
 * hands back what the script says landed in them, as a provider would (a
 * chunk lands in the receive posted for its tag, at most that receive's
 * length; more is a truncation error carrying the excess).
 * The script posts receives of any size, and sends messages: genuine ones
 * (sealed at their position on an encrypted connection, cut into chunks,
 * the last one marked), the same with a byte flipped, earlier messages
 * again at their position or another, positions skipped (dropped), and raw
 * completions of any length, weft tag and truncation size in any posted
 * receive, or errors; and tests the receives in order.
 * Never an access out of bounds; nothing completes larger than its receive;
 * on an encrypted connection a receive completes only with the message the
 * harness sealed for its position: its size, tag and bytes. The first byte
 * picks plain or encrypted, the chunk size and the CQ-data mode; the rest
 * is the script. */
#include "ofi/ofi_impl.h"

#include "fuzz_msg.h"

#define MAXREQ 16
#define MAXOPS 64
#define MAXMSG 2048
#define MAXPOSTED 512
#define MAXCOMP 1024

/* ---- the provider ------------------------------------------------------------------ */

typedef struct {
  ofi_op *op;
  char *buf;
  size_t len;
  uint64_t tag;
  uint64_t *hdr; /* in band: where the weft tag lands */
} fz_posted;
static fz_posted fz_post[MAXPOSTED];
static int fz_npost;

typedef struct {
  int err; /* 0, or the error (FI_ETRUNC, ...) */
  struct fi_cq_tagged_entry ent;
  size_t olen;
} fz_comp;
static fz_comp fz_cq[MAXCOMP];
static int fz_ncq, fz_cq_at;

static void comp_push(const fz_comp *c) {
  if (fz_ncq < MAXCOMP) fz_cq[fz_ncq++] = *c;
}

static ssize_t fz_recv(struct fid_ep *ep, void *buf, size_t len, void *desc, fi_addr_t src, uint64_t tag,
                       uint64_t ignore, void *ctx) {
  (void)ep, (void)desc, (void)src, (void)ignore;
  if (fz_npost == MAXPOSTED) return -FI_EAGAIN;
  fz_post[fz_npost++] = (fz_posted){ctx, buf, len, tag, NULL};
  return 0;
}

static ssize_t fz_recvmsg(struct fid_ep *ep, const struct fi_msg_tagged *m, uint64_t flags) {
  (void)ep, (void)flags;
  if (fz_npost == MAXPOSTED) return -FI_EAGAIN;
  if (m->iov_count < 1 || m->msg_iov[0].iov_len != INBAND_HDR) abort();
  fz_post[fz_npost++] = (fz_posted){m->context, m->iov_count > 1 ? m->msg_iov[1].iov_base : NULL,
                                    m->iov_count > 1 ? m->msg_iov[1].iov_len : 0, m->tag, m->msg_iov[0].iov_base};
  return 0;
}

static void post_remove(int i) { fz_post[i] = fz_post[--fz_npost]; }

/* A cancelled receive completes with FI_ECANCELED. */
static ssize_t fz_cancel(fid_t fid, void *ctx) {
  (void)fid;
  for (int i = 0; i < fz_npost; i++)
    if (fz_post[i].op == ctx) {
      fz_comp c = {FI_ECANCELED, {.op_context = ctx}, 0};
      comp_push(&c);
      post_remove(i);
      return 0;
    }
  return -FI_ENOENT;
}

static ssize_t fz_cq_read(struct fid_cq *cq, void *buf, size_t count) {
  (void)cq;
  struct fi_cq_tagged_entry *out = buf;
  size_t n = 0;
  while (n < count && fz_cq_at < fz_ncq && !fz_cq[fz_cq_at].err) out[n++] = fz_cq[fz_cq_at++].ent;
  if (n) return (ssize_t)n;
  if (fz_cq_at < fz_ncq) return -FI_EAVAIL;
  fz_ncq = fz_cq_at = 0;
  return -FI_EAGAIN;
}

static ssize_t fz_cq_readerr(struct fid_cq *cq, struct fi_cq_err_entry *e, uint64_t flags) {
  (void)cq, (void)flags;
  if (fz_cq_at == fz_ncq || !fz_cq[fz_cq_at].err) return -FI_EAGAIN;
  fz_comp *c = &fz_cq[fz_cq_at++];
  e->op_context = c->ent.op_context;
  e->len = c->ent.len;
  e->tag = c->ent.tag;
  e->data = c->ent.data;
  e->err = c->err;
  e->olen = c->olen;
  return 1;
}

static struct fi_ops_ep fz_ep_ops = {.size = sizeof(struct fi_ops_ep), .cancel = fz_cancel};
static struct fi_ops_tagged fz_tagged = {.size = sizeof(struct fi_ops_tagged), .recv = fz_recv, .recvmsg = fz_recvmsg};
static struct fid_ep fz_fep = {.ops = &fz_ep_ops, .tagged = &fz_tagged};
static struct fi_ops_cq fz_cq_ops = {.size = sizeof(struct fi_ops_cq), .read = fz_cq_read, .readerr = fz_cq_readerr};
static struct fid_cq fz_fcq = {.ops = &fz_cq_ops};

/* ---- the harness -------------------------------------------------------------------- */

static ofi_ctx fz_ctx;
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  setenv("WEFT_DEBUG", "NONE", 1);
  weft_net_ctx_init(&fz_ctx.base, "ofi", &(weftNetInitArgs_t){0});
  fz_ctx.ep = &fz_fep;
  fz_ctx.cq = &fz_fcq;
  fz_ctx.wait_fd = -1;
  fz_ctx.liveness_us = 1e12; /* no socket to look at */
  return 0;
}

/* A chunk on its way: it lands once a receive for its tag is posted. */
typedef struct {
  uint64_t tag, wtag; /* tag: with the last-chunk bit */
  size_t len;
  uint8_t bytes[MAXMSG + WEFT_NET_SEAL_BYTES];
} fz_chunk;
static fz_chunk fz_way[256];
static int fz_nway;

/* Lands the chunks whose receive is posted, as completions. */
static void pump(void) {
  for (int w = 0; w < fz_nway;) {
    fz_chunk *ch = &fz_way[w];
    int i = 0;
    while (i < fz_npost && (fz_post[i].tag & ~TAG_LAST) != (ch->tag & ~TAG_LAST)) i++;
    if (i == fz_npost) {
      w++;
      continue;
    }
    fz_posted *p = &fz_post[i];
    size_t n = ch->len < p->len ? ch->len : p->len, hdr = p->hdr ? INBAND_HDR : 0;
    if (n) memcpy(p->buf, ch->bytes, n);
    if (p->hdr) *p->hdr = ch->wtag;
    fz_comp c = {ch->len > p->len ? FI_ETRUNC : 0,
                 {.op_context = p->op, .len = n + hdr, .tag = ch->tag, .data = ch->wtag,
                  .flags = FI_RECV | FI_TAGGED},
                 ch->len - n};
    comp_push(&c);
    post_remove(i);
    fz_way[w] = fz_way[--fz_nway];
  }
}

static fz_msg msgs[MAXOPS];
static uint8_t wire[MAXOPS][MAXMSG + WEFT_NET_SEAL_BYTES];
static size_t wire_len[MAXOPS];

/* Sends the wire bytes of message src as the message at position pos. */
static void send_chunks(ofi_ep *e, int src, uint64_t pos) {
  size_t chunk = fz_ctx.chunk, len = wire_len[src];
  for (uint32_t k = 0; fz_nway < 256; k++) {
    size_t off = (size_t)k * chunk, n = len - off < chunk ? len - off : chunk;
    int last = off + n >= len;
    fz_chunk *ch = &fz_way[fz_nway++];
    ch->tag = make_tag(e->epid, pos, k, last);
    ch->wtag = msgs[src].tag;
    ch->len = n;
    memcpy(ch->bytes, wire[src] + off, n);
    if (last) break;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_in in = {data, size};
  uint8_t mode = fz_u8(&in);
  int encrypted = mode & 1;
  fz_ctx.cq_data = (mode >> 1) & 1;
  fz_ctx.chunk = 64u << ((mode >> 2) % 4); /* 64 to 512 bytes: messages of several chunks */
  ofi_ep *e = calloc(1, sizeof *e);
  if (!e) return 0;
  e->h.type = WEFT_NET_OBJ_RECV;
  e->ctx = &fz_ctx;
  e->sock = -1;
  e->epid = 1;
  e->lv_state = 1;
  e->next_check = 1e300;
  weft_aead *seal = NULL;
  if (encrypted) {
    e->flags = WEFT_NET_CONN_ENCRYPT;
    fz_conn_keys(&e->aead, &seal);
  }
  memset(msgs, 0, sizeof msgs);
  posted q[MAXREQ] = {{0}};
  uint64_t qpos[MAXREQ];
  int nq = 0, tested = 0;
  uint64_t next = 0; /* the sender's next position */
  fz_nway = 0;
  for (int op = 0; op < MAXOPS && fz_more(&in); op++) {
    uint8_t opc = fz_u8(&in) % 8;
    switch (opc) {
      case 0: /* a receive */
        if (nq < MAXREQ) fz_post_recv(&in, weft__ofi_irecv, e, q, qpos, &nq, e->next_seq, MAXMSG);
        break;
      case 1:   /* a genuine message at the next position */
      case 2: { /* the same, a byte flipped */
        if (next >= MAXOPS) break;
        fz_msg *m = &msgs[next];
        wire_len[next] = fz_msg_make(&in, m, next, MAXMSG, seal, wire[next]);
        if (opc == 2) fz_msg_flip(&in, m, wire[next], wire_len[next]);
        send_chunks(e, (int)next, next);
        next++;
        break;
      }
      case 3: { /* an earlier message again, at its position or the next */
        if (!next) break;
        int p = (int)(fz_u8(&in) % next);
        send_chunks(e, p, fz_u8(&in) & 1 ? (uint64_t)p : next);
        break;
      }
      case 4: { /* a raw completion (or error) in a posted receive */
        if (!fz_npost) break;
        fz_posted *p = &fz_post[fz_u8(&in) % fz_npost];
        uint8_t how = fz_u8(&in);
        size_t n = p->len ? fz_u16(&in) % (p->len + 1) : 0;
        if (n) fz_fill(&in, p->buf, n);
        uint64_t wtag = fz_u8(&in);
        if (p->hdr) *p->hdr = wtag;
        static const int errs[] = {0, 0, FI_ETRUNC, FI_EIO, FI_ECANCELED};
        fz_comp c = {errs[how % 5],
                     {.op_context = p->op, .len = n + (p->hdr ? INBAND_HDR : 0),
                      .tag = p->tag | (how & 0x80 ? TAG_LAST : 0), .data = wtag, .flags = FI_RECV | FI_TAGGED},
                     how % 5 == 2 ? fz_u64(&in) : 0};
        comp_push(&c);
        post_remove((int)(p - fz_post));
        break;
      }
      case 5: /* a position dropped on the way */
        if (next >= MAXOPS) break;
        memset(&msgs[next], 0, sizeof msgs[next]);
        wire_len[next++] = 0;
        break;
      case 6: /* what is on its way lands */
        pump();
        break;
      case 7: { /* the receives tested, in order */
        pump();
        fz_test_in_order(weft__ofi_test, q, qpos, nq, &tested, msgs, MAXOPS, seal != NULL);
        break;
      }
    }
  }
  /* the close cancels what is still posted and reaps the cancellations */
  weft__ofi_close_ep(e);
  weft_aead_free(seal);
  if (fz_npost) abort(); /* a receive left with the provider */
  /* the completions still queued (progress reads a short batch and stops)
   * are read by the context's next progress, as they would be */
  while (fz_cq_at < fz_ncq) weft__ofi_ctx_progress(&fz_ctx);
  int nfree = 0, nops = 0; /* then every operation is back on the free list */
  for (ofi_op *op = fz_ctx.free_ops; op; op = op->next) nfree++;
  for (ofi_block *b = fz_ctx.blocks; b; b = b->next) nops += OPS_PER_BLOCK;
  if (nfree != nops) abort();
  fz_ncq = fz_cq_at = 0;
  for (int i = 0; i < nq; i++) free(q[i].buf);
  return 0;
}
