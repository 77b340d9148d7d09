#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/accept.h"
#include "util/clock.h"

weftResult_t weft_net_accept_timeout(weft_net_listen *l, const char *peer, int timeout_ms) {
  weft_net_obj_err(l, "no %s connected within %d ms", peer, timeout_ms);
  return weftTimeout;
}

void weft_net_drop_stranger(const weft_net_listen *l) {
  weft_net_logf(l->ctx, weftLogWarn, "%s: dropped a connection that did not prove the job key", l->ctx->name);
}

void weft_net_listen_drop_pending(weft_net_listen *l) {
  for (int i = 0; i < l->npending; i++) close(l->pending_fd[i]);
  l->npending = 0;
}

static void pending_remove(weft_net_listen *l, int i) {
  l->pending_fd[i] = l->pending_fd[l->npending - 1];
  l->pending_since[i] = l->pending_since[l->npending - 1];
  l->npending--;
}

/* 1: the whole hello is buffered, 0: not yet, -1: the peer closed or failed. */
static int hello_arrived(int fd, size_t hello_bytes) {
  char buf[256];
  ssize_t n = recv(fd, buf, hello_bytes < sizeof buf ? hello_bytes : sizeof buf, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
  if (n == 0) return -1;
  return (size_t)n >= hello_bytes || (size_t)n == sizeof buf ? 1 : 0;
}

/* Accepts what is waiting on the listener. A full list makes room by
 * closing its oldest connection whose hello is not all there: a flood of
 * silent connections cannot hold the real peers out. When every entry holds
 * a whole hello (many real peers at once: an eager init with more than
 * WEFT_NET_PENDING_MAX of them), nothing is dropped: the rest wait in the
 * kernel's backlog until the caller has taken some. */
static void accept_new(weft_net_listen *l, size_t hello_bytes) {
  char err[WEFT_SOCK_ERRLEN];
  int fd;
  for (;;) {
    if (l->npending == WEFT_NET_PENDING_MAX) {
      int oldest = -1;
      for (int i = 0; i < l->npending; i++)
        if (hello_arrived(l->pending_fd[i], hello_bytes) != 1 &&
            (oldest < 0 || l->pending_since[i] < l->pending_since[oldest]))
          oldest = i;
      if (oldest < 0) return;
      close(l->pending_fd[oldest]);
      pending_remove(l, oldest);
      weft_net_drop_stranger(l);
    }
    if (weft_sock_accept(l->fd, 0, NULL, &fd, err) != 0) return;
    l->pending_fd[l->npending] = fd;
    l->pending_since[l->npending++] = weft_now_ms();
  }
}

weftResult_t weft_net_accept(weft_net_listen *l, int timeout_ms, const char *peer, size_t hello_bytes,
                             weft_net_take_fn take, void **out, uint64_t *conn_id, uint32_t *flags) {
  /* Connections wait side by side for their hellos, and a transport reads a
   * hello only once all of it is there: no stranger (silent, slow, or one
   * byte at a time) holds up the others, it only ages out after
   * WEFT_NET_HELLO_MS. */
  long long deadline = weft_now_ms() + timeout_ms;
  for (;;) {
    accept_new(l, hello_bytes);
    long long now = weft_now_ms();
    int partial = 0;
    for (int i = l->npending - 1; i >= 0; i--) {
      int fd = l->pending_fd[i], state = hello_arrived(fd, hello_bytes);
      if (state == 0 && now - l->pending_since[i] < WEFT_NET_HELLO_MS) {
        partial = 1;
        continue;
      }
      pending_remove(l, i);
      if (state <= 0) {
        if (state == 0) weft_net_drop_stranger(l);
        close(fd);
        continue;
      }
      weftResult_t res = weftSuccess;
      weft_net_verdict v = take(l, fd, WEFT_NET_TAKE_MS, out, conn_id, flags, &res);
      if (v == WEFT_NET_TAKEN) return weftSuccess;
      close(fd);
      if (v == WEFT_NET_FAILED) return res;
      if (v == WEFT_NET_NO_KEY) weft_net_drop_stranger(l);
    }
    long long left = deadline - weft_now_ms();
    if (left <= 0) return weft_net_accept_timeout(l, peer, timeout_ms);
    /* sleep until a connection or a hello arrives; a partial hello keeps its
     * socket readable, so then look again in short steps */
    struct pollfd pf[1 + WEFT_NET_PENDING_MAX];
    int np = 0;
    pf[np++] = (struct pollfd){l->fd, POLLIN, 0};
    for (int i = 0; i < l->npending && !partial; i++) pf[np++] = (struct pollfd){l->pending_fd[i], POLLIN, 0};
    int wait = partial ? 5 : 50;
    poll(pf, (nfds_t)np, left < wait ? (int)left : wait);
  }
}
