/* ucx: the context's progress. The nonce table that routes active messages
 * to receive endpoints, the epoll set of the context's sockets, and the
 * rounds of progress (worker, then sockets) that every call makes. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "util/sock.h"
#include "util/clock.h"
#include "ucx/ucx_impl.h"

/* ---- nonce table ---------------------------------------------------------- */

static unsigned bucket_of(uint64_t nonce) { return (unsigned)((nonce ^ (nonce >> 29)) & (HBUCKETS - 1)); }

ucx_ep *weft__ucx_hash_find(ucx_ctx *c, uint64_t nonce) {
  ucx_ep *e = c->buckets[bucket_of(nonce)];
  while (e && e->nonce != nonce) e = e->hnext;
  return e;
}

void weft__ucx_hash_add(ucx_ctx *c, ucx_ep *e) {
  unsigned b = bucket_of(e->nonce);
  e->hnext = c->buckets[b];
  c->buckets[b] = e;
}

void weft__ucx_hash_remove(ucx_ctx *c, ucx_ep *e) {
  for (ucx_ep **pp = &c->buckets[bucket_of(e->nonce)]; *pp; pp = &(*pp)->hnext)
    if (*pp == e) {
      *pp = e->hnext;
      e->hnext = NULL;
      return;
    }
}

/* ---- sockets ----------------------------------------------------------------- */

int weft__ucx_watch(ucx_ctx *c, int fd, void *obj) {
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.ptr = obj;
  return epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev);
}

void weft__ucx_sock_close(ucx_ctx *c, int *fd) {
  if (*fd < 0) return;
  epoll_ctl(c->epfd, EPOLL_CTL_DEL, *fd, NULL);
  close(*fd);
  *fd = -1;
}


/* ---- progress ---------------------------------------------------------------- */

/* Looks at every socket with something to say; the lock is held. */
void weft__ucx_sock_poll(ucx_ctx *c) {
  struct epoll_event ev[32];
  c->sock_checked = weft_now_ms();
  int n = epoll_wait(c->epfd, ev, 32, 0);
  for (int i = 0; i < n; i++) {
    weft_net_obj *o = ev[i].data.ptr;
    if (!o) continue; /* the worker's descriptor */
    switch (o->type) {
      case WEFT_NET_OBJ_LISTEN: weft__ucx_listen_accept(c, (ucx_listen *)o); break;
      case OBJ_HELLO: weft__ucx_hello_read(c, (ucx_hello_conn *)o); break;
      case WEFT_NET_OBJ_SEND: if (((ucx_ep *)o)->fd >= 0) weft__ucx_send_sock(c, (ucx_ep *)o); break;
      case WEFT_NET_OBJ_RECV: if (((ucx_ep *)o)->fd >= 0) weft__ucx_recv_sock(c, (ucx_ep *)o); break;
      default: break;
    }
  }
}

/* One round of progress; the lock is held. Returns nonzero if UCP did
 * something. */
unsigned weft__ucx_ctx_progress(ucx_ctx *c, int sockets) {
  unsigned n = ucp_worker_progress(c->worker);
  if (sockets || weft_now_ms() - c->sock_checked >= SOCK_CHECK_MS) weft__ucx_sock_poll(c);
  return n;
}

/* Progresses, then sleeps until the worker or a socket has news, at most
 * ms. The lock is not held. */
void weft__ucx_ctx_wait(ucx_ctx *c, int ms) {
  ctx_lock(c);
  int spins = 0;
  while (weft__ucx_ctx_progress(c, 1) && spins++ < 64) {
  }
  ucs_status_t st = c->efd >= 0 ? ucp_worker_arm(c->worker) : UCS_ERR_UNSUPPORTED;
  ctx_unlock(c);
  if (st == UCS_ERR_BUSY || spins) return;
  struct pollfd pf = {c->epfd, POLLIN, 0};
  poll(&pf, 1, st == UCS_OK ? (ms > 0 ? ms : 0) : (ms > 1 ? 1 : 0));
}

