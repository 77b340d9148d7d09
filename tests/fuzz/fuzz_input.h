/* Reading a fuzz input as a script: numbers taken from the front of the
 * bytes, zero once they run out (so every input is a whole script), and the
 * socket plumbing the transport and bootstrap harnesses share. */
#ifndef WEFT_FUZZ_INPUT_H
#define WEFT_FUZZ_INPUT_H

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
  const uint8_t *d;
  size_t n;
} fz_in;

static inline int fz_more(const fz_in *in) { return in->n > 0; }

/* A receive a transport harness posted: its buffer, size and whether a test
 * saw it complete (a completed one must report at most size bytes). */
typedef struct {
  void *req;
  char *buf;
  size_t size;
  int done;
} posted;

static inline uint64_t fz_bytes_le(fz_in *in, int k) {
  uint64_t v = 0;
  for (int i = 0; i < k && in->n; i++, in->d++, in->n--) v |= (uint64_t)in->d[0] << (8 * i);
  return v;
}
static inline uint8_t fz_u8(fz_in *in) { return (uint8_t)fz_bytes_le(in, 1); }
static inline uint16_t fz_u16(fz_in *in) { return (uint16_t)fz_bytes_le(in, 2); }
static inline uint32_t fz_u32(fz_in *in) { return (uint32_t)fz_bytes_le(in, 4); }
static inline uint64_t fz_u64(fz_in *in) { return fz_bytes_le(in, 8); }

/* Up to len bytes into dst (the rest zero); returns how many came from the input. */
static inline size_t fz_fill(fz_in *in, void *dst, size_t len) {
  size_t k = len < in->n ? len : in->n;
  memcpy(dst, in->d, k);
  memset((char *)dst + k, 0, len - k);
  in->d += k, in->n -= k;
  return k;
}

/* A connected pair of stream sockets; both ends nonblocking. 0 on success. */
static inline int fz_socketpair(int sv[2]) {
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) return -1;
  return 0;
}

/* Writes what fits of len bytes to a nonblocking socket; how much went. */
static inline size_t fz_write_some(int fd, const void *buf, size_t len) {
  ssize_t w = len ? send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT) : 0;
  return w > 0 ? (size_t)w : 0;
}

/* Reads and drops whatever is waiting on a nonblocking socket. */
static inline void fz_drain(int fd) {
  char buf[4096];
  while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0) {
  }
}

/* A socket pair kept from one input to the next (making one per input
 * costs more than most inputs): emptied before use; spent (closed, made
 * afresh next time) once an input has shut it down. */
static int fz_kept[2] = {-1, -1};
static inline int fz_pair_get(int sv[2]) {
  if (fz_kept[0] < 0 && fz_socketpair(fz_kept) != 0) return -1;
  fz_drain(fz_kept[0]);
  fz_drain(fz_kept[1]);
  sv[0] = fz_kept[0], sv[1] = fz_kept[1];
  return 0;
}
static inline void fz_pair_spent(void) {
  close(fz_kept[0]);
  close(fz_kept[1]);
  fz_kept[0] = fz_kept[1] = -1;
}

#endif
