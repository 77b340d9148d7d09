/* A joining rank against a hostile network: everything the bootstrap reads
 * from others. bootstrap.c is compiled into this harness (its functions are
 * static) and driven as it is, unchanged:
 *  - answer: the root's reply and the entries of the rank's link ends
 *    after its hello (join_root, over a socket pair): genuine (the MAC over
 *    the challenge, the rank's nonce and the entries) with any status,
 *    reason, number of ranks and entries (for the wrong rank, copies that
 *    disagree), or forged, changed on the way, cut short; then, once taken,
 *    the table the allgather brings (take_table), agreeing with the root's
 *    entries or not;
 *  - ring hello: the connections on the rank's listener that claim to be its
 *    ring predecessor (accept_prev): the genuine hello, ones for another
 *    rank or ring, forged, cut short, several at once;
 *  - link hellos: the connections while the rank accepts all its bootstrap
 *    links at once (accept_links): genuine ones in any order, duplicates,
 *    for the wrong link, rank or ring, forged, cut short;
 *  - link data: the steps of an allgather over the links (Bruck's: data,
 *    then its MAC with the link and the message counter): genuine, forged,
 *    replayed, moved from another link, cut short.
 * A forged or changed message never passes (no entries, no status taken
 * from it, no ring link, no data); entries taken name their ranks, and a
 * gathered table is taken only if it agrees with them; no read or write out
 * of bounds. The first byte picks the case. */
#include "bootstrap/bootstrap.c"

#include <sys/un.h>

#include "fuzz_input.h"

static const uint8_t fz_comm_key[WEFT_KEY_BYTES] = {5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
                                                    11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26};
static int fz_listen_fd = -1;
static struct sockaddr_un fz_listen_addr;
static socklen_t fz_listen_len;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  setenv("WEFT_DEBUG", "NONE", 1);
  /* the rank's listener: a Unix socket (accept_prev only accepts and reads) */
  fz_listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  memset(&fz_listen_addr, 0, sizeof fz_listen_addr);
  fz_listen_addr.sun_family = AF_UNIX;
  int n = snprintf(fz_listen_addr.sun_path + 1, sizeof fz_listen_addr.sun_path - 1, "weft-fuzz-boot-%d", (int)getpid());
  fz_listen_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
  if (fz_listen_fd < 0 || bind(fz_listen_fd, (struct sockaddr *)&fz_listen_addr, fz_listen_len) != 0 ||
      listen(fz_listen_fd, 64) != 0)
    abort();
  return 0;
}

/* A rank of a job of 1-8 (2-8: ring) ranks, its peers' nonces known. */
static bootstrap_t *rank_from_input(fz_in *in, int min_ranks) {
  int nranks = min_ranks + fz_u8(in) % (9 - min_ranks);
  bootstrap_t *b = bootstrap_alloc(fz_u8(in) % nranks, nranks, 1000, fz_comm_key);
  if (!b) return NULL;
  for (int r = 0; r < nranks; r++)
    for (int i = 0; i < WEFT_NONCE_BYTES; i++) b->peers[r].nonce[i] = (uint8_t)(r * 31 + i);
  return b;
}

static void rank_free(bootstrap_t *b) {
  b->listen_fd = -1; /* the harness's sockets */
  for (int k = 0; k < WEFT_BOOT_LINKS; k++) b->up_fd[k] = b->down_fd[k] = -1;
  weft_bootstrap_close(b);
}

/* The ranks' own entries as the allgather would bring them (rank j's at j,
 * this rank's its hello's), maybe one changed; gather_table's take_table
 * must take them iff each is usable and every entry the root sent
 * (ents) is the one its rank sent. */
static void run_gathered(fz_in *in, bootstrap_t *b, uint8_t how, const weft_rank_info *table,
                         const weft_rank_info *own, const weft_rank_info *ents, int count) {
  int n = b->nranks;
  weft_rank_info *t = malloc(sizeof *t * (size_t)n);
  if (!t) return;
  memcpy(t, table, sizeof *t * (size_t)n);
  t[b->rank] = *own;
  if (how & 128) { /* a rank that sent an entry other than the root's */
    int j = fz_u8(in) % n;
    t[j].pid ^= 1 + fz_u8(in) % 255;
  }
  int ok = 1;
  for (int r = 0; r < n; r++) {
    t[r].host[sizeof t[r].host - 1] = 0; /* as the check does, so the copies compare */
    ok &= t[r].rank == r && (t[r].addr.sa.sa_family == AF_INET || t[r].addr.sa.sa_family == AF_INET6);
  }
  for (int i = 0; i < count; i++) {
    weft_rank_info e;
    memcpy(&e, &ents[i], sizeof e);
    e.host[sizeof e.host - 1] = 0;
    ok &= memcmp(&e, &t[weft_boot_entry_rank(b->rank, n, i)], sizeof e) == 0;
  }
  char err[WEFT_SOCK_ERRLEN];
  weftResult_t res = take_table(b, t, err);
  if (res == weftSuccess && !ok) abort(); /* a table that disagrees with the root was taken */
  if (res != weftSuccess && ok) abort();  /* a consistent table was refused */
  if (res != weftSuccess) free(t);
  for (int r = 0; res == weftSuccess && r < n; r++)
    if (b->peers != t || b->peers[r].rank != r) abort();
}

/* The root's answer to this rank's hello: the reply, then the entries of
 * the rank's link ends (up, down for each link k), made from one entry per
 * rank that the script gives (for the wrong rank, too), maybe one of them
 * changed before the MAC (copies of one rank's entry that disagree). */
static void run_answer(fz_in *in) {
  bootstrap_t *b = rank_from_input(in, 1);
  if (!b) return;
  uint8_t how = fz_u8(in);
  int n = b->nranks, count = weft_boot_link_entries(n);
  boot_hello h;
  memset(&h, 0, sizeof h);
  h.magic = WEFT_ID_MAGIC;
  h.rank = b->rank;
  h.nranks = n;
  h.info.rank = b->rank;
  h.info.addr.sa.sa_family = AF_INET;
  fz_fill(in, h.info.nonce, 4);
  boot_challenge ch = {WEFT_ID_MAGIC, {0}};
  fz_fill(in, ch.nonce, 4);
  /* the reply and the entries, as a root with the key would send them */
  boot_reply rep;
  memset(&rep, 0, sizeof rep);
  weft_rank_info ents[2 * WEFT_BOOT_LINKS];
  memset(ents, 0, sizeof ents);
  size_t elen = sizeof *ents * (size_t)count;
  weft_rank_info *table = calloc((size_t)n, sizeof *table);
  if (!table) goto out;
  int forged = 0;
  if (how & 1) {
    fz_fill(in, &rep, sizeof rep);
    fz_fill(in, ents, elen < 512 ? elen : 512);
    forged = 1;
  } else {
    rep.magic = how & 2 ? fz_u32(in) : WEFT_ID_MAGIC;
    rep.status = how & 4 ? (int32_t)fz_u32(in) : fz_u8(in) % 6;
    rep.nranks = how & 8 ? (int32_t)fz_u32(in) : n;
    size_t len = fz_u16(in) % (sizeof rep.reason + 1); /* a reason filling its field without a NUL, too */
    memset(rep.reason, 'a' + fz_u8(in) % 26, len);
    for (int r = 0; r < n; r++) {
      uint8_t e = fz_u8(in);
      table[r].rank = e & 1 ? (int32_t)fz_u32(in) : r;
      table[r].addr.sa.sa_family = e & 2 ? fz_u16(in) : (e & 4 ? AF_INET6 : AF_INET);
      memset(table[r].host, 'h', e & 8 ? sizeof table[r].host : 8);
      table[r].pid = (int32_t)fz_u32(in);
    }
    for (int i = 0; i < count; i++) ents[i] = table[weft_boot_entry_rank(b->rank, n, i)];
    if (how & 64 && count > 0) { /* one entry other than its rank's: the pid or the rank it names */
      int i = fz_u8(in) % count;
      if (fz_u8(in) & 1) ents[i].rank = (int32_t)fz_u32(in);
      else ents[i].pid ^= 1 + fz_u8(in) % 255;
    }
    int ok = rep.status == BOOT_OK;
    if (weft_boot_reply_mac(b->key, ch.nonce, h.info.nonce, &rep, ok ? ents : NULL, ok ? count : 0, rep.mac) != 0)
      goto out;
    if (how & 16) { /* changed on the way: reply or entries */
      size_t at = fz_u16(in) % (sizeof rep + elen);
      uint8_t x = 1 + fz_u8(in) % 255;
      if (at < sizeof rep) ((uint8_t *)&rep)[at] ^= x;
      else ((uint8_t *)ents)[at - sizeof rep] ^= x;
      forged = at < sizeof rep || ok; /* a refusal comes without entries */
    }
  }
  int sv[2];
  if (fz_socketpair(sv) != 0) goto out;
  size_t cut = how & 32 ? fz_u16(in) % (sizeof rep + elen) : sizeof rep + elen;
  fz_write_some(sv[1], &rep, cut < sizeof rep ? cut : sizeof rep);
  if (cut > sizeof rep) fz_write_some(sv[1], ents, cut - sizeof rep);
  shutdown(sv[1], SHUT_WR); /* no more: a short answer fails at once */
  char err[WEFT_SOCK_ERRLEN];
  weftResult_t res = join_root(b, sv[0], &h, &ch, "fuzz root", 1000, err);
  close(sv[0]);
  close(sv[1]);
  if (forged && res != weftRemoteError && res != weftSystemError) abort(); /* a forged answer was believed */
  int good = !forged && cut == sizeof rep + elen && rep.magic == WEFT_ID_MAGIC && rep.status == BOOT_OK &&
             rep.nranks == n;
  for (int i = 0; good && i < count; i++) { /* each names its rank; copies of one rank's entry agree */
    int want = weft_boot_entry_rank(b->rank, n, i);
    good = ents[i].rank == want && (ents[i].addr.sa.sa_family == AF_INET || ents[i].addr.sa.sa_family == AF_INET6);
    for (int j = 0; good && j < i; j++)
      good = weft_boot_entry_rank(b->rank, n, j) != want || memcmp(&ents[j], &ents[i], sizeof ents[i]) == 0;
  }
  if (good && res != weftSuccess) abort(); /* a genuine answer was refused */
  if (res != weftSuccess) goto out;
  /* taken: this rank's own entry is its hello's; each link end's names its
   * rank, terminated, and is the one the root sent */
  if (memcmp(&b->peers[b->rank], &h.info, sizeof h.info) != 0) abort();
  for (int i = 0; i < count; i++) {
    int want = weft_boot_entry_rank(b->rank, n, i);
    const weft_rank_info *p = &b->peers[want];
    if (p->rank != want || p->pid != ents[i].pid || !memchr(p->host, 0, sizeof p->host)) abort();
  }
  run_gathered(in, b, how, table, &h.info, ents, count);
out:
  free(table);
  rank_free(b);
}

/* Connections on the listener that claim to be the ring predecessor. */
static void run_ring_hello(fz_in *in) {
  bootstrap_t *b = rank_from_input(in, 2);
  if (!b) return;
  uint8_t how = fz_u8(in);
  uint32_t magic = how & 1 ? 0x51de0000u | fz_u8(in) : WEFT_ID_MAGIC; /* the bootstrap ring, or a side ring */
  int prev = (b->rank + b->nranks - 1) % b->nranks;
  int nconn = 1 + how / 2 % 4, genuine = 0, fds[4];
  for (int i = 0; i < nconn; i++) {
    uint8_t what = fz_u8(in);
    boot_ring_hello h;
    if (what & 1) {
      fz_fill(in, &h, sizeof h);
    } else {
      h.magic = what & 2 ? fz_u32(in) : magic;
      h.rank = what & 4 ? (int32_t)fz_u32(in) : fz_u8(in) % b->nranks;
      int from = h.rank >= 0 && h.rank < b->nranks ? h.rank : prev;
      /* the MAC a rank `from` makes: over its own and this rank's nonces */
      weft_boot_ring_mac(b->key, ring_mac_rank(h.magic, h.rank), b->peers[from].nonce,
                         b->peers[what & 8 ? from : b->rank].nonce, h.mac);
    }
    size_t cut = what & 16 ? fz_u8(in) % sizeof h : sizeof h;
    if (!(what & 1) && h.magic == magic && h.rank == prev && !(what & 8) && cut == sizeof h) genuine = 1;
    fds[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fds[i] >= 0 && connect(fds[i], (struct sockaddr *)&fz_listen_addr, fz_listen_len) == 0) {
      fz_write_some(fds[i], &h, cut);
      if (what & 32) shutdown(fds[i], SHUT_WR);
    }
  }
  b->listen_fd = fz_listen_fd;
  int prev_fd = -1;
  char err[WEFT_SOCK_ERRLEN];
  /* a deadline already passed: one look at what came, then the answer */
  int rc = accept_prev(b, magic, prev, weft_now_ms() - 1, &prev_fd, err);
  if (rc == 0 && !genuine) abort(); /* a ring link from a peer that did not prove the key */
  if (rc != 0 && genuine) abort();  /* the genuine predecessor was refused */
  if (rc == 0) close(prev_fd);
  for (int i = 0; i < nconn; i++)
    if (fds[i] >= 0) close(fds[i]);
  /* connections accept_prev did not see (none should be left) */
  int fd;
  while ((fd = accept4(fz_listen_fd, NULL, NULL, SOCK_NONBLOCK)) >= 0) close(fd);
  rank_free(b);
}

/* Connections on the listener while the rank accepts all its bootstrap
 * links at once (accept_links: link k from rank - 2^k): genuine hellos for
 * any of them in any order, duplicates, hellos for the wrong link, rank or
 * ring, forged, cut. The links are taken iff every one had a genuine hello. */
static void run_link_hellos(fz_in *in) {
  bootstrap_t *b = rank_from_input(in, 2);
  if (!b) return;
  int n = b->nranks, nl = 0;
  while ((1 << nl) < n) nl++;
  uint32_t magic[WEFT_BOOT_LINKS];
  int from[WEFT_BOOT_LINKS], got[WEFT_BOOT_LINKS] = {0}, links[WEFT_BOOT_LINKS], fds[6];
  for (int k = 0; k < nl; k++) magic[k] = link_magic(k), from[k] = (b->rank - (1 << k) + n) % n;
  int nconn = 1 + fz_u8(in) % 6;
  for (int i = 0; i < nconn; i++) {
    uint8_t what = fz_u8(in);
    int j = fz_u8(in) % nl;
    boot_ring_hello h;
    h.magic = what & 2 ? (fz_u8(in) & 1 ? link_magic(fz_u8(in) % 4) : fz_u32(in)) : magic[j];
    h.rank = what & 4 ? (int32_t)(fz_u8(in) % (n + 1)) - (fz_u8(in) & 1) : from[j];
    int sender = h.rank >= 0 && h.rank < n ? h.rank : from[j];
    weft_boot_ring_mac(b->key, ring_mac_rank(h.magic, h.rank), b->peers[sender].nonce,
                       b->peers[what & 8 ? sender : b->rank].nonce, h.mac);
    if (what & 1) fz_fill(in, &h, sizeof h);
    size_t cut = what & 16 ? fz_u8(in) % sizeof h : sizeof h;
    if (!(what & 1) && !(what & 8) && cut == sizeof h)
      for (int k = 0; k < nl; k++) /* genuine for whichever link it names */
        if (h.magic == magic[k] && h.rank == from[k]) got[k] = 1;
    fds[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fds[i] >= 0 && connect(fds[i], (struct sockaddr *)&fz_listen_addr, fz_listen_len) == 0) {
      fz_write_some(fds[i], &h, cut);
      if (what & 32) shutdown(fds[i], SHUT_WR);
    }
  }
  int all = 1;
  for (int k = 0; k < nl; k++) all &= got[k];
  b->listen_fd = fz_listen_fd;
  char err[WEFT_SOCK_ERRLEN];
  /* a deadline already passed: one look at what came, then the answer */
  int rc = accept_links(b, magic, from, nl, weft_now_ms() - 1, links, err);
  if (rc == 0 && !all) abort(); /* a link from a peer that did not prove the key */
  if (rc != 0 && all) abort();  /* a genuine link was refused */
  for (int k = 0; rc == 0 && k < nl; k++) close(links[k]);
  for (int i = 0; i < nconn; i++)
    if (fds[i] >= 0) close(fds[i]);
  int fd;
  while ((fd = accept4(fz_listen_fd, NULL, NULL, SOCK_NONBLOCK)) >= 0) close(fd);
  rank_free(b);
}

/* An allgather's steps from below: step k brings m slots over link k, from
 * rank - 2^k (Bruck's algorithm, bootstrap.c). */
static void run_ring_data(fz_in *in) {
  bootstrap_t *b = rank_from_input(in, 2);
  if (!b) return;
  uint8_t how = fz_u8(in);
  size_t size = 1 + fz_u16(in) % 1024;
  int n = b->nranks, r = b->rank, nl = 0;
  while ((1 << nl) < n) nl++;
  char *data = calloc((size_t)n, size), *sent = malloc((size_t)n * size + (size_t)nl * WEFT_MAC_BYTES);
  int sv[2];
  if (!data || !sent || fz_socketpair(sv) != 0) goto out;
  /* each step: m slots of rank - 2^k, then their MAC */
  size_t len = 0;
  int forged = 0;
  for (int k = 0, held = 1; held < n; k++) {
    int m = held < n - held ? held : n - held, from = (r - held + n) % n;
    size_t bytes = (size_t)m * size;
    uint8_t what = fz_u8(in);
    char *d = sent + len;
    memset(d, 'A' + k, bytes);
    fz_fill(in, d, bytes < 8 ? bytes : 8);
    if (what & 1) {
      fz_fill(in, d + bytes, WEFT_MAC_BYTES);
      forged = 1;
    } else {
      uint64_t count = what & 2 ? (uint64_t)(1 + fz_u8(in)) : 0; /* replayed or out of order */
      int link = what & 16 ? (k + 1) % WEFT_BOOT_LINKS : k;       /* moved from another link */
      link_data_mac(b, what & 4 ? r : from, link, count, d, bytes, (uint8_t *)d + bytes);
      if (what & 22) forged = 1;
      if (what & 8) { /* changed on the way */
        d[fz_u16(in) % (bytes + WEFT_MAC_BYTES)] ^= (char)(1 + fz_u8(in) % 255);
        forged = 1;
      }
    }
    len += bytes + WEFT_MAC_BYTES;
    held += m;
  }
  size_t cut = how & 1 ? fz_u16(in) % len : len;
  fz_write_some(sv[1], sent, cut);
  shutdown(sv[1], SHUT_WR);
  for (int k = 0; k < nl; k++) b->up_fd[k] = b->down_fd[k] = sv[0]; /* sends go to the harness's end too */
  b->nlinks = nl;
  char err[WEFT_SOCK_ERRLEN];
  weftResult_t res = weft_bootstrap_allgather(b, data, size, err);
  if (res == weftSuccess && (forged || cut < len)) abort(); /* data that does not prove the key was taken */
  if (res != weftSuccess && !forged && cut == len) abort();  /* genuine data was refused */
  if (res == weftSuccess) {
    size_t at = 0;
    for (int k = 0, held = 1; held < n; k++) { /* step k filled the m slots ending at rank - 2^k */
      int m = held < n - held ? held : n - held;
      for (int i = 0; i < m; i++)
        if (memcmp(data + (size_t)((r - held - m + 1 + i + 2 * n) % n) * size, sent + at + (size_t)i * size, size) != 0)
          abort();
      at += (size_t)m * size + WEFT_MAC_BYTES;
      held += m;
    }
  }
  close(sv[0]);
  close(sv[1]);
out:
  free(data);
  free(sent);
  rank_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_in in = {data, size};
  switch (fz_u8(&in) % 4) {
    case 0: run_answer(&in); break;
    case 1: run_ring_hello(&in); break;
    case 2: run_ring_data(&in); break;
    case 3: run_link_hellos(&in); break;
  }
  return 0;
}
