/* ofi transport: libfabric reliable-datagram (FI_EP_RDM) tagged messages.
 *
 * Provider. WEFT_OFI_PROVIDER names the libfabric provider ("tcp;ofi_rxm",
 * "shm", "sockets", "udp;ofi_rxd", "verbs;ofi_rxm", ...; "auto" takes the
 * first one fi_getinfo offers). The default is "tcp;ofi_rxm": it works on
 * every host and between hosts, while the auto order depends on the
 * libfabric build. WEFT_OFI_DOMAIN optionally names the domain (NIC).
 * Each init() context opens one fabric, domain, address vector, completion
 * queue and endpoint; every weft endpoint of the context shares them.
 *
 * Connections. listen() opens a TCP socket (util/sock.h) and publishes a
 * handle with its address and, when it fits, the fabric endpoint's name.
 * connect() opens a TCP connection to it and sends a hello {key, connId};
 * it does not wait for an answer (weft connects to every peer before it
 * accepts any). accept() checks the key (other connections are dropped),
 * assigns the connection an endpoint id unique in its context, and answers
 * with {endpoint id, fabric address}; the sender reads that answer without
 * blocking before its first message leaves. The TCP connection then stays
 * open as the liveness channel: RDM endpoints report nothing when a peer
 * dies, so test() looks at the socket every WEFT_OFI_LIVENESS_US (2 ms) for
 * end-of-file. Closing an endpoint sends a "bye" with the number of
 * messages it completed, in order: the peer completes the sends the closer
 * received, keeps waiting for messages the closer sent, and fails the rest
 * with weftRemoteError. A peer that vanishes without a bye fails every
 * request still in flight on that connection.
 *
 * Messages. Fabric tag = endpoint id (20 bits) | message sequence number of
 * the connection (28 bits, wraps) | chunk index (15 bits) | last-chunk bit,
 * with only the last-chunk bit ignored by receives. The receive for the
 * k-th message of a connection therefore matches exactly the k-th send,
 * which gives weft's in-order matching whatever order the provider keeps.
 * The sender's 64-bit weft tag travels as remote CQ data when the provider
 * has cq_data_size >= 8, else in band, as the first entry of a 2-entry iov.
 * Messages larger than the provider's max_msg_size (or WEFT_OFI_MAX_MSG)
 * travel as several chunks; a receive posts one receive per chunk of its
 * buffer and cancels those beyond the chunk marked last. Payloads go from
 * and to the caller's buffers (no copy) except under FI_MR_LOCAL, where
 * payloads of at most 4 KiB go through registered staging slots and larger
 * ones are registered for the duration of the operation (or use the
 * regMr() handle weft passes).
 *
 * Progress happens in test() (and isend/irecv): it reads the shared CQ and
 * completes whichever requests finished. pollFd() returns the CQ's wait fd
 * (FI_WAIT_FD, after fi_trywait) when the provider has one. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_tagged.h>

#include "util/param.h"
#include "util/sock.h"
#include "util/clock.h"
#include "common/net_define.h"
#include "common/req_queue.h"
#include "ofi/ofi.h"

#define OFI_API_VERSION FI_VERSION(1, 10)
#define OFI_ERRLEN 320
#define OFI_ADDR_MAX 256
#define OFI_DEFAULT_PROVIDER "tcp;ofi_rxm"

#define HANDLE_MAGIC 0x776566746f666968ULL /* "weftofih" */
#define HELLO_MAGIC 0x776566746f666931ULL  /* "weftofi1" */
#define REPLY_MAGIC 0x776566746f666972ULL  /* "weftofir" */
#define BYE_MAGIC 0x776566746f666962ULL    /* "weftofib" */

/* Fabric tag layout. */
#define EPID_BITS 20
#define SEQ_BITS 28
#define CHUNK_BITS 15
#define CHUNK_SHIFT 1
#define SEQ_SHIFT (CHUNK_SHIFT + CHUNK_BITS)
#define EPID_SHIFT (SEQ_SHIFT + SEQ_BITS)
#define MAX_EPID ((1u << EPID_BITS) - 1)
#define MAX_CHUNKS (1u << CHUNK_BITS)
#define TAG_LAST 1ULL

#define OPS_PER_BLOCK 256
#define BOUNCE_BYTES 4096
#define INBAND_HDR 8

_Static_assert(EPID_SHIFT + EPID_BITS == 64, "tag layout must use 64 bits");

enum { OBJ_CTX = 1, OBJ_LISTEN, OBJ_SEND, OBJ_RECV };

typedef struct {
  int type;
  char err[OFI_ERRLEN];
} ofi_obj;

#define OBJ_ERR(o, ...) snprintf(((ofi_obj *)(o))->err, OFI_ERRLEN, __VA_ARGS__)

struct ofi_req;

/* One fabric operation (one chunk of a message); its address is the
 * operation context the CQ hands back. */
typedef struct ofi_op {
  struct fi_context2 fctx; /* first: satisfies FI_CONTEXT and FI_CONTEXT2 */
  struct ofi_req *req;     /* NULL once orphaned (its request went away) */
  struct ofi_op *next;     /* free list, or the request's live operations */
  struct fid_mr *mr;       /* registration for this operation (FI_MR_LOCAL) */
  char *bounce;            /* registered staging slot (FI_MR_LOCAL), else NULL */
  void *blk_desc;          /* descriptor of the block holding this op and its slot */
  uint64_t hdr;            /* in-band weft tag */
  uint32_t chunk;
  uint8_t is_recv, in_use, staged;
} ofi_op;

typedef struct ofi_block {
  struct ofi_block *next;
  struct fid_mr *mr;
  ofi_op *ops;
  void *mem;
} ofi_block;

typedef struct {
  uint8_t addr[OFI_ADDR_MAX];
  size_t len;
  fi_addr_t fa;
} av_entry;

typedef struct {
  ofi_obj h;
  weftNetLogFn_t log;
  void *log_user;
  weft_sockaddr local;
  struct fi_info *info;
  struct fid_fabric *fabric;
  struct fid_domain *domain;
  struct fid_av *av;
  struct fid_cq *cq;
  struct fid_ep *ep;
  uint8_t addr[OFI_ADDR_MAX];
  size_t addrlen;
  int cq_data;     /* weft tag as remote CQ data (else in band) */
  int mr_local;    /* buffers must be registered */
  int mr_endpoint; /* registrations are bound to the endpoint */
  int prov_key;
  uint64_t next_key;
  size_t chunk;  /* payload bytes per fabric message */
  size_t inject; /* largest payload sent with fi_tinjectdata, 0 for none */
  int wait_fd;   /* CQ wait descriptor, -1 if none */
  int rdma;      /* a hardware provider, not one built on sockets */
  double liveness_us;
  uint32_t next_epid;
  char prov[64];
  ofi_block *blocks;
  ofi_op *free_ops;
  av_entry *avs;
  int navs, cap_avs;
} ofi_ctx;

typedef struct {
  ofi_obj h;
  ofi_ctx *ctx;
  int fd;
  uint64_t key;
} ofi_listen;

typedef struct {
  uint64_t magic;
  weft_sockaddr sa; /* TCP address of the listener (handshake, liveness) */
  uint16_t addrlen; /* fabric address length, 0 if it did not fit here */
  uint8_t addr[WEFT_NET_HANDLE_BYTES - 8 - sizeof(weft_sockaddr) - 2];
} ofi_handle;
_Static_assert(sizeof(ofi_handle) <= WEFT_NET_HANDLE_BYTES, "ofi handle too large");

typedef struct {
  uint64_t magic, key, conn_id;
} ofi_hello;

typedef struct {
  uint64_t magic;
  uint32_t epid, addrlen;
  uint8_t addr[OFI_ADDR_MAX];
} ofi_reply;

typedef struct {
  uint64_t magic, count;
} ofi_bye;

typedef struct {
  struct fid_mr *mr;
  void *desc;
} ofi_mh;

struct ofi_ep;
typedef struct ofi_req {
  weft_req_link link;
  struct ofi_req *prev, *next; /* the endpoint's active requests, by sequence */
  struct ofi_ep *ep;
  char *buf;
  size_t size; /* posted size */
  ofi_mh *mh;
  uint64_t seq;
  uint64_t wtag;    /* weft tag: sent, or received */
  size_t total;     /* received bytes */
  uint32_t nchunks; /* fabric messages posted for this request */
  uint32_t posted, ndone;
  int32_t last; /* receives: index of the chunk marked last, -1 until seen */
  int queued;   /* counted in ep->unposted */
  int complete;
  weftResult_t err;
  size_t err_size;
  uint64_t err_tag;
  ofi_op *ops; /* live operations */
} ofi_req;

typedef struct ofi_ep {
  ofi_obj h;
  ofi_ctx *ctx;
  int sock;      /* handshake and liveness connection */
  uint32_t epid; /* 0 on a send endpoint until the receiver's answer came */
  int have_dest;
  fi_addr_t dest;
  uint64_t next_seq;
  weftResult_t failed;
  int peer_gone;
  uint64_t peer_count; /* messages the peer completed, in order, before closing */
  unsigned char lv[sizeof(ofi_reply)];
  size_t lv_got;
  int lv_state; /* 0: answer expected (send side), 1: bye expected, 2: closed */
  double next_check;
  int unposted; /* requests with chunks still to post */
  ofi_req *head, *tail;
  weft_req_queue pool;
} ofi_ep;

static void ctx_log(ofi_ctx *c, weftLogLevel_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void ctx_log(ofi_ctx *c, weftLogLevel_t level, const char *fmt, ...) {
  if (!c->log) return;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  c->log(c->log_user, level, msg);
}

static inline uint64_t make_tag(uint32_t epid, uint64_t seq, uint32_t chunk, int last) {
  return ((uint64_t)epid << EPID_SHIFT) | ((seq & ((1ULL << SEQ_BITS) - 1)) << SEQ_SHIFT) |
         ((uint64_t)chunk << CHUNK_SHIFT) | (last ? TAG_LAST : 0);
}

/* ---- registrations and operation contexts -------------------------------- */

static int mr_reg(ofi_ctx *c, void *buf, size_t len, uint64_t access, struct fid_mr **mr) {
  uint64_t key = c->prov_key ? 0 : c->next_key++;
  int rc = fi_mr_reg(c->domain, buf, len, access, 0, key, 0, mr, NULL);
  if (rc) {
    *mr = NULL;
    return rc;
  }
  if (c->mr_endpoint) {
    rc = fi_mr_bind(*mr, &c->ep->fid, 0);
    if (!rc) rc = fi_mr_enable(*mr);
    if (rc) {
      fi_close(&(*mr)->fid);
      *mr = NULL;
    }
  }
  return rc;
}

static int block_new(ofi_ctx *c) {
  size_t ops_bytes = (OPS_PER_BLOCK * sizeof(ofi_op) + 63) / 64 * 64;
  size_t slots = c->mr_local ? (size_t)OPS_PER_BLOCK * BOUNCE_BYTES : 0;
  size_t total = (ops_bytes + slots + 4095) / 4096 * 4096;
  ofi_block *b = calloc(1, sizeof *b);
  if (!b) return -FI_ENOMEM;
  if (posix_memalign(&b->mem, 4096, total) != 0) {
    free(b);
    return -FI_ENOMEM;
  }
  memset(b->mem, 0, total);
  b->ops = b->mem;
  void *desc = NULL;
  if (c->mr_local) {
    int rc = mr_reg(c, b->mem, total, FI_SEND | FI_RECV, &b->mr);
    if (rc) {
      free(b->mem);
      free(b);
      return rc;
    }
    desc = fi_mr_desc(b->mr);
  }
  for (int i = 0; i < OPS_PER_BLOCK; i++) {
    ofi_op *op = &b->ops[i];
    op->blk_desc = desc;
    op->bounce = slots ? (char *)b->mem + ops_bytes + (size_t)i * BOUNCE_BYTES : NULL;
    op->next = c->free_ops;
    c->free_ops = op;
  }
  b->next = c->blocks;
  c->blocks = b;
  return 0;
}

static ofi_op *op_get(ofi_ctx *c) {
  if (!c->free_ops && block_new(c) != 0) return NULL;
  ofi_op *op = c->free_ops;
  c->free_ops = op->next;
  memset(&op->fctx, 0, sizeof op->fctx);
  op->next = NULL;
  op->req = NULL;
  op->mr = NULL;
  op->hdr = 0;
  op->chunk = 0;
  op->is_recv = op->staged = 0;
  op->in_use = 1;
  return op;
}

static void op_put(ofi_ctx *c, ofi_op *op) {
  if (op->mr) fi_close(&op->mr->fid);
  op->mr = NULL;
  op->req = NULL;
  op->in_use = 0;
  op->next = c->free_ops;
  c->free_ops = op;
}

static void req_unlink_op(ofi_req *r, ofi_op *op) {
  for (ofi_op **p = &r->ops; *p; p = &(*p)->next)
    if (*p == op) {
      *p = op->next;
      break;
    }
  op->next = NULL;
}

/* Detaches the request's live operations: they complete (or are cancelled)
 * later without touching the request. Receives are cancelled. */
static void req_orphan_ops(ofi_req *r) {
  ofi_ctx *c = r->ep->ctx;
  int cancel = r->ep->h.type == OBJ_RECV;
  ofi_op *op = r->ops;
  r->ops = NULL;
  while (op) {
    ofi_op *next = op->next;
    op->next = NULL;
    op->req = NULL;
    if (cancel) fi_cancel(&c->ep->fid, &op->fctx);
    op = next;
  }
}

/* ---- request state ------------------------------------------------------------ */

static void req_dequeue(ofi_req *r) {
  if (r->queued) {
    r->queued = 0;
    r->ep->unposted--;
  }
}

static weftResult_t ep_fail(ofi_ep *e, weftResult_t res) {
  if (!e->failed) e->failed = res;
  return res;
}

static void req_fail(ofi_req *r, weftResult_t res, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void req_fail(ofi_req *r, weftResult_t res, const char *fmt, ...) {
  if (r->err || r->complete) return;
  ofi_ep *e = r->ep;
  if (!e->failed) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->h.err, OFI_ERRLEN, fmt, ap);
    va_end(ap);
  }
  r->err = res;
  ep_fail(e, res);
  req_dequeue(r);
  req_orphan_ops(r);
}

static void req_set_complete(ofi_req *r) {
  r->complete = 1;
  req_dequeue(r);
  if (r->ops) req_orphan_ops(r); /* chunks beyond the last one */
}

/* ---- completions ---------------------------------------------------------------- */

static void on_recv(ofi_ctx *c, ofi_op *op, ofi_req *r, int errcode, size_t len, uint64_t ftag, uint64_t flags,
                    uint64_t data, size_t olen) {
  size_t hdr = c->cq_data ? 0 : INBAND_HDR;
  size_t off = (size_t)op->chunk * c->chunk;
  /* Some providers (tcp;ofi_rxm) fill in the CQ data of a truncated message
   * without setting FI_REMOTE_CQ_DATA, so the flag is not checked. */
  uint64_t wtag = c->cq_data ? data : op->hdr;
  (void)flags;
  if (errcode == FI_ECANCELED) return;
  if (errcode == FI_ETRUNC) {
    size_t got = len > hdr ? len - hdr : 0;
    r->err_tag = wtag;
    if (got + olen > r->size - off) { /* the provider told the size */
      r->err_size = off + got + olen;
      req_fail(r, weftInvalidUsage, "incoming message of %zu bytes does not fit the posted %zu bytes",
               r->err_size, r->size);
    } else {
      r->err_size = r->size + 1;
      req_fail(r, weftInvalidUsage, "incoming message is larger than the posted %zu bytes%s", r->size,
               c->cq_data ? "" : " (mismatched calls across ranks?)");
    }
    return;
  }
  if (errcode) {
    req_fail(r, weftRemoteError, "receive failed: %s", fi_strerror(errcode));
    return;
  }
  size_t got = len > hdr ? len - hdr : 0;
  if (op->staged && got) memcpy(r->buf + off, op->bounce, got);
  r->wtag = wtag;
  r->ndone++;
  if (ftag & TAG_LAST) {
    r->last = (int32_t)op->chunk;
    r->total = off + got;
  }
  if (r->last >= 0 && r->ndone == (uint32_t)r->last + 1) {
    req_set_complete(r);
  } else if (r->last < 0 && r->ndone == r->nchunks) {
    r->err_size = r->size + 1;
    r->err_tag = wtag;
    req_fail(r, weftInvalidUsage, "incoming message is larger than the posted %zu bytes", r->size);
  }
}

static void on_send(ofi_req *r, int errcode) {
  if (errcode == FI_ECANCELED) return;
  if (errcode) {
    req_fail(r, weftRemoteError, "send failed: %s", fi_strerror(errcode));
    return;
  }
  if (++r->ndone == r->nchunks) req_set_complete(r);
}

static void op_complete(ofi_ctx *c, ofi_op *op, int errcode, size_t len, uint64_t ftag, uint64_t flags,
                        uint64_t data, size_t olen) {
  ofi_req *r = op->req;
  if (r) {
    req_unlink_op(r, op);
    if (op->is_recv) on_recv(c, op, r, errcode, len, ftag, flags, data, olen);
    else on_send(r, errcode);
  }
  op_put(c, op);
}

static void ctx_progress(ofi_ctx *c) {
  struct fi_cq_tagged_entry ent[16];
  for (;;) {
    ssize_t n = fi_cq_read(c->cq, ent, 16);
    if (n > 0) {
      for (ssize_t i = 0; i < n; i++)
        op_complete(c, ent[i].op_context, 0, ent[i].len, ent[i].tag, ent[i].flags, ent[i].data, 0);
      if (n < 16) return;
      continue;
    }
    if (n == -FI_EAVAIL) {
      struct fi_cq_err_entry e;
      memset(&e, 0, sizeof e);
      if (fi_cq_readerr(c->cq, &e, 0) <= 0) return;
      if (e.op_context) op_complete(c, e.op_context, e.err ? e.err : FI_EIO, e.len, e.tag, e.flags, e.data, e.olen);
      continue;
    }
    if (n != -FI_EAGAIN) OBJ_ERR(c, "fi_cq_read: %s", fi_strerror((int)-n));
    return;
  }
}

/* ---- posting ---------------------------------------------------------------------- */

static void chunk_span(ofi_ctx *c, ofi_req *r, uint32_t k, size_t *off, size_t *len) {
  *off = (size_t)k * c->chunk;
  size_t left = r->size > *off ? r->size - *off : 0;
  *len = left < c->chunk ? left : c->chunk;
}

/* Local descriptor for [buf, buf+len) under FI_MR_LOCAL; may stage through the
 * op's slot (sends copy now, receives copy at completion). */
static int local_desc(ofi_ctx *c, ofi_req *r, ofi_op *op, char **buf, size_t len, int recv, void **desc) {
  *desc = NULL;
  if (!c->mr_local || len == 0) return 0;
  if (r->mh && r->mh->mr) {
    *desc = r->mh->desc;
    return 0;
  }
  if (len <= BOUNCE_BYTES) {
    if (!recv) memcpy(op->bounce, *buf, len);
    *buf = op->bounce;
    op->staged = 1;
    *desc = op->blk_desc;
    return 0;
  }
  int rc = mr_reg(c, *buf, len, recv ? FI_RECV : FI_SEND, &op->mr);
  if (rc) return rc;
  *desc = fi_mr_desc(op->mr);
  return 0;
}

static int post_chunk(ofi_ep *e, ofi_req *r) {
  ofi_ctx *c = e->ctx;
  int recv = e->h.type == OBJ_RECV;
  uint32_t k = r->posted;
  size_t off, len;
  chunk_span(c, r, k, &off, &len);
  char *buf = r->buf + off;
  int last = k + 1 == r->nchunks;
  ssize_t rc;
  if (!recv && c->inject && len <= c->inject) {
    rc = fi_tinjectdata(c->ep, buf, len, r->wtag, e->dest, make_tag(e->epid, r->seq, k, last));
    if (rc == 0) {
      r->posted++;
      if (++r->ndone == r->nchunks) req_set_complete(r);
    }
    return (int)rc;
  }
  ofi_op *op = op_get(c);
  if (!op) return -FI_ENOMEM;
  op->is_recv = (uint8_t)recv;
  op->chunk = k;
  void *desc;
  if ((rc = local_desc(c, r, op, &buf, len, recv, &desc)) != 0) {
    op_put(c, op);
    return (int)rc;
  }
  if (c->cq_data) {
    if (recv)
      rc = fi_trecv(c->ep, buf, len, desc, FI_ADDR_UNSPEC, make_tag(e->epid, r->seq, k, 0), TAG_LAST, op);
    else
      rc = fi_tsenddata(c->ep, buf, len, desc, r->wtag, e->dest, make_tag(e->epid, r->seq, k, last), op);
  } else {
    op->hdr = r->wtag;
    struct iovec iov[2] = {{&op->hdr, INBAND_HDR}, {buf, len}};
    void *descs[2] = {op->blk_desc, desc};
    struct fi_msg_tagged m;
    memset(&m, 0, sizeof m);
    m.msg_iov = iov;
    m.desc = descs;
    m.iov_count = len ? 2 : 1;
    m.addr = recv ? FI_ADDR_UNSPEC : e->dest;
    m.tag = make_tag(e->epid, r->seq, k, recv ? 0 : last);
    m.ignore = recv ? TAG_LAST : 0;
    m.context = op;
    rc = recv ? fi_trecvmsg(c->ep, &m, FI_COMPLETION) : fi_tsendmsg(c->ep, &m, FI_COMPLETION);
  }
  if (rc) {
    op_put(c, op);
    return (int)rc;
  }
  op->req = r;
  op->next = r->ops;
  r->ops = op;
  r->posted++;
  return 0;
}

/* Posts the chunks not posted yet, oldest request first; stops at FI_EAGAIN. */
static void post_pending(ofi_ep *e) {
  if (!e->unposted || !e->epid || (e->h.type == OBJ_SEND && !e->have_dest)) return;
  for (ofi_req *r = e->head; r && e->unposted; r = r->next) {
    if (!r->queued) continue;
    while (r->posted < r->nchunks && !r->err && !r->complete) {
      int rc = post_chunk(e, r);
      if (rc == -FI_EAGAIN) {
        ctx_progress(e->ctx);
        rc = post_chunk(e, r);
        if (rc == -FI_EAGAIN) return;
      }
      /* out of memory or bad arguments are ours; anything else (no route, reset,
       * unknown address: the sockets provider says ENOENT once a peer is gone)
       * means the peer cannot be reached */
      if (rc)
        req_fail(r, rc == -FI_ENOMEM || rc == -FI_EINVAL ? weftSystemError : weftRemoteError,
                 "posting a %s of %zu bytes failed: %s", e->h.type == OBJ_SEND ? "send" : "receive", r->size,
                 fi_strerror(-rc));
    }
    req_dequeue(r);
  }
}

/* ---- liveness ------------------------------------------------------------------------ */

static int av_lookup(ofi_ctx *c, const void *addr, size_t len, fi_addr_t *out) {
  for (int i = 0; i < c->navs; i++)
    if (c->avs[i].len == len && memcmp(c->avs[i].addr, addr, len) == 0) {
      *out = c->avs[i].fa;
      return 0;
    }
  if (len > OFI_ADDR_MAX) return -1;
  if (c->navs == c->cap_avs) {
    int cap = c->cap_avs ? c->cap_avs * 2 : 16;
    av_entry *n = realloc(c->avs, (size_t)cap * sizeof *n);
    if (!n) return -1;
    c->avs = n;
    c->cap_avs = cap;
  }
  fi_addr_t fa = FI_ADDR_NOTAVAIL;
  if (fi_av_insert(c->av, addr, 1, &fa, 0, NULL) != 1) return -1;
  av_entry *a = &c->avs[c->navs++];
  memcpy(a->addr, addr, len);
  a->len = len;
  a->fa = fa;
  *out = fa;
  return 0;
}

/* The peer closed (count: messages it completed in order) or vanished. */
static void peer_lost(ofi_ep *e, uint64_t count, const char *why) {
  if (e->peer_gone) return;
  e->peer_gone = 1;
  e->peer_count = count;
  e->lv_state = 2;
  if (!e->failed) OBJ_ERR(e, "%s", why);
  if (e->h.type == OBJ_SEND)
    for (ofi_req *r = e->head; r; r = r->next)
      if (!r->complete && !r->err && r->seq < count) req_set_complete(r); /* the peer has it */
}

static void liveness(ofi_ep *e) {
  while (e->lv_state < 2 && e->sock >= 0) {
    size_t want = e->lv_state == 0 ? sizeof(ofi_reply) : sizeof(ofi_bye);
    ssize_t n = recv(e->sock, e->lv + e->lv_got, want - e->lv_got, MSG_DONTWAIT);
    if (n > 0) {
      e->lv_got += (size_t)n;
      if (e->lv_got < want) continue;
      e->lv_got = 0;
      if (e->lv_state == 0) {
        ofi_reply rp;
        memcpy(&rp, e->lv, sizeof rp);
        if (rp.magic != REPLY_MAGIC || rp.epid == 0 || rp.epid > MAX_EPID || rp.addrlen > OFI_ADDR_MAX) {
          peer_lost(e, 0, "ofi: malformed connection answer from the peer");
          return;
        }
        if (!e->have_dest) {
          if (av_lookup(e->ctx, rp.addr, rp.addrlen, &e->dest) != 0) {
            peer_lost(e, 0, "ofi: cannot insert the peer's fabric address into the address vector");
            return;
          }
          e->have_dest = 1;
        }
        e->epid = rp.epid;
        e->lv_state = 1;
        post_pending(e);
      } else {
        ofi_bye b;
        memcpy(&b, e->lv, sizeof b);
        peer_lost(e, b.magic == BYE_MAGIC ? b.count : 0,
                  e->h.type == OBJ_SEND ? "peer closed its receive endpoint (connection closed by peer)"
                                        : "peer closed its send endpoint (connection closed by peer)");
      }
      continue;
    }
    if (n == 0) {
      peer_lost(e, 0, "connection lost: the peer process exited or closed the connection without notice");
      return;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      char why[OFI_ERRLEN];
      snprintf(why, sizeof why, "connection lost: %s", strerror(errno));
      peer_lost(e, 0, why);
    }
    return;
  }
}

static void ep_progress(ofi_ep *e) {
  double now = weft_now_us();
  if (e->lv_state == 0 || now >= e->next_check) {
    e->next_check = now + e->ctx->liveness_us;
    liveness(e);
  }
  post_pending(e);
  ctx_progress(e->ctx);
}

/* ---- init ------------------------------------------------------------------------------ */

static int is_sockets_provider(const char *prov) {
  static const char *soft[] = {"tcp", "udp", "sockets", "shm", "net", "ofi_rxm", "ofi_rxd", "ofi_mrail", NULL};
  char core[64];
  snprintf(core, sizeof core, "%s", prov);
  char *semi = strchr(core, ';');
  if (semi) *semi = 0;
  for (int i = 0; soft[i]; i++)
    if (strcmp(core, soft[i]) == 0) return 1;
  return 0;
}

static struct fi_info *make_hints(const char *prov, const char *dom) {
  struct fi_info *h = fi_allocinfo();
  if (!h) return NULL;
  h->caps = FI_TAGGED | FI_SEND | FI_RECV;
  h->mode = FI_CONTEXT | FI_CONTEXT2;
  h->ep_attr->type = FI_EP_RDM;
  h->domain_attr->mr_mode = FI_MR_LOCAL | FI_MR_VIRT_ADDR | FI_MR_ALLOCATED | FI_MR_PROV_KEY | FI_MR_ENDPOINT;
  h->domain_attr->threading = FI_THREAD_DOMAIN;
  /* resource_mgmt is left to the provider: asking for FI_RM_ENABLED made
   * libfabric 1.17's shm lose messages between 3 or more processes. */
  if (prov) h->fabric_attr->prov_name = strdup(prov);
  if (dom) h->domain_attr->name = strdup(dom);
  return h;
}

static weftResult_t open_fabric(ofi_ctx *c) {
  const char *prov = weft_env("WEFT_OFI_PROVIDER");
  if (!prov) prov = OFI_DEFAULT_PROVIDER;
  if (strcmp(prov, "auto") == 0) prov = NULL;
  const char *dom = weft_env("WEFT_OFI_DOMAIN");
  struct fi_info *list = NULL;
  struct fi_info *hints = make_hints(prov, dom);
  if (!hints) return weftSystemError;
  int rc = fi_getinfo(OFI_API_VERSION, NULL, NULL, 0, hints, &list);
  fi_freeinfo(hints);
  if (rc != 0 || !list) {
    OBJ_ERR(c, "fi_getinfo found no reliable-datagram tagged endpoint for provider '%s'%s%s: %s "
            "(set WEFT_OFI_PROVIDER; fi_info lists the providers)", prov ? prov : "auto", dom ? " domain " : "",
            dom ? dom : "", fi_strerror(-rc));
    return weftSystemError;
  }
  struct fi_info *pick = list;
  if (!prov) /* auto: skip hook and multi-rail utility providers */
    for (struct fi_info *i = list; i; i = i->next)
      if (i->fabric_attr->prov_name && !strstr(i->fabric_attr->prov_name, "ofi_hook") &&
          !strstr(i->fabric_attr->prov_name, "ofi_mrail")) {
        pick = i;
        break;
      }
  c->info = fi_dupinfo(pick);
  fi_freeinfo(list);
  if (!c->info) return weftSystemError;
  struct fi_info *info = c->info;
  snprintf(c->prov, sizeof c->prov, "%s", info->fabric_attr->prov_name ? info->fabric_attr->prov_name : "?");

  const char *step = "fi_fabric";
  if ((rc = fi_fabric(info->fabric_attr, &c->fabric, NULL)) != 0) goto fail;
  step = "fi_domain";
  if ((rc = fi_domain(c->fabric, info, &c->domain, NULL)) != 0) goto fail;
  uint64_t mr_mode = info->domain_attr->mr_mode;
  c->mr_local = (mr_mode & FI_MR_LOCAL) || weft_env_int("WEFT_OFI_MR_LOCAL", 0) != 0;
  c->mr_endpoint = (mr_mode & FI_MR_ENDPOINT) != 0;
  c->prov_key = (mr_mode & FI_MR_PROV_KEY) != 0;
  c->next_key = 1;

  struct fi_av_attr av_attr;
  memset(&av_attr, 0, sizeof av_attr);
  av_attr.type = info->domain_attr->av_type != FI_AV_UNSPEC ? info->domain_attr->av_type : FI_AV_TABLE;
  step = "fi_av_open";
  if ((rc = fi_av_open(c->domain, &av_attr, &c->av, NULL)) != 0) goto fail;

  struct fi_cq_attr cq_attr;
  memset(&cq_attr, 0, sizeof cq_attr);
  cq_attr.format = FI_CQ_FORMAT_TAGGED;
  cq_attr.wait_obj = weft_env_int("WEFT_OFI_WAIT_FD", 1) ? FI_WAIT_FD : FI_WAIT_NONE;
  step = "fi_cq_open";
  if ((rc = fi_cq_open(c->domain, &cq_attr, &c->cq, NULL)) != 0 && cq_attr.wait_obj != FI_WAIT_NONE) {
    cq_attr.wait_obj = FI_WAIT_NONE;
    rc = fi_cq_open(c->domain, &cq_attr, &c->cq, NULL);
  }
  if (rc != 0) goto fail;
  if (cq_attr.wait_obj == FI_WAIT_FD) {
    int fd = -1;
    if (fi_control(&c->cq->fid, FI_GETWAIT, &fd) == 0 && fd >= 0) c->wait_fd = fd;
  }

  step = "fi_endpoint";
  if ((rc = fi_endpoint(c->domain, info, &c->ep, NULL)) != 0) goto fail;
  step = "binding the address vector";
  if ((rc = fi_ep_bind(c->ep, &c->av->fid, 0)) != 0) goto fail;
  step = "binding the completion queue";
  if ((rc = fi_ep_bind(c->ep, &c->cq->fid, FI_TRANSMIT | FI_RECV)) != 0) goto fail;
  step = "fi_enable";
  if ((rc = fi_enable(c->ep)) != 0) goto fail;
  c->addrlen = sizeof c->addr;
  step = "fi_getname";
  if ((rc = fi_getname(&c->ep->fid, c->addr, &c->addrlen)) != 0) goto fail;

  c->cq_data = info->domain_attr->cq_data_size >= 8 && weft_env_int("WEFT_OFI_CQ_DATA", 1) != 0;
  if (!c->cq_data && (info->tx_attr->iov_limit < 2 || info->rx_attr->iov_limit < 2)) {
    OBJ_ERR(c, "provider %s carries neither 8 bytes of CQ data nor 2-entry iovs: unsupported", c->prov);
    return weftSystemError;
  }
  size_t max = info->ep_attr->max_msg_size ? info->ep_attr->max_msg_size : ((size_t)1 << 30);
  size_t cap = weft_env_size("WEFT_OFI_MAX_MSG", 0);
  if (cap && cap < max) max = cap;
  if (!c->cq_data) max = max > INBAND_HDR + 1 ? max - INBAND_HDR : 1;
  if (max > ((size_t)1 << 62)) max = (size_t)1 << 62;
  c->chunk = max;
  c->inject = c->cq_data && !c->mr_local && weft_env_int("WEFT_OFI_INJECT", 1) ? info->tx_attr->inject_size : 0;
  c->rdma = !is_sockets_provider(c->prov);
  c->liveness_us = (double)weft_env_int("WEFT_OFI_LIVENESS_US", 2000);
  ctx_log(c, weftLogInfo,
          "ofi: provider %s, fabric %s, domain %s, tag via %s, %s, max message %zu, inject %zu, %s",
          c->prov, info->fabric_attr->name ? info->fabric_attr->name : "?",
          info->domain_attr->name ? info->domain_attr->name : "?", c->cq_data ? "CQ data" : "in-band header",
          c->mr_local ? "registered buffers (FI_MR_LOCAL)" : "no local registration", c->chunk, c->inject,
          c->wait_fd >= 0 ? "CQ wait fd" : "no CQ wait fd");
  return weftSuccess;
fail:
  OBJ_ERR(c, "ofi provider %s: %s failed: %s", c->prov, step, fi_strerror(-rc));
  return weftSystemError;
}

static void ctx_free(ofi_ctx *c) {
  if (c->ep) fi_close(&c->ep->fid);
  for (ofi_block *b = c->blocks, *n; b; b = n) {
    n = b->next;
    for (int i = 0; i < OPS_PER_BLOCK; i++)
      if (b->ops[i].mr) fi_close(&b->ops[i].mr->fid);
    if (b->mr) fi_close(&b->mr->fid);
    free(b->mem);
    free(b);
  }
  if (c->cq) fi_close(&c->cq->fid);
  if (c->av) fi_close(&c->av->fid);
  if (c->domain) fi_close(&c->domain->fid);
  if (c->fabric) fi_close(&c->fabric->fid);
  if (c->info) fi_freeinfo(c->info);
  free(c->avs);
  free(c);
}

static weftResult_t ofi_init(const weftNetInitArgs_t *args, void **out) {
  ofi_ctx *c = calloc(1, sizeof *c);
  if (!c) return weftSystemError;
  c->h.type = OBJ_CTX;
  c->wait_fd = -1;
  if (args) {
    c->log = args->log;
    c->log_user = args->logUser;
  }
  char err[WEFT_SOCK_ERRLEN];
  int ok = 0;
  if (args && args->localAddr) ok = weft_sockaddr_resolve(args->localAddr, 0, &c->local, err) == 0;
  if (!ok && weft_sock_local_addr(NULL, &c->local, err) != 0) {
    ctx_log(c, weftLogWarn, "ofi: no local address: %s", err);
    free(c);
    return weftSystemError;
  }
  weftResult_t res = open_fabric(c);
  if (res != weftSuccess) {
    ctx_log(c, weftLogWarn, "%s", c->h.err);
    ctx_free(c);
    return res;
  }
  *out = c;
  return weftSuccess;
}

static weftResult_t ofi_devices(void *ctx, int *ndev) {
  (void)ctx;
  *ndev = 1;
  return weftSuccess;
}

static weftResult_t ofi_properties(void *ctxp, int dev, weftNetProperties_t *p) {
  ofi_ctx *c = ctxp;
  (void)dev;
  p->name = "ofi";
  /* Providers built on sockets or shared memory score below weft's own tcp so
   * that they are used only when asked for (WEFT_NET=ofi). */
  p->bandwidthGbps = c && c->rdma ? 25.0 : 1.0;
  p->latencyUs = c && c->rdma ? 3.0 : 30.0;
  p->maxStreams = 1;
  return weftSuccess;
}

/* ---- connection setup -------------------------------------------------------------- */

static ofi_ep *ep_new(ofi_ctx *c, int fd, int type) {
  ofi_ep *e = calloc(1, sizeof *e);
  if (!e) return NULL;
  e->h.type = type;
  e->ctx = c;
  e->sock = fd;
  return e;
}

static weftResult_t ofi_listen_fn(void *ctxp, int dev, uint64_t key, void *handle, void **out) {
  ofi_ctx *c = ctxp;
  (void)dev;
  ofi_listen *l = calloc(1, sizeof *l);
  if (!l) return weftSystemError;
  l->h.type = OBJ_LISTEN;
  l->ctx = c;
  l->key = key;
  weft_sockaddr a = c->local;
  char err[WEFT_SOCK_ERRLEN];
  if (weft_sock_listen(&a, &l->fd, err) != 0) {
    OBJ_ERR(c, "%s", err);
    free(l);
    return weftSystemError;
  }
  ofi_handle h;
  memset(&h, 0, sizeof h);
  h.magic = HANDLE_MAGIC;
  h.sa = a;
  if (c->addrlen <= sizeof h.addr) { /* else it comes with the connection's answer */
    h.addrlen = (uint16_t)c->addrlen;
    memcpy(h.addr, c->addr, c->addrlen);
  }
  memset(handle, 0, WEFT_NET_HANDLE_BYTES);
  memcpy(handle, &h, sizeof h);
  *out = l;
  return weftSuccess;
}

static weftResult_t ofi_connect(void *ctxp, int dev, const void *handle, uint64_t key, uint64_t conn_id,
                                int timeout_ms, void **out) {
  ofi_ctx *c = ctxp;
  (void)dev;
  ofi_handle h;
  memcpy(&h, handle, sizeof h);
  if (h.magic != HANDLE_MAGIC || h.addrlen > sizeof h.addr) {
    OBJ_ERR(c, "not an ofi transport handle");
    return weftInvalidUsage;
  }
  char err[WEFT_SOCK_ERRLEN];
  int fd;
  if (weft_sock_connect(&h.sa, timeout_ms, &fd, err) != 0) {
    OBJ_ERR(c, "%s", err);
    return weftRemoteError;
  }
  ofi_hello hello = {HELLO_MAGIC, key, conn_id};
  if (weft_sock_send_all(fd, &hello, sizeof hello, timeout_ms, err) != 0) {
    OBJ_ERR(c, "%s", err);
    close(fd);
    return weftRemoteError;
  }
  ofi_ep *e = ep_new(c, fd, OBJ_SEND);
  if (!e) {
    close(fd);
    return weftSystemError;
  }
  if (h.addrlen) {
    if (av_lookup(c, h.addr, h.addrlen, &e->dest) != 0) {
      OBJ_ERR(c, "cannot insert the peer's fabric address into the address vector");
      close(fd);
      free(e);
      return weftSystemError;
    }
    e->have_dest = 1;
  }
  *out = e;
  return weftSuccess;
}

static weftResult_t ofi_accept(void *lp, int timeout_ms, void **out, uint64_t *conn_id) {
  ofi_listen *l = lp;
  ofi_ctx *c = l->ctx;
  long long deadline = weft_now_ms() + timeout_ms;
  char err[WEFT_SOCK_ERRLEN];
  for (;;) {
    long long left = deadline - weft_now_ms();
    int fd;
    if (left <= 0 || weft_sock_accept(l->fd, (int)left, NULL, &fd, err) != 0) {
      OBJ_ERR(l, "no peer connected within %d ms", timeout_ms);
      return weftTimeout;
    }
    left = deadline - weft_now_ms();
    int hello_ms = left < 5000 ? (left > 0 ? (int)left : 1) : 5000;
    ofi_hello h;
    if (weft_sock_recv_all(fd, &h, sizeof h, hello_ms, err) != 0 || h.magic != HELLO_MAGIC || h.key != l->key) {
      ctx_log(c, weftLogWarn, "ofi: dropped a connection without the job key");
      close(fd);
      continue;
    }
    if (c->next_epid >= MAX_EPID) {
      OBJ_ERR(l, "too many connections to one ofi context (%u)", MAX_EPID);
      close(fd);
      return weftSystemError;
    }
    ofi_reply rp;
    memset(&rp, 0, sizeof rp);
    rp.magic = REPLY_MAGIC;
    rp.epid = ++c->next_epid;
    rp.addrlen = (uint32_t)c->addrlen;
    memcpy(rp.addr, c->addr, c->addrlen);
    if (weft_sock_send_all(fd, &rp, sizeof rp, hello_ms, err) != 0) {
      ctx_log(c, weftLogWarn, "ofi: dropped a connection: %s", err);
      close(fd);
      continue;
    }
    ofi_ep *e = ep_new(c, fd, OBJ_RECV);
    if (!e) {
      close(fd);
      return weftSystemError;
    }
    e->epid = rp.epid;
    e->lv_state = 1;
    *conn_id = h.conn_id;
    *out = e;
    return weftSuccess;
  }
}

/* ---- data path ------------------------------------------------------------------------ */

static weftResult_t ofi_reg_mr(void *comm, void *data, size_t size, void **mhandle) {
  ofi_ep *e = comm;
  ofi_ctx *c = e->ctx;
  ofi_mh *m = calloc(1, sizeof *m);
  if (!m) return weftSystemError;
  if (c->mr_local && size) {
    int rc = mr_reg(c, data, size, FI_SEND | FI_RECV, &m->mr);
    if (rc) {
      OBJ_ERR(e, "fi_mr_reg of %zu bytes failed: %s", size, fi_strerror(-rc));
      free(m);
      return weftSystemError;
    }
    m->desc = fi_mr_desc(m->mr);
  }
  *mhandle = m;
  return weftSuccess;
}

static weftResult_t ofi_dereg_mr(void *comm, void *mhandle) {
  (void)comm;
  ofi_mh *m = mhandle;
  if (!m) return weftSuccess;
  if (m->mr) fi_close(&m->mr->fid);
  free(m);
  return weftSuccess;
}

static weftResult_t req_new(ofi_ep *e, void *buf, size_t size, uint64_t tag, void *mh, void **out) {
  ofi_ctx *c = e->ctx;
  size_t nchunks = size ? (size - 1) / c->chunk + 1 : 1;
  if (nchunks > MAX_CHUNKS) {
    OBJ_ERR(e, "message of %zu bytes exceeds what provider %s can carry (%u x %zu bytes)", size, c->prov,
            MAX_CHUNKS, c->chunk);
    return weftInvalidUsage;
  }
  ofi_req *r = weft_req_get(&e->pool, sizeof *r);
  if (!r) return weftSystemError;
  r->ep = e;
  r->buf = buf;
  r->size = size;
  r->mh = mh;
  r->wtag = tag;
  r->seq = e->next_seq++;
  r->nchunks = (uint32_t)nchunks;
  r->last = -1;
  r->queued = 1;
  e->unposted++;
  r->prev = e->tail;
  if (e->tail) e->tail->next = r;
  else e->head = r;
  e->tail = r;
  *out = r;
  post_pending(e);
  return weftSuccess;
}

static void req_release(ofi_ep *e, ofi_req *r) {
  if (r->prev) r->prev->next = r->next;
  else e->head = r->next;
  if (r->next) r->next->prev = r->prev;
  else e->tail = r->prev;
  req_dequeue(r);
  weft_req_release(&e->pool, r);
}

static weftResult_t ofi_isend(void *sc, const void *data, size_t size, uint64_t tag, void *mh, void **request) {
  ofi_ep *e = sc;
  if (e->failed) return e->failed;
  if (e->peer_gone) return ep_fail(e, weftRemoteError);
  return req_new(e, (void *)data, size, tag, mh, request);
}

static weftResult_t ofi_irecv(void *rc, void *data, size_t size, uint64_t tag, void *mh, void **request) {
  ofi_ep *e = rc;
  (void)tag; /* matching is by order; the sender's tag is reported by test() */
  if (e->failed) return e->failed;
  if (e->peer_gone && e->next_seq >= e->peer_count) return ep_fail(e, weftRemoteError);
  return req_new(e, data, size, 0, mh, request);
}

static weftResult_t ofi_test(void *request, int *done, size_t *size, uint64_t *tag) {
  ofi_req *r = request;
  ofi_ep *e = r->ep;
  *done = 0;
  if (!r->complete && !r->err) ep_progress(e);
  if (!r->complete && !r->err && e->peer_gone) {
    if (e->h.type == OBJ_SEND && r->seq < e->peer_count) req_set_complete(r);
    else if (r->seq >= e->peer_count) {
      r->err = ep_fail(e, weftRemoteError);
      req_dequeue(r);
      req_orphan_ops(r);
    }
  }
  if (r->err) {
    if (size) *size = r->err_size;
    if (tag) *tag = r->err_tag;
    return r->err;
  }
  if (!r->complete) return e->failed;
  *done = 1;
  if (size) *size = e->h.type == OBJ_SEND ? r->size : r->total;
  if (tag) *tag = r->wtag;
  req_release(e, r);
  return weftSuccess;
}

static int ofi_poll_fd(void *comm, short *events) {
  ofi_ep *e = comm;
  ofi_ctx *c = e->ctx;
  if (e->lv_state == 0 && e->sock >= 0) { /* waiting for the receiver's answer */
    *events = POLLIN;
    return e->sock;
  }
  if (e->failed || e->peer_gone) return WEFT_NET_POLL_READY;
  if (c->wait_fd < 0) return WEFT_NET_POLL_NONE;
  struct fid *f = &c->cq->fid;
  if (fi_trywait(c->fabric, &f, 1) != FI_SUCCESS) return WEFT_NET_POLL_READY;
  *events = POLLIN;
  return c->wait_fd;
}

static const char *ofi_last_error(void *obj) { return obj ? ((ofi_obj *)obj)->err : ""; }

/* ---- teardown ------------------------------------------------------------------------- */

static uint64_t done_prefix(ofi_ep *e) {
  for (ofi_req *r = e->head; r; r = r->next)
    if (!r->complete) return r->seq;
  return e->next_seq;
}

static weftResult_t ofi_close_ep(void *p) {
  ofi_ep *e = p;
  if (!e) return weftSuccess;
  ofi_ctx *c = e->ctx;
  if (e->sock >= 0) {
    ofi_bye b = {BYE_MAGIC, done_prefix(e)};
    (void)!send(e->sock, &b, sizeof b, MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(e->sock, SHUT_WR);
    char sink[256]; /* unread input would turn the close into a reset */
    while (recv(e->sock, sink, sizeof sink, MSG_DONTWAIT) > 0) {
    }
    close(e->sock);
  }
  for (ofi_req *r = e->head; r; r = r->next) req_orphan_ops(r);
  ctx_progress(c); /* reap cancellations */
  weft_req_destroy(&e->pool);
  free(e);
  return weftSuccess;
}

static weftResult_t ofi_close_listen(void *lp) {
  ofi_listen *l = lp;
  if (!l) return weftSuccess;
  close(l->fd);
  free(l);
  return weftSuccess;
}

static weftResult_t ofi_finalize(void *ctx) {
  if (ctx) ctx_free(ctx);
  return weftSuccess;
}

WEFT_NET_DEFINE(weft_net_ofi) = {
    .abiVersion = WEFT_NET_ABI_VERSION,
    .name = "ofi",
    .init = ofi_init,
    .devices = ofi_devices,
    .getProperties = ofi_properties,
    .listen = ofi_listen_fn,
    .connect = ofi_connect,
    .accept = ofi_accept,
    .regMr = ofi_reg_mr,
    .deregMr = ofi_dereg_mr,
    .isend = ofi_isend,
    .irecv = ofi_irecv,
    .test = ofi_test,
    .pollFd = ofi_poll_fd,
    .lastError = ofi_last_error,
    .closeSend = ofi_close_ep,
    .closeRecv = ofi_close_ep,
    .closeListen = ofi_close_listen,
    .finalize = ofi_finalize,
};
