#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/listen.h"
#include "util/random.h"

int weft_net_listen_init(weft_net_listen *l, weft_net_ctx *ctx, const weftNetKey_t *key) {
  l->h.type = WEFT_NET_OBJ_LISTEN;
  l->ctx = ctx;
  l->fd = -1;
  l->key = *key;
  if (weft_random_bytes(l->nonce, sizeof l->nonce) == 0) return 0;
  weft_net_obj_err(ctx, "%s: no random bytes from the kernel", ctx->name);
  return -1;
}

weftResult_t weft_net_listen_tcp(weft_net_listen *l, weft_sockaddr *addr) {
  char err[WEFT_SOCK_ERRLEN];
  if (weft_sock_listen(addr, &l->fd, err) == 0) return weftSuccess;
  l->fd = -1;
  weft_net_obj_err(l->ctx, "%s", err);
  return weftSystemError;
}

void weft_net_handle_put(void *handle, const void *h, size_t len, const weft_net_listen *l) {
  memset(handle, 0, WEFT_NET_HANDLE_BYTES);
  memcpy(handle, h, len < WEFT_NET_HANDLE_BYTES - WEFT_NONCE_BYTES ? len : WEFT_NET_HANDLE_BYTES - WEFT_NONCE_BYTES);
  memcpy((char *)handle + WEFT_NET_HANDLE_BYTES - WEFT_NONCE_BYTES, l->nonce, WEFT_NONCE_BYTES);
}

weftResult_t weft_net_close_listen(void *listen) {
  weft_net_listen *l = listen;
  if (!l) return weftSuccess;
  weft_net_listen_drop_pending(l);
  if (l->fd >= 0) close(l->fd);
  weft_wipe(&l->key, sizeof l->key);
  free(l);
  return weftSuccess;
}
