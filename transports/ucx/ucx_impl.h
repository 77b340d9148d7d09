/* ucx transport, private: the objects its files share and the functions
 * they call across files (see ucx.c for the design). */
#ifndef WEFT_UCX_IMPL_H
#define WEFT_UCX_IMPL_H

#include <pthread.h>
#include <stdint.h>

#include <ucp/api/ucp.h>

#include "weft_net.h"
#include "util/sock.h"
#include "common/hello.h"
#include "common/listen.h"
#include "common/netctx.h"
#include "common/req_queue.h"
#include "common/seal.h"

#define UCX_MAGIC 0x7765667475637831ULL /* "weftucx1" */
#define UCX_BYE 0x7765667475637862ULL   /* "weftucxb" */
#define AM_DATA 24
#define HBUCKETS 256
#define MAX_ADDR 8192
#define CLOSE_FLUSH_MS 1000 /* bounded wait for the flush before a close */
#define CLOSE_WAIT_MS 500   /* bounded wait for cancelled requests */
#define SOCK_CHECK_MS 1     /* sockets are looked at this often while busy */

enum { OBJ_HELLO = WEFT_NET_OBJ_PRIVATE }; /* ucx_hello_conn */
enum { RQ_QUEUED = 0, RQ_ACTIVE, RQ_DONE }; /* QUEUED: posted receive, or send waiting for the endpoint */
enum { ARR_COPY = 0, ARR_DESC, ARR_RNDV };
/* Bounds on the messages a receive endpoint holds before their receives are
 * posted (a peer beyond them fails the endpoint). */
#define UCX_EARLY_COUNT 65536
#define UCX_EARLY_BYTES (256 << 20)

typedef struct {
  uint64_t magic;
  weft_sockaddr addr;
} ucx_handle;

typedef struct {
  weft_net_hello h; /* magic UCX_MAGIC */
  uint64_t nonce;
} ucx_hello;
_Static_assert(sizeof(ucx_hello) == 80, "the hello is part of the wire format");

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
  char *bounce;     /* encrypted: the sealed message (sends), or where a
                     * rendezvous one lands before it is opened (receives) */
} ucx_req;

typedef struct ucx_ep {
  weft_net_obj h;
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
  size_t early_bytes, early_count;  /* receives: what they hold (bounded: UCX_EARLY_*) */
  struct ucx_ep *hnext;             /* nonce bucket */
  struct ucx_ep *lnext;             /* listener's ready list */
  /* sends, until resolved: the reply being read; receives: the bye */
  ucx_reply reply;
  char *addr;
  size_t got;
  uint32_t flags;  /* WEFT_NET_CONN_* of the connection */
  weft_aead *aead; /* encrypted connection (common/seal.h), else NULL */
  weft_net_gap gap; /* encrypted receives: a later message came, the awaited one did not */
  weft_net_bounce_pool pool; /* its requests' bounce buffers, for reuse */
  /* sends, until resolved: what checks the receiver's answer */
  weftNetKey_t key;
  uint8_t listen_nonce[WEFT_NONCE_BYTES];
  ucx_hello hello;
  weft_net_reply auth;
} ucx_ep;

/* An accepted socket whose hello has not fully arrived. */
typedef struct ucx_hello_conn {
  weft_net_obj h;
  struct ucx_listen *l;
  struct ucx_hello_conn *next;
  int fd;
  size_t got;
  ucx_hello hello;
} ucx_hello_conn;

typedef struct ucx_ctx {
  weft_net_ctx base;
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
  weft_net_listen base; /* base.ctx is the ucx_ctx */
  ucx_ep *ready_head, *ready_tail; /* hello answered, not yet accepted */
} ucx_listen;

static inline ucx_ctx *listen_ctx(ucx_listen *l) { return (ucx_ctx *)l->base.ctx; }
static inline void ctx_lock(ucx_ctx *c) { pthread_mutex_lock(&c->lock); }
static inline void ctx_unlock(ucx_ctx *c) { pthread_mutex_unlock(&c->lock); }


/* The lock is held by the caller of every function below but those of the
 * weftNet_t table. */

/* progress.c */
ucx_ep *weft__ucx_hash_find(ucx_ctx *c, uint64_t nonce);
void weft__ucx_hash_add(ucx_ctx *c, ucx_ep *e);
void weft__ucx_hash_remove(ucx_ctx *c, ucx_ep *e);
int weft__ucx_watch(ucx_ctx *c, int fd, void *obj);
void weft__ucx_sock_close(ucx_ctx *c, int *fd);
void weft__ucx_sock_poll(ucx_ctx *c);
unsigned weft__ucx_ctx_progress(ucx_ctx *c, int sockets);
void weft__ucx_ctx_wait(ucx_ctx *c, int ms); /* lock not held */

/* data.c */
weftResult_t weft__ucx_ep_fail(ucx_ep *e, weftResult_t res, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Takes what UCP returned for r's operation: done, failed, or in flight. */
void weft__ucx_req_started(ucx_ep *e, ucx_req *r, void *status_ptr);
weftResult_t weft__ucx_send_issue(ucx_ep *e, ucx_req *r);
void weft__ucx_req_check(ucx_ep *e, ucx_req *r);
/* r has just become RQ_DONE through UCP: opens a rendezvous message that
 * landed sealed, frees r's bounce buffer. */
void weft__ucx_req_settle(ucx_ep *e, ucx_req *r);
weftResult_t weft__ucx_isend(void *sc, const void *data, size_t size, uint64_t tag, void *mh, void **request);
weftResult_t weft__ucx_irecv(void *rc, void *data, size_t size, uint64_t tag, void *mh, void **request);
weftResult_t weft__ucx_test(void *request, int *done, size_t *size, uint64_t *tag);
int weft__ucx_poll_fd(void *comm, short *events);

/* recv.c */
void weft__ucx_match(ucx_ctx *c, ucx_ep *e);
/* An encrypted receive endpoint: fails it when a message was dropped (a
 * later one arrived, the awaited one has not, for too long: common/seal.h). */
void weft__ucx_check_gap(ucx_ep *e);
void weft__ucx_free_arrivals(ucx_ctx *c, ucx_ep *e);
/* Opens a sealed message for receive r into its buffer; 0 when authentic. */
int weft__ucx_open(ucx_ep *e, ucx_req *r, const void *wire, size_t wire_len);
ucs_status_t weft__ucx_am_data_cb(void *arg, const void *header, size_t hlen, void *data, size_t len,
                                  const ucp_am_recv_param_t *param);

/* resolve.c */
void weft__ucx_send_sock(ucx_ctx *c, ucx_ep *e);
void weft__ucx_recv_sock(ucx_ctx *c, ucx_ep *e);

/* connect.c */
void weft__ucx_hello_drop(ucx_ctx *c, ucx_hello_conn *h);
void weft__ucx_hello_read(ucx_ctx *c, ucx_hello_conn *h);
void weft__ucx_listen_accept(ucx_ctx *c, ucx_listen *l);
weftResult_t weft__ucx_listen(void *ctxp, int dev, const weftNetKey_t *key, void *handle, void **out);
weftResult_t weft__ucx_connect(void *ctxp, int dev, const void *handle, const weftNetKey_t *key, uint64_t conn_id, uint32_t flags,
                               int timeout_ms, void **out);
weftResult_t weft__ucx_accept(void *lp, int timeout_ms, void **out, uint64_t *conn_id, uint32_t *flags);
weftResult_t weft__ucx_close_listen(void *lp);

/* close.c */
weftResult_t weft__ucx_close_send(void *sc);
weftResult_t weft__ucx_close_recv(void *rc);

/* init.c */
weftResult_t weft__ucx_init(const weftNetInitArgs_t *args, void **out);
weftResult_t weft__ucx_finalize(void *ctxp);

#endif
