/* Makes a TCP listener answer nothing, as a host gone without a reset does:
 * its accept queue is filled with connections nobody accepts (each closed at
 * once on this side) until a dial gets no answer; from then on the kernel
 * drops every SYN to it. Used by the tests of connects that nothing answers. */
#ifndef WEFT_TEST_ACCEPT_QUEUE_H
#define WEFT_TEST_ACCEPT_QUEUE_H

#include <unistd.h>

#include "util/sock.h"

/* The number of connections it took, or -1 if a dial failed otherwise or the
 * queue never filled. */
static inline int weft_test_fill_accept_queue(const weft_sockaddr *a) {
  char err[WEFT_SOCK_ERRLEN];
  for (int i = 0, fd; i < 20000; i++) {
    int rc = weft_sock_dial(a, 100, &fd, err);
    if (rc == WEFT_SOCK_NO_ANSWER) return i;
    if (rc != 0) return -1;
    close(fd);
  }
  return -1;
}

#endif
