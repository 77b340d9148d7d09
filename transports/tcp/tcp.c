/* tcp transport: one nonblocking stream socket per direction and peer (weft
 * opens several per peer on long fat links: maxStreams).
 * Each message is a 16-byte frame header (tag, size) followed by the payload,
 * written from and read straight into the caller's buffer; on a connection
 * that weft asks to encrypt, sealed records instead (tcp_aead.c).
 * A connection opens with the HMAC hello (common/hello.h); the acceptor's
 * reply is read by the connecting side before its first frame. Progress happens
 * only inside test(), driven by weft's progress engine.
 * Socket buffers are left to the kernel's autotuning (up to tcp_wmem/tcp_rmem
 * maxima) unless WEFT_SOCKET_BUFSIZE asks for a size; setting one turns
 * autotuning off for that socket and is capped by net.core.[rw]mem_max
 * unless the process may force it (CAP_NET_ADMIN). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util/param.h"
#include "util/sock.h"
#include "common/accept.h"
#include "common/hello.h"
#include "common/listen.h"
#include "util/clock.h"
#include "common/net_define.h"
#include "common/req_queue.h"
#include "tcp/tcp.h"
#include "tcp/tcp_impl.h"

#define TCP_HELLO_MAGIC 0x77656674746370ULL /* "wefttcp" */

typedef struct {
  weft_net_ctx base;
  weft_sockaddr local;
  int bufsize; /* WEFT_SOCKET_BUFSIZE, 0 = autotuning */
} tcp_ctx;



static weftResult_t tcp_init(const weftNetInitArgs_t *args, void **out) {
  tcp_ctx *c = calloc(1, sizeof *c);
  if (!c) return weftSystemError;
  weft_net_ctx_init(&c->base, "tcp", args);
  char err[WEFT_SOCK_ERRLEN];
  if (weft_net_local_addr(args, &c->local, err) != 0) {
    weft_net_logf(&c->base, weftLogWarn, "tcp: no local address: %s", err); /* e.g. WEFT_SOCKET_IFNAME matches nothing */
    free(c);
    return weftSystemError;
  }
  size_t bs = weft_env_size("WEFT_SOCKET_BUFSIZE", 0);
  c->bufsize = bs > (1u << 30) ? 1 << 30 : (int)bs;
  *out = c;
  return weftSuccess;
}

static weftResult_t tcp_properties(void *ctx, int dev, weftNetProperties_t *p) {
  (void)ctx;
  (void)dev;
  p->name = "tcp";
  p->bandwidthGbps = 10.0;
  p->latencyUs = 20.0;
  p->maxStreams = 64; /* weft stripes long-haul messages over parallel sockets */
  p->encrypts = 1;
  p->connectRetry = 1; /* a dial that timed out is closed: tcp_connect may be called again */
  return weftSuccess;
}

static weftResult_t tcp_listen(void *ctxp, int dev, const weftNetKey_t *key, void *handle, void **out) {
  tcp_ctx *ctx = ctxp;
  (void)dev;
  weft_net_listen *l = calloc(1, sizeof *l);
  if (!l) return weftSystemError;
  weft_sockaddr a = ctx->local;
  if (weft_net_listen_init(l, &ctx->base, key) != 0 || weft_net_listen_tcp(l, &a) != weftSuccess) {
    free(l);
    return weftSystemError;
  }
  weft_net_handle_put(handle, &a, sizeof a, l);
  *out = l;
  return weftSuccess;
}

/* Asks for WEFT_SOCKET_BUFSIZE-byte socket buffers (forced when allowed). */
static void set_bufsize(tcp_ctx *ctx, int fd) {
  if (!ctx->bufsize) return;
  int v = ctx->bufsize;
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof v) != 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof v) != 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof v);
}

#define ep_fail weft__tcp_ep_fail

static tcp_ep *ep_new(int fd, int type) {
  tcp_ep *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  e->h.type = type;
  e->fd = fd;
  return e;
}

static void ep_free(tcp_ep *e) {
  weft_req_destroy(&e->q);
  if (e->fd >= 0) close(e->fd);
  weft_aead_free(e->aead);
  free(e->stage);
  weft_wipe(&e->key, sizeof e->key);
  free(e);
}

static weftResult_t tcp_connect(void *ctxp, int dev, const void *handle, const weftNetKey_t *key,
                                uint64_t conn_id, uint32_t flags, int timeout_ms, void **out) {
  tcp_ctx *ctx = ctxp;
  (void)dev;
  weft_sockaddr a;
  memcpy(&a, handle, sizeof a);
  tcp_ep *e = ep_new(-1, WEFT_NET_OBJ_SEND);
  if (!e) return weftSystemError;
  e->awaiting_reply = 1;
  e->key = *key;
  memcpy(e->listen_nonce, weft_net_handle_nonce(handle), WEFT_NONCE_BYTES);
  if ((flags & WEFT_NET_CONN_ENCRYPT) && !(e->stage = malloc(TCP_AEAD_CHUNK + WEFT_AEAD_TAG))) {
    ep_free(e);
    return weftSystemError;
  }
  if (weft_net_hello_seal(&e->hello, sizeof e->hello, TCP_HELLO_MAGIC, key, handle, conn_id,
                          flags & WEFT_NET_CONN_ENCRYPT) != 0) {
    weft_net_obj_err(&ctx->base, "tcp: cannot make the hello (no random bytes?)");
    ep_free(e);
    return weftSystemError;
  }
  weftResult_t res = weft_net_hello_dial(&ctx->base, &a, &e->hello, sizeof e->hello, timeout_ms, &e->fd);
  if (res != weftSuccess) {
    ep_free(e);
    return res;
  }
  set_bufsize(ctx, e->fd);
  *out = e;
  return weftSuccess;
}

/* Send side: reads and checks the acceptor's reply (sent when it accepted,
 * so it is there by the first frame) and derives the frame keys from it.
 * 1: done, 0: not there yet, -1: failed. */
static int finish_handshake(tcp_ep *e) {
  while (e->reply_got < sizeof e->reply) {
    ssize_t k = recv(e->fd, (char *)&e->reply + e->reply_got, sizeof e->reply - e->reply_got, MSG_DONTWAIT);
    if (k <= 0) {
      if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return 0;
      weft_net_obj_err(e, "tcp: the peer closed the connection before it answered the hello (a different job key?)");
      return ep_fail(e, weftRemoteError), -1;
    }
    e->reply_got += (size_t)k;
  }
  if (!weft_net_reply_check(&e->key, e->listen_nonce, &e->hello, &e->reply)) {
    weft_net_obj_err(e, "tcp: the peer's answer does not prove the job key: not the peer weft published");
    return ep_fail(e, weftRemoteError), -1;
  }
  if (e->stage) {
    uint8_t k[WEFT_KEY_BYTES], iv[WEFT_AEAD_IV];
    int rc = weft_net_link_keys(&e->key, e->listen_nonce, &e->hello, &e->reply, k, iv);
    e->aead = rc == 0 ? weft_aead_new(k, iv, 1) : NULL;
    weft_wipe(k, sizeof k);
    if (!e->aead) {
      weft_net_obj_err(e, "tcp: cannot set up the frame encryption");
      return ep_fail(e, weftSystemError), -1;
    }
  }
  e->awaiting_reply = 0;
  return 1;
}

static weft_net_verdict tcp_take(weft_net_listen *l, int fd, int hello_ms, void **out, uint64_t *conn_id,
                                 uint32_t *flags, weftResult_t *res) {
  weft_net_hello h;
  weft_net_reply rep;
  char err[WEFT_SOCK_ERRLEN];
  if (!weft_net_hello_read(l, fd, &h, sizeof h, TCP_HELLO_MAGIC, hello_ms) || (h.flags & ~WEFT_NET_CONN_ENCRYPT))
    return WEFT_NET_NO_KEY;
  if (weft_net_reply_make(l, &h, &rep) != 0 || weft_sock_send_all(fd, &rep, sizeof rep, hello_ms, err) != 0)
    return WEFT_NET_DROPPED;
  set_bufsize((tcp_ctx *)l->ctx, fd);
  tcp_ep *e = ep_new(fd, WEFT_NET_OBJ_RECV);
  if (!e) {
    *res = weftSystemError;
    return WEFT_NET_FAILED;
  }
  if (h.flags & WEFT_NET_CONN_ENCRYPT) {
    uint8_t k[WEFT_KEY_BYTES], iv[WEFT_AEAD_IV];
    e->aead = weft_net_link_keys(&l->key, l->nonce, &h, &rep, k, iv) == 0 ? weft_aead_new(k, iv, 0) : NULL;
    weft_wipe(k, sizeof k);
    if (!e->aead) {
      e->fd = -1; /* the caller closes fd */
      ep_free(e);
      weft_net_obj_err(l, "tcp: cannot set up the frame decryption");
      *res = weftSystemError;
      return WEFT_NET_FAILED;
    }
  }
  *conn_id = h.conn_id;
  *flags = h.flags;
  *out = e;
  return WEFT_NET_TAKEN;
}

static weftResult_t tcp_accept(void *l, int timeout_ms, void **out, uint64_t *conn_id, uint32_t *flags) {
  return weft_net_accept(l, timeout_ms, "peer", sizeof(weft_net_hello), tcp_take, out, conn_id, flags);
}

static tcp_req *req_new(tcp_ep *e) {
  tcp_req *r = weft_req_get(&e->q, sizeof *r);
  if (r) r->ep = e;
  return r;
}

static tcp_req *req_head(tcp_ep *e) { return (tcp_req *)e->q.head; }

void weft__tcp_req_done(tcp_ep *e) {
  req_head(e)->complete = 1;
  weft_req_pop(&e->q);
}
#define req_done weft__tcp_req_done

weftResult_t weft__tcp_ep_fail(tcp_ep *e, weftResult_t res) {
  e->failed = res;
  return res;
}

static weftResult_t progress_send(tcp_ep *e) {
  while (e->q.head) {
    tcp_req *r = req_head(e);
    size_t total = sizeof r->hdr + r->size;
    struct iovec iov[2];
    int n = 0;
    if (r->off < sizeof r->hdr) {
      iov[n].iov_base = (char *)&r->hdr + r->off;
      iov[n++].iov_len = sizeof r->hdr - r->off;
      iov[n].iov_base = r->buf;
      iov[n++].iov_len = r->size;
    } else {
      iov[n].iov_base = r->buf + (r->off - sizeof r->hdr);
      iov[n++].iov_len = total - r->off;
    }
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = iov;
    m.msg_iovlen = (size_t)n;
    ssize_t w = sendmsg(e->fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return weftSuccess;
      weft_net_obj_err(e, "send failed: %s", strerror(errno));
      return ep_fail(e, weftRemoteError);
    }
    r->off += (size_t)w;
    if (r->off < total) return weftSuccess;
    req_done(e);
  }
  return weftSuccess;
}

static weftResult_t progress_recv(tcp_ep *e) {
  while (e->q.head) {
    tcp_req *r = req_head(e);
    char *dst;
    size_t want;
    if (r->off < sizeof r->hdr) {
      dst = (char *)&r->hdr + r->off;
      want = sizeof r->hdr - r->off;
    } else {
      dst = r->buf + (r->off - sizeof r->hdr);
      want = sizeof r->hdr + r->hdr.size - r->off;
    }
    ssize_t got = want ? weft__tcp_rx(e, dst, want, want) : 0;
    if (want && got <= 0) {
      if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return weftSuccess;
      weft_net_obj_err(e, "%s", got == 0 ? "connection closed by peer" : strerror(errno));
      return ep_fail(e, weftRemoteError);
    }
    size_t before = r->off;
    r->off += (size_t)got;
    if (r->off < sizeof r->hdr) return weftSuccess;
    if (before < sizeof r->hdr && r->hdr.size > r->size) {
      weft_net_obj_err(e, "incoming message of %llu bytes does not fit the posted %zu bytes",
                       (unsigned long long)r->hdr.size, r->size);
      return ep_fail(e, weftInvalidUsage);
    }
    if (r->off >= sizeof r->hdr + r->hdr.size) req_done(e);
  }
  return weftSuccess;
}

static weftResult_t progress(tcp_ep *e) {
  if (e->h.type == WEFT_NET_OBJ_RECV) return e->aead ? weft__tcp_aead_recv(e) : progress_recv(e);
  if (e->awaiting_reply && finish_handshake(e) <= 0) return e->failed;
  return e->aead ? weft__tcp_aead_send(e) : progress_send(e);
}

static weftResult_t tcp_isend(void *sc, const void *data, size_t size, uint64_t tag, void *mh,
                              void **request) {
  tcp_ep *e = sc;
  (void)mh;
  if (e->failed) return e->failed;
  tcp_req *r = req_new(e);
  if (!r) return weftSystemError;
  r->buf = (char *)data;
  r->size = size;
  r->hdr.tag = tag;
  r->hdr.size = size;
  weft_req_push(&e->q, r);
  *request = r;
  return req_head(e) == r ? progress(e) : weftSuccess;
}

static weftResult_t tcp_irecv(void *rc, void *data, size_t size, uint64_t tag, void *mh,
                              void **request) {
  tcp_ep *e = rc;
  (void)mh;
  if (e->failed) return e->failed;
  tcp_req *r = req_new(e);
  if (!r) return weftSystemError;
  r->buf = data;
  r->size = size;
  (void)tag; /* matching is by order; the sender's tag is reported by test() */
  weft_req_push(&e->q, r);
  *request = r;
  return weftSuccess;
}

static weftResult_t tcp_test(void *request, int *done, size_t *size, uint64_t *tag) {
  tcp_req *r = request;
  tcp_ep *e = r->ep;
  *done = 0;
  /* only the head moves: a later request waits for it, and the executor
   * tests every request in flight each round, so progressing here too cost
   * one system call per queued request (most of them EAGAIN) */
  if (!r->complete && !e->failed && req_head(e) == r) progress(e);
  if (!r->complete) {
    if (e->failed && (e->aead ? r->rec > 0 : r->off >= sizeof r->hdr)) {
      if (size) *size = (size_t)r->hdr.size;
      if (tag) *tag = r->hdr.tag;
    }
    return e->failed;
  }
  *done = 1;
  if (size) *size = (size_t)r->hdr.size;
  if (tag) *tag = r->hdr.tag;
  weft_req_release(&e->q, r);
  return weftSuccess;
}

static int tcp_poll_fd(void *comm, short *events) {
  tcp_ep *e = comm;
  /* a send endpoint waits for the acceptor's reply first (it accepts when
   * its own call needs the link, which may be later than this one's) */
  *events = e->h.type == WEFT_NET_OBJ_SEND && !e->awaiting_reply ? POLLOUT : POLLIN;
  if (e->h.type == WEFT_NET_OBJ_RECV) weft__tcp_rx_before_poll(e);
  return e->fd;
}

static weftResult_t tcp_close_ep(void *c) {
  if (c) ep_free(c);
  return weftSuccess;
}

WEFT_NET_DEFINE(weft_net_tcp) = {
    .abiVersion = WEFT_NET_ABI_VERSION,
    .name = "tcp",
    .init = tcp_init,
    .devices = weft_net_one_device,
    .getProperties = tcp_properties,
    .listen = tcp_listen,
    .connect = tcp_connect,
    .accept = tcp_accept,
    .regMr = NULL,
    .deregMr = NULL,
    .isend = tcp_isend,
    .irecv = tcp_irecv,
    .test = tcp_test,
    .pollFd = tcp_poll_fd,
    .lastError = weft_net_last_error,
    .closeSend = tcp_close_ep,
    .closeRecv = tcp_close_ep,
    .closeListen = weft_net_close_listen,
    .finalize = weft_net_free_ctx,
};
