#include <unistd.h>

#include "common/accept.h"
#include "util/clock.h"

weftResult_t weft_net_accept_timeout(weft_net_listen *l, const char *peer, int timeout_ms) {
  weft_net_obj_err(l, "no %s connected within %d ms", peer, timeout_ms);
  return weftTimeout;
}

void weft_net_drop_stranger(const weft_net_listen *l) {
  weft_net_logf(l->ctx, weftLogWarn, "%s: dropped a connection without the job key", l->ctx->name);
}

weftResult_t weft_net_accept(weft_net_listen *l, int timeout_ms, const char *peer, weft_net_take_fn take,
                             void **out, uint64_t *conn_id) {
  long long deadline = weft_now_ms() + timeout_ms;
  char err[WEFT_SOCK_ERRLEN];
  for (;;) {
    long long left = deadline - weft_now_ms();
    int fd;
    if (left <= 0 || weft_sock_accept(l->fd, (int)left, NULL, &fd, err) != 0)
      return weft_net_accept_timeout(l, peer, timeout_ms);
    /* the hello gets what is left of the deadline, at most WEFT_NET_HELLO_MS */
    left = deadline - weft_now_ms();
    int hello_ms = left < WEFT_NET_HELLO_MS ? (left > 0 ? (int)left : 1) : WEFT_NET_HELLO_MS;
    weftResult_t res = weftSuccess;
    weft_net_verdict v = take(l, fd, hello_ms, out, conn_id, &res);
    if (v == WEFT_NET_TAKEN) return weftSuccess;
    close(fd);
    if (v == WEFT_NET_FAILED) return res;
    if (v == WEFT_NET_NO_KEY) weft_net_drop_stranger(l);
  }
}
