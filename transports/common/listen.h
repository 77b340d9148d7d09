/* The listener every built-in transport hands to weft: a socket that peers
 * connect to for their hello, and the job key they must present. A
 * transport's own listener starts with weft_net_listen. */
#ifndef WEFT_NET_LISTEN_H
#define WEFT_NET_LISTEN_H

#include <stddef.h>
#include <stdint.h>

#include "common/netctx.h"

/* Accepted connections whose hello has not all arrived (common/accept.c). */
#define WEFT_NET_PENDING_MAX 64

typedef struct {
  weft_net_obj h;
  weft_net_ctx *ctx;
  int fd; /* -1 once closed */
  uint64_t key;
  int npending;
  int pending_fd[WEFT_NET_PENDING_MAX];
  long long pending_since[WEFT_NET_PENDING_MAX];
} weft_net_listen;

void weft_net_listen_init(weft_net_listen *l, weft_net_ctx *ctx, uint64_t key);
/* Listens on TCP at *addr (in: the local address, port 0; out: the address
 * to publish). On failure the context's error says why. */
weftResult_t weft_net_listen_tcp(weft_net_listen *l, weft_sockaddr *addr);
/* Publishes a transport's handle h of len bytes, zero-padded. */
void weft_net_handle_put(void *handle, const void *h, size_t len);
/* Closes the connections still waiting for their hello. */
void weft_net_listen_drop_pending(weft_net_listen *l);
/* weftNet_t.closeListen of a listener that holds only its socket. */
weftResult_t weft_net_close_listen(void *listen);

#endif
