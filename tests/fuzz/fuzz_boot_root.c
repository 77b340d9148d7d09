/* The bootstrap root against hostile joiners: the hellos it reads from
 * connections (sealed with the job's bootstrap key over the challenge the
 * root sent, or forged), filed one after another into the root's state
 * (admit), then its reports on who is missing and its timeout answer to
 * every waiting rank, or, once all have joined, its answers (each rank's
 * link entries). root.c is compiled into this harness (its functions
 * are static) and driven as it is, unchanged. A forged hello changes
 * nothing; a rank filed is the rank its entry names; no read or write out
 * of bounds, whatever ranks and numbers of ranks the hellos claim; an
 * answer carries exactly the entries of the rank's link ends. The
 * input is the script: a byte saying how, then the hello's fields. */
#include "bootstrap/root.c"

#include "fuzz_input.h"

#define MAXHELLO 24

static const uint8_t fz_key[WEFT_KEY_BYTES] = {9, 9, 8, 8, 7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2,
                                               1, 1, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  setenv("WEFT_DEBUG", "NONE", 1);
  return 0;
}

/* One hello as a joiner sends it: genuine (the MAC over the challenge) or forged. */
static void hello_from_input(fz_in *in, pending_conn *c, int *forged) {
  uint8_t how = fz_u8(in);
  boot_hello *h = &c->h;
  memset(h, 0, sizeof *h);
  for (int i = 0; i < WEFT_NONCE_BYTES; i++) c->chal[i] = (uint8_t)(i * 7 + how);
  if (how & 1) { /* forged: any bytes */
    fz_fill(in, h, sizeof *h);
    *forged = 1;
    return;
  }
  h->magic = how & 2 ? fz_u32(in) : WEFT_ID_MAGIC;
  h->rank = how & 4 ? (int32_t)fz_u32(in) : fz_u8(in) % 8;
  h->nranks = how & 8 ? (int32_t)fz_u32(in) : 1 + fz_u8(in) % 8;
  h->info.pid = (int32_t)fz_u32(in);
  h->info.rank = (int32_t)fz_u32(in);
  h->info.addr.sa.sa_family = fz_u16(in);
  /* the host name: any bytes, possibly filling its field without a NUL */
  size_t n = fz_u8(in) % (sizeof h->info.host + 1);
  uint8_t fill = fz_u8(in);
  memset(h->info.host, fill, n);
  fz_fill(in, h->info.nonce, 4);
  *forged = weft_boot_hello_mac(fz_key, c->chal, h, h->mac) != 0;
  if (how & 16) { /* changed on the way */
    ((uint8_t *)h)[fz_u8(in) % sizeof *h] ^= 1 + fz_u8(in) % 255;
    *forged = 1;
  }
}

/* Once every rank has joined: the answers (answer_all) on the harness's
 * end, one per rank in order, each proving the key over the challenge that
 * rank answered and its nonce, with exactly the entries of its link ends,
 * as the root filed them. */
static void check_answers(int fd, const root_state *st, const root_args *a) {
  int count = weft_boot_link_entries(st->n);
  for (int r = 0; r < st->n; r++) {
    boot_reply rep;
    weft_rank_info ents[2 * WEFT_BOOT_LINKS];
    size_t elen = sizeof *ents * (size_t)count;
    uint8_t mac[WEFT_MAC_BYTES];
    if (recv(fd, &rep, sizeof rep, MSG_DONTWAIT | MSG_WAITALL) != (ssize_t)sizeof rep) abort();
    if (elen && recv(fd, ents, elen, MSG_DONTWAIT | MSG_WAITALL) != (ssize_t)elen) abort();
    if (rep.status != BOOT_OK || rep.nranks != st->n ||
        weft_boot_reply_mac(a->key, st->chal[r], st->table[r].nonce, &rep, ents, count, mac) != 0 ||
        !weft_bytes_equal(mac, rep.mac, sizeof mac))
      abort();
    for (int i = 0; i < count; i++) {
      int want = weft_boot_entry_rank(r, st->n, i);
      if (ents[i].rank != want || memcmp(&ents[i], &st->table[want], sizeof ents[i]) != 0) abort();
    }
  }
  char extra;
  if (recv(fd, &extra, 1, MSG_DONTWAIT) > 0) abort(); /* nothing more: no rank gets the whole table */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_in in = {data, size};
  int sv[2];
  if (fz_pair_get(sv) != 0) return 0;
  root_args a;
  memset(&a, 0, sizeof a);
  a.lfd = -1;
  memcpy(a.key, fz_key, sizeof a.key);
  a.timeout_ms = 1000 + fz_u16(&in);
  root_state st;
  memset(&st, 0, sizeof st);
  st.n = -1;
  uint8_t finish = fz_u8(&in);
  for (int i = 0; i < MAXHELLO && fz_more(&in); i++) {
    pending_conn c;
    memset(&c, 0, sizeof c);
    int forged = 0;
    hello_from_input(&in, &c, &forged);
    c.got = sizeof c.h;
    snprintf(c.peer, sizeof c.peer, "fuzz peer %d", i);
    c.fd = dup(sv[0]); /* replies go to the harness's end; admit closes or keeps it */
    if (c.fd < 0) break;
    root_state before = st;
    admit(&st, &a, &c);
    fz_drain(sv[1]);
    if (forged && (st.n != before.n || st.joined != before.joined || strcmp(st.failed, before.failed) != 0))
      abort(); /* a hello without the key changed the root's state */
    if (!forged && st.joined > before.joined) {
      const weft_rank_info *e = &st.table[c.h.rank];
      if (e->rank != c.h.rank || memchr(e->host, 0, sizeof e->host) == NULL) abort(); /* an entry unchecked */
    }
  }
  /* the root's reports, its list of missing ranks (into buffers of any
   * size) and its timeout answer to every rank still waiting */
  if (finish & 1) report_progress(&st, 5000);
  char miss[256];
  size_t len = 1 + finish % sizeof miss;
  if (st.n >= 0) {
    missing_ranks(&st, miss, len);
    if (strnlen(miss, len) == len) abort(); /* not terminated within its buffer */
  }
  if (st.n > 0 && st.joined == st.n && !st.failed[0] && !(finish & 2)) {
    answer_all(&st, &a);
    check_answers(sv[1], &st, &a);
  }
  if (finish & 2) timed_out(&st, &a);
  fz_drain(sv[1]);
  root_state_free(&st);
  return 0;
}
