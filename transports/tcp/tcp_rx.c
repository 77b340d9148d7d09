/* Receive batching for the tcp transport (tcp_impl.h, weft__tcp_rx).
 *
 * weft moves a transport by testing its requests, round after round, while
 * other work (shm parts, reductions) goes on in the same loop. On a link
 * slower than that loop, each recv() found the one or two packets that had
 * come since the last: on the WAN lab's 64 MiB allreduce (1 Gbit/s) about
 * 1 KiB per call, 30,000 system calls per rank and call, a large part of a
 * 2-core machine's time in system-call entry and exit.
 *
 * So while the unit being read (a message, or an encrypted record) has more
 * than TCP_RX_BATCH bytes left, a short read holds the next one back for as
 * long as TCP_RX_BATCH bytes take to arrive at the rate this endpoint has
 * seen (at most TCP_RX_HOLD_MAX_US): reading sooner cannot complete the
 * unit, and the kernel queues what comes meanwhile (the socket buffer is
 * far larger). A link faster than TCP_RX_FAST is never held. The last
 * TCP_RX_BATCH bytes of a unit are read at once, as before, and so is every
 * small message. Before weft sleeps in poll(), the hold is dropped and
 * SO_RCVLOWAT makes poll() wake once a batch has arrived (for any byte once
 * the unit has no more than a batch left). */
#include <errno.h>
#include <sys/socket.h>

#include "tcp/tcp_impl.h"
#include "util/clock.h"

#ifndef TCP_RX_BATCH /* the fuzz build turns batching off: a replayed input must not depend on the clock */
#define TCP_RX_BATCH ((size_t)64 << 10)
#endif
#define TCP_RX_HOLD_MAX_US 500.0
/* bytes per µs (1 GB/s) above which nothing is held: a link that fast
 * fills a batch in tens of µs, and holding cost it throughput on loopback */
#define TCP_RX_FAST 1000.0
/* before this endpoint's rate is known: a short hold */
#define TCP_RX_HOLD_FIRST_US 20.0

ssize_t weft__tcp_rx(tcp_ep *e, void *dst, size_t want, size_t left) {
  e->rx_left = left;
  if (left <= TCP_RX_BATCH) {
    e->rx_hold_until = 0;
    ssize_t got = recv(e->fd, dst, want, MSG_DONTWAIT);
    if (got > 0) e->rx_left = left - (size_t)got;
    return got;
  }
  double now = weft_now_us();
  if (now < e->rx_hold_until) {
    errno = EAGAIN;
    return -1;
  }
  ssize_t got = recv(e->fd, dst, want, MSG_DONTWAIT);
  size_t n = got > 0 ? (size_t)got : 0;
  e->rx_left = left - n;
  if (n > 0 && e->rx_last_us > 0 && now > e->rx_last_us) { /* bytes per µs, smoothed */
    double r = (double)n / (now - e->rx_last_us);
    e->rx_rate = e->rx_rate > 0 ? 0.75 * e->rx_rate + 0.25 * r : r;
  }
  e->rx_last_us = now;
  e->rx_hold_until = 0;
  if (n < TCP_RX_BATCH && left - n > TCP_RX_BATCH && e->rx_rate < TCP_RX_FAST &&
      (got >= 0 || errno == EAGAIN || errno == EWOULDBLOCK)) {
    double hold = e->rx_rate > 0 ? (double)(TCP_RX_BATCH - n) / e->rx_rate : TCP_RX_HOLD_FIRST_US;
    e->rx_hold_until = now + (hold < TCP_RX_HOLD_MAX_US ? hold : TCP_RX_HOLD_MAX_US);
  }
  return got;
}

void weft__tcp_rx_before_poll(tcp_ep *e) {
  e->rx_hold_until = 0;
  int lowat = e->q.head && e->rx_left > TCP_RX_BATCH ? (int)TCP_RX_BATCH : 1;
  if (lowat != e->rx_lowat && setsockopt(e->fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof lowat) == 0)
    e->rx_lowat = lowat;
}
