/* ucx: the data path weft drives: isend, irecv, test and pollFd; and how an
 * endpoint fails. */
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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


/* ---- requests ---------------------------------------------------------------------- */

static weftResult_t req_failed(ucx_ep *e, ucx_req *r, ucs_status_t st) {
  return weft__ucx_ep_fail(e, weftRemoteError, "ucx: %s %zu bytes failed: %s",
                           e->h.type == WEFT_NET_OBJ_SEND ? "sending" : "receiving", r->got, ucs_status_string(st));
}

void weft__ucx_req_settle(ucx_ep *e, ucx_req *r) {
  if (!r->bounce) return;
  if (e->h.type == WEFT_NET_OBJ_RECV && r->res == weftSuccess)
    r->res = weft__ucx_open(e, r, r->bounce, r->got + WEFT_NET_SEAL_BYTES);
  weft_net_bounce_put(&e->pool, r->bounce);
  r->bounce = NULL;
}

void weft__ucx_req_started(ucx_ep *e, ucx_req *r, void *s) {
  if (s == NULL) {
    r->state = RQ_DONE;
    weft__ucx_req_settle(e, r);
  } else if (UCS_PTR_IS_ERR(s)) {
    r->state = RQ_DONE;
    r->res = req_failed(e, r, UCS_PTR_STATUS(s));
    weft__ucx_req_settle(e, r);
  } else {
    r->ureq = s;
    r->state = RQ_ACTIVE;
  }
}

/* Moves r forward if it can; the lock is held. */
void weft__ucx_req_check(ucx_ep *e, ucx_req *r) {
  if (r->state != RQ_ACTIVE) return;
  ucs_status_t st = ucp_request_check_status(r->ureq);
  if (st == UCS_INPROGRESS) return;
  ucp_request_free(r->ureq);
  r->ureq = NULL;
  r->state = RQ_DONE;
  if (st != UCS_OK) r->res = req_failed(e, r, st);
  weft__ucx_req_settle(e, r);
}

/* Hands send r to UCP (on an encrypted connection, sealed into a bounce
 * buffer the size of the message plus its tag); the lock is held. */
weftResult_t weft__ucx_send_issue(ucx_ep *e, ucx_req *r) {
  ucp_request_param_t p;
  memset(&p, 0, sizeof p);
  const void *data = r->buf;
  size_t len = r->size;
  if (e->aead) {
    int sealed = -1;
    if (!(r->bounce = weft_net_bounce_get(&e->pool, r->size + WEFT_NET_SEAL_BYTES)) ||
        (sealed = weft_net_seal_msg(e->aead, r->hdr.seq, r->tag, r->buf, r->size, r->bounce)) != 0) {
      r->state = RQ_DONE;
      if (sealed < 0)
        r->res = weft__ucx_ep_fail(e, weftSystemError, "ucx: sealing a message of %zu bytes failed%s", r->size,
                                   r->bounce ? "" : ": out of memory");
      weft__ucx_req_settle(e, r); /* (a message the test hook dropped completes unsent) */
      return r->res;
    }
    data = r->bounce;
    len += WEFT_NET_SEAL_BYTES;
  }
  weft__ucx_req_started(e, r, ucp_am_send_nbx(e->ep, AM_DATA, &r->hdr, sizeof r->hdr, data, len, &p));
  return r->res;
}

/* ---- data path ---------------------------------------------------------------------- */

/* A new request on e, or NULL with *res saying why; the lock is held. */
static ucx_req *req_new(ucx_ep *e, weftResult_t *res) {
  *res = e->failed;
  if (e->failed) return NULL;
  ucx_req *r = weft_req_get(&e->q, sizeof *r);
  if (!r) *res = weftSystemError;
  else r->ep = e;
  return r;
}

static weftResult_t isend_locked(ucx_ep *e, const void *data, size_t size, uint64_t tag, void **request) {
  weftResult_t res;
  ucx_req *r = req_new(e, &res);
  if (!r) return res;
  r->buf = (char *)data;
  r->size = r->got = size;
  r->tag = tag;
  r->hdr = (ucx_data_hdr){e->nonce, e->seq++, tag};
  if (e->ep) {
    res = weft__ucx_send_issue(e, r);
  } else {
    r->state = RQ_QUEUED; /* until the peer's address arrives */
    weft_req_push(&e->q, r);
  }
  if (res != weftSuccess) weft_req_release(&e->q, r);
  *request = res == weftSuccess ? r : NULL;
  return res;
}

weftResult_t weft__ucx_isend(void *sc, const void *data, size_t size, uint64_t tag, void *mh, void **request) {
  ucx_ep *e = sc;
  (void)mh;
  ctx_lock(e->ctx);
  weftResult_t res = isend_locked(e, data, size, tag, request);
  ctx_unlock(e->ctx);
  return res;
}

static weftResult_t irecv_locked(ucx_ep *e, void *data, size_t size, void **request) {
  if (!e->failed && e->bye && e->seq >= e->limit) {
    weft_net_obj_err(e, "ucx: the sending peer closed the connection");
    return weftRemoteError;
  }
  weftResult_t res;
  ucx_req *r = req_new(e, &res);
  if (!r) return res;
  r->buf = data;
  r->size = size;
  r->seq = e->seq++;
  r->state = RQ_QUEUED;
  weft_req_push(&e->q, r);
  if (e->arr_head) weft__ucx_match(e->ctx, e);
  *request = r;
  return weftSuccess;
}

weftResult_t weft__ucx_irecv(void *rc, void *data, size_t size, uint64_t tag, void *mh, void **request) {
  ucx_ep *e = rc;
  (void)mh;
  (void)tag; /* matched by order; the sender's tag is reported by test() */
  ctx_lock(e->ctx);
  weftResult_t res = irecv_locked(e, data, size, request);
  ctx_unlock(e->ctx);
  return res;
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
      if (r->state == RQ_QUEUED && e->h.type == WEFT_NET_OBJ_RECV) weft__ucx_check_gap(e);
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

