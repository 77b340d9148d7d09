/* ucx transport: UCP active messages between worker-address endpoints, with
 * a plain TCP socket per connection for setup and liveness. (UCX 1.13.)
 *
 * Each init() context owns one ucp_context and one ucp_worker (features AM and
 * WAKEUP), driven only from the calls weft makes (no transport thread). A
 * per-context mutex serializes every use of the worker and of the context's
 * lists, so the worker runs in UCS_THREAD_MODE_SERIALIZED: the engine thread
 * and a thread closing endpoints never touch it at the same time.
 *
 * Connections. UCP's own client-server endpoints (listener + sockaddr) would
 * only use network transports in this UCX (no shared memory, no cma), and a
 * worker address (~200 bytes) does not fit the 128-byte handle, so:
 *   - listen() opens a TCP listener on localAddr; the handle is {magic, addr}.
 *   - connect() connects to it and writes a hello {magic, key, connId, nonce},
 *     then returns at once (weft calls every connect before any accept, so a
 *     connect must never wait for the peer): the send endpoint is
 *     "unresolved", and queues its sends, until the reply {magic, length,
 *     worker address, host id} arrives on the socket; then it creates the UCP
 *     endpoint and issues the queued sends in order.
 *   - whenever the context makes progress (including inside connect and
 *     accept) it accepts pending sockets, reads hellos, drops those without
 *     the key, and answers the others with its worker address; accept()
 *     hands them out.
 * The socket then stays open for the connection's lifetime, as the liveness
 * signal: a peer that exits or closes its endpoint closes it. A sender that
 * closes after flushing writes a bye {magic, messages sent} first, so the
 * receiver still takes those messages and fails only receives beyond them.
 * Endpoints to other hosts ask UCP for peer error handling too (its error
 * handler fails the endpoint); endpoints within a host do not, because UCP
 * would then leave out the shared-memory transports (see peer_mode).
 *
 * Protocols: the v2 protocols are selected unless UCX_PROTO_ENABLE is set
 * (see ucx_init). After a failure or an abort (transfers cut short by a
 * close), finalize leaves the UCX context allocated: UCX 1.13 aborts in
 * ucp_cleanup on registrations such transfers still hold.
 *
 * Messages. Every message is one DATA active message whose 24-byte header is
 * {nonce, seq, tag}: the nonce names the receive endpoint, seq is the
 * message's position on its send endpoint (receives are matched by position,
 * whatever their tags) and tag is weft's, handed back by test(). UCP picks
 * eager or rendezvous by size. An eager message that meets its posted receive
 * is copied into it inside the callback; a rendezvous message is fetched with
 * ucp_am_recv_data_nbx straight into the posted buffer (zero-copy: cma on one
 * host, the fastest lane otherwise). Messages that arrive before their receive
 * is posted are queued (keeping UCP's descriptor when it lets us, else a
 * copy). A message larger than its receive fails it with weftInvalidUsage and
 * releases the data (the sender completes normally).
 *
 * Requests are polled with ucp_request_check_status, so UCP never calls back
 * into memory we might have freed.
 *
 * pollFd returns an epoll descriptor holding the worker's wake-up descriptor
 * (armed with ucp_worker_arm) and every socket of the context. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ucp/api/ucp.h>

#include "util/param.h"
#include "util/sock.h"
#include "util/random.h"
#include "util/clock.h"
#include "common/net_define.h"
#include "common/req_queue.h"
#include "ucx/ucx.h"

#define UCX_MAGIC 0x7765667475637831ULL /* "weftucx1" */
#define UCX_BYE 0x7765667475637862ULL   /* "weftucxb" */
#define UCX_ERRLEN 256
#define AM_DATA 24
#define HBUCKETS 256
#define MAX_ADDR 8192
#define CLOSE_FLUSH_MS 1000 /* bounded wait for the flush before a close */
#define CLOSE_WAIT_MS 500   /* bounded wait for cancelled requests */
#define SOCK_CHECK_MS 1     /* sockets are looked at this often while busy */

enum { OBJ_CTX = 1, OBJ_LISTEN, OBJ_HELLO, OBJ_SEND, OBJ_RECV };
enum { RQ_QUEUED = 0, RQ_ACTIVE, RQ_DONE }; /* QUEUED: posted receive, or send waiting for the endpoint */
enum { ARR_COPY = 0, ARR_DESC, ARR_RNDV };

typedef struct {
  int type;
  char err[UCX_ERRLEN];
} ucx_obj;

typedef struct {
  uint64_t magic;
  weft_sockaddr addr;
} ucx_handle;

typedef struct {
  uint64_t magic;
  uint64_t key;
  uint64_t conn_id;
  uint64_t nonce;
} ucx_hello;

typedef struct {
  uint64_t magic;
  uint64_t len;  /* worker address bytes that follow (a bye: messages sent) */
  uint64_t host; /* host_id() of the receiver */
} ucx_reply;

typedef struct {
  uint64_t nonce;
  uint64_t seq;
  uint64_t tag;
} ucx_data_hdr;

struct ucx_ctx;
struct ucx_listen;
struct ucx_ep;

typedef struct ucx_token {
  struct ucx_token *next;
  struct ucx_ep *ep; /* NULL once the endpoint is closed */
} ucx_token;

/* A message that arrived before its receive was posted. */
typedef struct ucx_arrival {
  struct ucx_arrival *next;
  uint64_t seq, tag;
  size_t len;
  int kind;
  void *data; /* ARR_DESC, ARR_RNDV: UCP's descriptor; ARR_COPY: the bytes follow the struct */
} ucx_arrival;

typedef struct ucx_req {
  weft_req_link link;
  struct ucx_ep *ep;
  void *ureq; /* UCP request in flight, or NULL */
  char *buf;
  size_t size;  /* posted size */
  size_t got;   /* the message's size */
  uint64_t tag; /* the sender's tag */
  uint64_t seq;
  int state;
  weftResult_t res;
  ucx_data_hdr hdr; /* sends: the header, alive until completion */
} ucx_req;

typedef struct ucx_ep {
  ucx_obj h;
  struct ucx_ctx *ctx;
  int fd;         /* setup and liveness socket, -1 once closed */
  ucp_ep_h ep;    /* sends: NULL until resolved */
  ucx_token *token; /* sends: the error handler's argument */
  uint64_t nonce;
  uint64_t conn_id;
  uint64_t seq;   /* sends: next message; receives: next posted receive */
  uint64_t limit; /* receives: the peer said bye after this many messages */
  int bye;
  weftResult_t failed;
  weft_req_queue q;                 /* receives: posted, not matched yet; sends: waiting for the endpoint */
  ucx_arrival *arr_head, *arr_tail; /* receives: unexpected messages */
  struct ucx_ep *hnext;             /* nonce bucket */
  struct ucx_ep *lnext;             /* listener's ready list */
  /* sends, until resolved: the reply being read; receives: the bye */
  ucx_reply reply;
  char *addr;
  size_t got;
} ucx_ep;

/* An accepted socket whose hello has not fully arrived. */
typedef struct ucx_hello_conn {
  ucx_obj h;
  struct ucx_listen *l;
  struct ucx_hello_conn *next;
  int fd;
  size_t got;
  ucx_hello hello;
} ucx_hello_conn;

typedef struct ucx_ctx {
  ucx_obj h;
  weftNetLogFn_t log;
  void *log_user;
  weft_sockaddr local;
  pthread_mutex_t lock;
  ucp_context_h uctx;
  ucp_worker_h worker;
  ucp_address_t *waddr;
  size_t waddr_len;
  int efd;  /* the worker's wake-up descriptor, or -1 */
  int epfd; /* efd + every socket */
  long long sock_checked;
  uint64_t host; /* host_id() */
  int has_shm;   /* the context has a shared-memory transport */
  int abandoned; /* UCP requests given up on (a peer that never answered) */
  int dirty;     /* an endpoint closed with transfers in flight */
  ucx_token *tokens; /* error-handler tokens, freed after the worker */
  double bw_gbps, lat_us;
  ucx_hello_conn *hellos;     /* sockets waiting for their hello */
  ucx_ep *buckets[HBUCKETS]; /* receive endpoints by nonce */
} ucx_ctx;

typedef struct ucx_listen {
  ucx_obj h;
  ucx_ctx *ctx;
  int fd;
  uint64_t key;
  ucx_ep *ready_head, *ready_tail; /* hello answered, not yet accepted */
} ucx_listen;

#define OBJ_ERR(o, ...) snprintf(((ucx_obj *)(o))->err, UCX_ERRLEN, __VA_ARGS__)

static void ctx_log(ucx_ctx *c, weftLogLevel_t level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void ctx_log(ucx_ctx *c, weftLogLevel_t level, const char *fmt, ...) {
  if (!c->log) return;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  c->log(c->log_user, level, msg);
}

static void ctx_lock(ucx_ctx *c) { pthread_mutex_lock(&c->lock); }
static void ctx_unlock(ucx_ctx *c) { pthread_mutex_unlock(&c->lock); }

/* ---- nonce table ---------------------------------------------------------- */

static unsigned bucket_of(uint64_t nonce) { return (unsigned)((nonce ^ (nonce >> 29)) & (HBUCKETS - 1)); }

static ucx_ep *hash_find(ucx_ctx *c, uint64_t nonce) {
  ucx_ep *e = c->buckets[bucket_of(nonce)];
  while (e && e->nonce != nonce) e = e->hnext;
  return e;
}

static void hash_add(ucx_ctx *c, ucx_ep *e) {
  unsigned b = bucket_of(e->nonce);
  e->hnext = c->buckets[b];
  c->buckets[b] = e;
}

static void hash_remove(ucx_ctx *c, ucx_ep *e) {
  for (ucx_ep **pp = &c->buckets[bucket_of(e->nonce)]; *pp; pp = &(*pp)->hnext)
    if (*pp == e) {
      *pp = e->hnext;
      e->hnext = NULL;
      return;
    }
}

/* ---- sockets ----------------------------------------------------------------- */

static int watch(ucx_ctx *c, int fd, void *obj) {
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.ptr = obj;
  return epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void sock_close(ucx_ctx *c, int *fd) {
  if (*fd < 0) return;
  epoll_ctl(c->epfd, EPOLL_CTL_DEL, *fd, NULL);
  close(*fd);
  *fd = -1;
}

/* ---- endpoint failure ------------------------------------------------------- */

static weftResult_t ep_fail(ucx_ep *e, weftResult_t res, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static weftResult_t ep_fail(ucx_ep *e, weftResult_t res, const char *fmt, ...) {
  if (!e->failed) {
    e->failed = res;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->h.err, UCX_ERRLEN, fmt, ap);
    va_end(ap);
  }
  return e->failed;
}

/* UCP may still report an error on an endpoint after ucp_ep_close_nbx (seen
 * with tcp lanes), so its error handler gets a token that outlives our
 * endpoint: closing clears it, finalize frees it. */
static void ep_err_cb(void *arg, ucp_ep_h uep, ucs_status_t status) {
  ucx_token *t = arg;
  ucx_ep *e = t->ep;
  (void)uep;
  if (!e) return;
  ep_fail(e, weftRemoteError, "ucx: connection to the peer lost (%s)", ucs_status_string(status));
}

/* A receive that can no longer be satisfied: its sender is gone. */
static int recv_dead(const ucx_ep *e, const ucx_req *r) { return e->bye && r->seq >= e->limit; }

/* ---- receive matching ------------------------------------------------------------- */

static void rndv_start(ucx_ctx *c, ucx_ep *e, ucx_req *r, void *desc) {
  ucp_request_param_t p;
  memset(&p, 0, sizeof p);
  void *s = ucp_am_recv_data_nbx(c->worker, desc, r->buf, r->got, &p);
  if (s == NULL) {
    r->state = RQ_DONE;
  } else if (UCS_PTR_IS_ERR(s)) {
    r->state = RQ_DONE;
    r->res = ep_fail(e, weftRemoteError, "ucx: receiving %zu bytes failed: %s", r->got,
                     ucs_status_string(UCS_PTR_STATUS(s)));
  } else {
    r->ureq = s;
    r->state = RQ_ACTIVE;
  }
}

/* Sets r's size and tag and fails it when the message does not fit; returns
 * 1 if the data may be delivered. */
static int fits(ucx_ep *e, ucx_req *r, uint64_t tag, size_t len) {
  r->got = len;
  r->tag = tag;
  if (len <= r->size) return 1;
  r->state = RQ_DONE;
  r->res = weftInvalidUsage;
  ep_fail(e, weftInvalidUsage, "ucx: incoming message of %zu bytes does not fit the posted %zu bytes", len,
          r->size);
  return 0;
}

/* Matches posted receives with queued arrivals, in order. */
static void match(ucx_ctx *c, ucx_ep *e) {
  while (e->q.head && e->arr_head) {
    ucx_req *r = (ucx_req *)e->q.head;
    ucx_arrival *a = e->arr_head, *prev = NULL;
    while (a && a->seq != r->seq) prev = a, a = a->next;
    if (!a) return;
    if (prev) prev->next = a->next;
    else e->arr_head = a->next;
    if (e->arr_tail == a) e->arr_tail = prev;
    weft_req_pop(&e->q);
    int ok = fits(e, r, a->tag, a->len);
    switch (a->kind) {
      case ARR_COPY:
        if (ok && a->len) memcpy(r->buf, a + 1, a->len);
        break;
      case ARR_DESC:
        if (ok && a->len) memcpy(r->buf, a->data, a->len);
        ucp_am_data_release(c->worker, a->data);
        break;
      case ARR_RNDV:
        if (ok) rndv_start(c, e, r, a->data);
        else ucp_am_data_release(c->worker, a->data);
        break;
    }
    if (ok && a->kind != ARR_RNDV) r->state = RQ_DONE;
    free(a);
  }
}

static void free_arrivals(ucx_ctx *c, ucx_ep *e) {
  ucx_arrival *a;
  while ((a = e->arr_head)) {
    e->arr_head = a->next;
    if (a->kind != ARR_COPY) ucp_am_data_release(c->worker, a->data);
    free(a);
  }
  e->arr_tail = NULL;
}

static ucs_status_t am_data_cb(void *arg, const void *header, size_t hlen, void *data, size_t len,
                               const ucp_am_recv_param_t *param) {
  ucx_ctx *c = arg;
  ucx_data_hdr h;
  if (hlen != sizeof h) return UCS_OK;
  memcpy(&h, header, sizeof h);
  ucx_ep *e = hash_find(c, h.nonce);
  if (!e) return UCS_OK; /* closed, or a stranger: dropped */
  int rndv = (param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV) != 0;
  ucx_req *r = (ucx_req *)e->q.head;
  if (r && r->seq == h.seq) { /* its receive is waiting: deliver now */
    weft_req_pop(&e->q);
    if (!fits(e, r, h.tag, len)) return UCS_OK;
    if (rndv) {
      rndv_start(c, e, r, data);
    } else {
      if (len) memcpy(r->buf, data, len);
      r->state = RQ_DONE;
    }
    return UCS_OK;
  }
  int keep = rndv || (param->recv_attr & UCP_AM_RECV_ATTR_FLAG_DATA);
  ucx_arrival *a = malloc(sizeof *a + (keep ? 0 : len));
  if (!a) {
    ep_fail(e, weftSystemError, "ucx: out of memory queueing a message of %zu bytes", len);
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
  return keep ? UCS_INPROGRESS : UCS_OK;
}

/* ---- sends --------------------------------------------------------------------------- */

/* Hands send r to UCP; the lock is held. */
static weftResult_t send_issue(ucx_ep *e, ucx_req *r) {
  ucp_request_param_t p;
  memset(&p, 0, sizeof p);
  void *s = ucp_am_send_nbx(e->ep, AM_DATA, &r->hdr, sizeof r->hdr, r->buf, r->size, &p);
  if (s == NULL) {
    r->state = RQ_DONE;
  } else if (UCS_PTR_IS_ERR(s)) {
    r->state = RQ_DONE;
    r->res = ep_fail(e, weftRemoteError, "ucx: sending %zu bytes failed: %s", r->size,
                     ucs_status_string(UCS_PTR_STATUS(s)));
  } else {
    r->ureq = s;
    r->state = RQ_ACTIVE;
  }
  return r->res;
}

/* Whether the endpoint to a peer on host `host` asks UCP for peer error
 * handling. In this UCX, shared-memory transports (posix, sysv) cannot
 * report a failed peer, so UCP leaves them out of such endpoints and a link
 * within one host would run over tcp. Our socket already tells us when a
 * peer goes away, so within a host we do without UCP's error handling
 * (WEFT_UCX_ERR_MODE=peer|none overrides; default auto). */
static int peer_mode(ucx_ctx *c, uint64_t host) {
  const char *m = weft_env("WEFT_UCX_ERR_MODE");
  if (m && !strcmp(m, "peer")) return 1;
  if (m && !strcmp(m, "none")) return 0;
  return host != c->host || !c->has_shm;
}

/* The reply arrived: create the UCP endpoint and send what was queued. */
static void send_resolve(ucx_ctx *c, ucx_ep *e) {
  ucp_ep_params_t p;
  memset(&p, 0, sizeof p);
  p.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                 UCP_EP_PARAM_FIELD_ERR_HANDLER;
  p.address = (const ucp_address_t *)e->addr;
  p.err_mode = peer_mode(c, e->reply.host) ? UCP_ERR_HANDLING_MODE_PEER : UCP_ERR_HANDLING_MODE_NONE;
  ucx_token *t = calloc(1, sizeof *t);
  if (!t) {
    ep_fail(e, weftSystemError, "ucx: out of memory");
    return;
  }
  t->ep = e;
  t->next = c->tokens;
  c->tokens = t;
  e->token = t;
  p.err_handler.cb = ep_err_cb;
  p.err_handler.arg = t;
  ucs_status_t st = ucp_ep_create(c->worker, &p, &e->ep);
  free(e->addr);
  e->addr = NULL;
  if (st != UCS_OK) {
    e->ep = NULL;
    ep_fail(e, weftRemoteError, "ucx: creating the endpoint to the peer failed: %s", ucs_status_string(st));
    return;
  }
  while (e->q.head && !e->failed) {
    ucx_req *r = (ucx_req *)e->q.head;
    weft_req_pop(&e->q);
    send_issue(e, r);
  }
}

/* Reads the peer's reply, or notices that the receiver went away. */
static void send_sock(ucx_ctx *c, ucx_ep *e) {
  for (;;) {
    char *dst;
    size_t want;
    char junk[64];
    if (e->got < sizeof e->reply) {
      dst = (char *)&e->reply + e->got;
      want = sizeof e->reply - e->got;
    } else if (!e->ep && e->addr) {
      dst = e->addr + (e->got - sizeof e->reply);
      want = sizeof e->reply + e->reply.len - e->got;
    } else {
      dst = junk;
      want = sizeof junk;
    }
    ssize_t n = recv(e->fd, dst, want, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (n <= 0) {
      if (e->ep || e->got >= sizeof e->reply)
        ep_fail(e, weftRemoteError, "ucx: the receiving peer closed the connection or exited");
      else
        ep_fail(e, weftRemoteError, "ucx: the peer dropped the connection (a different job key?)");
      sock_close(c, &e->fd);
      return;
    }
    if (dst == junk) continue;
    e->got += (size_t)n;
    if (e->got == sizeof e->reply) {
      if (e->reply.magic != UCX_MAGIC || e->reply.len == 0 || e->reply.len > MAX_ADDR ||
          !(e->addr = malloc(e->reply.len))) {
        ep_fail(e, weftRemoteError, "ucx: bad reply from the peer");
        sock_close(c, &e->fd);
        return;
      }
    } else if (e->got > sizeof e->reply && e->got == sizeof e->reply + e->reply.len) {
      send_resolve(c, e);
    }
  }
}

/* Reads a bye, or notices that the sender went away. */
static void recv_sock(ucx_ctx *c, ucx_ep *e) {
  for (;;) {
    char *dst = (char *)&e->reply + e->got; /* the bye is read into the reply buffer */
    ssize_t n = recv(e->fd, dst, sizeof e->reply - e->got, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (n > 0) {
      e->got += (size_t)n;
      if (e->got < sizeof e->reply) continue;
      e->got = 0;
      if (e->reply.magic == UCX_BYE) {
        e->bye = 1;
        e->limit = e->reply.len;
        continue;
      }
    }
    if (!e->bye) ep_fail(e, weftRemoteError, "ucx: the sending peer closed the connection or exited");
    sock_close(c, &e->fd);
    return;
  }
}

/* ---- accepting ---------------------------------------------------------------------- */

static void hello_drop(ucx_ctx *c, ucx_hello_conn *h) {
  for (ucx_hello_conn **pp = &c->hellos; *pp; pp = &(*pp)->next)
    if (*pp == h) {
      *pp = h->next;
      break;
    }
  sock_close(c, &h->fd);
  free(h);
}

static void hello_read(ucx_ctx *c, ucx_hello_conn *h) {
  ssize_t n = recv(h->fd, (char *)&h->hello + h->got, sizeof h->hello - h->got, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
  if (n <= 0) {
    hello_drop(c, h);
    return;
  }
  h->got += (size_t)n;
  if (h->got < sizeof h->hello) return;
  ucx_listen *l = h->l;
  if (h->hello.magic != UCX_MAGIC || h->hello.key != l->key || !h->hello.nonce || hash_find(c, h->hello.nonce)) {
    ctx_log(c, weftLogWarn, "ucx: dropped a connection without the job key");
    hello_drop(c, h);
    return;
  }
  char err[WEFT_SOCK_ERRLEN];
  ucx_reply rep = {UCX_MAGIC, c->waddr_len, c->host};
  ucx_ep *e = calloc(1, sizeof *e);
  if (!e || weft_sock_send_all(h->fd, &rep, sizeof rep, 2000, err) != 0 ||
      weft_sock_send_all(h->fd, c->waddr, c->waddr_len, 2000, err) != 0) {
    ctx_log(c, weftLogWarn, "ucx: answering a connection failed%s", e ? "" : ": out of memory");
    free(e);
    hello_drop(c, h);
    return;
  }
  e->h.type = OBJ_RECV;
  e->ctx = c;
  e->nonce = h->hello.nonce;
  e->conn_id = h->hello.conn_id;
  e->fd = h->fd;
  h->fd = -1;
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN | EPOLLRDHUP;
  ev.data.ptr = e;
  epoll_ctl(c->epfd, EPOLL_CTL_MOD, e->fd, &ev);
  hash_add(c, e);
  if (l->ready_tail) l->ready_tail->lnext = e;
  else l->ready_head = e;
  l->ready_tail = e;
  hello_drop(c, h);
}

static void listen_accept(ucx_ctx *c, ucx_listen *l) {
  for (;;) {
    int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
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
    if (watch(c, fd, h) != 0) hello_drop(c, h);
  }
}

/* ---- progress ---------------------------------------------------------------- */

/* Looks at every socket with something to say; the lock is held. */
static void sock_poll(ucx_ctx *c) {
  struct epoll_event ev[32];
  c->sock_checked = weft_now_ms();
  int n = epoll_wait(c->epfd, ev, 32, 0);
  for (int i = 0; i < n; i++) {
    ucx_obj *o = ev[i].data.ptr;
    if (!o) continue; /* the worker's descriptor */
    switch (o->type) {
      case OBJ_LISTEN: listen_accept(c, (ucx_listen *)o); break;
      case OBJ_HELLO: hello_read(c, (ucx_hello_conn *)o); break;
      case OBJ_SEND: if (((ucx_ep *)o)->fd >= 0) send_sock(c, (ucx_ep *)o); break;
      case OBJ_RECV: if (((ucx_ep *)o)->fd >= 0) recv_sock(c, (ucx_ep *)o); break;
      default: break;
    }
  }
}

/* One round of progress; the lock is held. Returns nonzero if UCP did
 * something. */
static unsigned ctx_progress(ucx_ctx *c, int sockets) {
  unsigned n = ucp_worker_progress(c->worker);
  if (sockets || weft_now_ms() - c->sock_checked >= SOCK_CHECK_MS) sock_poll(c);
  return n;
}

/* Progresses, then sleeps until the worker or a socket has news, at most
 * ms. The lock is not held. */
static void ctx_wait(ucx_ctx *c, int ms) {
  ctx_lock(c);
  int spins = 0;
  while (ctx_progress(c, 1) && spins++ < 64) {
  }
  ucs_status_t st = c->efd >= 0 ? ucp_worker_arm(c->worker) : UCS_ERR_UNSUPPORTED;
  ctx_unlock(c);
  if (st == UCS_ERR_BUSY || spins) return;
  struct pollfd pf = {c->epfd, POLLIN, 0};
  poll(&pf, 1, st == UCS_OK ? (ms > 0 ? ms : 0) : (ms > 1 ? 1 : 0));
}

/* ---- context ------------------------------------------------------------------------ */

static uint64_t fnv(uint64_t h, const char *s, size_t n) {
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
  return h;
}

/* Processes with the same value share a kernel and the IPC and PID
 * namespaces: shared memory and cross-memory attach work between them. */
static uint64_t host_id(void) {
  char buf[256];
  uint64_t h = 0xcbf29ce484222325ULL;
  if (gethostname(buf, sizeof buf) == 0) h = fnv(h, buf, strnlen(buf, sizeof buf));
  FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
  if (f) {
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    h = fnv(h, buf, n);
  }
  static const char *const ns[] = {"/proc/self/ns/ipc", "/proc/self/ns/pid"};
  for (int i = 0; i < 2; i++) {
    ssize_t n = readlink(ns[i], buf, sizeof buf);
    if (n > 0) h = fnv(h, buf, (size_t)n);
  }
  return h;
}

/* Whether the context has a transport whose name starts with one of
 * names[] (RDMA: InfiniBand, RoCE, EFA...; shared memory). */
static int ctx_has_tl(ucx_ctx *c, const char *const *names) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  if (!f) return 0;
  ucp_context_print_info(c->uctx, f);
  fclose(f);
  int found = 0;
  for (char *line = text; line && *line && !found;) {
    char *nl = strchr(line, '\n');
    char *tl = strstr(line, "-- ");
    if (strstr(line, "resource") && tl && (!nl || tl < nl)) {
      tl += 3;
      for (int i = 0; names[i] && !found; i++) {
        size_t k = strlen(names[i]);
        found = strncmp(tl, names[i], k) == 0 && (tl[k] == '_' || tl[k] == '/');
      }
    }
    line = nl ? nl + 1 : NULL;
  }
  free(text);
  return found;
}

static weftResult_t ucx_finalize(void *ctxp);

static weftResult_t init_fail(ucx_ctx *c, const char *what, ucs_status_t st) {
  ctx_log(c, weftLogWarn, "ucx: %s failed: %s", what, ucs_status_string(st));
  ucx_finalize(c);
  return weftSystemError;
}

static weftResult_t ucx_init(const weftNetInitArgs_t *args, void **out) {
  ucx_ctx *c = calloc(1, sizeof *c);
  if (!c) return weftSystemError;
  c->h.type = OBJ_CTX;
  c->efd = c->epfd = -1;
  c->host = host_id();
  pthread_mutex_init(&c->lock, NULL);
  if (args) {
    c->log = args->log;
    c->log_user = args->logUser;
  }
  char err[WEFT_SOCK_ERRLEN];
  int ok = 0;
  if (args && args->localAddr) ok = weft_sockaddr_resolve(args->localAddr, 0, &c->local, err) == 0;
  if (!ok && weft_sock_local_addr(NULL, &c->local, err) != 0) {
    ctx_log(c, weftLogWarn, "ucx: no local address: %s", err);
    ucx_finalize(c);
    return weftSystemError;
  }
  if ((c->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) return init_fail(c, "epoll_create1", UCS_ERR_IO_ERROR);
  ucp_config_t *cfg = NULL;
  ucs_status_t st = ucp_config_read(NULL, NULL, &cfg); /* honours UCX_TLS, UCX_NET_DEVICES, ... */
  if (st != UCS_OK) return init_fail(c, "reading the UCX configuration", st);
  /* With UCX 1.13's default (v1) protocols, the rendezvous acknowledgement
   * of an active message (shared memory + cma, both peers sending) is lost
   * now and then under load: the send never completes (a tree allreduce of
   * 1M int64 on 2 ranks hung in about 1 run of 5). The v2 protocols did not
   * (0 of 40) and are as fast. The user's UCX_PROTO_ENABLE wins. */
  if (!getenv("UCX_PROTO_ENABLE") && ucp_config_modify(cfg, "PROTO_ENABLE", "y") != UCS_OK)
    ctx_log(c, weftLogTrace, "ucx: could not select the v2 protocols");
  ucp_params_t p;
  memset(&p, 0, sizeof p);
  p.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_NAME;
  p.features = UCP_FEATURE_AM | UCP_FEATURE_WAKEUP;
  p.name = "weft";
  st = ucp_init(&p, cfg, &c->uctx);
  ucp_config_release(cfg);
  if (st != UCS_OK) {
    c->uctx = NULL;
    return init_fail(c, "ucp_init", st);
  }
  ucp_worker_params_t wp;
  memset(&wp, 0, sizeof wp);
  wp.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
  wp.thread_mode = UCS_THREAD_MODE_SERIALIZED; /* every call holds c->lock */
  if ((st = ucp_worker_create(c->uctx, &wp, &c->worker)) != UCS_OK) {
    c->worker = NULL;
    return init_fail(c, "ucp_worker_create", st);
  }
  if ((st = ucp_worker_get_address(c->worker, &c->waddr, &c->waddr_len)) != UCS_OK) {
    c->waddr = NULL;
    return init_fail(c, "ucp_worker_get_address", st);
  }
  if (ucp_worker_get_efd(c->worker, &c->efd) != UCS_OK || watch(c, c->efd, NULL) != 0) c->efd = -1;
  ucp_am_handler_param_t hp;
  memset(&hp, 0, sizeof hp);
  hp.field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_FLAGS | UCP_AM_HANDLER_PARAM_FIELD_CB |
                  UCP_AM_HANDLER_PARAM_FIELD_ARG;
  hp.id = AM_DATA;
  hp.flags = UCP_AM_FLAG_WHOLE_MSG;
  hp.cb = am_data_cb;
  hp.arg = c;
  if ((st = ucp_worker_set_am_recv_handler(c->worker, &hp)) != UCS_OK)
    return init_fail(c, "registering the active-message handler", st);
  static const char *const rdma_tls[] = {"rc", "dc", "ud", "ib", "srd", "verbs", NULL};
  static const char *const shm_tls[] = {"posix", "sysv", "xpmem", "knem", NULL};
  int rdma = ctx_has_tl(c, rdma_tls);
  c->has_shm = ctx_has_tl(c, shm_tls);
  c->bw_gbps = rdma ? 100.0 : 1.0; /* without RDMA, weft's own tcp should win between hosts */
  c->lat_us = rdma ? 2.0 : 20.0;
  ctx_log(c, weftLogTrace, "ucx: UCX %s, %s, worker address %zu bytes, wake-up fd %d", ucp_get_version_string(),
          rdma ? "RDMA transports available" : "no RDMA transport", c->waddr_len, c->efd);
  *out = c;
  return weftSuccess;
}

static weftResult_t ucx_devices(void *ctx, int *ndev) {
  (void)ctx;
  *ndev = 1;
  return weftSuccess;
}

static weftResult_t ucx_properties(void *ctxp, int dev, weftNetProperties_t *p) {
  ucx_ctx *c = ctxp;
  (void)dev;
  p->name = "ucx";
  p->bandwidthGbps = c ? c->bw_gbps : 1.0;
  p->latencyUs = c ? c->lat_us : 20.0;
  p->maxStreams = 1;
  return weftSuccess;
}

/* ---- connection setup ------------------------------------------------------------------ */

static weftResult_t ucx_listen_fn(void *ctxp, int dev, uint64_t key, void *handle, void **out) {
  ucx_ctx *c = ctxp;
  (void)dev;
  ucx_listen *l = calloc(1, sizeof *l);
  if (!l) return weftSystemError;
  l->h.type = OBJ_LISTEN;
  l->ctx = c;
  l->key = key;
  weft_sockaddr a = c->local;
  char err[WEFT_SOCK_ERRLEN];
  if (weft_sock_listen(&a, &l->fd, err) != 0) {
    OBJ_ERR(c, "ucx: %s", err);
    free(l);
    return weftSystemError;
  }
  ctx_lock(c);
  int w = watch(c, l->fd, l);
  ctx_unlock(c);
  if (w != 0) {
    OBJ_ERR(c, "ucx: epoll_ctl: %s", strerror(errno));
    close(l->fd);
    free(l);
    return weftSystemError;
  }
  ucx_handle h;
  memset(&h, 0, sizeof h);
  h.magic = UCX_MAGIC;
  h.addr = a;
  memset(handle, 0, WEFT_NET_HANDLE_BYTES);
  memcpy(handle, &h, sizeof h);
  *out = l;
  return weftSuccess;
}

static weftResult_t ucx_connect(void *ctxp, int dev, const void *handle, uint64_t key, uint64_t conn_id,
                                int timeout_ms, void **out) {
  ucx_ctx *c = ctxp;
  (void)dev;
  ucx_handle h;
  memcpy(&h, handle, sizeof h);
  if (h.magic != UCX_MAGIC) {
    OBJ_ERR(c, "ucx: peer published no ucx endpoint");
    return weftInternalError;
  }
  char err[WEFT_SOCK_ERRLEN];
  int fd;
  if (weft_sock_connect(&h.addr, timeout_ms, &fd, err) != 0) {
    OBJ_ERR(c, "ucx: %s", err);
    return weftRemoteError;
  }
  weft_sock_nodelay(fd);
  ucx_ep *e = calloc(1, sizeof *e);
  if (!e) {
    close(fd);
    return weftSystemError;
  }
  e->h.type = OBJ_SEND;
  e->ctx = c;
  e->fd = fd;
  do weft_random_bytes(&e->nonce, sizeof e->nonce);
  while (!e->nonce);
  ucx_hello hello = {UCX_MAGIC, key, conn_id, e->nonce};
  if (weft_sock_send_all(fd, &hello, sizeof hello, timeout_ms, err) != 0) {
    OBJ_ERR(c, "ucx: %s", err);
    close(fd);
    free(e);
    return weftRemoteError;
  }
  ctx_lock(c);
  int w = watch(c, fd, e);
  if (w == 0) sock_poll(c); /* the reply may be there already */
  ctx_unlock(c);
  if (w != 0) {
    OBJ_ERR(c, "ucx: epoll_ctl: %s", strerror(errno));
    close(fd);
    free(e);
    return weftSystemError;
  }
  *out = e;
  return weftSuccess;
}

static weftResult_t ucx_accept(void *lp, int timeout_ms, void **out, uint64_t *conn_id) {
  ucx_listen *l = lp;
  ucx_ctx *c = l->ctx;
  long long deadline = weft_now_ms() + timeout_ms;
  for (;;) {
    ctx_lock(c);
    ctx_progress(c, 1);
    ucx_ep *e = l->ready_head;
    if (e) {
      l->ready_head = e->lnext;
      if (!l->ready_head) l->ready_tail = NULL;
      e->lnext = NULL;
    }
    ctx_unlock(c);
    if (e) {
      *conn_id = e->conn_id;
      *out = e;
      return weftSuccess;
    }
    long long left = deadline - weft_now_ms();
    if (left <= 0) {
      OBJ_ERR(l, "ucx: no peer connected within %d ms", timeout_ms);
      return weftTimeout;
    }
    ctx_wait(c, left < 50 ? (int)left : 50);
  }
}

/* ---- data path ---------------------------------------------------------------------- */

static ucx_req *req_new(ucx_ep *e) {
  ucx_req *r = weft_req_get(&e->q, sizeof *r);
  if (r) r->ep = e;
  return r;
}

static weftResult_t ucx_isend(void *sc, const void *data, size_t size, uint64_t tag, void *mh, void **request) {
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
    res = send_issue(e, r);
  } else {
    r->state = RQ_QUEUED; /* until the peer's address arrives */
    weft_req_push(&e->q, r);
  }
  if (res != weftSuccess) weft_req_release(&e->q, r);
  ctx_unlock(c);
  *request = res == weftSuccess ? r : NULL;
  return res;
}

static weftResult_t ucx_irecv(void *rc, void *data, size_t size, uint64_t tag, void *mh, void **request) {
  ucx_ep *e = rc;
  ucx_ctx *c = e->ctx;
  (void)mh;
  (void)tag; /* matched by order; the sender's tag is reported by test() */
  ctx_lock(c);
  if (e->failed || (e->bye && e->seq >= e->limit)) {
    weftResult_t res = e->failed ? e->failed : weftRemoteError;
    if (!e->failed) OBJ_ERR(e, "ucx: the sending peer closed the connection");
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
  if (e->arr_head) match(c, e);
  ctx_unlock(c);
  *request = r;
  return weftSuccess;
}

/* Moves r forward if it can; the lock is held. */
static void req_check(ucx_ep *e, ucx_req *r) {
  if (r->state != RQ_ACTIVE) return;
  ucs_status_t st = ucp_request_check_status(r->ureq);
  if (st == UCS_INPROGRESS) return;
  ucp_request_free(r->ureq);
  r->ureq = NULL;
  r->state = RQ_DONE;
  if (st != UCS_OK)
    r->res = ep_fail(e, weftRemoteError, "ucx: %s %zu bytes failed: %s",
                     e->h.type == OBJ_SEND ? "sending" : "receiving", r->got, ucs_status_string(st));
}

static weftResult_t ucx_test(void *request, int *done, size_t *size, uint64_t *tag) {
  ucx_req *r = request;
  ucx_ep *e = r->ep;
  ucx_ctx *c = e->ctx;
  *done = 0;
  ctx_lock(c);
  if (r->state != RQ_DONE) {
    req_check(e, r);
    if (r->state != RQ_DONE) {
      ctx_progress(c, 0);
      if (r->state == RQ_QUEUED && e->arr_head && e->h.type == OBJ_RECV) match(c, e);
      req_check(e, r);
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
  } else if (e->h.type == OBJ_RECV && r->state == RQ_QUEUED && recv_dead(e, r)) {
    res = ep_fail(e, weftRemoteError, "ucx: the sending peer closed the connection after %llu messages",
                  (unsigned long long)e->limit);
  }
  ctx_unlock(c);
  return res;
}

static int ucx_poll_fd(void *comm, short *events) {
  ucx_ep *e = comm;
  ucx_ctx *c = e->ctx;
  if (c->efd < 0) return WEFT_NET_POLL_NONE;
  ctx_lock(c);
  int ready = e->failed != weftSuccess;
  for (int i = 0; i < 64 && !ready && ctx_progress(c, i == 0); i++) ready = 1; /* something moved: test again */
  ready = ready || e->failed != weftSuccess;
  ucs_status_t st = ready ? UCS_OK : ucp_worker_arm(c->worker);
  ctx_unlock(c);
  if (ready || st == UCS_ERR_BUSY) return WEFT_NET_POLL_READY;
  if (st != UCS_OK) return WEFT_NET_POLL_NONE;
  *events = POLLIN;
  return c->epfd;
}

static const char *ucx_last_error(void *obj) { return obj ? ((ucx_obj *)obj)->err : ""; }

/* ---- teardown ------------------------------------------------------------------------- */

/* Waits (progressing) until UCP request r is done or the deadline passes;
 * returns its status. Lock held. */
static ucs_status_t wait_req(ucx_ctx *c, void *r, long long deadline) {
  ucs_status_t st;
  while ((st = ucp_request_check_status(r)) == UCS_INPROGRESS && weft_now_ms() < deadline) {
    if (!ctx_progress(c, 0)) {
      ctx_unlock(c);
      ctx_wait(c, 1);
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
    if (wait_req(e->ctx, r->ureq, deadline) == UCS_INPROGRESS) e->ctx->abandoned++;
    ucp_request_free(r->ureq); /* UCP reclaims it when it ends */
    r->ureq = NULL;
  }
}

static weftResult_t ucx_close_send(void *sc) {
  ucx_ep *e = sc;
  if (!e) return weftSuccess;
  ucx_ctx *c = e->ctx;
  ctx_lock(c);
  int busy = e->q.head != NULL;
  for (weft_req_link *l = e->q.all; l; l = l->all_next) {
    ucx_req *r = (ucx_req *)l;
    if (r->ureq) req_check(e, r);
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
  sock_close(c, &e->fd); /* the receiver sees the end of the connection */
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
  free(e);
  return weftSuccess;
}

static weftResult_t ucx_close_recv(void *rc) {
  ucx_ep *e = rc;
  if (!e) return weftSuccess;
  ucx_ctx *c = e->ctx;
  ctx_lock(c);
  for (weft_req_link *l = e->q.all; l; l = l->all_next) {
    ucx_req *r = (ucx_req *)l;
    if (r->ureq) req_check(e, r);
    if (r->ureq) c->dirty = 1;
  }
  hash_remove(c, e); /* no more deliveries into this endpoint */
  free_arrivals(c, e);
  sock_close(c, &e->fd); /* the sender sees the end of the connection */
  ep_drain(e, CLOSE_WAIT_MS); /* rendezvous reads into the caller's buffers */
  ctx_unlock(c);
  weft_req_destroy(&e->q);
  free(e);
  return weftSuccess;
}

static weftResult_t ucx_close_listen(void *lp) {
  ucx_listen *l = lp;
  if (!l) return weftSuccess;
  ucx_ctx *c = l->ctx;
  ctx_lock(c);
  sock_close(c, &l->fd);
  for (ucx_hello_conn *h = c->hellos, *next; h; h = next) {
    next = h->next;
    if (h->l == l) hello_drop(c, h);
  }
  ucx_ep *e;
  while ((e = l->ready_head)) { /* answered but never accepted */
    l->ready_head = e->lnext;
    hash_remove(c, e);
    free_arrivals(c, e);
    sock_close(c, &e->fd);
    weft_req_destroy(&e->q);
    free(e);
  }
  ctx_unlock(c);
  free(l);
  return weftSuccess;
}

/* Error-handler tokens of the UCX workers left allocated after a failure:
 * UCX may still call those handlers, so the tokens live as long as the
 * process, reachable from here. */
static ucx_token *abandoned_tokens;
static pthread_mutex_t abandoned_lock = PTHREAD_MUTEX_INITIALIZER;

static void keep_tokens(ucx_ctx *c) {
  pthread_mutex_lock(&abandoned_lock);
  while (c->tokens) {
    ucx_token *t = c->tokens;
    c->tokens = t->next;
    t->next = abandoned_tokens;
    abandoned_tokens = t;
  }
  pthread_mutex_unlock(&abandoned_lock);
}

static weftResult_t ucx_finalize(void *ctxp) {
  ucx_ctx *c = ctxp;
  if (!c) return weftSuccess;
  while (c->hellos) hello_drop(c, c->hellos);
  if (c->abandoned || c->dirty) {
    /* UCX 1.13 asserts (and aborts) in ucp_cleanup when a transfer that an
     * endpoint close cancelled still holds its memory registration, or when
     * a request never ended: leave the worker and the UCP context allocated
     * instead (only after a failure or an abort) */
    ctx_log(c, weftLogInfo, "ucx: transfers were cut short; the UCX context is not released");
    keep_tokens(c);
    if (c->epfd >= 0) close(c->epfd);
    pthread_mutex_destroy(&c->lock);
    free(c);
    return weftSuccess;
  }
  if (c->waddr) ucp_worker_release_address(c->worker, c->waddr);
  if (c->worker) ucp_worker_destroy(c->worker);
  while (c->tokens) {
    ucx_token *t = c->tokens;
    c->tokens = t->next;
    free(t);
  }
  if (c->uctx) ucp_cleanup(c->uctx);
  if (c->epfd >= 0) close(c->epfd);
  pthread_mutex_destroy(&c->lock);
  free(c);
  return weftSuccess;
}

WEFT_NET_DEFINE(weft_net_ucx) = {
    .abiVersion = WEFT_NET_ABI_VERSION,
    .name = "ucx",
    .init = ucx_init,
    .devices = ucx_devices,
    .getProperties = ucx_properties,
    .listen = ucx_listen_fn,
    .connect = ucx_connect,
    .accept = ucx_accept,
    .regMr = NULL,
    .deregMr = NULL,
    .isend = ucx_isend,
    .irecv = ucx_irecv,
    .test = ucx_test,
    .pollFd = ucx_poll_fd,
    .lastError = ucx_last_error,
    .closeSend = ucx_close_send,
    .closeRecv = ucx_close_recv,
    .closeListen = ucx_close_listen,
    .finalize = ucx_finalize,
};
