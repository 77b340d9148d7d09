/* Unique ids, address parsing, call signatures, the tuner's
 * choices, and the bootstrap itself (ranks as threads of this process). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bootstrap/bootstrap.h"
#include "coll/sig.h"
#include "comm/comm.h"
#include "util/sock.h"
#include "time_scale.h"
#include "tune/tune.h"
#include "weft.h"

static void test_unique_id_text(void **state) {
  (void)state;
  weftUniqueId id, back;
  assert_int_equal(weftGetUniqueId(&id), weftSuccess);
  char text[2 * WEFT_UNIQUE_ID_BYTES + 1];
  assert_int_equal(weftUniqueIdToString(&id, text, sizeof text), weftSuccess);
  assert_int_equal(strlen(text), 2 * WEFT_UNIQUE_ID_BYTES);
  assert_int_equal(weftUniqueIdFromString(&back, text), weftSuccess);
  assert_memory_equal(&id, &back, sizeof id);
  assert_int_equal(weftUniqueIdToString(&id, text, 10), weftInvalidArgument);
  assert_int_equal(weftUniqueIdFromString(&back, "abc"), weftInvalidArgument);
  text[7] = 'x';
  assert_int_equal(weftUniqueIdFromString(&back, text), weftInvalidArgument);
  memset(text, '0', 2 * WEFT_UNIQUE_ID_BYTES);
  assert_int_equal(weftUniqueIdFromString(&back, text), weftInvalidArgument); /* no magic */
  assert_true(strlen(weftGetLastError(NULL)) > 0);
  /* two ids never share a secret */
  weftUniqueId id2;
  assert_int_equal(weftGetUniqueId(&id2), weftSuccess);
  weft_id_internal a, b;
  memcpy(&a, id.internal, sizeof a);
  memcpy(&b, id2.internal, sizeof b);
  assert_memory_not_equal(a.secret, b.secret, sizeof a.secret);
}

static void test_sockaddr_parse(void **state) {
  (void)state;
  weft_sockaddr a;
  char err[WEFT_SOCK_ERRLEN], buf[80];
  assert_int_equal(weft_sockaddr_parse("127.0.0.1:1234", &a, err), 0);
  weft_sockaddr_str(&a, buf, sizeof buf);
  assert_string_equal(buf, "127.0.0.1:1234");
  assert_true(weft_sockaddr_is_loopback(&a));
  assert_int_equal(weft_sockaddr_parse("[::1]:80", &a, err), 0);
  assert_int_equal(weft_sockaddr_port(&a), 80);
  assert_int_equal(weft_sockaddr_parse("127.0.0.1", &a, err), -1);
  assert_int_equal(weft_sockaddr_parse("127.0.0.1:99999", &a, err), -1);
  assert_int_equal(weft_sockaddr_parse(":80", &a, err), -1);
  assert_int_equal(weft_sockaddr_parse("no-such-host.invalid:80", &a, err), -1);
  assert_non_null(strstr(err, "no-such-host.invalid"));
}

/* WEFT_SOCKET_IFNAME as NCCL reads NCCL_SOCKET_IFNAME. */
static void test_ifname(void **state) {
  (void)state;
  assert_true(weft_ifname_matches("eth", "eth0"));
  assert_false(weft_ifname_matches("eth", "ib0"));
  assert_true(weft_ifname_matches("eth,ib", "ib0"));
  assert_true(weft_ifname_matches("=eth0", "eth0"));
  assert_false(weft_ifname_matches("=eth0", "eth01"));
  assert_false(weft_ifname_matches("^lo", "lo")); /* ^ excludes, as in NCCL */
  assert_true(weft_ifname_matches("^lo", "eth0"));
  assert_false(weft_ifname_matches("^lo,docker", "docker0"));
  assert_true(weft_ifname_matches("^=eth1", "eth10"));
  assert_false(weft_ifname_matches("^=eth1", "eth1"));
}

static void test_signature(void **state) {
  (void)state;
  weft_call a = {.kind = COLL_ALLREDUCE, .count = 1024, .dt = weftFloat, .op = weftSum};
  weft_call b = a;
  char why[400];
  assert_int_equal(weft_sig_tag(&a, 5), weft_sig_tag(&b, 5));
  b.count = 2048;
  weft_sig_explain(weft_sig_tag(&a, 5), weft_sig_tag(&b, 5), a.count, b.count, why, sizeof why);
  assert_non_null(strstr(why, "count differs"));
  /* the counts themselves, not their hashes, where known */
  assert_non_null(strstr(why, "this rank called allreduce(float, sum, count 1024, call #5)"));
  assert_non_null(strstr(why, "the peer called allreduce(float, sum, count 2048, call #5)"));
  weft_sig_explain(weft_sig_tag(&a, 5), weft_sig_tag(&b, 5), a.count, WEFT_SIG_COUNT_UNKNOWN, why, sizeof why);
  assert_non_null(strstr(why, "the peer called allreduce(float, sum, another count, call #5)"));
  assert_null(strstr(why, "#0x"));
  b = a;
  b.op = weftMax;
  weft_sig_explain(weft_sig_tag(&a, 5), weft_sig_tag(&b, 5), a.count, b.count, why, sizeof why);
  assert_non_null(strstr(why, "reduction op differs"));
  b = a;
  b.dt = weftInt32;
  weft_sig_explain(weft_sig_tag(&a, 5), weft_sig_tag(&b, 5), a.count, b.count, why, sizeof why);
  assert_non_null(strstr(why, "datatype differs"));
  b = a;
  b.kind = COLL_BROADCAST;
  weft_sig_explain(weft_sig_tag(&a, 5), weft_sig_tag(&b, 5), a.count, b.count, why, sizeof why);
  assert_non_null(strstr(why, "collective differs"));
  weft_sig_explain(weft_sig_tag(&a, 5), weft_sig_tag(&a, 6), a.count, b.count, why, sizeof why);
  assert_non_null(strstr(why, "call order differs"));
  /* roots only matter for rooted collectives; send and recv agree */
  weft_call r1 = {.kind = COLL_BROADCAST, .count = 8, .dt = weftFloat, .root = 1}, r2 = r1;
  r2.root = 2;
  assert_int_not_equal(weft_sig_tag(&r1, 1), weft_sig_tag(&r2, 1));
  weft_call s = {.kind = COLL_SEND, .count = 8, .dt = weftFloat, .root = 3}, rv = s;
  rv.kind = COLL_RECV;
  rv.root = 0;
  assert_int_equal(weft_sig_tag(&s, 0), weft_sig_tag(&rv, 0));
}

static void test_tuner(void **state) {
  (void)state;
  weft_tuner tune;
  memset(&tune, 0, sizeof tune);
  weft_groups none = {0};
  tune.env.nranks = 4;
  tune.nodes = tune.sites = &none;
  tune.tree_threshold = 64 << 10;
  tune.rooted_threshold = 256 << 10;
  weft_call c = {.kind = COLL_ALLREDUCE, .count = 256, .dt = weftFloat};
  weft_tune(&tune, &c);
  assert_int_equal(c.algo, ALGO_TREE); /* 1 KiB x 3 peers is above the direct threshold of 0 */
  tune.direct_threshold = 16 << 10;
  weft_tune(&tune, &c);
  assert_int_equal(c.algo, ALGO_DIRECT);
  c.count = 1 << 20;
  weft_tune(&tune, &c);
  assert_int_equal(c.algo, ALGO_RING);
  assert_true(c.chunk_bytes >= 64);
  tune.forced = ALGO_TREE;
  weft_tune(&tune, &c);
  assert_int_equal(c.algo, ALGO_TREE);
  c.kind = COLL_ALLGATHER; /* no tree allgather: the override does not apply */
  weft_tune(&tune, &c);
  assert_int_equal(c.algo, ALGO_RING);
  tune.forced = ALGO_RING;
  c.kind = COLL_BROADCAST;
  c.count = 4;
  weft_tune(&tune, &c);
  assert_int_equal(c.algo, ALGO_RING);
  assert_int_equal(weft_algo_parse("Ring"), ALGO_RING);
  assert_int_equal(weft_algo_parse("nonsense"), ALGO_NONE);
}

typedef struct {
  weft_id_internal id;
  int rank, n;
  int ok;
  weft_rank_info *table; /* this rank's b->peers after init */
} boot_arg;

static void *boot_rank(void *p) {
  boot_arg *a = p;
  bootstrap_t *b = NULL;
  char err[WEFT_SOCK_ERRLEN];
  if (weft_bootstrap_init(&a->id, a->rank, a->n, weft_test_ms(20000), &b, err) != weftSuccess) return NULL;
  a->table = malloc(sizeof *a->table * (size_t)a->n);
  if (a->table) memcpy(a->table, b->peers, sizeof *a->table * (size_t)a->n);
  int32_t *vals = calloc((size_t)a->n, sizeof *vals);
  vals[a->rank] = 100 + a->rank;
  int good = weft_bootstrap_allgather(b, vals, sizeof *vals, err) == weftSuccess;
  for (int i = 0; i < a->n; i++) good &= vals[i] == 100 + i && b->peers[i].rank == i;
  good &= weft_bootstrap_barrier(b, err) == weftSuccess;
  /* records of an odd size, every byte its owner's */
  enum { REC = 37 };
  unsigned char *recs = calloc((size_t)a->n, REC);
  for (int j = 0; j < REC; j++) recs[(size_t)a->rank * REC + (size_t)j] = (unsigned char)(a->rank * 7 + j);
  good &= weft_bootstrap_allgather(b, recs, REC, err) == weftSuccess;
  for (int i = 0; i < a->n; i++)
    for (int j = 0; j < REC; j++) good &= recs[(size_t)i * REC + (size_t)j] == (unsigned char)(i * 7 + j);
  /* logarithmic: one link per power of two below n */
  int links = 0;
  while ((1 << links) < a->n) links++;
  good &= b->nlinks == links;
  free(recs);
  free(vals);
  weft_bootstrap_close(b);
  a->ok = good;
  return NULL;
}

/* The root sends each rank only its link ends' entries; the allgather after
 * the links fills the rest: every rank ends with the whole table, the same
 * on all ranks, each entry naming its rank, listener and nonce. */
static void tables_complete_and_equal(const boot_arg *args, int N) {
  for (int i = 0; i < N; i++) {
    const weft_rank_info *t = args[i].table, *t0 = args[0].table;
    assert_non_null(t);
    for (int r = 0; r < N; r++) {
      assert_int_equal(t[r].rank, r);
      assert_int_equal(t[r].pid, getpid());
      assert_true(t[r].addr.sa.sa_family == AF_INET || t[r].addr.sa.sa_family == AF_INET6);
      assert_non_null(memchr(t[r].host, 0, sizeof t[r].host));
      assert_memory_equal(&t[r].addr, &t0[r].addr, sizeof t[r].addr);
      assert_string_equal(t[r].host, t0[r].host);
      assert_true(t[r].host_id == t0[r].host_id);
      assert_memory_equal(t[r].nonce, t0[r].nonce, sizeof t[r].nonce);
      if (r > 0) assert_memory_not_equal(t[r].nonce, t[r - 1].nonce, sizeof t[r].nonce); /* its own listener */
      if (r > 0) assert_int_not_equal(weft_sockaddr_port(&t[r].addr), weft_sockaddr_port(&t[r - 1].addr));
    }
  }
}

/* Ranks join while a stranger with the wrong secret hammers the root. */
static void bootstrap_threads(int N) {
  weftUniqueId uid;
  assert_int_equal(weftGetUniqueId(&uid), weftSuccess);
  boot_arg args[32];
  pthread_t th[32];
  weft_id_internal id;
  memcpy(&id, uid.internal, sizeof id);
  char err[WEFT_SOCK_ERRLEN];
  int fd;
  assert_int_equal(weft_sock_connect(&id.root, weft_test_ms(5000), &fd, err), 0);
  char junk[200];
  memset(junk, 0x5a, sizeof junk);
  assert_int_equal(weft_sock_send_all(fd, junk, sizeof junk, weft_test_ms(5000), err), 0);
  for (int i = 0; i < N; i++) {
    args[i] = (boot_arg){id, i, N, 0, NULL};
    assert_int_equal(pthread_create(&th[i], NULL, boot_rank, &args[i]), 0);
  }
  for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
  close(fd);
  for (int i = 0; i < N; i++) assert_true(args[i].ok);
  tables_complete_and_equal(args, N);
  for (int i = 0; i < N; i++) free(args[i].table);
}

/* Sizes around powers of two: Bruck's last step sends fewer slots. */
static void test_bootstrap_threads(void **state) {
  (void)state;
  static const int sizes[] = {1, 2, 3, 4, 5, 8, 13, 16, 17};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) bootstrap_threads(sizes[i]);
}

/* A rank with a wrong secret never reaches the job's root. */
static void test_bootstrap_wrong_secret(void **state) {
  (void)state;
  weftUniqueId uid;
  assert_int_equal(weftGetUniqueId(&uid), weftSuccess);
  weft_id_internal id;
  memcpy(&id, uid.internal, sizeof id);
  id.secret[0] ^= 1;
  bootstrap_t *b = NULL;
  char err[WEFT_SOCK_ERRLEN];
  /* the root drops us without answering: we give up at our timeout */
  assert_int_not_equal(weft_bootstrap_init(&id, 0, 1, 1500, &b, err), weftSuccess);
  assert_null(b);
}

/* A table handed to weft_bootstrap_from_table comes from the other ranks
 * (split's allgather, shrink's JOINs): an entry whose host name is not
 * terminated, whose address is of no known family or that names another
 * rank is refused, naming the rank, before any link is made. */
static void test_from_table_checks_entries(void **state) {
  (void)state;
  weft_sockaddr toward;
  char err[WEFT_SOCK_ERRLEN];
  assert_int_equal(weft_sockaddr_parse("127.0.0.1:1", &toward, err), 0);
  uint8_t key[32] = {3};
  for (int bad = 0; bad < 3; bad++) {
    weft_rank_info t[2];
    int lfd[2];
    memset(t, 0, sizeof t);
    for (int r = 0; r < 2; r++) {
      assert_int_equal(weft_bootstrap_prepare_listener(&toward, &t[r], &lfd[r], err), 0);
      t[r].rank = r;
    }
    close(lfd[1]);
    if (bad == 0) memset(t[1].host, 'x', sizeof t[1].host);
    if (bad == 1) t[1].addr.sa.sa_family = AF_UNIX;
    if (bad == 2) t[1].rank = 0;
    bootstrap_t *b = NULL;
    weftResult_t r = weft_bootstrap_from_table(lfd[0], t, 0, 2, key, 500, &b, err);
    if (bad == 0) { /* terminated in place: usable, but rank 1 is not there (its listener is closed) */
      assert_int_not_equal(r, weftSuccess);
      continue;
    }
    assert_int_equal(r, weftRemoteError);
    assert_null(b);
    assert_non_null(strstr(err, "corrupt at rank 1"));
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unique_id_text),   cmocka_unit_test(test_sockaddr_parse),
      cmocka_unit_test(test_from_table_checks_entries),
      cmocka_unit_test(test_ifname),
      cmocka_unit_test(test_signature),        cmocka_unit_test(test_tuner),
      cmocka_unit_test(test_bootstrap_threads),
      cmocka_unit_test(test_bootstrap_wrong_secret),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
