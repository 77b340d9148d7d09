/* Socket helpers shared by the bootstrap and the tcp transport. Every
 * blocking helper takes a timeout and returns 0 on success or -1 with a
 * message in err. All sockets are nonblocking and close-on-exec. */
#ifndef WEFT_SOCK_H
#define WEFT_SOCK_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

typedef union {
  struct sockaddr sa;
  struct sockaddr_in in;
  struct sockaddr_in6 in6;
} weft_sockaddr;

#define WEFT_SOCK_ERRLEN 256

socklen_t weft_sockaddr_len(const weft_sockaddr *a);
/* "1.2.3.4:5678" or "[::1]:5678". */
void weft_sockaddr_str(const weft_sockaddr *a, char *buf, size_t len);
int weft_sockaddr_port(const weft_sockaddr *a);
/* Resolves host (name or numeric) and sets port. */
int weft_sockaddr_resolve(const char *host, int port, weft_sockaddr *out, char *err);
/* Parses "host:port" or "[v6]:port". */
int weft_sockaddr_parse(const char *hostport, weft_sockaddr *out, char *err);
int weft_sockaddr_is_loopback(const weft_sockaddr *a);
/* Whether interface name matches a WEFT_SOCKET_IFNAME spec, as NCCL reads
 * NCCL_SOCKET_IFNAME: a comma-separated list of name prefixes ("eth,ib");
 * "=" before the list makes the names exact ("=eth0"), "^" before it excludes
 * them instead ("^lo,docker", "^=eth1"). */
int weft_ifname_matches(const char *spec, const char *name);

/* The local address to listen on: the interface named by WEFT_SOCKET_IFNAME
 * (prefix match, "^name" for exact), else the one the kernel would use to
 * reach `toward` (may be NULL), else the first non-loopback interface that is
 * up, else loopback. Port is 0. */
int weft_sock_local_addr(const weft_sockaddr *toward, weft_sockaddr *out, char *err);

/* Binds and listens on addr (port 0 = ephemeral); addr gets the real port. */
int weft_sock_listen(weft_sockaddr *addr, int *fd, char *err);
/* What weft_sock_connect and weft_sock_dial return when nothing answered in
 * time (no SYN-ACK, no refusal: a host that drops, or is gone without a
 * reset); every other failure is -1. */
#define WEFT_SOCK_NO_ANSWER (-2)
/* Connects, retrying refused connections until the timeout (the listener may
 * not be up yet). */
int weft_sock_connect(const weft_sockaddr *addr, int timeout_ms, int *fd, char *err);
/* Connects to a listener that is known to be up (its address was published
 * after it listened): a refused connection is final, the peer is gone, and
 * waiting out the timeout would only delay the error. Resets and timeouts
 * are still retried. */
int weft_sock_dial(const weft_sockaddr *addr, int timeout_ms, int *fd, char *err);
/* Accepts one connection. abort_flag (may be NULL) is polled every 50 ms. */
int weft_sock_accept(int lfd, int timeout_ms, const volatile int *abort_flag, int *fd, char *err);
int weft_sock_send_all(int fd, const void *buf, size_t len, int timeout_ms, char *err);
int weft_sock_recv_all(int fd, void *buf, size_t len, int timeout_ms, char *err);
void weft_sock_nodelay(int fd);
/* Unix-domain stream sockets under abstract names (nothing in the file
 * system to leak; the name vanishes with the socket), for peers on one host.
 * weft_unix_listen picks a random name "prefix-pid-random" into name. */
int weft_unix_listen(const char *prefix, char *name, size_t len, int *fd, char *err);
/* Connects; the socket is non-blocking. Every caller's listener is up
 * before its name is published, and the name vanishes with the socket, so a
 * refused connection is final: the peer is gone. A listener whose backlog is
 * full is tried again until timeout_ms. */
int weft_unix_connect(const char *name, int timeout_ms, int *fd, char *err);
/* Sends len bytes of msg with a copy of pass_fd attached (SCM_RIGHTS),
 * waiting at most timeout_ms for room in a full socket buffer. */
int weft_unix_send_fd(int sock, const void *msg, size_t len, int pass_fd, int timeout_ms, char *err);
/* Receives len bytes and the descriptor sent with them into *got_fd. */
int weft_unix_recv_fd(int sock, void *msg, size_t len, int *got_fd, int timeout_ms, char *err);

#endif
