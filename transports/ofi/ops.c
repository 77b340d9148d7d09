/* ofi: memory registrations and the operation contexts (one per chunk in
 * flight) that the CQ hands back, allocated in blocks with their staging
 * slots. */
#include <stdlib.h>
#include <string.h>

#include "ofi/ofi_impl.h"

int weft__ofi_mr_reg(ofi_ctx *c, void *buf, size_t len, uint64_t access, struct fid_mr **mr) {
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
    int rc = weft__ofi_mr_reg(c, b->mem, total, FI_SEND | FI_RECV, &b->mr);
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

ofi_op *weft__ofi_op_get(ofi_ctx *c) {
  if (!c->free_ops && block_new(c) != 0) return NULL;
  ofi_op *op = c->free_ops;
  c->free_ops = op->next;
  memset(&op->fctx, 0, sizeof op->fctx);
  op->next = NULL;
  op->req = NULL;
  op->mr = NULL;
  op->hold = NULL;
  op->hdr = 0;
  op->chunk = 0;
  op->is_recv = op->staged = 0;
  op->in_use = 1;
  return op;
}

void weft__ofi_bounce_put(ofi_ctx *c, ofi_bounce *b) {
  if (b && --b->refs == 0) weft_net_bounce_put(&c->pool, b);
}

void weft__ofi_op_put(ofi_ctx *c, ofi_op *op) {
  if (op->mr) fi_close(&op->mr->fid);
  op->mr = NULL;
  weft__ofi_bounce_put(c, op->hold);
  op->hold = NULL;
  op->req = NULL;
  op->in_use = 0;
  op->next = c->free_ops;
  c->free_ops = op;
}

void weft__ofi_req_unlink_op(ofi_req *r, ofi_op *op) {
  for (ofi_op **p = &r->ops; *p; p = &(*p)->next)
    if (*p == op) {
      *p = op->next;
      break;
    }
  op->next = NULL;
}

/* Detaches the request's live operations: they complete (or are cancelled)
 * later without touching the request. Receives are cancelled. */
void weft__ofi_req_orphan_ops(ofi_req *r) {
  ofi_ctx *c = r->ep->ctx;
  int cancel = r->ep->h.type == WEFT_NET_OBJ_RECV;
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

