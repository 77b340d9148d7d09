#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/listen.h"

void weft_net_listen_init(weft_net_listen *l, weft_net_ctx *ctx, uint64_t key) {
  l->h.type = WEFT_NET_OBJ_LISTEN;
  l->ctx = ctx;
  l->fd = -1;
  l->key = key;
}

weftResult_t weft_net_listen_tcp(weft_net_listen *l, weft_sockaddr *addr) {
  char err[WEFT_SOCK_ERRLEN];
  if (weft_sock_listen(addr, &l->fd, err) == 0) return weftSuccess;
  l->fd = -1;
  weft_net_obj_err(l->ctx, "%s", err);
  return weftSystemError;
}

void weft_net_handle_put(void *handle, const void *h, size_t len) {
  memset(handle, 0, WEFT_NET_HANDLE_BYTES);
  memcpy(handle, h, len);
}

weftResult_t weft_net_close_listen(void *listen) {
  weft_net_listen *l = listen;
  if (!l) return weftSuccess;
  weft_net_listen_drop_pending(l);
  if (l->fd >= 0) close(l->fd);
  free(l);
  return weftSuccess;
}
