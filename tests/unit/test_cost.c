/* The alpha-beta cost model (lib/tune/cost.c): monotonic in size and link
 * speed, counts shared links, and picks the algorithm an expert would on
 * synthetic layouts (one node, flat nodes, two and three sites of unequal
 * size, interleaved ranks). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tune/cost.h"
#include "util/call.h"

typedef struct {
  weft_groups nodes, sites;
  int mem[2][4 * 64 + 1];
  weft_cost_model m;
} layout;

/* node_of / site_of: per rank ids (NULL: every rank its own node / one site). */
static void make(layout *l, int n, const int *node_of, const int *site_of) {
  uint64_t key[64] = {0};
  for (int r = 0; r < n; r++) key[r] = node_of ? (uint64_t)node_of[r] : (uint64_t)r;
  weft_groups_from_keys(&l->nodes, key, n, l->mem[0]);
  for (int r = 0; r < n; r++) key[r] = site_of ? (uint64_t)site_of[r] : 0;
  weft_groups_from_keys(&l->sites, key, n, l->mem[1]);
  weft_cost_defaults(&l->m);
  l->m.n = n;
  l->m.nodes = &l->nodes;
  l->m.sites = &l->sites;
}

static double predict(const layout *l, weft_coll_kind k, weft_algo a, size_t bytes) {
  weft_cost c;
  assert_int_equal(weft_cost_predict(&l->m, k, a, bytes, &c), 0);
  assert_true(c.time > 0 && isfinite(c.time));
  return c.time;
}

static void monotonic_in_size(void **state) {
  (void)state;
  static const int node[] = {0, 0, 1, 1, 2, 2, 3}, site[] = {0, 0, 0, 0, 1, 1, 1};
  layout l;
  make(&l, 7, node, site);
  layout l8; /* rhd of blocks needs a power of two */
  static const int node8[] = {0, 0, 1, 1, 2, 2, 3, 3}, site8[] = {0, 0, 0, 0, 1, 1, 1, 1};
  make(&l8, 8, node8, site8);
  for (int k = 0; k < 2; k++) {
    double prev = 0;
    for (size_t b = 1; b <= ((size_t)1 << 32); b *= 2) {
      double t = predict(&l8, k ? COLL_ALLGATHER : COLL_REDUCESCATTER, ALGO_RHD, b);
      assert_true(t >= prev);
      prev = t;
    }
  }
  weft_cost none;
  assert_int_equal(weft_cost_predict(&l.m, COLL_ALLGATHER, ALGO_RHD, 1024, &none), -1);
  static const struct { weft_coll_kind k; weft_algo a; } cases[] = {
      {COLL_ALLREDUCE, ALGO_RING},     {COLL_ALLREDUCE, ALGO_TREE},      {COLL_ALLREDUCE, ALGO_DIRECT},
      {COLL_ALLREDUCE, ALGO_HIER},     {COLL_ALLREDUCE, ALGO_RHD},       {COLL_BROADCAST, ALGO_HIER},
      {COLL_ALLGATHER, ALGO_HIER},     {COLL_REDUCESCATTER, ALGO_HIER},  {COLL_BROADCAST, ALGO_TREE},      {COLL_BROADCAST, ALGO_RING},
      {COLL_REDUCE, ALGO_RING},        {COLL_ALLGATHER, ALGO_RING},      {COLL_REDUCESCATTER, ALGO_RING},
      {COLL_ALLTOALL, ALGO_PAIRWISE}};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    double prev = 0;
    for (size_t b = 1; b <= ((size_t)1 << 32); b *= 2) {
      double t = predict(&l, cases[i].k, cases[i].a, b);
      assert_true(t >= prev);
      prev = t;
    }
  }
}

static void monotonic_in_link_speed(void **state) {
  (void)state;
  static const int node[] = {0, 0, 1, 1}, site[] = {0, 0, 1, 1};
  layout l;
  make(&l, 4, node, site);
  for (int cls = 0; cls < WEFT_LC_N; cls++) {
    double prev = INFINITY;
    for (double bw = 1e8; bw <= 1e11; bw *= 10) {
      l.m.link[cls].bw = bw;
      double t = predict(&l, COLL_ALLREDUCE, ALGO_HIER, 64 << 20) + predict(&l, COLL_ALLREDUCE, ALGO_RING, 64 << 20);
      assert_true(t <= prev);
      prev = t;
    }
    weft_cost_defaults(&l.m);
  }
}

/* Two sites of two ranks joined by 1 Gbit/s: a flat ring sends 1.5x the
 * message over the WAN, hierarchical 1x; the bottleneck is the WAN. */
static void two_sites_wan_bytes(void **state) {
  (void)state;
  static const int node[] = {0, 0, 1, 1}, site[] = {0, 0, 1, 1};
  layout l;
  make(&l, 4, node, site);
  l.m.link[WEFT_LC_WAN] = (weft_link_cost){0, 125e6};
  size_t s = 64 << 20;
  weft_cost ring, hier;
  weft_cost_predict(&l.m, COLL_ALLREDUCE, ALGO_RING, s, &ring);
  weft_cost_predict(&l.m, COLL_ALLREDUCE, ALGO_HIER, s, &hier);
  assert_int_equal(ring.bottleneck, WEFT_LC_WAN);
  assert_int_equal(hier.bottleneck, WEFT_LC_WAN);
  assert_true(fabs(ring.bottleneck_time - 1.5 * s / 125e6) < 1e-3);
  assert_true(fabs(hier.bottleneck_time - 1.0 * s / 125e6) < 1e-3);
  assert_int_equal(weft_cost_choose(&l.m, COLL_ALLREDUCE, s, NULL), ALGO_HIER);
  /* rhd's first step sends half the message per rank across the WAN, twice */
  weft_cost rhd;
  weft_cost_predict(&l.m, COLL_ALLREDUCE, ALGO_RHD, s, &rhd);
  assert_true(fabs(rhd.bottleneck_time - 2.0 * s / 125e6) < 1e-3);
}

static void one_node_choices(void **state) {
  (void)state;
  static const int node[8] = {0};
  layout l;
  make(&l, 8, node, NULL);
  weft_algo small = weft_cost_choose(&l.m, COLL_ALLREDUCE, 8, NULL);
  assert_true(small == ALGO_DIRECT || small == ALGO_TREE);
  /* ring and recursive halving-doubling move the same bytes; rhd takes fewer steps */
  weft_algo big = weft_cost_choose(&l.m, COLL_ALLREDUCE, 256 << 20, NULL);
  assert_true(big == ALGO_RING || big == ALGO_RHD);
  /* hier needs several groups */
  weft_cost c;
  assert_int_equal(weft_cost_predict(&l.m, COLL_ALLREDUCE, ALGO_HIER, 1 << 20, &c), -1);
  assert_int_equal(weft_cost_choose(&l.m, COLL_BROADCAST, 256 << 20, NULL), ALGO_RING);
  assert_int_equal(weft_cost_choose(&l.m, COLL_BROADCAST, 8, NULL), ALGO_TREE);
}

/* Ranks alternating between two sites: the ring crosses the WAN at every
 * hop and costs far more than with contiguous sites; hier does not care. */
static void interleaved_ranks(void **state) {
  (void)state;
  static const int node_c[] = {0, 1, 2, 3}, site_c[] = {0, 0, 1, 1};
  static const int node_i[] = {0, 1, 2, 3}, site_i[] = {0, 1, 0, 1};
  layout c, i;
  make(&c, 4, node_c, site_c);
  make(&i, 4, node_i, site_i);
  size_t s = 16 << 20;
  assert_true(predict(&i, COLL_ALLREDUCE, ALGO_RING, s) > 1.3 * predict(&c, COLL_ALLREDUCE, ALGO_RING, s));
  assert_true(fabs(predict(&i, COLL_ALLREDUCE, ALGO_HIER, s) - predict(&c, COLL_ALLREDUCE, ALGO_HIER, s)) <
              1e-9 + 1e-6 * predict(&c, COLL_ALLREDUCE, ALGO_HIER, s));
}

/* Three unequal sites (4 + 2 + 3 ranks): hier wins for large messages and
 * its WAN time is what the sites' shares imply. */
static void three_unequal_sites(void **state) {
  (void)state;
  static const int node[] = {0, 0, 1, 1, 2, 3, 4, 4, 5}, site[] = {0, 0, 0, 0, 1, 1, 2, 2, 2};
  layout l;
  make(&l, 9, node, site);
  assert_int_equal(weft_cost_choose(&l.m, COLL_ALLREDUCE, 64 << 20, NULL), ALGO_HIER);
  weft_cost c;
  weft_cost_predict(&l.m, COLL_ALLREDUCE, ALGO_HIER, 64 << 20, &c);
  assert_int_equal(c.bottleneck, WEFT_LC_WAN);
  /* each site pair link carries 2(m-1)/m of the message, m = 3 */
  double expect = 2.0 * 2 / 3 * (64 << 20) / l.m.link[WEFT_LC_WAN].bw;
  assert_true(c.bottleneck_time > 0.99 * expect && c.bottleneck_time < 1.01 * expect + 4 * 2 * l.m.link[WEFT_LC_WAN].lat);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(monotonic_in_size),   cmocka_unit_test(monotonic_in_link_speed),
      cmocka_unit_test(two_sites_wan_bytes), cmocka_unit_test(one_node_choices),
      cmocka_unit_test(interleaved_ranks),   cmocka_unit_test(three_unequal_sites),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
