/* accept() with a deadline: waits for connections on a listener and hands
 * each to the transport, which reads its hello and takes it or refuses it;
 * refused ones are closed (strangers logged at WARN) and the wait goes on
 * until the deadline. */
#ifndef WEFT_NET_ACCEPT_H
#define WEFT_NET_ACCEPT_H

#include <stdint.h>

#include "common/listen.h"

/* The longest wait for the hello of a connection that was accepted. */
#define WEFT_NET_HELLO_MS 5000

typedef enum {
  WEFT_NET_TAKEN,   /* the connection is now the endpoint in *out */
  WEFT_NET_NO_KEY,  /* no valid hello in time: a stranger */
  WEFT_NET_DROPPED, /* refused, and the transport said why */
  WEFT_NET_FAILED   /* accept() fails with *res */
} weft_net_verdict;

/* Decides on accepted socket fd, reading its hello within hello_ms. Unless
 * it takes the connection, fd stays the caller's to close. */
typedef weft_net_verdict (*weft_net_take_fn)(weft_net_listen *l, int fd, int hello_ms, void **out,
                                             uint64_t *conn_id, weftResult_t *res);

/* peer: who did not connect, in the timeout's message ("peer", "local peer"). */
weftResult_t weft_net_accept(weft_net_listen *l, int timeout_ms, const char *peer, weft_net_take_fn take,
                             void **out, uint64_t *conn_id);
/* Sets the listener's error for a timeout and returns weftTimeout. */
weftResult_t weft_net_accept_timeout(weft_net_listen *l, const char *peer, int timeout_ms);
/* Logs (WARN) that a connection without the job key was dropped. */
void weft_net_drop_stranger(const weft_net_listen *l);

#endif
