/* ofi: the data path weft drives: regMr, isend, irecv, test and pollFd. */
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "ofi/ofi_impl.h"

weftResult_t weft__ofi_reg_mr(void *comm, void *data, size_t size, void **mhandle) {
  ofi_ep *e = comm;
  ofi_ctx *c = e->ctx;
  ofi_mh *m = calloc(1, sizeof *m);
  if (!m) return weftSystemError;
  if (c->mr_local && size) {
    int rc = weft__ofi_mr_reg(c, data, size, FI_SEND | FI_RECV, &m->mr);
    if (rc) {
      weft_net_obj_err(e, "fi_mr_reg of %zu bytes failed: %s", size, fi_strerror(-rc));
      free(m);
      return weftSystemError;
    }
    m->desc = fi_mr_desc(m->mr);
  }
  *mhandle = m;
  return weftSuccess;
}

weftResult_t weft__ofi_dereg_mr(void *comm, void *mhandle) {
  (void)comm;
  ofi_mh *m = mhandle;
  if (!m) return weftSuccess;
  if (m->mr) fi_close(&m->mr->fid);
  free(m);
  return weftSuccess;
}

static weftResult_t req_new(ofi_ep *e, void *buf, size_t size, uint64_t tag, void *mh, void **out) {
  ofi_ctx *c = e->ctx;
  /* an encrypted message travels sealed, from and into a bounce buffer */
  int sealed = (e->flags & WEFT_NET_CONN_ENCRYPT) != 0;
  size_t wire = size + (sealed ? WEFT_NET_SEAL_BYTES : 0);
  if (wire < size) return weftInvalidUsage;
  size_t nchunks = wire ? (wire - 1) / c->chunk + 1 : 1;
  if (nchunks > MAX_CHUNKS) {
    weft_net_obj_err(e, "message of %zu bytes exceeds what provider %s can carry (%u x %zu bytes)", size, c->prov,
                     MAX_CHUNKS, c->chunk);
    return weftInvalidUsage;
  }
  ofi_req *r = weft_req_get(&e->pool, sizeof *r);
  if (!r) return weftSystemError;
  r->ep = e;
  r->buf = buf;
  r->size = size;
  r->mh = mh;
  if (sealed) {
    if (!(r->hold = weft_net_bounce_get(&c->pool, sizeof *r->hold + wire))) {
      weft_req_release(&e->pool, r);
      weft_net_obj_err(e, "out of memory for a message of %zu bytes", size);
      return weftSystemError;
    }
    r->hold->refs = 1;
    r->bounce = r->hold->data;
    r->user = buf;
    r->user_size = size;
    r->buf = r->bounce;
    r->size = wire;
    r->mh = NULL; /* registered for the caller's buffer, not this one */
  }
  r->wtag = tag;
  r->seq = e->next_seq++;
  r->nchunks = (uint32_t)nchunks;
  r->last = -1;
  r->queued = 1;
  e->unposted++;
  r->prev = e->tail;
  if (e->tail) e->tail->next = r;
  else e->head = r;
  e->tail = r;
  *out = r;
  weft__ofi_post_pending(e);
  return weftSuccess;
}

static void req_release(ofi_ep *e, ofi_req *r) {
  if (r->prev) r->prev->next = r->next;
  else e->head = r->next;
  if (r->next) r->next->prev = r->prev;
  else e->tail = r->prev;
  weft__ofi_req_dequeue(r);
  weft__ofi_bounce_put(e->ctx, r->hold);
  r->hold = NULL;
  r->bounce = NULL;
  weft_req_release(&e->pool, r);
}

weftResult_t weft__ofi_isend(void *sc, const void *data, size_t size, uint64_t tag, void *mh, void **request) {
  ofi_ep *e = sc;
  if (e->failed) return e->failed;
  if (e->peer_gone) return weft__ofi_ep_fail(e, weftRemoteError);
  return req_new(e, (void *)data, size, tag, mh, request);
}

weftResult_t weft__ofi_irecv(void *rc, void *data, size_t size, uint64_t tag, void *mh, void **request) {
  ofi_ep *e = rc;
  (void)tag; /* matching is by order; the sender's tag is reported by test() */
  if (e->failed) return e->failed;
  if (e->peer_gone && e->next_seq >= e->peer_count) return weft__ofi_ep_fail(e, weftRemoteError);
  return req_new(e, data, size, 0, mh, request);
}

/* An encrypted receive endpoint: fails the oldest receive still waiting
 * when a later one has completed and it has not, for too long (a message
 * dropped on the way: common/seal.h). The later ones are still listed: the
 * caller tests its receives in order. */
static void check_gap(ofi_ep *e) {
  ofi_req *w = e->head;
  while (w && (w->complete || w->err)) w = w->next;
  if (!w) return;
  int later = 0;
  for (ofi_req *r = w->next; r && !later; r = r->next) later = r->complete;
  /* a message is seen only once all of it has landed */
  if (!weft_net_gap_check(&e->gap, e, "ofi", w->seq, ofi_posted(w), later)) return;
  w->err = weft__ofi_ep_fail(e, weftRemoteError);
  weft__ofi_req_dequeue(w);
  weft__ofi_req_orphan_ops(w);
}

weftResult_t weft__ofi_test(void *request, int *done, size_t *size, uint64_t *tag) {
  ofi_req *r = request;
  ofi_ep *e = r->ep;
  *done = 0;
  if (!r->complete && !r->err) weft__ofi_ep_progress(e);
  if (!r->complete && !r->err && e->aead && !e->failed && e->h.type == WEFT_NET_OBJ_RECV) check_gap(e);
  if (!r->complete && !r->err && e->peer_gone) {
    if (e->h.type == WEFT_NET_OBJ_SEND && r->seq < e->peer_count) weft__ofi_req_set_complete(r);
    else if (r->seq >= e->peer_count) {
      r->err = weft__ofi_ep_fail(e, weftRemoteError);
      weft__ofi_req_dequeue(r);
      weft__ofi_req_orphan_ops(r);
    }
  }
  if (r->err) {
    if (size) *size = r->err_size;
    if (tag) *tag = r->err_tag;
    return r->err;
  }
  if (!r->complete) return e->failed;
  *done = 1;
  if (size) *size = e->h.type == WEFT_NET_OBJ_SEND ? ofi_posted(r) : r->total;
  if (tag) *tag = r->wtag;
  req_release(e, r);
  return weftSuccess;
}

int weft__ofi_poll_fd(void *comm, short *events) {
  ofi_ep *e = comm;
  ofi_ctx *c = e->ctx;
  if (e->lv_state == 0 && e->sock >= 0) { /* waiting for the receiver's answer */
    *events = POLLIN;
    return e->sock;
  }
  if (e->failed || e->peer_gone) return WEFT_NET_POLL_READY;
  if (c->wait_fd < 0) return WEFT_NET_POLL_NONE;
  struct fid *f = &c->cq->fid;
  if (fi_trywait(c->fabric, &f, 1) != FI_SUCCESS) return WEFT_NET_POLL_READY;
  *events = POLLIN;
  return c->wait_fd;
}

