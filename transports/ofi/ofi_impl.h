/* ofi transport, private: the objects its files share and the functions
 * they call across files (see ofi.c for the design). */
#ifndef WEFT_OFI_IMPL_H
#define WEFT_OFI_IMPL_H

#include <stdint.h>

#include <rdma/fabric.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_tagged.h>

#include "weft_net.h"
#include "util/sock.h"
#include "common/hello.h"
#include "common/listen.h"
#include "common/netctx.h"
#include "common/req_queue.h"
#include "common/seal.h"

#define OFI_API_VERSION FI_VERSION(1, 10)
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

struct ofi_req;

/* The bounce buffer of a message on an encrypted connection. Its request and
 * every fabric operation posted on it hold a reference: a cancelled receive
 * or an orphaned send may still complete after its request is gone (even
 * after its endpoint closed), so the last one to let go frees it. */
typedef struct {
  unsigned refs;
  char data[];
} ofi_bounce;

/* One fabric operation (one chunk of a message); its address is the
 * operation context the CQ hands back. */
typedef struct ofi_op {
  struct fi_context2 fctx; /* first: satisfies FI_CONTEXT and FI_CONTEXT2 */
  struct ofi_req *req;     /* NULL once orphaned (its request went away) */
  struct ofi_op *next;     /* free list, or the request's live operations */
  struct fid_mr *mr;       /* registration for this operation (FI_MR_LOCAL) */
  char *bounce;            /* registered staging slot (FI_MR_LOCAL), else NULL */
  ofi_bounce *hold;        /* the sealed message this operation reads or fills */
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
  weft_net_ctx base;
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
  weft_net_bounce_pool pool; /* bounce buffers of encrypted messages, for reuse */
} ofi_ctx;

typedef struct {
  uint64_t magic;
  weft_sockaddr sa; /* TCP address of the listener (handshake, liveness) */
  uint16_t addrlen; /* fabric address length, 0 if it did not fit here */
  uint8_t addr[WEFT_NET_HANDLE_BYTES - 16 - 8 - sizeof(weft_sockaddr) - 2]; /* the last 16: the listener nonce */
} ofi_handle;
_Static_assert(sizeof(ofi_handle) <= WEFT_NET_HANDLE_BYTES, "ofi handle too large");

typedef struct {
  uint64_t magic;
  uint32_t epid, addrlen;
  uint8_t addr[OFI_ADDR_MAX];
  weft_net_reply auth; /* proves the key; its nonce goes into an encrypted connection's key */
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
  /* encrypted connection: buf/size above are the sealed message (bounce,
   * the message's size plus the tag); user/user_size the caller's buffer */
  char *bounce, *user; /* bounce: hold->data */
  ofi_bounce *hold;
  size_t user_size;
  int sealed; /* sends: bounce holds the sealed message */
} ofi_req;

typedef struct ofi_ep {
  weft_net_obj h;
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
  uint32_t flags;  /* WEFT_NET_CONN_* of the connection */
  weft_aead *aead; /* encrypted connection (common/seal.h), else NULL */
  weft_net_gap gap; /* encrypted receives: a later message came, the awaited one did not */
  /* send side, until the answer came: what checks it */
  weftNetKey_t key;
  uint8_t listen_nonce[WEFT_NONCE_BYTES];
  weft_net_hello hello;
} ofi_ep;

/* The size the caller posted (on an encrypted connection, the sealed
 * message is WEFT_NET_SEAL_BYTES longer). */
static inline size_t ofi_posted(const ofi_req *r) { return r->bounce ? r->user_size : r->size; }

static inline uint64_t make_tag(uint32_t epid, uint64_t seq, uint32_t chunk, int last) {
  return ((uint64_t)epid << EPID_SHIFT) | ((seq & ((1ULL << SEQ_BITS) - 1)) << SEQ_SHIFT) |
         ((uint64_t)chunk << CHUNK_SHIFT) | (last ? TAG_LAST : 0);
}


/* ops.c */
int weft__ofi_mr_reg(ofi_ctx *c, void *buf, size_t len, uint64_t access, struct fid_mr **mr);
ofi_op *weft__ofi_op_get(ofi_ctx *c);
void weft__ofi_op_put(ofi_ctx *c, ofi_op *op);
void weft__ofi_req_unlink_op(ofi_req *r, ofi_op *op);
void weft__ofi_req_orphan_ops(ofi_req *r);
void weft__ofi_bounce_put(ofi_ctx *c, ofi_bounce *b);

/* cq.c */
void weft__ofi_req_dequeue(ofi_req *r);
weftResult_t weft__ofi_ep_fail(ofi_ep *e, weftResult_t res);
void weft__ofi_req_fail(ofi_req *r, weftResult_t res, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void weft__ofi_req_set_complete(ofi_req *r);
void weft__ofi_ctx_progress(ofi_ctx *c);

/* post.c */
void weft__ofi_post_pending(ofi_ep *e);

/* liveness.c */
int weft__ofi_av_lookup(ofi_ctx *c, const void *addr, size_t len, fi_addr_t *out);
void weft__ofi_ep_progress(ofi_ep *e);

/* init.c */
weftResult_t weft__ofi_init(const weftNetInitArgs_t *args, void **out);
weftResult_t weft__ofi_finalize(void *ctx);

/* connect.c */
weftResult_t weft__ofi_listen(void *ctxp, int dev, const weftNetKey_t *key, void *handle, void **out);
weftResult_t weft__ofi_connect(void *ctxp, int dev, const void *handle, const weftNetKey_t *key, uint64_t conn_id, uint32_t flags,
                               int timeout_ms, void **out);
weftResult_t weft__ofi_accept(void *lp, int timeout_ms, void **out, uint64_t *conn_id, uint32_t *flags);

/* data.c */
weftResult_t weft__ofi_reg_mr(void *comm, void *data, size_t size, void **mhandle);
weftResult_t weft__ofi_dereg_mr(void *comm, void *mhandle);
weftResult_t weft__ofi_isend(void *sc, const void *data, size_t size, uint64_t tag, void *mh, void **request);
weftResult_t weft__ofi_irecv(void *rc, void *data, size_t size, uint64_t tag, void *mh, void **request);
weftResult_t weft__ofi_test(void *request, int *done, size_t *size, uint64_t *tag);
int weft__ofi_poll_fd(void *comm, short *events);

/* close.c */
weftResult_t weft__ofi_close_ep(void *p);

#endif
