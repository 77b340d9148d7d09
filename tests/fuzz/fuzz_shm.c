/* The shm transport against a hostile local peer: everything it reads from
 * the other process, which shares the ring's memory and may write any of it
 * at any time. The transport's source is compiled into this harness (its
 * functions are static) and driven as it is, unchanged:
 *  - accept: the hello and the ring's memfd over a Unix socket (a hello
 *    sealed with the job key, or forged; any ring size; a memfd of any size,
 *    sealed or not), then the connection it makes, as below;
 *  - receiver: a ring whose counters (head), frames (tag, size, sender
 *    address, CMA flag) and any other word the peer writes as the script
 *    says, against receives of any size: every index read from the ring is
 *    checked, a bad one is an error, never an access out of the ring or
 *    past a posted buffer (the ring is heap memory here, so ASan sees one);
 *  - sender: a ring whose tail, acknowledgements and flags the peer writes.
 * The first byte picks the case; the rest is the script. */
#include "shm/shm.c"

#include "fuzz_input.h"

#define MAXREQ 16
#define MAXOPS 200

static shm_ctx fz_ctx;
static const weftNetKey_t fz_key = {{7, 1, 7, 2, 7, 3, 7, 4, 7, 5, 7, 6, 7, 7, 7, 8,
                                     7, 9, 7, 10, 7, 11, 7, 12, 7, 13, 7, 14, 7, 15, 7, 16}};
static weft_net_listen fz_listen;
static char fz_handle[WEFT_NET_HANDLE_BYTES];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  setenv("WEFT_DEBUG", "NONE", 1);
  weft_net_ctx_init(&fz_ctx.base, "shm", &(weftNetInitArgs_t){0});
  fz_ctx.ring_bytes = 4096;
  fz_ctx.cma_threshold = 256;
  fz_ctx.cma_enabled = 1;
  if (weft_net_listen_init(&fz_listen, &fz_ctx.base, &fz_key) != 0) abort();
  shm_handle h = {SHM_MAGIC, "fuzz"};
  weft_net_handle_put(fz_handle, &h, sizeof h, &fz_listen);
  return 0;
}

/* The hostile peer's side of a ring: it writes where it likes. */
typedef struct {
  shm_ep *e;
  uint64_t spos; /* where an honest peer would write next */
  uint64_t size;
} peer;

/* n bytes (n <= size) from src, or of value fill when src is NULL, at spos, wrapping. */
static void peer_put(peer *p, const void *src, size_t n, int fill) {
  size_t at = (size_t)(p->spos & (p->size - 1)), first = n < p->size - at ? n : (size_t)(p->size - at);
  if (src) {
    memcpy(p->e->data + at, src, first);
    memcpy(p->e->data, (const char *)src + first, n - first);
  } else {
    memset(p->e->data + at, fill, first);
    memset(p->e->data, fill, n - first);
  }
  p->spos += n;
}

/* A word of the shared header (any of its 8-byte slots) set to v. */
static void scribble(shm_ep *e, unsigned slot, uint64_t v) {
  slot %= (unsigned)(sizeof(shm_ring) / 8);
  memcpy((char *)e->ring + 8 * slot, &v, 8);
}

/* Closes e (and its requests), leaving its ring's memory and, for an
 * endpoint on the kept socket pair, its socket to the harness. */
static int fz_kept_sock = -1;
static void close_ep(shm_ep *e) {
  e->ring = NULL;
  if (e->sock == fz_kept_sock) e->sock = -1;
  shm_close_ep(e);
}

/* Tests request i; a completed one reports at most its posted size. */
static void test_one(posted *q, int i) {
  if (!q[i].req || q[i].done) return;
  int done = 0;
  size_t size = 0;
  uint64_t tag = 0;
  shm_test(q[i].req, &done, &size, &tag);
  if (done) {
    if (size > q[i].size) abort(); /* more than the receive can hold */
    q[i].done = 1;
  }
}

/* Receiver: the peer writes frames, bytes and counters; we post, test and poll. */
static void run_receiver(shm_ep *e, fz_in *in) {
  peer p = {e, 0, e->size};
  posted q[MAXREQ] = {{0}};
  int nq = 0;
  for (int op = 0; op < MAXOPS && fz_more(in); op++) {
    switch (fz_u8(in) % 9) {
      case 0: { /* post a receive of up to 4 ring sizes */
        if (nq == MAXREQ) break;
        size_t n = fz_u16(in) % (4 * e->size + 1);
        q[nq].buf = malloc(n ? n : 1);
        q[nq].size = n;
        if (shm_irecv(e, q[nq].buf, n, 0, NULL, &q[nq].req) != weftSuccess) q[nq].req = NULL;
        nq++;
        break;
      }
      case 1: { /* a frame, where an honest sender would put it */
        shm_frame f;
        f.tag = fz_u8(in);
        uint8_t how = fz_u8(in);
        f.size = how & 1 ? fz_u64(in) : fz_u16(in);
        f.addr = how & 2 ? fz_u64(in) : (uint64_t)(uintptr_t)&probe_value;
        f.cma = how & 4 ? fz_u64(in) : 0;
        p.spos += frame_pad(p.spos);
        peer_put(&p, &f, sizeof f, 0);
        break;
      }
      case 2: { /* payload bytes */
        size_t n = fz_u16(in) % (p.size + 1);
        peer_put(&p, NULL, n, fz_u8(in));
        break;
      }
      case 3: /* publish what was written */
        atomic_store(&e->ring->head, p.spos);
        break;
      case 4: /* any head at all */
        atomic_store(&e->ring->head, fz_u64(in));
        break;
      case 5: { /* a head near ours, either side, wrapping */
        int64_t d = (int8_t)fz_u8(in) * (int64_t)(p.size / 16);
        atomic_store(&e->ring->head, e->pos + (uint64_t)d);
        break;
      }
      case 6: {
        unsigned slot = fz_u8(in);
        scribble(e, slot, fz_u64(in));
        break;
      }
      case 7:
        if (nq) test_one(q, fz_u8(in) % nq);
        break;
      case 8: {
        short ev;
        shm_poll_fd(e, &ev);
        break;
      }
    }
  }
  for (int i = 0; i < nq; i++) test_one(q, i);
  close_ep(e);
  for (int i = 0; i < nq; i++) free(q[i].buf);
}

/* Sender: the peer writes the tail, the acknowledgements and its flags. */
static void run_sender(shm_ep *e, fz_in *in) {
  posted q[MAXREQ] = {{0}};
  int nq = 0;
  for (int op = 0; op < MAXOPS && fz_more(in); op++) {
    switch (fz_u8(in) % 7) {
      case 0: { /* a send of up to 4 ring sizes */
        if (nq == MAXREQ) break;
        size_t n = fz_u16(in) % (4 * e->size + 1);
        q[nq].buf = malloc(n ? n : 1);
        memset(q[nq].buf, 0x5a, n);
        q[nq].size = n;
        if (shm_isend(e, q[nq].buf, n, (uint64_t)nq, NULL, &q[nq].req) != weftSuccess) q[nq].req = NULL;
        nq++;
        break;
      }
      case 1: /* the receiver took everything */
        atomic_store(&e->ring->tail, atomic_load(&e->ring->head));
        break;
      case 2:
        atomic_store(&e->ring->tail, fz_u64(in));
        break;
      case 3:
        atomic_store(&e->ring->acked, fz_u64(in));
        break;
      case 4: {
        unsigned slot = fz_u8(in);
        scribble(e, slot, fz_u64(in));
        break;
      }
      case 5:
        if (nq) test_one(q, fz_u8(in) % nq);
        break;
      case 6: {
        short ev;
        shm_poll_fd(e, &ev);
        break;
      }
    }
  }
  for (int i = 0; i < nq; i++) test_one(q, i);
  close_ep(e);
  for (int i = 0; i < nq; i++) free(q[i].buf);
}

/* An endpoint over a ring in heap memory (*mem), its doorbell on the kept
 * socket pair. */
static shm_ep *heap_ep(int type, uint64_t size, void **mem) {
  int sv[2];
  if (fz_pair_get(sv) != 0) return NULL;
  fz_kept_sock = sv[0];
  *mem = aligned_alloc(CACHELINE, RING_OFF + size);
  shm_ep *e = *mem ? ep_new(type, sv[0]) : NULL;
  if (!e) {
    free(*mem);
    return NULL;
  }
  memset(*mem, 0, RING_OFF + size);
  e->ring = *mem;
  e->data = (char *)*mem + RING_OFF;
  e->size = size;
  e->peer_pid = getpid(); /* cross-memory reads go to this process, at the peer's addresses */
  return e;
}

/* The hello, the memfd and the ring's first words as the peer sends them;
 * an endpoint taken goes on as a receiver over the memfd's memory. */
static void run_accept(fz_in *in) {
  uint8_t how = fz_u8(in);
  shm_hello hello;
  uint64_t ring = how & 1 ? fz_u64(in) : (uint64_t)4096 << (fz_u8(in) % 4);
  if (how & 2) { /* forged: any bytes */
    fz_fill(in, &hello, sizeof hello);
  } else { /* a peer with the key: a genuine hello of any ring size, flags, connection */
    hello.ring_bytes = ring;
    uint64_t conn = fz_u64(in);
    uint32_t flags = how & 4 ? fz_u32(in) : 0;
    if (weft_net_hello_seal(&hello, sizeof hello, how & 8 ? fz_u64(in) : SHM_MAGIC, &fz_key, fz_handle, conn, flags) != 0)
      return;
  }
  /* the memfd: the size the hello implies, or another; sealed, or not */
  uint64_t len = RING_OFF + (ring <= ((uint64_t)1 << 30) ? ring : 4096);
  if (how & 16) len = fz_u32(in) % (RING_OFF + ((uint64_t)1 << 20));
  int seals = how & 32 ? fz_u8(in) & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) : F_SEAL_SHRINK | F_SEAL_GROW;
  int mfd = memfd_create("fuzz-ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (mfd < 0) return;
  /* the ring header the receiver reads at once (its CMA probe) */
  shm_ring head;
  memset(&head, 0, sizeof head);
  head.probe_addr = how & 64 ? fz_u64(in) : (uint64_t)(uintptr_t)&probe_value;
  head.probe_value = probe_value;
  if (ftruncate(mfd, (off_t)len) != 0 ||
      ((size_t)len >= sizeof head && pwrite(mfd, &head, sizeof head, 0) != (ssize_t)sizeof head) ||
      (seals && fcntl(mfd, F_ADD_SEALS, seals) != 0)) {
    close(mfd);
    return;
  }
  int sv[2];
  if (fz_socketpair(sv) != 0) {
    close(mfd);
    return;
  }
  char err[WEFT_SOCK_ERRLEN];
  size_t cut = how & 128 ? fz_u8(in) % sizeof hello : sizeof hello; /* a short hello, then the end */
  if (cut && weft_unix_send_fd(sv[1], &hello, cut, mfd, 2000, err) != 0) cut = 0;
  close(mfd);
  close(sv[1]); /* the peer says no more: a short hello fails at once */
  void *ep = NULL;
  uint64_t conn_id;
  uint32_t flags;
  weftResult_t res = weftSuccess;
  memset(fz_listen.seen, 0, sizeof fz_listen.seen); /* every input starts afresh */
  fz_listen.nseen = 0;
  weft_net_verdict v = shm_take(&fz_listen, sv[0], 1000, &ep, &conn_id, &flags, &res);
  if (v != WEFT_NET_TAKEN) {
    close(sv[0]);
    return;
  }
  if (how & 2) abort(); /* a forged hello opened a connection */
  shm_ep *e = ep;
  if (e->size < 4096 || e->size > ((uint64_t)1 << 30) || (e->size & (e->size - 1))) abort(); /* unchecked ring */
  /* the peer goes on through the shared memory */
  void *map = e->ring;
  size_t map_len = e->map_len;
  run_receiver(e, in); /* it leaves the mapping to us */
  munmap(map, map_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_in in = {data, size};
  uint8_t what = fz_u8(&in);
  if (what % 3 == 0) {
    run_accept(&in);
    return 0;
  }
  uint64_t ring = (uint64_t)4096 << (what / 3 % 3);
  void *mem;
  shm_ep *e = heap_ep(what % 3 == 1 ? WEFT_NET_OBJ_RECV : WEFT_NET_OBJ_SEND, ring, &mem);
  if (!e) return 0;
  if (what % 3 == 1) {
    run_receiver(e, &in);
  } else {
    e->cma_threshold = what & 0x80 ? 1024 : UINT64_MAX;
    run_sender(e, &in);
  }
  free(mem);
  return 0;
}
