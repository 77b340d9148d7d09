/* ucx: listen, connect and accept. Accepting is driven by the context's
 * progress: pending sockets are accepted and their hellos read and answered
 * whenever the context progresses; accept() hands out those answered. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/sock.h"
#include "util/random.h"
#include "util/clock.h"
#include "common/accept.h"
#include "ucx/ucx_impl.h"

/* ---- accepting ---------------------------------------------------------------------- */

void weft__ucx_hello_drop(ucx_ctx *c, ucx_hello_conn *h) {
  for (ucx_hello_conn **pp = &c->hellos; *pp; pp = &(*pp)->next)
    if (*pp == h) {
      *pp = h->next;
      break;
    }
  weft__ucx_sock_close(c, &h->fd);
  free(h);
}

void weft__ucx_hello_read(ucx_ctx *c, ucx_hello_conn *h) {
  ssize_t n = recv(h->fd, (char *)&h->hello + h->got, sizeof h->hello - h->got, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n <= 0) {
    weft__ucx_hello_drop(c, h);
    return;
  }
  h->got += (size_t)n;
  if (h->got < sizeof h->hello) return;
  ucx_listen *l = h->l;
  if (!weft_net_hello_check(&l->base, &h->hello, sizeof h->hello, UCX_MAGIC) ||
      (h->hello.h.flags & ~WEFT_NET_CONN_ENCRYPT) || !h->hello.nonce || weft__ucx_hash_find(c, h->hello.nonce)) {
    weft_net_drop_stranger(&l->base);
    weft__ucx_hello_drop(c, h);
    return;
  }
  /* the answer: {magic, address length, host}, the proof of the key (whose
   * nonce also goes into the keys of an encrypted connection), the address */
  char err[WEFT_SOCK_ERRLEN];
  ucx_reply rep = {UCX_MAGIC, c->waddr_len, c->host};
  weft_net_reply auth;
  ucx_ep *e = calloc(1, sizeof *e);
  int ok = e && weft_net_reply_make(&l->base, &h->hello.h, &auth) == 0;
  if (ok && (h->hello.h.flags & WEFT_NET_CONN_ENCRYPT))
    ok = (e->aead = weft_net_seal_new(&l->base.key, l->base.nonce, &h->hello.h, &auth, 0)) != NULL;
  if (!ok || weft_sock_send_all(h->fd, &rep, sizeof rep, 2000, err) != 0 ||
      weft_sock_send_all(h->fd, &auth, sizeof auth, 2000, err) != 0 ||
      weft_sock_send_all(h->fd, c->waddr, c->waddr_len, 2000, err) != 0) {
    weft_net_logf(&c->base, weftLogWarn, "ucx: answering a connection failed%s", ok ? "" : ": out of memory");
    if (e) weft_aead_free(e->aead);
    free(e);
    weft__ucx_hello_drop(c, h);
    return;
  }
  e->flags = h->hello.h.flags;
  e->h.type = WEFT_NET_OBJ_RECV;
  e->ctx = c;
  e->nonce = h->hello.nonce;
  e->conn_id = h->hello.h.conn_id;
  e->fd = h->fd;
  h->fd = -1;
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.ptr = e;
  epoll_ctl(c->epfd, EPOLL_CTL_MOD, e->fd, &ev);
  weft__ucx_hash_add(c, e);
  if (l->ready_tail) l->ready_tail->lnext = e;
  else l->ready_head = e;
  l->ready_tail = e;
  weft__ucx_hello_drop(c, h);
}

void weft__ucx_listen_accept(ucx_ctx *c, ucx_listen *l) {
  for (;;) {
    int fd = accept4(l->base.fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) return;
    weft_sock_nodelay(fd);
    ucx_hello_conn *h = calloc(1, sizeof *h);
    if (!h) {
      close(fd);
      continue;
    }
    h->h.type = OBJ_HELLO;
    h->l = l;
    h->fd = fd;
    h->next = c->hellos;
    c->hellos = h;
    if (weft__ucx_watch(c, fd, h) != 0) weft__ucx_hello_drop(c, h);
  }
}

/* ---- connection setup ------------------------------------------------------------------ */

weftResult_t weft__ucx_listen(void *ctxp, int dev, const weftNetKey_t *key, void *handle, void **out) {
  ucx_ctx *c = ctxp;
  (void)dev;
  ucx_listen *l = calloc(1, sizeof *l);
  if (!l) return weftSystemError;
  if (weft_net_listen_init(&l->base, &c->base, key) != 0) {
    free(l);
    return weftSystemError;
  }
  ucx_handle h;
  memset(&h, 0, sizeof h);
  h.magic = UCX_MAGIC;
  h.addr = c->local;
  if (weft_net_listen_tcp(&l->base, &h.addr) != weftSuccess) {
    free(l);
    return weftSystemError;
  }
  ctx_lock(c);
  int w = weft__ucx_watch(c, l->base.fd, l);
  ctx_unlock(c);
  if (w != 0) {
    weft_net_obj_err(c, "ucx: epoll_ctl: %s", strerror(errno));
    close(l->base.fd);
    free(l);
    return weftSystemError;
  }
  weft_net_handle_put(handle, &h, sizeof h, &l->base);
  *out = l;
  return weftSuccess;
}

weftResult_t weft__ucx_connect(void *ctxp, int dev, const void *handle, const weftNetKey_t *key, uint64_t conn_id,
                               uint32_t flags, int timeout_ms, void **out) {
  ucx_ctx *c = ctxp;
  (void)dev;
  ucx_handle h;
  memcpy(&h, handle, sizeof h);
  if (h.magic != UCX_MAGIC) {
    weft_net_obj_err(c, "ucx: peer published no ucx endpoint");
    return weftInternalError;
  }
  ucx_hello hello;
  do weft_random_bytes(&hello.nonce, sizeof hello.nonce);
  while (!hello.nonce);
  if (weft_net_hello_seal(&hello, sizeof hello, UCX_MAGIC, key, handle, conn_id, flags & WEFT_NET_CONN_ENCRYPT) != 0) {
    weft_net_obj_err(c, "ucx: cannot make the hello (no random bytes?)");
    return weftSystemError;
  }
  int fd;
  weftResult_t res = weft_net_hello_dial(&c->base, &h.addr, &hello, sizeof hello, timeout_ms, &fd);
  if (res != weftSuccess) return res;
  weft_sock_nodelay(fd);
  ucx_ep *e = calloc(1, sizeof *e);
  if (!e) {
    close(fd);
    return weftSystemError;
  }
  e->h.type = WEFT_NET_OBJ_SEND;
  e->ctx = c;
  e->fd = fd;
  e->nonce = hello.nonce;
  e->flags = flags & WEFT_NET_CONN_ENCRYPT;
  e->key = *key; /* to check the answer, which comes later */
  memcpy(e->listen_nonce, weft_net_handle_nonce(handle), WEFT_NONCE_BYTES);
  e->hello = hello;
  ctx_lock(c);
  int w = weft__ucx_watch(c, fd, e);
  if (w == 0) weft__ucx_sock_poll(c); /* the reply may be there already */
  ctx_unlock(c);
  if (w != 0) {
    weft_net_obj_err(c, "ucx: epoll_ctl: %s", strerror(errno));
    close(fd);
    free(e);
    return weftSystemError;
  }
  *out = e;
  return weftSuccess;
}

weftResult_t weft__ucx_accept(void *lp, int timeout_ms, void **out, uint64_t *conn_id, uint32_t *flags) {
  ucx_listen *l = lp;
  ucx_ctx *c = listen_ctx(l);
  long long deadline = weft_now_ms() + timeout_ms;
  for (;;) {
    ctx_lock(c);
    weft__ucx_ctx_progress(c, 1);
    ucx_ep *e = l->ready_head;
    if (e) {
      l->ready_head = e->lnext;
      if (!l->ready_head) l->ready_tail = NULL;
      e->lnext = NULL;
    }
    ctx_unlock(c);
    if (e) {
      *conn_id = e->conn_id;
      *flags = e->flags;
      *out = e;
      return weftSuccess;
    }
    long long left = deadline - weft_now_ms();
    if (left <= 0) return weft_net_accept_timeout(&l->base, "peer", timeout_ms);
    weft__ucx_ctx_wait(c, left < 50 ? (int)left : 50);
  }
}

weftResult_t weft__ucx_close_listen(void *lp) {
  ucx_listen *l = lp;
  if (!l) return weftSuccess;
  ucx_ctx *c = listen_ctx(l);
  ctx_lock(c);
  weft__ucx_sock_close(c, &l->base.fd);
  for (ucx_hello_conn *h = c->hellos, *next; h; h = next) {
    next = h->next;
    if (h->l == l) weft__ucx_hello_drop(c, h);
  }
  ucx_ep *e;
  while ((e = l->ready_head)) { /* answered but never accepted */
    l->ready_head = e->lnext;
    weft__ucx_hash_remove(c, e);
    weft__ucx_free_arrivals(c, e);
    weft__ucx_sock_close(c, &e->fd);
    weft_req_destroy(&e->q);
    weft_aead_free(e->aead);
    free(e);
  }
  ctx_unlock(c);
  free(l);
  return weftSuccess;
}
