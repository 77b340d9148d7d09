#include "util/sock.h"
#include "util/clock.h"
#include "util/random.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <sys/random.h>
#include <sys/un.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/param.h"

#define SERR(...) (snprintf(err, WEFT_SOCK_ERRLEN, __VA_ARGS__), -1)

socklen_t weft_sockaddr_len(const weft_sockaddr *a) {
  return a->sa.sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

int weft_sockaddr_port(const weft_sockaddr *a) {
  return ntohs(a->sa.sa_family == AF_INET6 ? a->in6.sin6_port : a->in.sin_port);
}

static void set_port(weft_sockaddr *a, int port) {
  if (a->sa.sa_family == AF_INET6) a->in6.sin6_port = htons((uint16_t)port);
  else a->in.sin_port = htons((uint16_t)port);
}

void weft_sockaddr_str(const weft_sockaddr *a, char *buf, size_t len) {
  char ip[INET6_ADDRSTRLEN] = "?";
  if (a->sa.sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &a->in6.sin6_addr, ip, sizeof ip);
    snprintf(buf, len, "[%s]:%d", ip, weft_sockaddr_port(a));
  } else {
    inet_ntop(AF_INET, &a->in.sin_addr, ip, sizeof ip);
    snprintf(buf, len, "%s:%d", ip, weft_sockaddr_port(a));
  }
}

int weft_sockaddr_is_loopback(const weft_sockaddr *a) {
  if (a->sa.sa_family == AF_INET) return (ntohl(a->in.sin_addr.s_addr) >> 24) == 127;
  if (a->sa.sa_family == AF_INET6) return IN6_IS_ADDR_LOOPBACK(&a->in6.sin6_addr);
  return 0;
}

int weft_sockaddr_resolve(const char *host, int port, weft_sockaddr *out, char *err) {
  struct addrinfo hints, *res = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = getaddrinfo(host, NULL, &hints, &res);
  if (rc != 0 || !res) return SERR("cannot resolve '%s': %s", host, gai_strerror(rc));
  memset(out, 0, sizeof *out);
  memcpy(out, res->ai_addr, res->ai_addrlen < sizeof *out ? res->ai_addrlen : sizeof *out);
  freeaddrinfo(res);
  set_port(out, port);
  return 0;
}

int weft_sockaddr_parse(const char *hostport, weft_sockaddr *out, char *err) {
  char host[256];
  const char *colon = strrchr(hostport, ':');
  if (!colon || colon == hostport || !colon[1]) return SERR("'%s' is not host:port", hostport);
  size_t hl = (size_t)(colon - hostport);
  if (hostport[0] == '[' && hl >= 2 && hostport[hl - 1] == ']') {
    hostport++;
    hl -= 2;
  }
  if (hl >= sizeof host) return SERR("host name too long in '%s'", hostport);
  memcpy(host, hostport, hl);
  host[hl] = 0;
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (*end || port < 0 || port > 65535) return SERR("bad port in '%s'", hostport);
  return weft_sockaddr_resolve(host, (int)port, out, err);
}

int weft_ifname_matches(const char *spec, const char *name) {
  int exclude = spec[0] == '^';
  if (exclude) spec++;
  int exact = spec[0] == '=';
  if (exact) spec++;
  int hit = 0;
  for (const char *p = spec; *p && !hit;) {
    size_t n = strcspn(p, ",");
    hit = n > 0 && (exact ? strlen(name) == n && strncmp(p, name, n) == 0 : strncmp(p, name, n) == 0);
    p += n + (p[n] == ',');
  }
  return exclude ? !hit : hit;
}

int weft_sock_local_addr(const weft_sockaddr *toward, weft_sockaddr *out, char *err) {
  const char *ifspec = weft_env("WEFT_SOCKET_IFNAME");
  memset(out, 0, sizeof *out);
  if (!ifspec && toward) {
    if (weft_sockaddr_is_loopback(toward)) {
      *out = *toward;
      set_port(out, 0);
      return 0;
    }
    int fd = socket(toward->sa.sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
      weft_sockaddr probe = *toward;
      if (weft_sockaddr_port(&probe) == 0) set_port(&probe, 9);
      socklen_t sl = sizeof *out;
      int ok = connect(fd, &probe.sa, weft_sockaddr_len(&probe)) == 0 &&
               getsockname(fd, &out->sa, &sl) == 0;
      close(fd);
      if (ok) {
        set_port(out, 0);
        return 0;
      }
    }
  }
  struct ifaddrs *ifs = NULL, *it;
  if (getifaddrs(&ifs) != 0) return SERR("getifaddrs: %s", strerror(errno));
  int found = 0;
  for (int pass = 0; pass < 2 && !found; pass++) {
    for (it = ifs; it && !found; it = it->ifa_next) {
      if (!it->ifa_addr || !(it->ifa_flags & IFF_UP)) continue;
      int fam = it->ifa_addr->sa_family;
      if (fam != AF_INET && !(fam == AF_INET6 && pass == 1)) continue;
      if (fam == AF_INET6 &&
          IN6_IS_ADDR_LINKLOCAL(&((struct sockaddr_in6 *)it->ifa_addr)->sin6_addr))
        continue;
      if (ifspec) {
        if (!weft_ifname_matches(ifspec, it->ifa_name)) continue;
      } else if (it->ifa_flags & IFF_LOOPBACK) {
        continue;
      }
      memcpy(out, it->ifa_addr, fam == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
      found = 1;
    }
  }
  freeifaddrs(ifs);
  if (found) {
    set_port(out, 0);
    return 0;
  }
  if (ifspec) return SERR("no usable interface matches WEFT_SOCKET_IFNAME=%s", ifspec);
  out->in.sin_family = AF_INET;
  out->in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return 0;
}

void weft_sock_nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int weft_sock_listen(weft_sockaddr *addr, int *fd, char *err) {
  int s = socket(addr->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s < 0) return SERR("socket: %s", strerror(errno));
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  char as[80];
  if (bind(s, &addr->sa, weft_sockaddr_len(addr)) != 0 || listen(s, 1024) != 0) {
    int e = errno;
    close(s);
    weft_sockaddr_str(addr, as, sizeof as);
    return SERR("cannot listen on %s: %s", as, strerror(e));
  }
  socklen_t sl = sizeof *addr;
  getsockname(s, &addr->sa, &sl);
  *fd = s;
  return 0;
}

static int wait_fd(int fd, short events, int timeout_ms) {
  struct pollfd p = {fd, events, 0};
  for (;;) {
    int rc = poll(&p, 1, timeout_ms);
    if (rc < 0 && errno == EINTR) continue;
    return rc;
  }
}

static int sock_connect(const weft_sockaddr *addr, int timeout_ms, int refused_is_final, int *fd, char *err) {
  long long deadline = weft_now_ms() + timeout_ms;
  char as[80];
  weft_sockaddr_str(addr, as, sizeof as);
  int delay_ms = 10;
  for (;;) {
    int s = socket(addr->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0) return SERR("socket: %s", strerror(errno));
    int rc = connect(s, &addr->sa, weft_sockaddr_len(addr));
    int e = rc == 0 ? 0 : errno;
    if (e == EINPROGRESS) {
      long long left = deadline - weft_now_ms();
      if (left < 0) left = 0;
      if (wait_fd(s, POLLOUT, (int)left) <= 0) {
        close(s);
        snprintf(err, WEFT_SOCK_ERRLEN, "connect to %s: no answer within %d ms", as, timeout_ms);
        return WEFT_SOCK_NO_ANSWER;
      }
      socklen_t el = sizeof e;
      getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &el);
    }
    if (e == 0) {
      weft_sock_nodelay(s);
      *fd = s;
      return 0;
    }
    close(s);
    if ((e != ECONNREFUSED && e != ETIMEDOUT && e != EAGAIN && e != ECONNRESET) ||
        (e == ECONNREFUSED && refused_is_final) || weft_now_ms() + delay_ms > deadline) {
      snprintf(err, WEFT_SOCK_ERRLEN, "connect to %s failed: %s", as, strerror(e));
      return e == ETIMEDOUT ? WEFT_SOCK_NO_ANSWER : -1;
    }
    usleep((useconds_t)delay_ms * 1000);
    if (delay_ms < 200) delay_ms *= 2;
  }
}

int weft_sock_connect(const weft_sockaddr *addr, int timeout_ms, int *fd, char *err) {
  return sock_connect(addr, timeout_ms, 0, fd, err);
}

int weft_sock_dial(const weft_sockaddr *addr, int timeout_ms, int *fd, char *err) {
  return sock_connect(addr, timeout_ms, 1, fd, err);
}

int weft_sock_accept(int lfd, int timeout_ms, const volatile int *abort_flag, int *fd, char *err) {
  long long deadline = weft_now_ms() + timeout_ms;
  for (;;) {
    int s = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (s >= 0) {
      weft_sock_nodelay(s);
      *fd = s;
      return 0;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
      return SERR("accept: %s", strerror(errno));
    if (abort_flag && *abort_flag) return SERR("aborted while waiting for a connection");
    long long left = deadline - weft_now_ms();
    if (left <= 0) return SERR("no connection arrived within %d ms", timeout_ms);
    wait_fd(lfd, POLLIN, left < 50 ? (int)left : 50);
  }
}

int weft_sock_send_all(int fd, const void *buf, size_t len, int timeout_ms, char *err) {
  const char *p = buf;
  long long deadline = weft_now_ms() + timeout_ms;
  while (len > 0) {
    ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      return SERR("send: %s", strerror(errno));
    long long left = deadline - weft_now_ms();
    if (left <= 0) return SERR("send timed out after %d ms", timeout_ms);
    wait_fd(fd, POLLOUT, (int)left);
  }
  return 0;
}

int weft_sock_recv_all(int fd, void *buf, size_t len, int timeout_ms, char *err) {
  char *p = buf;
  long long deadline = weft_now_ms() + timeout_ms;
  while (len > 0) {
    ssize_t n = recv(fd, p, len, 0);
    if (n > 0) {
      p += n;
      len -= (size_t)n;
      continue;
    }
    if (n == 0) return SERR("connection closed by peer");
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      return SERR("recv: %s", strerror(errno));
    long long left = deadline - weft_now_ms();
    if (left <= 0) return SERR("receive timed out after %d ms", timeout_ms);
    wait_fd(fd, POLLIN, (int)left);
  }
  return 0;
}

/* ---- Unix-domain sockets with abstract names, and descriptor passing ---- */

static socklen_t unix_addr(const char *name, struct sockaddr_un *sa) {
  memset(sa, 0, sizeof *sa);
  sa->sun_family = AF_UNIX;
  size_t n = strlen(name);
  if (n > sizeof sa->sun_path - 2) n = sizeof sa->sun_path - 2;
  memcpy(sa->sun_path + 1, name, n); /* leading NUL: abstract, vanishes with the socket */
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

int weft_unix_listen(const char *prefix, char *name, size_t len, int *fd, char *err) {
  uint64_t rnd = 0;
  weft_random_bytes(&rnd, sizeof rnd);
  snprintf(name, len, "%s-%d-%016llx", prefix, (int)getpid(), (unsigned long long)rnd);
  struct sockaddr_un sa;
  socklen_t sl = unix_addr(name, &sa);
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s < 0 || bind(s, (struct sockaddr *)&sa, sl) != 0 || listen(s, 1024) != 0) {
    int e = errno;
    if (s >= 0) close(s);
    return SERR("unix socket %s: %s", name, strerror(e));
  }
  *fd = s;
  return 0;
}

int weft_unix_connect(const char *name, int timeout_ms, int *fd, char *err) {
  struct sockaddr_un sa;
  socklen_t sl = unix_addr(name, &sa);
  long long deadline = weft_now_ms() + timeout_ms;
  for (;;) {
    /* non-blocking: a blocking connect to a listener whose backlog is full
     * (anyone on the host may fill it) would wait without a bound; here it
     * says EAGAIN, and the connect is tried again until the deadline */
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s >= 0 && connect(s, (struct sockaddr *)&sa, sl) == 0) {
      *fd = s;
      return 0;
    }
    int e = errno;
    if (s >= 0) close(s);
    if (e != EAGAIN) return SERR("connecting to %s: %s", name, strerror(e));
    if (weft_now_ms() > deadline) return SERR("connecting to %s: its backlog stayed full for %d ms", name, timeout_ms);
    usleep(1000);
  }
}

int weft_unix_send_fd(int sock, const void *msg, size_t len, int pass_fd, int timeout_ms, char *err) {
  char cbuf[CMSG_SPACE(sizeof(int))];
  memset(cbuf, 0, sizeof cbuf);
  struct iovec iov = {(void *)msg, len};
  struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
  struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &pass_fd, sizeof(int));
  long long deadline = weft_now_ms() + timeout_ms;
  ssize_t n;
  for (;;) {
    n = sendmsg(sock, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    long long left = deadline - weft_now_ms();
    if ((errno != EAGAIN && errno != EWOULDBLOCK) || left <= 0 || wait_fd(sock, POLLOUT, (int)left) <= 0) break;
  }
  if (n != (ssize_t)len) return SERR("passing a descriptor: %s", n < 0 ? strerror(errno) : "short write");
  return 0;
}

int weft_unix_recv_fd(int sock, void *msg, size_t len, int *got_fd, int timeout_ms, char *err) {
  /* The peer may be a stranger: the message may come in pieces, or never
   * whole; every wait is bounded by the deadline, and the socket is read
   * without blocking whatever its mode. */
  *got_fd = -1;
  long long deadline = weft_now_ms() + timeout_ms;
  size_t got = 0;
  while (got < len) {
    long long left = deadline - weft_now_ms();
    if (left <= 0 || wait_fd(sock, POLLIN, (int)left) <= 0) {
      if (*got_fd >= 0) close(*got_fd);
      *got_fd = -1;
      return SERR("no whole message with a descriptor arrived within %d ms (%zu of %zu bytes)", timeout_ms, got, len);
    }
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct iovec iov = {(char *)msg + got, len - got};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    ssize_t n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    for (struct cmsghdr *cm = n > 0 ? CMSG_FIRSTHDR(&m) : NULL; cm; cm = CMSG_NXTHDR(&m, cm)) {
      if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len < CMSG_LEN(sizeof(int))) continue;
      int fd;
      memcpy(&fd, CMSG_DATA(cm), sizeof fd);
      if (*got_fd < 0) *got_fd = fd;
      else close(fd); /* one descriptor is expected */
    }
    if (n <= 0) {
      if (*got_fd >= 0) close(*got_fd);
      *got_fd = -1;
      return SERR("receiving a descriptor: %s", n < 0 ? strerror(errno) : "the peer closed the connection");
    }
    got += (size_t)n;
  }
  if (*got_fd < 0) return SERR("receiving a descriptor: the message came without one");
  return 0;
}
