/* ofi: listen, connect and accept over TCP (the handshake that exchanges
 * fabric addresses and endpoint ids). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/sock.h"
#include "common/accept.h"
#include "ofi/ofi_impl.h"

static ofi_ep *ep_new(ofi_ctx *c, int fd, int type) {
  ofi_ep *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  e->h.type = type;
  e->ctx = c;
  e->sock = fd;
  return e;
}

weftResult_t weft__ofi_listen(void *ctxp, int dev, const weftNetKey_t *key, void *handle, void **out) {
  ofi_ctx *c = ctxp;
  (void)dev;
  weft_net_listen *l = calloc(1, sizeof *l);
  if (!l) return weftSystemError;
  if (weft_net_listen_init(l, &c->base, key) != 0) {
    free(l);
    return weftSystemError;
  }
  ofi_handle h;
  memset(&h, 0, sizeof h);
  h.magic = HANDLE_MAGIC;
  h.sa = c->local;
  if (weft_net_listen_tcp(l, &h.sa) != weftSuccess) {
    free(l);
    return weftSystemError;
  }
  if (c->addrlen <= sizeof h.addr) { /* else it comes with the connection's answer */
    h.addrlen = (uint16_t)c->addrlen;
    memcpy(h.addr, c->addr, c->addrlen);
  }
  weft_net_handle_put(handle, &h, sizeof h, l);
  *out = l;
  return weftSuccess;
}

weftResult_t weft__ofi_connect(void *ctxp, int dev, const void *handle, const weftNetKey_t *key, uint64_t conn_id,
                               uint32_t flags, int timeout_ms, void **out) {
  ofi_ctx *c = ctxp;
  (void)dev;
  ofi_handle h;
  memcpy(&h, handle, sizeof h);
  if (h.magic != HANDLE_MAGIC || h.addrlen > sizeof h.addr) {
    weft_net_obj_err(c, "not an ofi transport handle");
    return weftInvalidUsage;
  }
  weft_net_hello hello;
  flags &= WEFT_NET_CONN_ENCRYPT;
  if (weft_net_hello_seal(&hello, sizeof hello, HELLO_MAGIC, key, handle, conn_id, flags) != 0) {
    weft_net_obj_err(c, "ofi: cannot make the hello (no random bytes?)");
    return weftSystemError;
  }
  int fd;
  weftResult_t res = weft_net_hello_dial(&c->base, &h.sa, &hello, sizeof hello, timeout_ms, &fd);
  if (res != weftSuccess) return res;
  ofi_ep *e = ep_new(c, fd, WEFT_NET_OBJ_SEND);
  if (!e) {
    close(fd);
    return weftSystemError;
  }
  e->flags = flags;
  e->key = *key; /* to check the answer, which comes later */
  memcpy(e->listen_nonce, weft_net_handle_nonce(handle), WEFT_NONCE_BYTES);
  e->hello = hello;
  if (h.addrlen) {
    if (weft__ofi_av_lookup(c, h.addr, h.addrlen, &e->dest) != 0) {
      weft_net_obj_err(c, "cannot insert the peer's fabric address into the address vector");
      close(fd);
      free(e);
      return weftSystemError;
    }
    e->have_dest = 1;
  }
  *out = e;
  return weftSuccess;
}

/* Checks the key, gives the connection an endpoint id and answers with it
 * and this context's fabric address. */
static weft_net_verdict ofi_take(weft_net_listen *l, int fd, int hello_ms, void **out, uint64_t *conn_id,
                                 uint32_t *flags, weftResult_t *res) {
  ofi_ctx *c = (ofi_ctx *)l->ctx;
  weft_net_hello h;
  if (!weft_net_hello_read(l, fd, &h, sizeof h, HELLO_MAGIC, hello_ms) || (h.flags & ~WEFT_NET_CONN_ENCRYPT))
    return WEFT_NET_NO_KEY;
  if (c->next_epid >= MAX_EPID) {
    weft_net_obj_err(l, "too many connections to one ofi context (%u)", MAX_EPID);
    *res = weftSystemError;
    return WEFT_NET_FAILED;
  }
  ofi_reply rp;
  memset(&rp, 0, sizeof rp);
  rp.magic = REPLY_MAGIC;
  rp.epid = ++c->next_epid;
  rp.addrlen = (uint32_t)c->addrlen;
  memcpy(rp.addr, c->addr, c->addrlen);
  ofi_ep *e = ep_new(c, fd, WEFT_NET_OBJ_RECV);
  int ok = e && weft_net_reply_make(l, &h, &rp.auth) == 0;
  if (ok && (h.flags & WEFT_NET_CONN_ENCRYPT)) ok = (e->aead = weft_net_seal_new(&l->key, l->nonce, &h, &rp.auth, 0)) != NULL;
  if (!ok) {
    if (e) e->sock = -1; /* the caller closes fd */
    weft__ofi_close_ep(e);
    weft_net_obj_err(l, "ofi: cannot answer a connection (out of memory or no random bytes)");
    *res = weftSystemError;
    return WEFT_NET_FAILED;
  }
  char err[WEFT_SOCK_ERRLEN];
  if (weft_sock_send_all(fd, &rp, sizeof rp, hello_ms, err) != 0) {
    weft_net_logf(&c->base, weftLogWarn, "ofi: dropped a connection: %s", err);
    e->sock = -1;
    weft__ofi_close_ep(e);
    return WEFT_NET_DROPPED;
  }
  e->flags = h.flags;
  *flags = h.flags;
  e->epid = rp.epid;
  e->lv_state = 1;
  *conn_id = h.conn_id;
  *out = e;
  return WEFT_NET_TAKEN;
}

weftResult_t weft__ofi_accept(void *l, int timeout_ms, void **out, uint64_t *conn_id, uint32_t *flags) {
  return weft_net_accept(l, timeout_ms, "peer", sizeof(weft_net_hello), ofi_take, out, conn_id, flags);
}
