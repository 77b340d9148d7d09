/* The hello that opens every connection of a built-in transport: 24 bytes,
 * {magic, key, connId}, in host byte order, that a transport may extend with
 * words of its own (shm: the ring size; ucx: a nonce). The magic names the
 * transport and its wire version; a connection without the job's key is
 * dropped by the acceptor. */
#ifndef WEFT_NET_HELLO_H
#define WEFT_NET_HELLO_H

#include <stddef.h>
#include <stdint.h>

#include "common/netctx.h"

typedef struct {
  uint64_t magic;
  uint64_t key;
  uint64_t conn_id;
} weft_net_hello;
_Static_assert(sizeof(weft_net_hello) == 24, "the hello is part of the wire format");

/* Whether h opens a connection of this transport (magic) and job (key). */
int weft_net_hello_valid(const weft_net_hello *h, uint64_t magic, uint64_t key);
/* The connecting side over TCP: connects to addr and sends hello (len bytes
 * starting with a weft_net_hello), within timeout_ms. Returns
 * weftRemoteError with the context's error set when it cannot. */
weftResult_t weft_net_hello_dial(weft_net_ctx *c, const weft_sockaddr *addr, const void *hello, size_t len,
                                 int timeout_ms, int *fd);
/* The accepting side: reads a len-byte hello within timeout_ms; 1 if it
 * arrived and is valid. */
int weft_net_hello_read(int fd, void *hello, size_t len, uint64_t magic, uint64_t key, int timeout_ms);

#endif
