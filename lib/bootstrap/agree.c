/* The membership agreement of weftCommShrink (agree.h; the protocol, its
 * rounds and its bounds are described in docs/failures.md). */
#include "bootstrap/agree.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/crypto.h"
#include "util/random.h"
#include "util/sock.h"

#define AG_MAGIC 0x57414752u /* "WAGR" */
#define PROBE_MS 50          /* a missing rank's listener is tried this often: refused means its process is gone */
#define PROBE_CONNECT_MS 20  /* a probe that neither connects nor is refused this fast says nothing */
#define REPROBE_MAX_MS 1000  /* a member waiting for its challenge tries the listener again at most this far apart */
#define READ_MS 1000         /* the rest of a message whose first bytes came */

enum { AG_CHALLENGE = 1, AG_JOIN, AG_PROPOSE, AG_ACK, AG_COMMIT, AG_REJECT };

void (*weft_agree_test_hook)(const char *step, int sent);

typedef struct {
  uint32_t magic, type;
  int32_t from;
  uint32_t ballot;
  uint32_t len; /* payload bytes after the header */
  uint8_t nonce[WEFT_NONCE_BYTES]; /* CHALLENGE: the coordinator's; JOIN: the member's */
  uint8_t mac[WEFT_MAC_BYTES];
} ag_head;

/* One socket between a member and its coordinator. Direction 0 is
 * coordinator -> member, 1 member -> coordinator; each message's MAC covers
 * both nonces, its direction and its number, so none can be replayed on
 * another connection or out of order. */
typedef struct {
  int fd;
  int rank; /* the member, -1 before its JOIN */
  uint8_t cn[WEFT_NONCE_BYTES], mn[WEFT_NONCE_BYTES];
  uint64_t seq[2];
  long long since;
} ag_conn;

typedef struct {
  bootstrap_t *b;
  const uint8_t *key;
  weft_agree_io *io;
  int n;
  size_t join_len, propose_len;
  uint8_t *buf; /* the largest payload */
  char *err;
} agree_ctx;

__attribute__((format(printf, 3, 4))) static weftResult_t fail(agree_ctx *a, weftResult_t r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(a->err, WEFT_SOCK_ERRLEN, fmt, ap);
  va_end(ap);
  return r;
}

static void hook(const char *step, int sent) {
  if (weft_agree_test_hook) weft_agree_test_hook(step, sent);
}

static int msg_mac(agree_ctx *a, ag_conn *c, int dir, const ag_head *h, const void *payload, uint8_t mac[WEFT_MAC_BYTES]) {
  static const char label[] = "weft shrink agreement v1";
  int32_t d = dir;
  uint64_t seq = c->seq[dir];
  weft_bytes parts[] = {{label, sizeof label}, {c->cn, sizeof c->cn}, {c->mn, sizeof c->mn}, {&d, sizeof d},
                        {&seq, sizeof seq},    {h, offsetof(ag_head, mac)}, {payload, h->len}};
  return weft_hmac(a->key, parts, 7, mac);
}

static int send_msg(agree_ctx *a, ag_conn *c, int dir, uint32_t type, uint32_t ballot, const void *payload,
                    uint32_t len, int timeout_ms) {
  ag_head h;
  memset(&h, 0, sizeof h);
  h.magic = AG_MAGIC;
  h.type = type;
  h.from = a->b->rank;
  h.ballot = ballot;
  h.len = len;
  if (type == AG_CHALLENGE) memcpy(h.nonce, c->cn, sizeof h.nonce);
  if (type == AG_JOIN) memcpy(h.nonce, c->mn, sizeof h.nonce);
  if (type != AG_CHALLENGE && msg_mac(a, c, dir, &h, payload, h.mac) != 0) return -1;
  if (type != AG_CHALLENGE) c->seq[dir]++;
  char e[WEFT_SOCK_ERRLEN];
  if (weft_sock_send_all(c->fd, &h, sizeof h, timeout_ms, e) != 0) return -1;
  if (len && weft_sock_send_all(c->fd, payload, len, timeout_ms, e) != 0) return -1;
  return 0;
}

/* Reads one message (header, then at most max payload bytes into a->buf)
 * and checks it; -1 on a closed socket, a timeout or a message that does
 * not prove the key. */
static int recv_msg(agree_ctx *a, ag_conn *c, int dir, ag_head *h, size_t max, int timeout_ms) {
  char e[WEFT_SOCK_ERRLEN];
  if (weft_sock_recv_all(c->fd, h, sizeof *h, timeout_ms, e) != 0 || h->magic != AG_MAGIC || h->len > max) return -1;
  if (h->len && weft_sock_recv_all(c->fd, a->buf, h->len, READ_MS, e) != 0) return -1;
  if (h->type == AG_CHALLENGE) {
    if (dir != 0 || h->len) return -1;
    memcpy(c->cn, h->nonce, sizeof c->cn);
    return 0;
  }
  if (h->type == AG_JOIN) memcpy(c->mn, h->nonce, sizeof c->mn);
  uint8_t want[WEFT_MAC_BYTES];
  if (msg_mac(a, c, dir, h, a->buf, want) != 0 || !weft_bytes_equal(want, h->mac, sizeof want)) return -1;
  c->seq[dir]++;
  return 0;
}

/* Connects to rank r's bootstrap listener without retrying a refusal:
 * 1 connected, 0 refused (its process is gone), -1 nothing in wait_ms. */
static int dial(agree_ctx *a, int r, int wait_ms, int *fd) {
  const weft_sockaddr *addr = &a->b->peers[r].addr;
  int s = socket(addr->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (s < 0) return -1;
  int e = connect(s, &addr->sa, weft_sockaddr_len(addr)) == 0 ? 0 : errno;
  if (e == EINPROGRESS) {
    struct pollfd p = {s, POLLOUT, 0};
    if (poll(&p, 1, wait_ms) <= 0) {
      close(s);
      return -1;
    }
    socklen_t el = sizeof e;
    getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &el);
  }
  if (e != 0) {
    close(s);
    return e == ECONNREFUSED || e == ECONNRESET ? 0 : -1;
  }
  weft_sock_nodelay(s);
  *fd = s;
  return 1;
}

/* Tries rank r's listener and closes what it got: 1 it answers, 0 refused
 * (its process is gone), -1 nothing in PROBE_CONNECT_MS. */
static int probe(agree_ctx *a, int r) {
  int fd, k = dial(a, r, PROBE_CONNECT_MS, &fd);
  if (k == 1) close(fd); /* a coordinator drops it as a stranger's */
  return k;
}

static void drop(ag_conn *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->rank = -1;
}

/* ---- the coordinator ---------------------------------------------------- */

typedef struct {
  ag_conn *conn; /* accepted sockets, joined or not */
  int nconn, cap;
  int *joined;   /* per rank: its index in conn, -1 */
  long long *probed;
} coord_state;

static ag_conn *accept_one(agree_ctx *a, coord_state *s) {
  int fd;
  char e[WEFT_SOCK_ERRLEN];
  if (weft_sock_accept(a->b->listen_fd, 0, NULL, &fd, e) != 0) return NULL;
  if (s->nconn == s->cap) {
    int cap = s->cap ? 2 * s->cap : 16;
    ag_conn *m = realloc(s->conn, sizeof *m * (size_t)cap);
    if (!m) {
      close(fd);
      return NULL;
    }
    s->conn = m;
    s->cap = cap;
  }
  ag_conn *c = &s->conn[s->nconn++];
  memset(c, 0, sizeof *c);
  c->fd = fd;
  c->rank = -1;
  c->since = weft_now_ms();
  if (weft_random_bytes(c->cn, sizeof c->cn) != 0 || send_msg(a, c, 0, AG_CHALLENGE, 0, NULL, 0, READ_MS) != 0)
    drop(c);
  return c;
}

/* A JOIN on a fresh socket: its sender becomes a member (an earlier socket
 * of the same rank is dropped), and what it knows of failures is merged. */
static void on_join(agree_ctx *a, coord_state *s, int ci) {
  ag_conn *c = &s->conn[ci];
  ag_head h;
  uint8_t *st = a->io->state;
  if (recv_msg(a, c, 1, &h, a->join_len, READ_MS) != 0 || h.type != AG_JOIN || h.len != a->join_len ||
      h.from < 0 || h.from >= a->n || h.from == a->b->rank) {
    drop(c); /* a stranger, a probe, or a socket of an earlier round */
    return;
  }
  if (st[h.from] == WEFT_AGREE_EXCLUDED) {
    send_msg(a, c, 0, AG_REJECT, 0, NULL, 0, READ_MS);
    drop(c);
    return;
  }
  if (s->joined[h.from] >= 0) drop(&s->conn[s->joined[h.from]]);
  c->rank = h.from;
  s->joined[h.from] = ci;
  st[h.from] = WEFT_AGREE_LIVE; /* it is here: whatever was said of it */
  memcpy(&a->io->table[h.from], a->buf, sizeof(weft_rank_info));
  const uint8_t *theirs = a->buf + sizeof(weft_rank_info);
  for (int r = 0; r < a->n; r++)
    if (r != a->b->rank && st[r] == WEFT_AGREE_LIVE && s->joined[r] < 0 &&
        (theirs[r] == WEFT_AGREE_FAILED || theirs[r] == WEFT_AGREE_EXCLUDED)) /* no other value is taken */
      st[r] = theirs[r];
}

static int all_joined(agree_ctx *a, coord_state *s) {
  for (int r = 0; r < a->n; r++)
    if (r != a->b->rank && a->io->state[r] == WEFT_AGREE_LIVE && s->joined[r] < 0) return 0;
  return 1;
}

/* Phase 1: JOINs from every rank not known to be gone, until the deadline;
 * a missing rank whose listener refuses is gone. */
static void collect(agree_ctx *a, coord_state *s, long long deadline) {
  uint8_t *st = a->io->state;
  struct pollfd *pf = malloc(sizeof *pf * (size_t)(a->n + 64));
  int *at = malloc(sizeof *at * (size_t)(a->n + 64));
  while (pf && at && !all_joined(a, s) && weft_now_ms() < deadline) {
    int np = 0;
    pf[np++] = (struct pollfd){a->b->listen_fd, POLLIN, 0};
    for (int i = 0; i < s->nconn && np < a->n + 64; i++)
      if (s->conn[i].fd >= 0) at[np] = i, pf[np++] = (struct pollfd){s->conn[i].fd, POLLIN, 0};
    poll(pf, (nfds_t)np, 10);
    if (pf[0].revents)
      while (accept_one(a, s)) {
      }
    for (int k = 1; k < np; k++) {
      ag_conn *c = &s->conn[at[k]];
      if (!pf[k].revents || c->fd < 0) continue;
      if (c->rank < 0) {
        on_join(a, s, at[k]);
      } else { /* a member says nothing until it is asked: this is its socket closing */
        st[c->rank] = WEFT_AGREE_FAILED;
        s->joined[c->rank] = -1;
        drop(c);
      }
    }
    for (int i = 0; i < s->nconn; i++) /* a socket silent that long is a stranger's */
      if (s->conn[i].fd >= 0 && s->conn[i].rank < 0 && weft_now_ms() - s->conn[i].since > a->io->timeout_ms)
        drop(&s->conn[i]);
    long long now = weft_now_ms();
    for (int r = 0; r < a->n; r++) {
      if (r == a->b->rank || st[r] != WEFT_AGREE_LIVE || s->joined[r] >= 0 || now - s->probed[r] < PROBE_MS) continue;
      s->probed[r] = now;
      if (probe(a, r) == 0) st[r] = WEFT_AGREE_FAILED;
    }
  }
  free(pf);
  free(at);
  for (int r = 0; r < a->n; r++) /* did not come in time: stopped, hung, or not calling shrink */
    if (r != a->b->rank && st[r] == WEFT_AGREE_LIVE && s->joined[r] < 0) st[r] = WEFT_AGREE_FAILED;
}

/* Phase 2: proposes the members to each, waits for every ACK; a member that
 * does not answer is left out and the smaller set proposed again. Then
 * commits. */
static weftResult_t propose_commit(agree_ctx *a, coord_state *s) {
  weft_agree_io *io = a->io;
  int me = a->b->rank, T = io->timeout_ms;
  io->table[me] = io->mine;
  for (;;) {
    uint32_t ballot = ++io->ballot;
    uint8_t *p = a->buf;
    for (int r = 0; r < a->n; r++) p[r] = r == me || s->joined[r] >= 0;
    memcpy(p + a->n, io->table, sizeof(weft_rank_info) * (size_t)a->n);
    int sent = 0, lost = 0;
    for (int r = 0; r < a->n; r++) {
      if (s->joined[r] < 0) continue;
      ag_conn *c = &s->conn[s->joined[r]];
      if (send_msg(a, c, 0, AG_PROPOSE, ballot, p, (uint32_t)a->propose_len, T) != 0) {
        io->state[r] = WEFT_AGREE_FAILED, s->joined[r] = -1, drop(c), lost++;
        continue;
      }
      hook("proposed", ++sent);
    }
    long long deadline = weft_now_ms() + T;
    for (int r = 0; r < a->n; r++) {
      if (s->joined[r] < 0) continue;
      ag_conn *c = &s->conn[s->joined[r]];
      ag_head h;
      long long left = deadline - weft_now_ms();
      if (recv_msg(a, c, 1, &h, 0, left > 0 ? (int)left : 0) != 0 || h.type != AG_ACK || h.ballot != ballot) {
        io->state[r] = WEFT_AGREE_FAILED, s->joined[r] = -1, drop(c), lost++;
      }
    }
    if (lost) continue;
    sent = 0;
    for (int r = 0; r < a->n; r++) {
      if (s->joined[r] < 0) continue;
      /* a member that dies now is in the new comm, whose build then fails
       * everywhere and is agreed again (docs/failures.md) */
      if (send_msg(a, &s->conn[s->joined[r]], 0, AG_COMMIT, ballot, NULL, 0, T) == 0) hook("committed", ++sent);
    }
    for (int r = 0; r < a->n; r++) io->member[r] = r == me || s->joined[r] >= 0;
    io->coordinator = me;
    return weftSuccess;
  }
}

static weftResult_t coordinate(agree_ctx *a) {
  coord_state s = {0};
  s.joined = malloc(sizeof *s.joined * (size_t)a->n);
  s.probed = calloc((size_t)a->n, sizeof *s.probed);
  weftResult_t res = weftSystemError;
  if (!s.joined || !s.probed) {
    fail(a, res, "shrink: out of memory");
  } else {
    for (int r = 0; r < a->n; r++) s.joined[r] = -1;
    collect(a, &s, weft_now_ms() + a->io->timeout_ms);
    res = propose_commit(a, &s);
  }
  for (int i = 0; i < s.nconn; i++) drop(&s.conn[i]);
  free(s.conn);
  free(s.joined);
  free(s.probed);
  return res;
}

/* ---- a member ----------------------------------------------------------- */

enum { M_DONE, M_COORD_GONE, M_REJECTED };

/* Waits for coordinator r's challenge on a fresh connection. A connect that
 * races with the coordinator's death can leave this end established with
 * nothing behind it and no reset to come; so while it waits, the member tries
 * r's listener again (after PROBE_MS, then twice as long each time up to
 * REPROBE_MAX_MS): a refusal means r's process is gone. Once the challenge
 * came the connection is known to reach r, whose death then closes it. */
static int await_challenge(agree_ctx *a, ag_conn *c, int r, int wait_ms, ag_head *h) {
  long long deadline = weft_now_ms() + wait_ms;
  int every = PROBE_MS;
  for (;;) {
    long long left = deadline - weft_now_ms();
    if (left <= 0) return -1;
    struct pollfd p = {c->fd, POLLIN, 0};
    int k = poll(&p, 1, left < every ? (int)left : every);
    if (k > 0) return recv_msg(a, c, 0, h, 0, READ_MS) == 0 && h->type == AG_CHALLENGE ? 0 : -1;
    if (k < 0 && errno != EINTR) return -1;
    if (k == 0 && probe(a, r) == 0) return -1;
    every = every * 2 < REPROBE_MAX_MS ? every * 2 : REPROBE_MAX_MS;
  }
}

/* Joins coordinator r and follows it to a commit. */
static int follow(agree_ctx *a, int r) {
  weft_agree_io *io = a->io;
  int T = io->timeout_ms, wait = 2 * T + READ_MS; /* longer than the coordinator's own bounds */
  ag_conn c;
  memset(&c, 0, sizeof c);
  c.rank = r;
  if (dial(a, r, T, &c.fd) != 1) return M_COORD_GONE;
  ag_head h;
  int out = M_COORD_GONE;
  uint32_t proposed = 0;
  if (weft_random_bytes(c.mn, sizeof c.mn) != 0 || await_challenge(a, &c, r, wait, &h) != 0) goto done;
  memcpy(a->buf, &io->mine, sizeof io->mine);
  memcpy(a->buf + sizeof io->mine, io->state, (size_t)a->n);
  if (send_msg(a, &c, 1, AG_JOIN, 0, a->buf, (uint32_t)a->join_len, T) != 0) goto done;
  hook("joined", 1);
  for (;;) {
    if (recv_msg(a, &c, 0, &h, a->propose_len, wait) != 0) goto done;
    if (h.type == AG_REJECT) {
      out = M_REJECTED;
      goto done;
    }
    if (h.type == AG_PROPOSE && h.len == a->propose_len) {
      if (!a->buf[a->b->rank]) {
        out = M_REJECTED;
        goto done;
      }
      memcpy(io->member, a->buf, (size_t)a->n);
      memcpy(io->table, a->buf + a->n, sizeof(weft_rank_info) * (size_t)a->n);
      proposed = h.ballot;
      if (send_msg(a, &c, 1, AG_ACK, h.ballot, NULL, 0, T) != 0) goto done;
    } else if (h.type == AG_COMMIT && proposed && h.ballot == proposed) {
      io->coordinator = r;
      io->ballot = proposed;
      out = M_DONE;
      goto done;
    } else {
      goto done; /* out of protocol: count the coordinator as failed */
    }
  }
done:
  drop(&c);
  return out;
}

weftResult_t weft_agree_members(bootstrap_t *b, const uint8_t key[32], weft_agree_io *io, char *err) {
  agree_ctx a = {b, key, io, b->nranks, 0, 0, NULL, err};
  a.join_len = sizeof(weft_rank_info) + (size_t)a.n;
  a.propose_len = (size_t)a.n + sizeof(weft_rank_info) * (size_t)a.n;
  uint8_t *again = calloc((size_t)a.n, 1); /* coordinators followed a second time */
  if (!again || !(a.buf = malloc(a.propose_len > a.join_len ? a.propose_len : a.join_len))) {
    free(again);
    return fail(&a, weftSystemError, "shrink: out of memory");
  }
  uint8_t *st = io->state;
  if (st[b->rank] == WEFT_AGREE_EXCLUDED) {
    free(again);
    free(a.buf);
    return fail(&a, weftInvalidArgument, "shrink: this rank (%d) is in the exclude list", b->rank);
  }
  st[b->rank] = WEFT_AGREE_LIVE; /* calling shrink: alive, whatever was said of it */
  /* each coordinator gets at most 2T + a little; one per rank at most */
  long long deadline = weft_now_ms() + (long long)(a.n + 1) * (2LL * io->timeout_ms + READ_MS);
  weftResult_t res = weftTimeout;
  fail(&a, res, "shrink: no agreement on the members in time");
  while (weft_now_ms() < deadline) {
    int c = 0;
    while (c < a.n && st[c] != WEFT_AGREE_LIVE) c++;
    if (c == b->rank) {
      res = coordinate(&a);
      break;
    }
    int k = follow(&a, c);
    if (k == M_DONE) {
      res = weftSuccess;
      break;
    }
    if (k == M_REJECTED) {
      res = fail(&a, weftRemoteError, "shrink: rank %d (%s pid %d), coordinating the agreement, left this rank out "
                                      "(it counts it as failed or excluded)", c, b->peers[c].host, b->peers[c].pid);
      break;
    }
    /* its socket closed or it was silent: gone, unless its listener still
     * answers (it dropped a JOIN it took for a stranger's): then once more */
    if (!again[c] && probe(&a, c) == 1) {
      again[c] = 1;
      continue;
    }
    st[c] = WEFT_AGREE_FAILED; /* the next lowest rank takes over */
  }
  free(again);
  free(a.buf);
  return res;
}
