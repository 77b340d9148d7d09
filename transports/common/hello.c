#include <unistd.h>

#include "common/hello.h"

int weft_net_hello_valid(const weft_net_hello *h, uint64_t magic, uint64_t key) {
  return h->magic == magic && h->key == key;
}

weftResult_t weft_net_hello_dial(weft_net_ctx *c, const weft_sockaddr *addr, const void *hello, size_t len,
                                 int timeout_ms, int *fd) {
  char err[WEFT_SOCK_ERRLEN];
  if (weft_sock_connect(addr, timeout_ms, fd, err) != 0) {
    weft_net_obj_err(c, "%s", err);
    return weftRemoteError;
  }
  if (weft_sock_send_all(*fd, hello, len, timeout_ms, err) != 0) {
    weft_net_obj_err(c, "%s", err);
    close(*fd);
    *fd = -1;
    return weftRemoteError;
  }
  return weftSuccess;
}

int weft_net_hello_read(int fd, void *hello, size_t len, uint64_t magic, uint64_t key, int timeout_ms) {
  char err[WEFT_SOCK_ERRLEN];
  return weft_sock_recv_all(fd, hello, len, timeout_ms, err) == 0 && weft_net_hello_valid(hello, magic, key);
}
