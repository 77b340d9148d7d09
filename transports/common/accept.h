/* accept() with a deadline: waits for connections on a listener, side by
 * side, and hands each whose hello has fully arrived to the transport, which
 * reads it and takes the connection or refuses it; refused ones, and those
 * whose hello does not come within WEFT_NET_HELLO_MS, are closed (strangers
 * logged at WARN) and the wait goes on until the deadline. */
#ifndef WEFT_NET_ACCEPT_H
#define WEFT_NET_ACCEPT_H

#include <stdint.h>

#include "common/listen.h"

/* The longest wait for the hello of a connection that was accepted. */
#define WEFT_NET_HELLO_MS 5000
/* How long take() may still wait on a hello that is all there (ancillary
 * data, a reply to send). */
#define WEFT_NET_TAKE_MS 1000

typedef enum {
  WEFT_NET_TAKEN,   /* the connection is now the endpoint in *out */
  WEFT_NET_NO_KEY,  /* no valid hello in time: a stranger */
  WEFT_NET_DROPPED, /* refused, and the transport said why */
  WEFT_NET_FAILED   /* accept() fails with *res */
} weft_net_verdict;

/* Decides on accepted socket fd, whose hello has arrived, within hello_ms. Unless
 * it takes the connection, fd stays the caller's to close. */
typedef weft_net_verdict (*weft_net_take_fn)(weft_net_listen *l, int fd, int hello_ms, void **out,
                                             uint64_t *conn_id, uint32_t *flags, weftResult_t *res);

/* peer: who did not connect, in the timeout's message ("peer", "local peer");
 * hello_bytes: the size of the transport's hello. */
weftResult_t weft_net_accept(weft_net_listen *l, int timeout_ms, const char *peer, size_t hello_bytes,
                             weft_net_take_fn take, void **out, uint64_t *conn_id, uint32_t *flags);
/* Sets the listener's error for a timeout and returns weftTimeout. */
weftResult_t weft_net_accept_timeout(weft_net_listen *l, const char *peer, int timeout_ms);
/* Logs (WARN) that a connection without the job key was dropped. */
void weft_net_drop_stranger(const weft_net_listen *l);

#endif
