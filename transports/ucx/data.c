/* ucx: the data path weft drives: isend, irecv, test and pollFd; and how an
 * endpoint fails. */
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/param.h"
#include "util/sock.h"
#include "ucx/ucx_impl.h"

/* ---- endpoint failure ------------------------------------------------------- */

weftResult_t weft__ucx_ep_fail(ucx_ep *e, weftResult_t res, const char *fmt, ...) {
  if (!e->failed) {
    e->failed = res;
    va_list ap;
    va_start(ap, fmt);
    weft_net_obj_verr(e, fmt, ap);
    va_end(ap);
  }
  return e->failed;
}

/* A receive that can no longer be satisfied: its sender is gone. */
static int recv_dead(const ucx_ep *e, const ucx_req *r) { return e->bye && r->seq >= e->limit; }


/* ---- sends --------------------------------------------------------------------------- */

/* Hands send r to UCP; the lock is held. */
weftResult_t weft__ucx_send_issue(ucx_ep *e, ucx_req *r) {
  ucp_request_param_t p;
  memset(&p, 0, sizeof p);
  void *s = ucp_am_send_nbx(e->ep, AM_DATA, &r->hdr, sizeof r->hdr, r->buf, r->size, &p);
  if (s == NULL) {
    r->state = RQ_DONE;
  } else if (UCS_PTR_IS_ERR(s)) {
    r->state = RQ_DONE;
    r->res = weft__ucx_ep_fail(e, weftRemoteError, "ucx: sending %zu bytes failed: %s", r->size,
                     ucs_status_string(UCS_PTR_STATUS(s)));
  } else {
    r->ureq = s;
    r->state = RQ_ACTIVE;
  }
  return r->res;
}

/* ---- data path ---------------------------------------------------------------------- */

static ucx_req *req_new(ucx_ep *e) {
  ucx_req *r = weft_req_get(&e->q, sizeof *r);
  if (r) r->ep = e;
  return r;
}

weftResult_t weft__ucx_isend(void *sc, const void *data, size_t size, uint64_t tag, void *mh, void **request) {
  ucx_ep *e = sc;
  ucx_ctx *c = e->ctx;
  (void)mh;
  ctx_lock(c);
  if (e->failed) {
    weftResult_t res = e->failed;
    ctx_unlock(c);
    return res;
  }
  ucx_req *r = req_new(e);
  if (!r) {
    ctx_unlock(c);
    return weftSystemError;
  }
  r->buf = (char *)data;
  r->size = r->got = size;
  r->tag = tag;
  r->hdr = (ucx_data_hdr){e->nonce, e->seq++, tag};
  weftResult_t res = weftSuccess;
  if (e->ep) {
    res = weft__ucx_send_issue(e, r);
  } else {
    r->state = RQ_QUEUED; /* until the peer's address arrives */
    weft_req_push(&e->q, r);
  }
  if (res != weftSuccess) weft_req_release(&e->q, r);
  ctx_unlock(c);
  *request = res == weftSuccess ? r : NULL;
  return res;
}

weftResult_t weft__ucx_irecv(void *rc, void *data, size_t size, uint64_t tag, void *mh, void **request) {
  ucx_ep *e = rc;
  ucx_ctx *c = e->ctx;
  (void)mh;
  (void)tag; /* matched by order; the sender's tag is reported by test() */
  ctx_lock(c);
  if (e->failed || (e->bye && e->seq >= e->limit)) {
    weftResult_t res = e->failed ? e->failed : weftRemoteError;
    if (!e->failed) weft_net_obj_err(e, "ucx: the sending peer closed the connection");
    ctx_unlock(c);
    return res;
  }
  ucx_req *r = req_new(e);
  if (!r) {
    ctx_unlock(c);
    return weftSystemError;
  }
  r->buf = data;
  r->size = size;
  r->seq = e->seq++;
  r->state = RQ_QUEUED;
  weft_req_push(&e->q, r);
  if (e->arr_head) weft__ucx_match(c, e);
  ctx_unlock(c);
  *request = r;
  return weftSuccess;
}

/* Moves r forward if it can; the lock is held. */
void weft__ucx_req_check(ucx_ep *e, ucx_req *r) {
  if (r->state != RQ_ACTIVE) return;
  ucs_status_t st = ucp_request_check_status(r->ureq);
  if (st == UCS_INPROGRESS) return;
  ucp_request_free(r->ureq);
  r->ureq = NULL;
  r->state = RQ_DONE;
  if (st != UCS_OK)
    r->res = weft__ucx_ep_fail(e, weftRemoteError, "ucx: %s %zu bytes failed: %s",
                     e->h.type == WEFT_NET_OBJ_SEND ? "sending" : "receiving", r->got, ucs_status_string(st));
}

weftResult_t weft__ucx_test(void *request, int *done, size_t *size, uint64_t *tag) {
  ucx_req *r = request;
  ucx_ep *e = r->ep;
  ucx_ctx *c = e->ctx;
  *done = 0;
  ctx_lock(c);
  if (r->state != RQ_DONE) {
    weft__ucx_req_check(e, r);
    if (r->state != RQ_DONE) {
      weft__ucx_ctx_progress(c, 0);
      if (r->state == RQ_QUEUED && e->arr_head && e->h.type == WEFT_NET_OBJ_RECV) weft__ucx_match(c, e);
      weft__ucx_req_check(e, r);
    }
  }
  weftResult_t res = weftSuccess;
  if (r->state == RQ_DONE && r->res == weftSuccess) {
    *done = 1;
    if (size) *size = r->got;
    if (tag) *tag = r->tag;
    weft_req_release(&e->q, r);
  } else if (r->state == RQ_DONE) {
    if (size) *size = r->got;
    if (tag) *tag = r->tag;
    res = r->res;
  } else if (e->failed) {
    res = e->failed;
  } else if (e->h.type == WEFT_NET_OBJ_RECV && r->state == RQ_QUEUED && recv_dead(e, r)) {
    res = weft__ucx_ep_fail(e, weftRemoteError, "ucx: the sending peer closed the connection after %llu messages",
                  (unsigned long long)e->limit);
  }
  ctx_unlock(c);
  return res;
}

int weft__ucx_poll_fd(void *comm, short *events) {
  ucx_ep *e = comm;
  ucx_ctx *c = e->ctx;
  if (c->efd < 0) return WEFT_NET_POLL_NONE;
  ctx_lock(c);
  int ready = e->failed != weftSuccess;
  for (int i = 0; i < 64 && !ready && weft__ucx_ctx_progress(c, i == 0); i++) ready = 1; /* something moved: test again */
  ready = ready || e->failed != weftSuccess;
  ucs_status_t st = ready ? UCS_OK : ucp_worker_arm(c->worker);
  ctx_unlock(c);
  if (ready || st == UCS_ERR_BUSY) return WEFT_NET_POLL_READY;
  if (st != UCS_OK) return WEFT_NET_POLL_NONE;
  *events = POLLIN;
  return c->epfd;
}

