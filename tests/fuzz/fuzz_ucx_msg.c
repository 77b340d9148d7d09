/* The ucx transport's receive side against a hostile network: the active
 * messages that reach a receive endpoint, plain or encrypted
 * (common/seal.h). The transport's receive and data-path sources are
 * compiled into this harness and driven as they are; the few UCP calls they
 * make are played here by a worker that keeps what it hands out (an eager
 * message copied, or kept as a descriptor; a rendezvous one fetched at once
 * or later, by a request that completes when next looked at).
 * The script posts receives of any size, and sends messages: genuine ones
 * (sealed at their position on an encrypted connection), headers of any
 * length naming any endpoint, position and tag with bytes of any length,
 * earlier messages again (replays), messages with a byte flipped, positions
 * skipped (dropped), the peer's bye after any count; and tests the receives
 * in order.
 * Never an access out of bounds; nothing completes larger than its receive;
 * on an encrypted connection a receive completes only with the message the
 * harness sealed for its position: its size, tag and bytes. The first byte
 * picks plain or encrypted; the rest is the script. */
#include "ucx/data.c"
#include "ucx/recv.c"

#include "fuzz_msg.h"

#define MAXREQ 16
#define MAXOPS 64
#define MAXMSG FZ_MAXMSG
#define NONCE 0x5eed5eedull

/* ---- the UCP calls of recv.c and data.c ------------------------------------------- */

/* A request the harness's worker handed out: a rendezvous fetch that
 * completes when next looked at. */
typedef struct {
  int looked;
} fz_ureq;

/* The data of a message the worker hands to the AM callback. Kept
 * (UCS_INPROGRESS) it belongs to the transport until released or fetched;
 * otherwise the harness frees it after the callback. */
typedef struct {
  size_t len;
  int kept, gone;
  max_align_t data[];
} fz_desc;

static fz_desc *desc_of(void *data) { return (fz_desc *)((char *)data - offsetof(fz_desc, data)); }

static void desc_done(fz_desc *d) {
  if (d->gone) abort(); /* released or fetched twice */
  if (d->kept) free(d);
  else d->gone = 1;
}

void ucp_am_data_release(ucp_worker_h worker, void *data) {
  (void)worker;
  desc_done(desc_of(data));
}

ucs_status_ptr_t ucp_am_recv_data_nbx(ucp_worker_h worker, void *data_desc, void *buffer, size_t count,
                                      const ucp_request_param_t *param) {
  (void)worker, (void)param;
  fz_desc *d = desc_of(data_desc);
  if (count != d->len) abort(); /* recv.c fetches what the message said */
  if (count) memcpy(buffer, d->data, count);
  int later = (int)(count & 1);
  desc_done(d);
  if (!later) return NULL;
  fz_ureq *u = calloc(1, sizeof *u);
  return u ? (void *)u : UCS_STATUS_PTR(UCS_ERR_NO_MEMORY);
}

ucs_status_t ucp_request_check_status(void *request) {
  fz_ureq *u = request;
  return u->looked++ ? UCS_OK : UCS_INPROGRESS;
}

void ucp_request_free(void *request) { free(request); }

ucs_status_ptr_t ucp_am_send_nbx(ucp_ep_h ep, unsigned id, const void *header, size_t header_length,
                                 const void *buffer, size_t count, const ucp_request_param_t *param) {
  (void)ep, (void)id, (void)header, (void)header_length, (void)buffer, (void)count, (void)param;
  abort(); /* the harness only receives */
}

ucs_status_t ucp_worker_arm(ucp_worker_h worker) {
  (void)worker;
  return UCS_OK;
}

const char *ucs_status_string(ucs_status_t status) {
  (void)status;
  return "fuzz";
}

/* ---- the rest of the transport: one receive endpoint, no worker ------------------- */

static ucx_ctx fz_ctx;
static ucx_ep *fz_ep;

ucx_ep *weft__ucx_hash_find(ucx_ctx *c, uint64_t nonce) {
  (void)c;
  return nonce == NONCE ? fz_ep : NULL;
}

unsigned weft__ucx_ctx_progress(ucx_ctx *c, int sockets) {
  (void)c, (void)sockets;
  return 0;
}

/* ---- the harness -------------------------------------------------------------------- */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  setenv("WEFT_DEBUG", "NONE", 1);
  pthread_mutex_init(&fz_ctx.lock, NULL);
  weft_net_ctx_init(&fz_ctx.base, "ucx", &(weftNetInitArgs_t){0});
  return 0;
}

/* An active message arrives: how 0 eager (copied by the transport), 1
 * eager kept as a descriptor, 2 rendezvous. */
static void deliver_am(const void *hdr, size_t hlen, const void *data, size_t len, int how) {
  ucp_am_recv_param_t param;
  memset(&param, 0, sizeof param);
  fz_desc *d = malloc(sizeof *d + (len ? len : 1));
  if (!d) return;
  d->len = len;
  d->kept = d->gone = 0;
  if (len) memcpy(d->data, data, len);
  param.recv_attr = how == 2 ? UCP_AM_RECV_ATTR_FLAG_RNDV : how == 1 ? UCP_AM_RECV_ATTR_FLAG_DATA : 0;
  ucs_status_t st = weft__ucx_am_data_cb(&fz_ctx, hdr, hlen, d->data, len, &param);
  if (st == UCS_INPROGRESS) {
    if (!how || d->gone) abort(); /* kept a copy the worker takes back, or kept what it let go */
    d->kept = 1;
  } else {
    free(d);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_in in = {data, size};
  int encrypted = fz_u8(&in) & 1;
  ucx_ep *e = calloc(1, sizeof *e);
  if (!e) return 0;
  e->h.type = WEFT_NET_OBJ_RECV;
  e->ctx = &fz_ctx;
  e->fd = -1;
  e->nonce = NONCE;
  weft_aead *seal = NULL;
  if (encrypted) {
    fz_conn_keys(&e->aead, &seal);
  }
  fz_ep = e;
  static fz_msg msgs[MAXOPS];
  static uint8_t wire[MAXOPS][MAXMSG + WEFT_NET_SEAL_BYTES];
  static size_t wire_len[MAXOPS];
  memset(msgs, 0, sizeof msgs);
  posted q[MAXREQ] = {{0}};
  uint64_t qpos[MAXREQ]; /* each receive's position */
  int nq = 0, tested = 0;
  uint64_t next = 0; /* the sender's next position */
  for (int op = 0; op < MAXOPS && fz_more(&in); op++) {
    uint8_t opc = fz_u8(&in) % 8;
    switch (opc) {
      case 0: /* a receive */
        if (nq < MAXREQ) fz_post_recv(&in, weft__ucx_irecv, e, q, qpos, &nq, e->seq, MAXMSG);
        break;
      case 1:   /* a genuine message at the next position */
      case 2: { /* the same, a byte flipped */
        int flip = opc == 2;
        if (next >= MAXOPS) break;
        fz_msg *m = &msgs[next];
        wire_len[next] = fz_msg_make(&in, m, next, MAXMSG, seal, wire[next]);
        int how = fz_u8(&in) % 3;
        if (flip) fz_msg_flip(&in, m, wire[next], wire_len[next]);
        ucx_data_hdr h = {NONCE, next, m->tag};
        deliver_am(&h, sizeof h, wire[next], wire_len[next], how);
        next++;
        break;
      }
      case 3: { /* an earlier message again */
        if (!next) break;
        uint64_t p = fz_u8(&in) % next;
        ucx_data_hdr h = {NONCE, fz_u8(&in) & 1 ? p : next, msgs[p].tag};
        deliver_am(&h, sizeof h, wire[p], wire_len[p], fz_u8(&in) % 3);
        break;
      }
      case 4: { /* a header of any length and content, bytes of any length */
        uint8_t hdr[40], raw[256];
        size_t hl = fz_u8(&in) % (sizeof hdr + 1);
        fz_fill(&in, hdr, hl);
        size_t n = fz_fill(&in, raw, fz_u8(&in));
        deliver_am(hdr, hl, raw, n, fz_u8(&in) % 3);
        break;
      }
      case 5: /* a position dropped on the way */
        if (next >= MAXOPS) break;
        memset(&msgs[next], 0, sizeof msgs[next]);
        wire_len[next++] = 0;
        break;
      case 6: /* the peer's bye: it sent this many messages */
        e->bye = 1;
        e->limit = fz_u8(&in);
        break;
      case 7: { /* the receives tested, in order */
        fz_test_in_order(weft__ucx_test, q, qpos, nq, &tested, msgs, MAXOPS, seal != NULL);
        break;
      }
    }
  }
  /* closing: what close_recv does without a worker */
  weft__ucx_free_arrivals(&fz_ctx, e);
  for (weft_req_link *l = e->q.all; l; l = l->all_next) {
    ucx_req *r = (ucx_req *)l;
    if (r->ureq) free(r->ureq);
    r->ureq = NULL;
    weft_net_bounce_put(&e->pool, r->bounce);
    r->bounce = NULL;
  }
  fz_ep = NULL;
  weft_req_destroy(&e->q);
  weft_aead_free(e->aead);
  weft_aead_free(seal);
  weft_net_bounce_free(&e->pool);
  free(e);
  for (int i = 0; i < nq; i++) free(q[i].buf);
  return 0;
}
