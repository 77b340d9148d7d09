/* The shm transport against a hostile local peer, driving its ops table
 * directly (one process, the listener and the peers):
 *   stranger   a connection that sends one byte of its hello and stays open
 *              does not hold up the real peer behind it (it used to block
 *              the listener forever);
 *   flood      100 silent connections and 20 that send one byte: the real
 *              peer behind them is still accepted within a second;
 *   unsealed   a peer that knows the key but hands over a ring memfd that is
 *              not sealed (it could shrink it under the mapping: SIGBUS) is
 *              dropped, and the real peer behind it is accepted;
 *   counters   a peer that writes ring counters out of bounds makes the
 *              receive fail with weftRemoteError instead of reading outside
 *              the ring;
 *   crowd      not hostile: 100 real peers connect before the listener
 *              accepts any (an eager init at more than 64 ranks), and every
 *              one is accepted (a full list of waiting connections used to
 *              drop its oldest, a real peer, as a flood);
 *   lastword   not hostile: a peer writes a message into the ring and closes
 *              (it exits) before the receive is posted; the receiver, asked
 *              for its poll descriptor first as the executor does, still
 *              gets the whole message, and only the next receive fails.
 *   test_shm_hostile stranger|flood|unsealed|counters|crowd|lastword */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "common/hello.h"
#include "shm/shm.h"
#include "time_scale.h"
#include "util/sock.h"
#include "weft_net.h"

#define FAILF(...) (fprintf(stderr, __VA_ARGS__), fputc('\n', stderr), 1)
/* the wire format of transports/shm/shm.c: handle, hello, ring counters */
#define SHM_MAGIC 0x77656674736d6d31ULL
#define RING_BYTES 4096
#define RING_OFF 320 /* sizeof(shm_ring), a multiple of the cache line: head at 0, tail at 64 */
static const weftNetKey_t KEY = {{0x12, 0x34, 0xab, 0xcd}};

typedef struct {
  uint64_t magic;
  char name[96];
} shm_handle;
typedef struct {
  weft_net_hello h; /* sealed with the key (common/hello.h) */
  uint64_t ring_bytes;
} shm_hello;

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* A ring memfd as a peer makes it (sealed or not), mapped at *map. */
static int ring_fd(int seal, void **map) {
  int fd = memfd_create("hostile-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0 || ftruncate(fd, RING_OFF + RING_BYTES) != 0) return -1;
  if (seal && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0) return -1;
  *map = mmap(NULL, RING_OFF + RING_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  return *map == MAP_FAILED ? -1 : fd;
}

/* Connects to the listener as a peer would, handing over fd with the hello. */
static int fake_peer(const char *handle, int fd, uint64_t conn_id) {
  int s = -1;
  char err[WEFT_SOCK_ERRLEN];
  shm_handle h;
  memcpy(&h, handle, sizeof h);
  shm_hello hello;
  hello.ring_bytes = RING_BYTES;
  if (weft_net_hello_seal(&hello, sizeof hello, SHM_MAGIC, &KEY, handle, conn_id, 0) != 0 ||
      weft_unix_connect(h.name, 2000, &s, err) != 0 || weft_unix_send_fd(s, &hello, sizeof hello, fd, 2000, err) != 0)
    return -1;
  return s;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  setenv("WEFT_SHM_RING_SIZE", "4096", 1); /* 100 rings in the crowd case */
  const weftNet_t *net = &weft_net_shm;
  weftNetInitArgs_t args = {WEFT_NET_ABI_VERSION, NULL, NULL, NULL, NULL};
  void *ctx, *lis, *send = NULL, *recv = NULL;
  char handle[WEFT_NET_HANDLE_BYTES];
  if (net->init(&args, &ctx) != weftSuccess || net->listen(ctx, 0, &KEY, handle, &lis) != weftSuccess)
    return FAILF("shm init/listen failed");
  shm_handle h;
  memcpy(&h, handle, sizeof h);
  char err[WEFT_SOCK_ERRLEN];
  int bad = 0, stranger = -1;
  void *map = NULL;
  if (!strcmp(mode, "stranger")) {
    if (weft_unix_connect(h.name, 2000, &stranger, err) != 0 || write(stranger, "x", 1) != 1)
      return FAILF("stranger: %s", err);
  } else if (!strcmp(mode, "flood")) {
    for (int i = 0; i < 120; i++) {
      int s = -1;
      if (weft_unix_connect(h.name, 2000, &s, err) != 0) return FAILF("flood connection %d: %s", i, err);
      if (i >= 100 && write(s, "x", 1) != 1) return FAILF("flood write failed");
      /* left open until the process exits */
    }
  } else if (!strcmp(mode, "unsealed")) {
    int fd = ring_fd(0, &map);
    if (fd < 0 || (stranger = fake_peer(handle, fd, 99)) < 0) return FAILF("unsealed peer could not connect");
    close(fd);
  } else if (!strcmp(mode, "counters")) {
    int fd = ring_fd(1, &map);
    if (fd < 0 || (stranger = fake_peer(handle, fd, 7)) < 0) return FAILF("hostile peer could not connect");
    close(fd);
    uint64_t id = 0;
    uint32_t fl;
    if (net->accept(lis, 5000, &recv, &id, &fl) != weftSuccess || id != 7) return FAILF("hostile peer not accepted");
    /* head far beyond anything written: a receiver that trusted it would read
     * (and copy) past the ring */
    ((volatile uint64_t *)map)[0] = (uint64_t)RING_BYTES * 1000;
    static char buf[1 << 20];
    void *req;
    int done = 0;
    size_t got = 0;
    uint64_t tag = 0;
    weftResult_t r = net->irecv(recv, buf, sizeof buf, 0, NULL, &req);
    double t0 = now_s();
    while (r == weftSuccess && !done && now_s() - t0 < 5) r = net->test(req, &done, &got, &tag);
    if (r != weftRemoteError) bad = FAILF("a receive over corrupt counters returned %d (done %d)", (int)r, done);
    else printf("counters: the receive failed as it should\n");
    net->closeRecv(recv);
    net->closeListen(lis);
    net->finalize(ctx);
    return bad;
  } else if (!strcmp(mode, "crowd")) {
    enum { CROWD = 100 };
    static void *sends[CROWD], *recvs[CROWD];
    static int seen[CROWD];
    for (int i = 0; i < CROWD; i++)
      if (net->connect(ctx, 0, handle, &KEY, 1000 + (uint64_t)i, 0, 5000, &sends[i]) != weftSuccess)
        return FAILF("crowd: peer %d cannot connect", i);
    for (int i = 0; i < CROWD && !bad; i++) {
      uint64_t id = 0;
      uint32_t fl;
      weftResult_t r = net->accept(lis, weft_test_ms(5000), &recvs[i], &id, &fl);
      if (r != weftSuccess) bad = FAILF("crowd: accept %d of %d returned %d", i + 1, CROWD, (int)r);
      else if (id < 1000 || id >= 1000 + CROWD || seen[id - 1000]++) bad = FAILF("crowd: connection %llu", (unsigned long long)id);
    }
    if (!bad) printf("crowd: all %d peers accepted\n", CROWD);
    for (int i = 0; i < CROWD; i++) {
      if (recvs[i]) net->closeRecv(recvs[i]);
      if (sends[i]) net->closeSend(sends[i]);
    }
    net->closeListen(lis);
    net->finalize(ctx);
    return bad;
  } else if (!strcmp(mode, "lastword")) {
    enum { BYTES = 2048 }; /* fits the 4 KiB ring: the send completes alone */
    static char out[BYTES], in[BYTES];
    for (int i = 0; i < BYTES; i++) out[i] = (char)(i * 7 + 1);
    uint64_t id = 0;
    uint32_t fl;
    void *req;
    int done = 0;
    size_t got = 0;
    uint64_t tag = 0;
    if (net->connect(ctx, 0, handle, &KEY, 5, 0, 5000, &send) != weftSuccess ||
        net->accept(lis, 5000, &recv, &id, &fl) != weftSuccess)
      return FAILF("lastword: no connection");
    if (net->isend(send, out, BYTES, 77, NULL, &req) != weftSuccess) return FAILF("lastword: isend failed");
    while (!done)
      if (net->test(req, &done, NULL, NULL) != weftSuccess) return FAILF("lastword: the send failed");
    net->closeSend(send); /* the peer's last word is in the ring; its end of the socket closes */
    send = NULL;
    short ev = 0;
    (void)net->pollFd(recv, &ev); /* sees the closed socket first */
    weftResult_t r = net->irecv(recv, in, BYTES, 0, NULL, &req);
    done = 0;
    while (r == weftSuccess && !done) r = net->test(req, &done, &got, &tag);
    if (r != weftSuccess || got != BYTES || tag != 77 || memcmp(in, out, BYTES) != 0)
      bad = FAILF("lastword: the message written before the close was lost (%d, %zu bytes)", (int)r, got);
    else if ((r = net->irecv(recv, in, BYTES, 0, NULL, &req)) == weftSuccess) {
      done = 0;
      while (r == weftSuccess && !done) r = net->test(req, &done, &got, &tag);
      if (r != weftRemoteError) bad = FAILF("lastword: a receive after the peer closed returned %d", (int)r);
    }
    if (!bad) printf("lastword: the message was read after the peer closed, the next receive failed\n");
    net->closeRecv(recv);
    net->closeListen(lis);
    net->finalize(ctx);
    return bad;
  } else {
    return FAILF("usage: test_shm_hostile stranger|flood|unsealed|counters|crowd|lastword");
  }
  /* the real peer, behind the hostile connection */
  double t0 = now_s();
  if (net->connect(ctx, 0, handle, &KEY, 42, 0, 5000, &send) != weftSuccess) return FAILF("the real peer cannot connect");
  uint64_t id = 0;
  uint32_t fl;
  weftResult_t r = net->accept(lis, weft_test_ms(20000), &recv, &id, &fl);
  double took = now_s() - t0;
  if (r != weftSuccess || id != 42) bad = FAILF("%s: accept returned %d, connection %llu", mode, (int)r, (unsigned long long)id);
  else if (took > 1 * weft_test_time_scale()) bad = FAILF("%s: the real peer waited %.1f s", mode, took);
  else printf("%s: the real peer accepted after %.2f s\n", mode, took);
  if (recv) net->closeRecv(recv);
  if (send) net->closeSend(send);
  if (stranger >= 0) close(stranger);
  net->closeListen(lis);
  net->finalize(ctx);
  return bad;
}
