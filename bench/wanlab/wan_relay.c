/*
 * weft-wan-relay: a learning L2 switch that holds every frame for a fixed
 * time before forwarding it - the "added RTT" of the WAN lab
 * (bench/wanlab/wanlab.sh, docs/wanlab.md), where netem is not available.
 *
 *   weft-wan-relay [-d MS] [-m MIB] [-b N] [-q US] [-S KIB] [-R KIB] [-p FILE] [-v] IF IF [IF...]
 *
 *   -d MS    one-way delay added to every frame, in ms (fractions allowed;
 *            default 0). wanlab.sh passes RTT/2: each direction crosses the
 *            relay once.
 *   -m MIB   delay-queue memory in MiB (default 64). It must hold rate x
 *            delay for every output port that is busy at once; frames that
 *            find it full are counted as drops (reported on exit).
 *   -b N     frames per recvmmsg/sendmmsg call (default 32)
 *   -q US    while frames wait, wake at most once per US microseconds
 *            (default 250; at most a quarter of the delay; 0: on every frame).
 *            Frames are sent up to US late; the relay's CPU time at 1 Gbit/s
 *            drops by about a third.
 *   -S KIB   socket send buffer per port (default 1024). While the egress
 *            qdisc of a port (the WAN->site tbf) holds that much, the port
 *            blocks and frames wait in the relay instead of being dropped by
 *            the qdisc: backpressure. Keep it below the tbf limit.
 *   -R KIB   socket receive buffer per port (default 8192)
 *   -p FILE  write the pid there once every port is open (readiness signal)
 *   -v       log learned addresses
 *
 * Every IF is an interface of this network namespace (the WAN side of a
 * site's veth). One AF_PACKET/SOCK_RAW socket per port receives and sends.
 * PACKET_VNET_HDR puts a virtio_net_hdr in front of each frame, so a TCP
 * segmentation-offload super-frame (up to 64 KiB) and a CHECKSUM_PARTIAL
 * packet arrive with their GSO type/size and checksum offsets and are sent
 * on as such: no resegmentation, no checksum work, and no EMSGSIZE for frames
 * larger than the MTU.
 *
 * Forwarding: the source MAC of each received frame is learned for its port;
 * a unicast frame to a known MAC goes to that port (or is filtered if it is
 * the receiving port), anything else is flooded to the other ports (one copy
 * each). A frame is due at its kernel receive timestamp + delay; frames wait
 * in one byte ring and, per output port, in a FIFO linked through the ring
 * (every frame gets the same delay, so each FIFO is in due order). The main
 * loop sends what is due with sendmmsg, reads with recvmmsg while the ring has
 * room, and sleeps in ppoll until the next due time, a readable port (only
 * while nothing waits: see -q), or a blocked port that became writable.
 * SIGTERM/SIGINT end it cleanly with a statistics line per port on stderr;
 * SIGUSR1 prints them without exiting. Counters: frames/bytes in and out,
 * drops (ring full, the socket's receive buffer, the egress qdisc, truncated,
 * other send errors), lateness (due -> sent while the port was not blocked:
 * the relay's own timing error) and backpressure (how long ports were blocked
 * by a full egress qdisc: router queueing, not lateness).
 *
 * Run it with priority (wanlab.sh uses SCHED_FIFO 10): it stands for the
 * network, and on a small machine busy ranks would otherwise delay it by
 * milliseconds.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

#define MAXPORTS 16
#define MAXBATCH 128
#define VNET_LEN ((uint32_t)sizeof(struct virtio_net_hdr))
/* a GSO frame is at most 64 KiB of IP packet plus link header; a larger one
 * (BIG TCP) arrives truncated and is counted and dropped */
#define SLOT (VNET_LEN + 65536 + 512)
#define WRAP 0xffffffffu
#define NIL 0xffffffffu

typedef struct {
  uint64_t due;  /* CLOCK_MONOTONIC ns */
  uint32_t len;  /* vnet header + frame, or WRAP: the rest of the ring is unused */
  uint32_t next; /* next record in the same output FIFO, NIL at its end */
  uint8_t done;  /* sent (or dropped): may be reclaimed */
  uint8_t pad[7];
} rec_t; /* 24 bytes, followed by the frame, padded to 8 */

typedef struct {
  uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes, flooded, filtered;
  uint64_t drop_ring, drop_trunc, drop_qdisc, drop_err, drop_kernel, short_frames;
  uint64_t late_sum_ns, late_max_ns, late_n, late_1ms; /* due -> sent, port not blocked */
  uint64_t blocked_n, blocked_ns, held_max_ns;         /* backpressure from the egress qdisc */
} stats_t;

typedef struct {
  char name[IF_NAMESIZE];
  int fd, ifindex, blocked, after_block;
  uint64_t blocked_at;
  uint32_t qhead, qtail; /* output FIFO (ring offsets) */
  uint64_t queued_bytes, queued_max;
  stats_t st;
} port_t;

static port_t ports[MAXPORTS];
static int nports;
static uint8_t *ring;
static size_t cap, head, tail, used, used_max;
static uint64_t delay_ns, quantum_ns, read_ns;
static int batch = 32, verbose;
static volatile sig_atomic_t stop_flag, stats_flag;
static uint8_t *scratch;
static int last_err_logged;

/* ---- MAC learning: open addressing, no aging (the lab's ports never move) ---- */
#define MACS 1024
static struct {
  uint8_t mac[6];
  int8_t port; /* -1: empty */
} mactab[MACS];

static unsigned mac_hash(const uint8_t *m) {
  unsigned h = 2166136261u;
  for (int i = 0; i < 6; i++) h = (h ^ m[i]) * 16777619u;
  return h % MACS;
}

static int mac_lookup(const uint8_t *m) {
  for (unsigned i = mac_hash(m), k = 0; k < MACS; k++, i = (i + 1) % MACS) {
    if (mactab[i].port < 0) return -1;
    if (!memcmp(mactab[i].mac, m, 6)) return mactab[i].port;
  }
  return -1;
}

static void mac_learn(const uint8_t *m, int port) {
  if (m[0] & 1) return; /* a multicast source is bogus */
  for (unsigned i = mac_hash(m), k = 0; k < MACS; k++, i = (i + 1) % MACS) {
    if (mactab[i].port >= 0 && memcmp(mactab[i].mac, m, 6)) continue;
    if (mactab[i].port != port) {
      if (verbose)
        fprintf(stderr, "weft-wan-relay: %02x:%02x:%02x:%02x:%02x:%02x on %s\n", m[0], m[1], m[2], m[3], m[4], m[5],
                ports[port].name);
      memcpy(mactab[i].mac, m, 6);
      mactab[i].port = (int8_t)port;
    }
    return;
  }
}

/* ---- time ---- */
static uint64_t ts_ns(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* ---- the byte ring ---- */
static size_t rec_size(uint32_t len) { return (sizeof(rec_t) + len + 7) & ~(size_t)7; }
static rec_t *rec_at(size_t off) { return (rec_t *)(ring + off); }

static size_t ring_free(void) { return cap - used; }

/* room for n contiguous bytes, or (size_t)-1 */
static size_t ring_alloc(size_t n) {
  if (used == 0) head = tail = 0;
  if (used == cap) return (size_t)-1;
  if (tail >= head) {
    if (cap - tail >= n) {
      size_t at = tail;
      tail += n;
      used += n;
      return at;
    }
    if (head < n) return (size_t)-1;
    if (cap - tail >= sizeof(rec_t)) rec_at(tail)->len = WRAP;
    used += cap - tail;
    tail = n;
    used += n;
    return 0;
  }
  if (head - tail < n) return (size_t)-1;
  size_t at = tail;
  tail += n;
  used += n;
  return at;
}

/* frees sent records at the head of the ring */
static void ring_reclaim(void) {
  while (used > 0) {
    if (head == cap || (cap - head >= sizeof(rec_t) && rec_at(head)->len == WRAP) || cap - head < sizeof(rec_t)) {
      used -= cap - head;
      head = 0;
      continue;
    }
    rec_t *r = rec_at(head);
    if (!r->done) break;
    size_t sz = rec_size(r->len);
    used -= sz;
    head += sz;
  }
  if (used == 0) head = tail = 0;
}

/* ---- forwarding ---- */
static void enqueue(int out, const uint8_t *pkt, uint32_t len, uint64_t due) {
  port_t *p = &ports[out];
  size_t off = ring_alloc(rec_size(len));
  if (off == (size_t)-1) {
    p->st.drop_ring++;
    return;
  }
  if (used > used_max) used_max = used;
  rec_t *r = rec_at(off);
  r->due = due;
  r->len = len;
  r->next = NIL;
  r->done = 0;
  memcpy(r + 1, pkt, len);
  if (p->qtail == NIL)
    p->qhead = (uint32_t)off;
  else
    rec_at(p->qtail)->next = (uint32_t)off;
  p->qtail = (uint32_t)off;
  p->queued_bytes += len;
  if (p->queued_bytes > p->queued_max) p->queued_max = p->queued_bytes;
}

static void forward(int in, const uint8_t *pkt, uint32_t len, uint64_t due) {
  port_t *p = &ports[in];
  if (len < VNET_LEN + ETH_HLEN) {
    p->st.short_frames++;
    return;
  }
  const uint8_t *eth = pkt + VNET_LEN;
  p->st.rx_frames++;
  p->st.rx_bytes += len - VNET_LEN;
  mac_learn(eth + 6, in);
  int out = (eth[0] & 1) ? -1 : mac_lookup(eth);
  if (out == in) {
    p->st.filtered++;
    return;
  }
  if (out >= 0) {
    enqueue(out, pkt, len, due);
    return;
  }
  p->st.flooded++;
  for (int o = 0; o < nports; o++)
    if (o != in) enqueue(o, pkt, len, due);
}

/* reads up to a few batches from port i; returns 0 when the socket is empty */
static int rx_port(int i, struct mmsghdr *mm, struct iovec *iov, uint8_t (*ctl)[64]) {
  for (int k = 0; k < batch; k++) {
    iov[k].iov_base = scratch + (size_t)k * SLOT;
    iov[k].iov_len = SLOT;
    memset(&mm[k].msg_hdr, 0, sizeof mm[k].msg_hdr);
    mm[k].msg_hdr.msg_iov = &iov[k];
    mm[k].msg_hdr.msg_iovlen = 1;
    mm[k].msg_hdr.msg_control = ctl[k];
    mm[k].msg_hdr.msg_controllen = sizeof ctl[k];
  }
  int n = recvmmsg(ports[i].fd, mm, (unsigned)batch, MSG_DONTWAIT | MSG_TRUNC, NULL);
  if (n <= 0) return 0;
  uint64_t mono = ts_ns(CLOCK_MONOTONIC), real = ts_ns(CLOCK_REALTIME);
  for (int k = 0; k < n; k++) {
    uint64_t at = mono;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mm[k].msg_hdr); c; c = CMSG_NXTHDR(&mm[k].msg_hdr, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        struct timespec t;
        memcpy(&t, CMSG_DATA(c), sizeof t);
        uint64_t kr = (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
        /* kernel receive time, mapped to the monotonic clock; never later than now */
        if (kr <= real && real - kr < mono) at = mono - (real - kr);
      }
    }
    if ((mm[k].msg_hdr.msg_flags & MSG_TRUNC) || mm[k].msg_len > SLOT) {
      ports[i].st.drop_trunc++;
      continue;
    }
    forward(i, iov[k].iov_base, mm[k].msg_len, at + delay_ns);
  }
  return n == batch;
}

/* sends what is due on port o; sets blocked when the socket is full */
static void tx_port(int o, uint64_t now, struct mmsghdr *mm, struct iovec *iov) {
  port_t *p = &ports[o];
  while (!p->blocked && p->qhead != NIL && rec_at(p->qhead)->due <= now) {
    int n = 0;
    uint32_t off = p->qhead;
    for (; n < batch && off != NIL && rec_at(off)->due <= now; n++, off = rec_at(off)->next) {
      rec_t *r = rec_at(off);
      iov[n].iov_base = r + 1;
      iov[n].iov_len = r->len;
      memset(&mm[n].msg_hdr, 0, sizeof mm[n].msg_hdr);
      mm[n].msg_hdr.msg_iov = &iov[n];
      mm[n].msg_hdr.msg_iovlen = 1;
    }
    int sent = sendmmsg(p->fd, mm, (unsigned)n, MSG_DONTWAIT);
    int drop_first = 0;
    if (sent < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        p->blocked = 1;
        p->after_block = 1;
        p->blocked_at = now;
        p->st.blocked_n++;
        return;
      }
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {
        p->st.drop_qdisc++; /* the egress qdisc dropped it */
      } else {
        p->st.drop_err++;
        if (last_err_logged != errno) {
          last_err_logged = errno;
          fprintf(stderr, "weft-wan-relay: send on %s (%u bytes): %s\n", p->name, rec_at(p->qhead)->len,
                  strerror(errno));
        }
      }
      sent = 0;
      drop_first = 1;
    }
    for (int k = 0; k < sent + drop_first; k++) {
      rec_t *r = rec_at(p->qhead);
      if (k < sent) {
        uint64_t late = now - r->due;
        p->st.tx_frames++;
        p->st.tx_bytes += r->len - VNET_LEN;
        if (p->after_block) {
          /* it waited for the qdisc: a router queue, not relay lateness */
          if (late > p->st.held_max_ns) p->st.held_max_ns = late;
        } else {
          p->st.late_sum_ns += late;
          p->st.late_n++;
          p->st.late_1ms += late > 1000000;
          if (late > p->st.late_max_ns) p->st.late_max_ns = late;
        }
      }
      p->queued_bytes -= r->len;
      r->done = 1;
      p->qhead = r->next;
    }
    if (p->qhead == NIL) p->qtail = NIL;
  }
  /* the backlog that built up while blocked is gone: lateness counts again */
  if (!p->blocked && (p->qhead == NIL || rec_at(p->qhead)->due > now)) p->after_block = 0;
}

static void print_stats(const char *when) {
  for (int i = 0; i < nports; i++) {
    port_t *p = &ports[i];
    struct tpacket_stats ks;
    socklen_t sl = sizeof ks;
    if (getsockopt(p->fd, SOL_PACKET, PACKET_STATISTICS, &ks, &sl) == 0) p->st.drop_kernel += ks.tp_drops;
    fprintf(stderr,
            "weft-wan-relay %s: %s rx %llu frames %llu bytes, tx %llu frames %llu bytes, flooded %llu, "
            "drops: ring-full %llu socket %llu qdisc %llu truncated %llu error %llu; lateness avg %.1f us max "
            "%.1f us, %llu frames > 1 ms; backpressure %llu times, %.1f ms in all, longest hold %.1f ms; "
            "max queued %.2f MiB\n",
            when, p->name, (unsigned long long)p->st.rx_frames, (unsigned long long)p->st.rx_bytes,
            (unsigned long long)p->st.tx_frames, (unsigned long long)p->st.tx_bytes,
            (unsigned long long)p->st.flooded, (unsigned long long)p->st.drop_ring,
            (unsigned long long)p->st.drop_kernel, (unsigned long long)p->st.drop_qdisc,
            (unsigned long long)p->st.drop_trunc, (unsigned long long)p->st.drop_err,
            p->st.late_n ? (double)p->st.late_sum_ns / (double)p->st.late_n / 1e3 : 0.0, p->st.late_max_ns / 1e3,
            (unsigned long long)p->st.late_1ms, (unsigned long long)p->st.blocked_n, p->st.blocked_ns / 1e6,
            p->st.held_max_ns / 1e6, p->queued_max / 1048576.0);
  }
  fprintf(stderr, "weft-wan-relay %s: delay queue peak %.2f of %.2f MiB\n", when, used_max / 1048576.0,
          cap / 1048576.0);
}

static void on_signal(int sig) {
  if (sig == SIGUSR1)
    stats_flag = 1;
  else
    stop_flag = 1;
}

static int open_port(port_t *p, int sndkib, int rcvkib) {
  p->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL));
  if (p->fd < 0) return fprintf(stderr, "weft-wan-relay: socket(AF_PACKET): %s\n", strerror(errno)), -1;
  p->ifindex = (int)if_nametoindex(p->name);
  if (!p->ifindex) return fprintf(stderr, "weft-wan-relay: no interface %s\n", p->name), -1;
  int one = 1, snd = sndkib * 1024, rcv = rcvkib * 1024;
  if (setsockopt(p->fd, SOL_PACKET, PACKET_VNET_HDR, &one, sizeof one) != 0)
    return fprintf(stderr, "weft-wan-relay: PACKET_VNET_HDR: %s\n", strerror(errno)), -1;
  /* our own transmissions must not come back as receptions */
  if (setsockopt(p->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one) != 0)
    return fprintf(stderr, "weft-wan-relay: PACKET_IGNORE_OUTGOING: %s\n", strerror(errno)), -1;
  if (setsockopt(p->fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) != 0)
    return fprintf(stderr, "weft-wan-relay: SO_TIMESTAMPNS: %s\n", strerror(errno)), -1;
  if (setsockopt(p->fd, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof snd) != 0)
    setsockopt(p->fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof snd);
  if (setsockopt(p->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv) != 0)
    setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = p->ifindex;
  if (bind(p->fd, (struct sockaddr *)&sll, sizeof sll) != 0)
    return fprintf(stderr, "weft-wan-relay: bind %s: %s\n", p->name, strerror(errno)), -1;
  p->qhead = p->qtail = NIL;
  return 0;
}

static void usage(FILE *f) {
  fprintf(f, "usage: weft-wan-relay [-d MS] [-m MIB] [-b N] [-q US] [-S KIB] [-R KIB] [-p PIDFILE] [-v] IF IF [IF...]\n"
             "  -d MS   one-way delay per frame in ms (default 0)\n"
             "  -m MIB  delay-queue memory (default 64)\n"
             "  -b N    frames per recvmmsg/sendmmsg (default 32, max 128)\n"
             "  -q US   wake at most once per US microseconds while frames wait (default 250, 0: per frame)\n"
             "  -S KIB  send buffer per port: backpressure from the egress qdisc (default 1024)\n"
             "  -R KIB  receive buffer per port (default 8192)\n"
             "  -p FILE write the pid there once the ports are open\n"
             "  -v      log learned MAC addresses\n");
}

int main(int argc, char **argv) {
  double delay_ms = 0, mib = 64, quantum_us = 250;
  int sndkib = 1024, rcvkib = 8192, opt;
  const char *pidfile = NULL;
  while ((opt = getopt(argc, argv, "d:m:b:q:S:R:p:vh")) != -1) {
    switch (opt) {
    case 'q': quantum_us = atof(optarg); break;
    case 'd': delay_ms = atof(optarg); break;
    case 'm': mib = atof(optarg); break;
    case 'b': batch = atoi(optarg); break;
    case 'S': sndkib = atoi(optarg); break;
    case 'R': rcvkib = atoi(optarg); break;
    case 'p': pidfile = optarg; break;
    case 'v': verbose = 1; break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  nports = argc - optind;
  if (nports < 2 || nports > MAXPORTS || delay_ms < 0 || delay_ms > 10000 || mib < 1 || mib > 4000 || batch < 1 ||
      batch > MAXBATCH || sndkib < 16 || rcvkib < 16 || quantum_us < 0 || quantum_us > 10000) {
    usage(stderr);
    return 2;
  }
  delay_ns = (uint64_t)(delay_ms * 1e6);
  quantum_ns = (uint64_t)(quantum_us * 1e3);
  if (quantum_ns > delay_ns / 4) quantum_ns = delay_ns / 4;
  /* input waits in the socket buffers at most this long */
  read_ns = delay_ns / 2 < 2000000 ? delay_ns / 2 : 2000000;
  if (read_ns < quantum_ns) read_ns = quantum_ns;
  cap = ((size_t)(mib * 1048576.0) + 7) & ~(size_t)7;
  /* untouched pages of the ring and scratch cost nothing */
  ring = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  scratch = mmap(NULL, (size_t)batch * SLOT, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (ring == MAP_FAILED || scratch == MAP_FAILED) return perror("weft-wan-relay: mmap"), 1;
  for (int i = 0; i < MACS; i++) mactab[i].port = -1;
  for (int i = 0; i < nports; i++) {
    snprintf(ports[i].name, sizeof ports[i].name, "%s", argv[optind + i]);
    if (open_port(&ports[i], sndkib, rcvkib) != 0) return 1;
  }

  sigset_t block, waitmask;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGUSR1);
  sigprocmask(SIG_BLOCK, &block, &waitmask); /* delivered only inside ppoll: no lost wake-up */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  if (pidfile) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", pidfile);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0 || rename(tmp, pidfile) != 0)
      return fprintf(stderr, "weft-wan-relay: cannot write %s\n", pidfile), 1;
  }
  fprintf(stderr, "weft-wan-relay: %d ports, one-way delay %.3f ms, queue %.1f MiB, batch %d, quantum %.0f us\n",
          nports, delay_ms, cap / 1048576.0, batch, quantum_ns / 1e3);

  static struct mmsghdr mm[MAXBATCH];
  static struct iovec iov[MAXBATCH];
  static uint8_t ctl[MAXBATCH][64];
  struct pollfd pfd[MAXPORTS];
  /* reading one batch may flood a copy of every frame to every other port */
  size_t reserve = (size_t)batch * (rec_size(SLOT)) * (size_t)(nports - 1);
  if (reserve > cap / 2) reserve = cap / 2;

  while (!stop_flag) {
    if (stats_flag) {
      stats_flag = 0;
      print_stats("stats");
    }
    uint64_t now = ts_ns(CLOCK_MONOTONIC);
    for (int o = 0; o < nports; o++) tx_port(o, now, mm, iov);
    ring_reclaim();

    /* sleep until the next due frame (ns precision), input, or a port drains */
    uint64_t next = UINT64_MAX;
    for (int o = 0; o < nports; o++)
      if (!ports[o].blocked && ports[o].qhead != NIL && rec_at(ports[o].qhead)->due < next)
        next = rec_at(ports[o].qhead)->due;
    int room = ring_free() >= reserve, queued = 0;
    for (int o = 0; o < nports; o++) queued |= ports[o].qhead != NIL;
    /* Coalescing: while frames wait, input is not a wake-up. The relay wakes
     * when the next frame is due but at most once per quantum, and reads
     * everything that arrived then; frames keep their kernel receive time,
     * so reading late does not change when they are due, and nothing that
     * arrives can be due before the frames already queued. */
    int coalesce = delay_ns > 0 && quantum_ns > 0 && queued;
    for (int i = 0; i < nports; i++) {
      pfd[i].fd = ports[i].fd;
      pfd[i].events = (short)((room && !coalesce ? POLLIN : 0) | (ports[i].blocked ? POLLOUT : 0));
      pfd[i].revents = 0;
    }
    uint64_t now2 = ts_ns(CLOCK_MONOTONIC), wake = next;
    if (coalesce) {
      if (wake == UINT64_MAX || wake < now2 + quantum_ns) wake = now2 + quantum_ns;
      if (wake > now2 + read_ns) wake = now2 + read_ns; /* bounded time in the socket buffers */
    }
    struct timespec to, *top = NULL;
    if (wake != UINT64_MAX) {
      uint64_t d = wake > now2 ? wake - now2 : 0;
      to.tv_sec = (time_t)(d / 1000000000ull);
      to.tv_nsec = (long)(d % 1000000000ull);
      top = &to;
    }
    int r = ppoll(pfd, (nfds_t)nports, top, &waitmask);
    if (r < 0) {
      if (errno == EINTR) continue;
      perror("weft-wan-relay: ppoll");
      break;
    }
    for (int i = 0; i < nports; i++) {
      if (pfd[i].revents & POLLOUT) {
        ports[i].blocked = 0;
        ports[i].st.blocked_ns += ts_ns(CLOCK_MONOTONIC) - ports[i].blocked_at;
      }
      if (pfd[i].revents & (POLLERR | POLLNVAL)) {
        int e = 0;
        socklen_t el = sizeof e;
        getsockopt(ports[i].fd, SOL_SOCKET, SO_ERROR, &e, &el);
        if (e == ENETDOWN || pfd[i].revents & POLLNVAL) {
          fprintf(stderr, "weft-wan-relay: %s went away (%s)\n", ports[i].name, strerror(e ? e : EBADF));
          stop_flag = 1;
        }
      }
    }
    /* read from every readable port (every port after a coalesced sleep) */
    for (int i = 0; i < nports; i++) {
      if (!(pfd[i].revents & POLLIN) && !coalesce) continue;
      for (int rounds = 0; rounds < (coalesce ? 64 : 4) && ring_free() >= reserve; rounds++) {
        if (!rx_port(i, mm, iov, ctl)) break;
        ring_reclaim();
      }
    }
  }
  print_stats("exit");
  for (int i = 0; i < nports; i++) close(ports[i].fd);
  return 0;
}
