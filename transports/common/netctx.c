#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/netctx.h"

void weft_net_ctx_init(weft_net_ctx *c, const char *name, const weftNetInitArgs_t *args) {
  c->h.type = WEFT_NET_OBJ_CTX;
  c->name = name;
  if (args) {
    c->log = args->log;
    c->log_user = args->logUser;
  }
}

void weft_net_logf(const weft_net_ctx *c, weftLogLevel_t level, const char *fmt, ...) {
  if (!c->log) return;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  c->log(c->log_user, level, msg);
}

int weft_net_local_addr(const weftNetInitArgs_t *args, weft_sockaddr *out, char *err) {
  if (args && args->localAddr && weft_sockaddr_resolve(args->localAddr, 0, out, err) == 0) return 0;
  return weft_sock_local_addr(NULL, out, err);
}

weftResult_t weft_net_one_device(void *ctx, int *ndev) {
  (void)ctx;
  *ndev = 1;
  return weftSuccess;
}

weftResult_t weft_net_free_ctx(void *ctx) {
  free(ctx);
  return weftSuccess;
}
