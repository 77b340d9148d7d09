/* ofi: the completion queue, and the state of requests it completes or
 * fails. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ofi/ofi_impl.h"

/* ---- request state ------------------------------------------------------------ */

void weft__ofi_req_dequeue(ofi_req *r) {
  if (r->queued) {
    r->queued = 0;
    r->ep->unposted--;
  }
}

weftResult_t weft__ofi_ep_fail(ofi_ep *e, weftResult_t res) {
  if (!e->failed) e->failed = res;
  return res;
}

void weft__ofi_req_fail(ofi_req *r, weftResult_t res, const char *fmt, ...) {
  if (r->err || r->complete) return;
  ofi_ep *e = r->ep;
  if (!e->failed) {
    va_list ap;
    va_start(ap, fmt);
    weft_net_obj_verr(e, fmt, ap);
    va_end(ap);
  }
  r->err = res;
  weft__ofi_ep_fail(e, res);
  weft__ofi_req_dequeue(r);
  weft__ofi_req_orphan_ops(r);
}

void weft__ofi_req_set_complete(ofi_req *r) {
  r->complete = 1;
  weft__ofi_req_dequeue(r);
  if (r->ops) weft__ofi_req_orphan_ops(r); /* chunks beyond the last one */
}

/* ---- completions ---------------------------------------------------------------- */

/* The whole sealed message of receive r has landed in its bounce buffer:
 * opens it into the caller's buffer at r's position. */
static void open_sealed(ofi_req *r) {
  ofi_ep *e = r->ep;
  if (weft_net_open_msg(e->aead, r->seq, r->wtag, r->bounce, r->total, r->user) == 0) {
    r->total -= WEFT_NET_SEAL_BYTES;
    weft__ofi_req_set_complete(r);
    return;
  }
  r->err_size = r->total > WEFT_NET_SEAL_BYTES ? r->total - WEFT_NET_SEAL_BYTES : 0;
  r->err_tag = r->wtag;
  if (!e->failed) {
    weft_net_seal_forged(e, "ofi", r->seq);
    weft__ofi_ep_fail(e, weftRemoteError);
  }
  weft__ofi_req_fail(r, weftRemoteError, "%s", "ofi: a message failed authentication");
}

static void on_recv(ofi_ctx *c, ofi_op *op, ofi_req *r, int errcode, size_t len, uint64_t ftag, uint64_t flags,
                    uint64_t data, size_t olen) {
  size_t hdr = c->cq_data ? 0 : INBAND_HDR;
  size_t off = (size_t)op->chunk * c->chunk;
  /* Some providers (tcp;ofi_rxm) fill in the CQ data of a truncated message
   * without setting FI_REMOTE_CQ_DATA, so the flag is not checked. */
  uint64_t wtag = c->cq_data ? data : op->hdr;
  (void)flags;
  if (errcode == FI_ECANCELED) return;
  size_t seal = r->bounce ? WEFT_NET_SEAL_BYTES : 0; /* sizes are reported without the tag */
  if (errcode == FI_ETRUNC) {
    size_t got = len > hdr ? len - hdr : 0;
    r->err_tag = wtag;
    if (got + olen > r->size - off) { /* the provider told the size */
      r->err_size = off + got + olen - seal;
      weft__ofi_req_fail(r, weftInvalidUsage, "incoming message of %zu bytes does not fit the posted %zu bytes",
                         r->err_size, ofi_posted(r));
    } else {
      r->err_size = ofi_posted(r) + 1;
      weft__ofi_req_fail(r, weftInvalidUsage, "incoming message is larger than the posted %zu bytes%s", ofi_posted(r),
                         c->cq_data ? "" : " (mismatched calls across ranks?)");
    }
    return;
  }
  if (errcode) {
    weft__ofi_req_fail(r, weftRemoteError, "receive failed: %s", fi_strerror(errcode));
    return;
  }
  size_t got = len > hdr ? len - hdr : 0;
  if (op->staged && got) memcpy(r->buf + off, op->bounce, got);
  r->wtag = wtag;
  r->ndone++;
  if (ftag & TAG_LAST) {
    r->last = (int32_t)op->chunk;
    r->total = off + got;
  }
  if (r->last >= 0 && r->ndone == (uint32_t)r->last + 1) {
    if (r->bounce) open_sealed(r);
    else weft__ofi_req_set_complete(r);
  } else if (r->last < 0 && r->ndone == r->nchunks) {
    r->err_size = ofi_posted(r) + 1;
    r->err_tag = wtag;
    weft__ofi_req_fail(r, weftInvalidUsage, "incoming message is larger than the posted %zu bytes", ofi_posted(r));
  }
}

static void on_send(ofi_req *r, int errcode) {
  if (errcode == FI_ECANCELED) return;
  if (errcode) {
    weft__ofi_req_fail(r, weftRemoteError, "send failed: %s", fi_strerror(errcode));
    return;
  }
  if (++r->ndone == r->nchunks) weft__ofi_req_set_complete(r);
}

static void op_complete(ofi_ctx *c, ofi_op *op, int errcode, size_t len, uint64_t ftag, uint64_t flags,
                        uint64_t data, size_t olen) {
  ofi_req *r = op->req;
  if (r) {
    weft__ofi_req_unlink_op(r, op);
    if (op->is_recv) on_recv(c, op, r, errcode, len, ftag, flags, data, olen);
    else on_send(r, errcode);
  }
  weft__ofi_op_put(c, op);
}

void weft__ofi_ctx_progress(ofi_ctx *c) {
  struct fi_cq_tagged_entry ent[16];
  for (;;) {
    ssize_t n = fi_cq_read(c->cq, ent, 16);
    if (n > 0) {
      for (ssize_t i = 0; i < n; i++)
        op_complete(c, ent[i].op_context, 0, ent[i].len, ent[i].tag, ent[i].flags, ent[i].data, 0);
      if (n < 16) return;
      continue;
    }
    if (n == -FI_EAVAIL) {
      struct fi_cq_err_entry e;
      memset(&e, 0, sizeof e);
      if (fi_cq_readerr(c->cq, &e, 0) <= 0) return;
      if (e.op_context) op_complete(c, e.op_context, e.err ? e.err : FI_EIO, e.len, e.tag, e.flags, e.data, e.olen);
      continue;
    }
    if (n != -FI_EAGAIN) weft_net_obj_err(c, "fi_cq_read: %s", fi_strerror((int)-n));
    return;
  }
}

