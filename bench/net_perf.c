/*
 * weft-net-perf: point-to-point latency and bandwidth through one weft
 * transport (the weftNet_t API, without collectives on top), between two
 * processes on this host. It is the counterpart of ucx_perftest and
 * fi_pingpong for bench/net_compare.sh.
 *
 *   weft-net-perf [-n NET] [-m pingpong|exchange|bw] [-b MIN] [-e MAX] [-f FACTOR]
 *                 [-i ITERS] [-w WINDOW]
 *
 *   pingpong  rank 0 sends SIZE, rank 1 sends it back; lat = half the round
 *             trip, bw = 2 x SIZE x iters / time (fi_pingpong's definition).
 *   exchange  both ranks send SIZE to each other at once, every round (the
 *             traffic of a two-rank allreduce); lat = time per round.
 *   bw        rank 0 streams WINDOW messages, rank 1 answers with 1 byte
 *             after receiving them all (ucx_perftest tag_bw's scheme);
 *             bw = SIZE x WINDOW x iters / time.
 *
 * NET is a transport name (tcp, shm, ucx, ofi, or a WEFT_NET_PLUGIN's).
 * Bandwidth is in GB/s (1e9 B/s). Output is one line per size on stdout.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "comm/netreg.h"
#include "util/size.h"

typedef struct {
  const weftNet_t *net;
  void *ctx, *listen, *send, *recv, *smr, *rmr;
  int rank;
} endpoint;

static void die(const endpoint *ep, const char *what, void *obj) {
  fprintf(stderr, "weft-net-perf rank %d: %s failed: %s\n", ep->rank, what,
          obj && ep->net ? ep->net->lastError(obj) : "");
  exit(1);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void wait_all(const endpoint *ep, void **reqs, int n) {
  for (int left = n; left > 0;) {
    for (int i = 0; i < n; i++) {
      if (!reqs[i]) continue;
      int done = 0;
      size_t size;
      uint64_t tag;
      if (ep->net->test(reqs[i], &done, &size, &tag) != weftSuccess) die(ep, "test", ep->recv);
      if (done) reqs[i] = NULL, left--;
    }
  }
}

static void xfer(const endpoint *ep, int sending, void *buf, size_t size, void **req) {
  weftResult_t r = sending ? ep->net->isend(ep->send, buf, size, 1, ep->smr, req)
                           : ep->net->irecv(ep->recv, buf, size, 1, ep->rmr, req);
  if (r != weftSuccess) die(ep, sending ? "isend" : "irecv", sending ? ep->send : ep->recv);
}

static void setup(endpoint *ep, const char *name, int sock, void *buf, size_t bytes) {
  char err[512], mine[WEFT_NET_HANDLE_BYTES], theirs[WEFT_NET_HANDLE_BYTES];
  if (weft_net_registry_init(err, sizeof err) != weftSuccess) {
    fprintf(stderr, "weft-net-perf: %s\n", err);
    exit(1);
  }
  if (!(ep->net = weft_net_find(name))) {
    fprintf(stderr, "weft-net-perf: no transport '%s' (this build has %s)\n", name, weft_net_names());
    exit(2);
  }
  weftNetInitArgs_t args = {WEFT_NET_ABI_VERSION, NULL, NULL, "127.0.0.1", NULL};
  if (ep->net->init(&args, &ep->ctx) != weftSuccess) die(ep, "init", NULL);
  const weftNetKey_t key = {{'w', 'e', 'f', 't', '-', 'n', 'e', 't', '-', 'p', 'e', 'r', 'f'}};
  /* WEFT_CRYPTO=on: encrypted connections (tcp only), to measure what it costs */
  const char *cr = getenv("WEFT_CRYPTO");
  uint32_t flags = cr && strcmp(cr, "on") == 0 ? WEFT_NET_CONN_ENCRYPT : 0;
  if (ep->net->listen(ep->ctx, 0, &key, mine, &ep->listen) != weftSuccess) die(ep, "listen", ep->ctx);
  if (write(sock, mine, sizeof mine) != (ssize_t)sizeof mine || read(sock, theirs, sizeof theirs) != (ssize_t)sizeof theirs)
    die(ep, "handle exchange", NULL);
  uint64_t from;
  uint32_t from_flags;
  /* rank 0 connects first, rank 1 accepts first: neither blocks the other */
  for (int step = 0; step < 2; step++) {
    if ((step == 0) == (ep->rank == 0)) {
      if (ep->net->connect(ep->ctx, 0, theirs, &key, (uint64_t)ep->rank, flags, 30000, &ep->send) != weftSuccess)
        die(ep, "connect", ep->ctx);
    } else if (ep->net->accept(ep->listen, 30000, &ep->recv, &from, &from_flags) != weftSuccess) {
      die(ep, "accept", ep->listen);
    }
  }
  if (ep->net->regMr) {
    if (ep->net->regMr(ep->send, buf, bytes, &ep->smr) != weftSuccess) die(ep, "regMr", ep->send);
    if (ep->net->regMr(ep->recv, buf, bytes, &ep->rmr) != weftSuccess) die(ep, "regMr", ep->recv);
  }
}

static void teardown(endpoint *ep) {
  if (ep->smr) ep->net->deregMr(ep->send, ep->smr);
  if (ep->rmr) ep->net->deregMr(ep->recv, ep->rmr);
  ep->net->closeSend(ep->send);
  ep->net->closeRecv(ep->recv);
  ep->net->closeListen(ep->listen);
  ep->net->finalize(ep->ctx);
}

/* Both ranks agree on the start with a 1-byte exchange over the transport. */
static void sync_ranks(const endpoint *ep, char *flag) {
  void *r[2] = {NULL, NULL};
  xfer(ep, 0, flag, 1, &r[0]);
  xfer(ep, 1, flag, 1, &r[1]);
  wait_all(ep, r, 2);
}

static double run_pingpong(const endpoint *ep, char *buf, size_t size, int iters) {
  void *r[1];
  double t0 = 0;
  for (int it = -2; it < iters; it++) {
    if (it == 0) t0 = now_s();
    for (int leg = 0; leg < 2; leg++) {
      xfer(ep, (leg == 0) == (ep->rank == 0), buf, size, &r[0]);
      wait_all(ep, r, 1);
    }
  }
  return now_s() - t0;
}

/* Sends from the lower half of buf, receives into the upper half. */
static double run_exchange(const endpoint *ep, char *buf, size_t half, size_t size, int iters) {
  void *r[2];
  double t0 = 0;
  for (int it = -2; it < iters; it++) {
    if (it == 0) t0 = now_s();
    xfer(ep, 1, buf, size, &r[0]);
    xfer(ep, 0, buf + half, size, &r[1]);
    wait_all(ep, r, 2);
  }
  return now_s() - t0;
}

static double run_bw(const endpoint *ep, char *buf, size_t size, int iters, int window, void **reqs) {
  double t0 = 0;
  char ack = 0;
  for (int it = -2; it < iters; it++) {
    if (it == 0) t0 = now_s();
    for (int w = 0; w < window; w++) xfer(ep, ep->rank == 0, buf, size, &reqs[w]);
    wait_all(ep, reqs, window);
    xfer(ep, ep->rank == 1, &ack, 1, &reqs[0]);
    wait_all(ep, reqs, 1);
  }
  return now_s() - t0;
}

static size_t next_size(size_t size, double factor) {
  size_t next = (size_t)((double)size * factor);
  return next > size ? next : size + 1;
}

int main(int argc, char **argv) {
  const char *name = "tcp", *mode = "pingpong";
  size_t minb = 8, maxb = 64 << 20;
  double factor = 2;
  int iters = 0, window = 16, opt;
  while ((opt = getopt(argc, argv, "n:m:b:e:f:i:w:h")) != -1) {
    switch (opt) {
    case 'n': name = optarg; break;
    case 'm': mode = optarg; break;
    case 'b':
    case 'e': {
      char why[160];
      if (weft_parse_size_t(optarg, opt == 'b' ? &minb : &maxb, why, sizeof why)) {
        fprintf(stderr, "weft-net-perf: -%c: %s\n", opt, why);
        return 2;
      }
      break;
    }
    case 'f': factor = atof(optarg); break;
    case 'i': iters = atoi(optarg); break;
    case 'w': window = atoi(optarg); break;
    default:
      fprintf(stderr, "usage: weft-net-perf [-n tcp|shm|ucx|ofi] [-m pingpong|exchange|bw] [-b MIN] [-e MAX] [-f FACTOR] "
                      "[-i ITERS] [-w WINDOW]\n");
      return opt == 'h' ? 0 : 2;
    }
  }
  int bw_mode = strcmp(mode, "bw") == 0, xch_mode = strcmp(mode, "exchange") == 0;
  if ((!bw_mode && !xch_mode && strcmp(mode, "pingpong") != 0) || factor <= 1 || window < 1 || minb < 1 || maxb < minb) {
    fprintf(stderr, "weft-net-perf: bad arguments (-h for help)\n");
    return 2;
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return perror("socketpair"), 1;
  fflush(stdout);
  pid_t child = fork();
  if (child < 0) return perror("fork"), 1;
  endpoint ep = {.rank = child == 0 ? 1 : 0};
  char *buf = aligned_alloc(4096, (maxb + 4095) / 4096 * 4096);
  void **reqs = calloc((size_t)window, sizeof *reqs);
  if (!buf || !reqs) return fprintf(stderr, "out of memory\n"), 1;
  memset(buf, ep.rank + 1, maxb);
  setup(&ep, name, sv[ep.rank], buf, maxb);
  if (ep.rank == 0)
    printf("# weft-net-perf: transport %s, %s (window %d)\n# %12s %8s %12s %10s\n", name, mode, bw_mode ? window : 1,
           "size(B)", "iters", bw_mode ? "us/window" : "lat(us)", "bw(GB/s)");
  size_t half = maxb / 2 / 64 * 64; /* exchange: receives land above this */
  for (size_t size = minb; size <= (xch_mode ? half : maxb); size = next_size(size, factor)) {
    int n = iters ? iters : 2000;
    if (!iters && size > 65536) {
      size_t budget = (size_t)2 << 30; /* about 2 GB per size */
      n = (int)(budget / (size * (bw_mode ? (size_t)window : 2)));
      n = n < 5 ? 5 : n > 1000 ? 1000 : n;
    }
    sync_ranks(&ep, buf);
    double t = bw_mode    ? run_bw(&ep, buf, size, n, window, reqs)
               : xch_mode ? run_exchange(&ep, buf, half, size, n)
                          : run_pingpong(&ep, buf, size, n);
    double bytes = (double)size * n * (bw_mode ? window : 2);
    if (ep.rank == 0)
      printf("  %12zu %8d %12.2f %10.3f\n", size, n, t * 1e6 / (n * (bw_mode || xch_mode ? 1.0 : 2.0)),
             bytes / t / 1e9);
    fflush(stdout);
  }
  sync_ranks(&ep, buf);
  teardown(&ep);
  free(buf);
  free(reqs);
  if (child > 0) {
    int st = 0;
    waitpid(child, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
  }
  return 0;
}
