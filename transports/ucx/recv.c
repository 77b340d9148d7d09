/* ucx: receives. Active messages are matched, by sequence number, with
 * the receives posted on their endpoint; those that come early are queued. */
#include <stdlib.h>
#include <string.h>

#include "ucx/ucx_impl.h"

/* ---- receive matching ------------------------------------------------------------- */

/* Fetches a rendezvous message of len bytes (sealed: into a bounce buffer,
 * opened when it has landed). */
static void rndv_start(ucx_ctx *c, ucx_ep *e, ucx_req *r, void *desc, size_t len) {
  ucp_request_param_t p;
  memset(&p, 0, sizeof p);
  void *dst = r->buf;
  if (e->aead && !(dst = r->bounce = weft_net_bounce_get(&e->pool, len))) {
    ucp_am_data_release(c->worker, desc);
    r->state = RQ_DONE;
    r->res = weft__ucx_ep_fail(e, weftSystemError, "ucx: out of memory receiving a message of %zu bytes", len);
    return;
  }
  weft__ucx_req_started(e, r, ucp_am_recv_data_nbx(c->worker, desc, dst, len, &p));
}

int weft__ucx_open(ucx_ep *e, ucx_req *r, const void *wire, size_t wire_len) {
  if (weft_net_open_msg(e->aead, r->seq, r->tag, wire, wire_len, r->buf) == 0) return weftSuccess;
  if (!e->failed) {
    weft_net_seal_forged(e, "ucx", r->seq);
    e->failed = weftRemoteError;
  }
  return weftRemoteError;
}

/* Delivers an eager message (len bytes on the wire) into r: copied, or
 * opened on an encrypted connection. */
static void deliver(ucx_ep *e, ucx_req *r, const void *data, size_t len) {
  r->state = RQ_DONE;
  if (e->aead) r->res = weft__ucx_open(e, r, data, len);
  else if (len) memcpy(r->buf, data, len);
}

/* Sets r's size and tag and fails it when the message (len bytes on the
 * wire) does not fit; returns 1 if the data may be delivered. */
static int fits(ucx_ep *e, ucx_req *r, uint64_t tag, size_t len) {
  r->tag = tag;
  if (e->aead && len < WEFT_NET_SEAL_BYTES) { /* shorter than a tag: cut or forged */
    r->got = 0;
    r->state = RQ_DONE;
    r->res = weft__ucx_open(e, r, NULL, len);
    return 0;
  }
  r->got = e->aead ? len - WEFT_NET_SEAL_BYTES : len;
  if (r->got <= r->size) return 1;
  r->state = RQ_DONE;
  r->res = weftInvalidUsage;
  weft__ucx_ep_fail(e, weftInvalidUsage, "ucx: incoming message of %zu bytes does not fit the posted %zu bytes",
                    r->got, r->size);
  return 0;
}

/* Matches posted receives with queued arrivals, in order. */
void weft__ucx_match(ucx_ctx *c, ucx_ep *e) {
  while (e->q.head && e->arr_head) {
    ucx_req *r = (ucx_req *)e->q.head;
    ucx_arrival *a = e->arr_head, *prev = NULL;
    while (a && a->seq != r->seq) prev = a, a = a->next;
    if (!a) return;
    if (prev) prev->next = a->next;
    else e->arr_head = a->next;
    if (e->arr_tail == a) e->arr_tail = prev;
    weft_req_pop(&e->q);
    if (a->kind != ARR_RNDV) e->early_bytes -= a->len;
    e->early_count--;
    int ok = fits(e, r, a->tag, a->len);
    switch (a->kind) {
      case ARR_COPY:
        if (ok) deliver(e, r, a + 1, a->len);
        break;
      case ARR_DESC:
        if (ok) deliver(e, r, a->data, a->len);
        ucp_am_data_release(c->worker, a->data);
        break;
      case ARR_RNDV:
        if (ok) rndv_start(c, e, r, a->data, a->len);
        else ucp_am_data_release(c->worker, a->data);
        break;
    }
    free(a);
  }
}

void weft__ucx_check_gap(ucx_ep *e) {
  ucx_req *w = (ucx_req *)e->q.head; /* the oldest receive still waiting for its message */
  if (!e->aead || e->failed || !w) return;
  /* every message queued is for a position after w's (w's own would have
   * been matched, an earlier one was refused as a replay); the header of
   * each is seen as it arrives, whatever its size */
  if (weft_net_gap_check(&e->gap, e, "ucx", w->seq, 0, e->arr_head != NULL)) e->failed = weftRemoteError;
}

void weft__ucx_free_arrivals(ucx_ctx *c, ucx_ep *e) {
  ucx_arrival *a;
  while ((a = e->arr_head)) {
    e->arr_head = a->next;
    if (a->kind != ARR_COPY) ucp_am_data_release(c->worker, a->data);
    free(a);
  }
  e->arr_tail = NULL;
  e->early_bytes = e->early_count = 0;
}

ucs_status_t weft__ucx_am_data_cb(void *arg, const void *header, size_t hlen, void *data, size_t len,
                                  const ucp_am_recv_param_t *param) {
  ucx_ctx *c = arg;
  ucx_data_hdr h;
  if (hlen != sizeof h) return UCS_OK;
  memcpy(&h, header, sizeof h);
  ucx_ep *e = weft__ucx_hash_find(c, h.nonce);
  if (!e) return UCS_OK; /* closed, or a stranger: dropped */
  int rndv = (param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV) != 0;
  ucx_req *r = (ucx_req *)e->q.head;
  if (r && r->seq == h.seq) { /* its receive is waiting: deliver now */
    weft_req_pop(&e->q);
    if (!fits(e, r, h.tag, len)) return UCS_OK;
    if (rndv) rndv_start(c, e, r, data, len);
    else deliver(e, r, data, len);
    return UCS_OK;
  }
  /* every position before the oldest waiting receive has been delivered: a
   * message for one of them is a replay (on an encrypted connection it
   * could never be opened; it fails the endpoint rather than wait) */
  if (e->aead && h.seq < (r ? r->seq : e->seq)) {
    if (!e->failed) {
      weft_net_obj_err(e, "ucx: a message from the peer for position %llu of the connection, which was delivered "
                          "already: replayed on the way; it was discarded", (unsigned long long)h.seq);
      e->failed = weftRemoteError;
    }
    return UCS_OK;
  }
  int keep = rndv || (param->recv_attr & UCP_AM_RECV_ATTR_FLAG_DATA);
  /* what a peer sends ahead of the posted receives is bounded: a legitimate
   * schedule runs a few chunks ahead, a hostile peer cannot fill memory */
  if (e->early_count >= UCX_EARLY_COUNT || (!rndv && e->early_bytes + len > UCX_EARLY_BYTES)) {
    weft__ucx_ep_fail(e, weftRemoteError,
                      "ucx: the peer sent %zu messages, %zu bytes ahead of the posted receives (at most %d and %d MiB "
                      "may wait)",
                      e->early_count + 1, e->early_bytes + (rndv ? 0 : len), UCX_EARLY_COUNT, UCX_EARLY_BYTES >> 20);
    return UCS_OK;
  }
  ucx_arrival *a = malloc(sizeof *a + (keep ? 0 : len));
  if (!a) {
    weft__ucx_ep_fail(e, weftSystemError, "ucx: out of memory queueing a message of %zu bytes", len);
    return UCS_OK;
  }
  a->next = NULL;
  a->seq = h.seq;
  a->tag = h.tag;
  a->len = len;
  if (keep) {
    a->kind = rndv ? ARR_RNDV : ARR_DESC;
    a->data = data;
  } else {
    a->kind = ARR_COPY;
    a->data = NULL;
    if (len) memcpy(a + 1, data, len);
  }
  if (e->arr_tail) e->arr_tail->next = a;
  else e->arr_head = a;
  e->arr_tail = a;
  e->early_count++;
  if (!rndv) e->early_bytes += len;
  return keep ? UCS_INPROGRESS : UCS_OK;
}

