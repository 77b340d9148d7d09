/* ucx: the context: UCP context and worker, the host identity that decides
 * peer error handling, and finalize. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "util/sock.h"
#include "ucx/ucx_impl.h"

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


static weftResult_t init_fail(ucx_ctx *c, const char *what, ucs_status_t st) {
  weft_net_logf(&c->base, weftLogWarn, "ucx: %s failed: %s", what, ucs_status_string(st));
  weft__ucx_finalize(c);
  return weftSystemError;
}

weftResult_t weft__ucx_init(const weftNetInitArgs_t *args, void **out) {
  ucx_ctx *c = calloc(1, sizeof *c);
  if (!c) return weftSystemError;
  weft_net_ctx_init(&c->base, "ucx", args);
  c->efd = c->epfd = -1;
  c->host = host_id();
  pthread_mutex_init(&c->lock, NULL);
  char err[WEFT_SOCK_ERRLEN];
  if (weft_net_local_addr(args, &c->local, err) != 0) {
    weft_net_logf(&c->base, weftLogWarn, "ucx: no local address: %s", err);
    weft__ucx_finalize(c);
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
    weft_net_logf(&c->base, weftLogTrace, "ucx: could not select the v2 protocols");
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
  if (ucp_worker_get_efd(c->worker, &c->efd) != UCS_OK || weft__ucx_watch(c, c->efd, NULL) != 0) c->efd = -1;
  ucp_am_handler_param_t hp;
  memset(&hp, 0, sizeof hp);
  hp.field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_FLAGS | UCP_AM_HANDLER_PARAM_FIELD_CB |
                  UCP_AM_HANDLER_PARAM_FIELD_ARG;
  hp.id = AM_DATA;
  hp.flags = UCP_AM_FLAG_WHOLE_MSG;
  hp.cb = weft__ucx_am_data_cb;
  hp.arg = c;
  if ((st = ucp_worker_set_am_recv_handler(c->worker, &hp)) != UCS_OK)
    return init_fail(c, "registering the active-message handler", st);
  static const char *const rdma_tls[] = {"rc", "dc", "ud", "ib", "srd", "verbs", NULL};
  static const char *const shm_tls[] = {"posix", "sysv", "xpmem", "knem", NULL};
  int rdma = ctx_has_tl(c, rdma_tls);
  c->has_shm = ctx_has_tl(c, shm_tls);
  c->bw_gbps = rdma ? 100.0 : 1.0; /* without RDMA, weft's own tcp should win between hosts */
  c->lat_us = rdma ? 2.0 : 20.0;
  weft_net_logf(&c->base, weftLogTrace, "ucx: UCX %s, %s, worker address %zu bytes, wake-up fd %d",
                ucp_get_version_string(), rdma ? "RDMA transports available" : "no RDMA transport", c->waddr_len,
                c->efd);
  *out = c;
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

weftResult_t weft__ucx_finalize(void *ctxp) {
  ucx_ctx *c = ctxp;
  if (!c) return weftSuccess;
  while (c->hellos) weft__ucx_hello_drop(c, c->hellos);
  if (c->abandoned || c->dirty) {
    /* UCX 1.13 asserts (and aborts) in ucp_cleanup when a transfer that an
     * endpoint close cancelled still holds its memory registration, or when
     * a request never ended: leave the worker and the UCP context allocated
     * instead (only after a failure or an abort) */
    weft_net_logf(&c->base, weftLogInfo, "ucx: transfers were cut short; the UCX context is not released");
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
