/* The listener every built-in transport hands to weft: a socket that peers
 * connect to for their hello, and the link key they must prove they know. A
 * transport's own listener starts with weft_net_listen. */
#ifndef WEFT_NET_LISTEN_H
#define WEFT_NET_LISTEN_H

#include <stddef.h>
#include <stdint.h>

#include "common/netctx.h"
#include "util/crypto.h"
#include "weft_net.h"

/* Hello nonces a listener remembers to refuse replays (common/hello.c). */
#define WEFT_NET_SEEN_MAX 256
/* Accepted connections whose hello has not all arrived (common/accept.c). */
#define WEFT_NET_PENDING_MAX 64

typedef struct {
  weft_net_obj h;
  weft_net_ctx *ctx;
  int fd; /* -1 once closed */
  weftNetKey_t key;                 /* the link key (never sent) */
  uint8_t nonce[WEFT_NONCE_BYTES];  /* fresh per listener, published in the handle */
  uint8_t seen[WEFT_NET_SEEN_MAX][WEFT_NONCE_BYTES];
  unsigned nseen;
  int npending;
  int pending_fd[WEFT_NET_PENDING_MAX];
  long long pending_since[WEFT_NET_PENDING_MAX];
} weft_net_listen;

/* Keeps the key and draws the listener's nonce; 0 on success. */
int weft_net_listen_init(weft_net_listen *l, weft_net_ctx *ctx, const weftNetKey_t *key);
/* Listens on TCP at *addr (in: the local address, port 0; out: the address
 * to publish). On failure the context's error says why. */
weftResult_t weft_net_listen_tcp(weft_net_listen *l, weft_sockaddr *addr);
/* Publishes a transport's handle h of len bytes (at most
 * WEFT_NET_HANDLE_BYTES - 16), zero-padded, with the listener's nonce in its
 * last 16 bytes. */
void weft_net_handle_put(void *handle, const void *h, size_t len, const weft_net_listen *l);
/* Closes the connections still waiting for their hello. */
void weft_net_listen_drop_pending(weft_net_listen *l);
/* weftNet_t.closeListen of a listener that holds only its socket. */
weftResult_t weft_net_close_listen(void *listen);

#endif
