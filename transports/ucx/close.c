/* ucx: closing endpoints, with bounded waits for what UCP still holds. */
#include <stdlib.h>
#include <string.h>

#include "util/sock.h"
#include "util/clock.h"
#include "ucx/ucx_impl.h"

/* ---- teardown ------------------------------------------------------------------------- */

/* Waits (progressing) until UCP request r is done or the deadline passes;
 * returns its status. Lock held. */
static ucs_status_t wait_req(ucx_ctx *c, void *r, long long deadline) {
  ucs_status_t st;
  while ((st = ucp_request_check_status(r)) == UCS_INPROGRESS && weft_now_ms() < deadline) {
    if (!weft__ucx_ctx_progress(c, 0)) {
      ctx_unlock(c);
      weft__ucx_ctx_wait(c, 1);
      ctx_lock(c);
    }
  }
  return st;
}

/* Lets e's requests still in UCP finish (bounded), then forgets them. */
static void ep_drain(ucx_ep *e, int ms) {
  long long deadline = weft_now_ms() + ms;
  for (weft_req_link *l = e->q.all; l; l = l->all_next) {
    ucx_req *r = (ucx_req *)l;
    if (!r->ureq) continue;
    if (wait_req(e->ctx, r->ureq, deadline) == UCS_INPROGRESS) {
      e->ctx->abandoned++;
      r->bounce = NULL; /* UCP may still use it: left to it (only after a failure) */
    }
    ucp_request_free(r->ureq); /* UCP reclaims it when it ends */
    r->ureq = NULL;
  }
  for (weft_req_link *l = e->q.all; l; l = l->all_next) {
    ucx_req *r = (ucx_req *)l;
    weft_net_bounce_put(&e->pool, r->bounce);
    r->bounce = NULL;
  }
}

weftResult_t weft__ucx_close_send(void *sc) {
  ucx_ep *e = sc;
  if (!e) return weftSuccess;
  ucx_ctx *c = e->ctx;
  ctx_lock(c);
  int busy = e->q.head != NULL;
  for (weft_req_link *l = e->q.all; l; l = l->all_next) {
    ucx_req *r = (ucx_req *)l;
    if (r->ureq) weft__ucx_req_check(e, r);
    if (r->ureq) busy = 1;
  }
  if (busy) c->dirty = 1;
  if (e->ep && !busy && !e->failed && e->fd >= 0) {
    /* graceful: push out what was sent, then tell the receiver how much */
    ucp_request_param_t p;
    memset(&p, 0, sizeof p);
    void *fr = ucp_ep_flush_nbx(e->ep, &p);
    ucs_status_t st = UCS_OK;
    if (UCS_PTR_IS_ERR(fr)) st = UCS_PTR_STATUS(fr);
    else if (fr) {
      st = wait_req(c, fr, weft_now_ms() + CLOSE_FLUSH_MS);
      ucp_request_free(fr);
    }
    if (st == UCS_OK && e->fd >= 0) {
      ucx_reply b = {UCX_BYE, e->seq, 0}; /* bye: messages sent */
      char err[WEFT_SOCK_ERRLEN];
      weft_sock_send_all(e->fd, &b, sizeof b, 100, err);
    }
  }
  weft__ucx_sock_close(c, &e->fd); /* the receiver sees the end of the connection */
  if (e->ep) {
    ucp_request_param_t p;
    memset(&p, 0, sizeof p);
    p.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
    p.flags = UCP_EP_CLOSE_FLAG_FORCE; /* a graceful close would wait for the peer to take part */
    void *cr = ucp_ep_close_nbx(e->ep, &p);
    e->ep = NULL;
    if (cr && !UCS_PTR_IS_ERR(cr)) {
      wait_req(c, cr, weft_now_ms() + CLOSE_WAIT_MS);
      ucp_request_free(cr);
    }
  }
  ep_drain(e, busy || e->failed ? 20 : CLOSE_WAIT_MS); /* sends only read the caller's buffers */
  if (e->token) e->token->ep = NULL;
  ctx_unlock(c);
  free(e->addr);
  weft_req_destroy(&e->q);
  weft_aead_free(e->aead);
  weft_net_bounce_free(&e->pool);
  weft_wipe(&e->key, sizeof e->key);
  free(e);
  return weftSuccess;
}

weftResult_t weft__ucx_close_recv(void *rc) {
  ucx_ep *e = rc;
  if (!e) return weftSuccess;
  ucx_ctx *c = e->ctx;
  ctx_lock(c);
  for (weft_req_link *l = e->q.all; l; l = l->all_next) {
    ucx_req *r = (ucx_req *)l;
    if (r->ureq) weft__ucx_req_check(e, r);
    if (r->ureq) c->dirty = 1;
  }
  weft__ucx_hash_remove(c, e); /* no more deliveries into this endpoint */
  weft__ucx_free_arrivals(c, e);
  weft__ucx_sock_close(c, &e->fd); /* the sender sees the end of the connection */
  ep_drain(e, CLOSE_WAIT_MS); /* rendezvous reads into the caller's buffers */
  ctx_unlock(c);
  weft_req_destroy(&e->q);
  weft_aead_free(e->aead);
  weft_net_bounce_free(&e->pool);
  free(e);
  return weftSuccess;
}

