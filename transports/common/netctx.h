/* What every built-in transport's init() context starts with: the object
 * header, the transport's name and weft's log callback; and the pieces of
 * init() and finalize() they all share. */
#ifndef WEFT_NET_CTX_H
#define WEFT_NET_CTX_H

#include "weft_net.h"
#include "util/sock.h"
#include "common/netobj.h"

typedef struct {
  weft_net_obj h;
  const char *name; /* "tcp", "shm", ...: starts the log lines */
  weftNetLogFn_t log;
  void *log_user;
} weft_net_ctx;

void weft_net_ctx_init(weft_net_ctx *c, const char *name, const weftNetInitArgs_t *args);
/* Logs through weft's callback, if any. */
void weft_net_logf(const weft_net_ctx *c, weftLogLevel_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The address this rank listens on: weft's hint (the bootstrap interface),
 * else what util/sock.h picks. 0, or -1 with err. */
int weft_net_local_addr(const weftNetInitArgs_t *args, weft_sockaddr *out, char *err);

/* weftNet_t.devices of a transport with one device. */
weftResult_t weft_net_one_device(void *ctx, int *ndev);
/* weftNet_t.finalize of a context that holds nothing but its memory. */
weftResult_t weft_net_free_ctx(void *ctx);

#endif
