/* ofi: the context: provider choice, fabric, domain, address vector,
 * completion queue and endpoint. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rdma/fi_cm.h>

#include "util/param.h"
#include "util/sock.h"
#include "ofi/ofi_impl.h"

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
    weft_net_obj_err(c,
                     "fi_getinfo found no reliable-datagram tagged endpoint for provider '%s'%s%s: %s "
                     "(set WEFT_OFI_PROVIDER; fi_info lists the providers)",
                     prov ? prov : "auto", dom ? " domain " : "", dom ? dom : "", fi_strerror(-rc));
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
  c->mr_local = (mr_mode & FI_MR_LOCAL) || weft_env_bool("WEFT_OFI_MR_LOCAL", 0);
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
  cq_attr.wait_obj = weft_env_bool("WEFT_OFI_WAIT_FD", 1) ? FI_WAIT_FD : FI_WAIT_NONE;
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

  c->cq_data = info->domain_attr->cq_data_size >= 8 && weft_env_bool("WEFT_OFI_CQ_DATA", 1);
  if (!c->cq_data && (info->tx_attr->iov_limit < 2 || info->rx_attr->iov_limit < 2)) {
    weft_net_obj_err(c, "provider %s carries neither 8 bytes of CQ data nor 2-entry iovs: unsupported", c->prov);
    return weftSystemError;
  }
  size_t max = info->ep_attr->max_msg_size ? info->ep_attr->max_msg_size : ((size_t)1 << 30);
  size_t cap = weft_env_size("WEFT_OFI_MAX_MSG", 0);
  if (cap && cap < max) max = cap;
  if (!c->cq_data) max = max > INBAND_HDR + 1 ? max - INBAND_HDR : 1;
  if (max > ((size_t)1 << 62)) max = (size_t)1 << 62;
  c->chunk = max;
  c->inject = c->cq_data && !c->mr_local && weft_env_bool("WEFT_OFI_INJECT", 1) ? info->tx_attr->inject_size : 0;
  c->rdma = !is_sockets_provider(c->prov);
  c->liveness_us = (double)weft_env_int("WEFT_OFI_LIVENESS_US", 2000, 0, 1000000000);
  weft_net_logf(&c->base, weftLogInfo,
                "ofi: provider %s, fabric %s, domain %s, tag via %s, %s, max message %zu, inject %zu, %s",
                c->prov, info->fabric_attr->name ? info->fabric_attr->name : "?",
                info->domain_attr->name ? info->domain_attr->name : "?", c->cq_data ? "CQ data" : "in-band header",
                c->mr_local ? "registered buffers (FI_MR_LOCAL)" : "no local registration", c->chunk, c->inject,
                c->wait_fd >= 0 ? "CQ wait fd" : "no CQ wait fd");
  return weftSuccess;
fail:
  weft_net_obj_err(c, "ofi provider %s: %s failed: %s", c->prov, step, fi_strerror(-rc));
  return weftSystemError;
}

static void ctx_free(ofi_ctx *c) {
  if (c->ep) fi_close(&c->ep->fid);
  for (ofi_block *b = c->blocks, *n; b; b = n) {
    n = b->next;
    for (int i = 0; i < OPS_PER_BLOCK; i++) {
      if (b->ops[i].mr) fi_close(&b->ops[i].mr->fid);
      if (b->ops[i].in_use) weft__ofi_bounce_put(c, b->ops[i].hold); /* the endpoint is closed: nothing writes now */
    }
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
  weft_net_bounce_free(&c->pool);
  free(c);
}

weftResult_t weft__ofi_init(const weftNetInitArgs_t *args, void **out) {
  ofi_ctx *c = calloc(1, sizeof *c);
  if (!c) return weftSystemError;
  weft_net_ctx_init(&c->base, "ofi", args);
  c->wait_fd = -1;
  char err[WEFT_SOCK_ERRLEN];
  if (weft_net_local_addr(args, &c->local, err) != 0) {
    weft_net_logf(&c->base, weftLogWarn, "ofi: no local address: %s", err);
    free(c);
    return weftSystemError;
  }
  weftResult_t res = open_fabric(c);
  if (res != weftSuccess) {
    weft_net_logf(&c->base, weftLogWarn, "%s", c->base.h.err);
    ctx_free(c);
    return res;
  }
  *out = c;
  return weftSuccess;
}

weftResult_t weft__ofi_finalize(void *ctx) {
  if (ctx) ctx_free(ctx);
  return weftSuccess;
}

