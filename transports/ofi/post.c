/* ofi: posting a request's chunks to the fabric, oldest request first. */
#include <string.h>

#include "ofi/ofi_impl.h"

static void chunk_span(ofi_ctx *c, ofi_req *r, uint32_t k, size_t *off, size_t *len) {
  *off = (size_t)k * c->chunk;
  size_t left = r->size > *off ? r->size - *off : 0;
  *len = left < c->chunk ? left : c->chunk;
}

/* Local descriptor for [buf, buf+len) under FI_MR_LOCAL; may stage through the
 * op's slot (sends copy now, receives copy at completion). */
static int local_desc(ofi_ctx *c, ofi_req *r, ofi_op *op, char **buf, size_t len, int recv, void **desc) {
  *desc = NULL;
  if (!c->mr_local || len == 0) return 0;
  if (r->mh && r->mh->mr) {
    *desc = r->mh->desc;
    return 0;
  }
  if (len <= BOUNCE_BYTES) {
    if (!recv) memcpy(op->bounce, *buf, len);
    *buf = op->bounce;
    op->staged = 1;
    *desc = op->blk_desc;
    return 0;
  }
  int rc = weft__ofi_mr_reg(c, *buf, len, recv ? FI_RECV : FI_SEND, &op->mr);
  if (rc) return rc;
  *desc = fi_mr_desc(op->mr);
  return 0;
}

static int post_chunk(ofi_ep *e, ofi_req *r) {
  ofi_ctx *c = e->ctx;
  int recv = e->h.type == WEFT_NET_OBJ_RECV;
  uint32_t k = r->posted;
  size_t off, len;
  chunk_span(c, r, k, &off, &len);
  char *buf = r->buf + off;
  int last = k + 1 == r->nchunks;
  ssize_t rc;
  if (!recv && c->inject && len <= c->inject) {
    rc = fi_tinjectdata(c->ep, buf, len, r->wtag, e->dest, make_tag(e->epid, r->seq, k, last));
    if (rc == 0) {
      r->posted++;
      if (++r->ndone == r->nchunks) weft__ofi_req_set_complete(r);
    }
    return (int)rc;
  }
  ofi_op *op = weft__ofi_op_get(c);
  if (!op) return -FI_ENOMEM;
  op->is_recv = (uint8_t)recv;
  op->chunk = k;
  void *desc;
  if ((rc = local_desc(c, r, op, &buf, len, recv, &desc)) != 0) {
    weft__ofi_op_put(c, op);
    return (int)rc;
  }
  if (c->cq_data) {
    if (recv)
      rc = fi_trecv(c->ep, buf, len, desc, FI_ADDR_UNSPEC, make_tag(e->epid, r->seq, k, 0), TAG_LAST, op);
    else
      rc = fi_tsenddata(c->ep, buf, len, desc, r->wtag, e->dest, make_tag(e->epid, r->seq, k, last), op);
  } else {
    op->hdr = r->wtag;
    struct iovec iov[2] = {{&op->hdr, INBAND_HDR}, {buf, len}};
    void *descs[2] = {op->blk_desc, desc};
    struct fi_msg_tagged m;
    memset(&m, 0, sizeof m);
    m.msg_iov = iov;
    m.desc = descs;
    m.iov_count = len ? 2 : 1;
    m.addr = recv ? FI_ADDR_UNSPEC : e->dest;
    m.tag = make_tag(e->epid, r->seq, k, recv ? 0 : last);
    m.ignore = recv ? TAG_LAST : 0;
    m.context = op;
    rc = recv ? fi_trecvmsg(c->ep, &m, FI_COMPLETION) : fi_tsendmsg(c->ep, &m, FI_COMPLETION);
  }
  if (rc) {
    weft__ofi_op_put(c, op);
    return (int)rc;
  }
  op->req = r;
  if ((op->hold = r->hold)) op->hold->refs++;
  op->next = r->ops;
  r->ops = op;
  r->posted++;
  return 0;
}

/* Posts the chunks not posted yet, oldest request first; stops at FI_EAGAIN. */
void weft__ofi_post_pending(ofi_ep *e) {
  if (!e->unposted || !e->epid || (e->h.type == WEFT_NET_OBJ_SEND && !e->have_dest)) return;
  for (ofi_req *r = e->head; r && e->unposted; r = r->next) {
    if (!r->queued) continue;
    /* a send on an encrypted connection is sealed at its position once the
     * connection's key is there (it comes with the receiver's answer) */
    if (r->bounce && e->h.type == WEFT_NET_OBJ_SEND && !r->sealed && !r->err) {
      int sealed = weft_net_seal_msg(e->aead, r->seq, r->wtag, r->user, r->user_size, r->bounce);
      if (sealed < 0)
        weft__ofi_req_fail(r, weftSystemError, "ofi: sealing a message of %zu bytes failed", r->user_size);
      else if (sealed > 0) /* the test hook dropped it: it completes unsent */
        weft__ofi_req_set_complete(r);
      r->sealed = 1;
    }
    while (r->posted < r->nchunks && !r->err && !r->complete) {
      int rc = post_chunk(e, r);
      if (rc == -FI_EAGAIN) {
        weft__ofi_ctx_progress(e->ctx);
        rc = post_chunk(e, r);
        if (rc == -FI_EAGAIN) return;
      }
      /* out of memory or bad arguments are ours; anything else (no route, reset,
       * unknown address: the sockets provider says ENOENT once a peer is gone)
       * means the peer cannot be reached */
      if (rc)
        weft__ofi_req_fail(r, rc == -FI_ENOMEM || rc == -FI_EINVAL ? weftSystemError : weftRemoteError,
                           "posting a %s of %zu bytes failed: %s",
                           e->h.type == WEFT_NET_OBJ_SEND ? "send" : "receive", r->size, fi_strerror(-rc));
    }
    weft__ofi_req_dequeue(r);
  }
}

