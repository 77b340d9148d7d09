/* Topology layer: building the graph, its queries, the dump and its round
 * trip, synthetic jobs, hardware discovery. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "topo/dump.h"
#include "coll/algo.h"
#include "tune/explain.h"
#include "topo/file.h"
#include "topo/graph.h"
#include "topo/hw.h"
#include "topo/synth.h"

static weft_topo *parse_text(const char *text) {
  weft_topo *t = NULL;
  char err[1024] = "";
  if (weft_topo_parse_string(text, strlen(text), NULL, weft_algo_rule_names(), &t, err, sizeof err))
    fail_msg("%s", err);
  return t;
}

static weft_topo *example(const char *dir, const char *name) {
  char path[1024], err[1024] = "";
  snprintf(path, sizeof path, "%s/%s", dir, name);
  weft_topo *t = NULL;
  if (weft_topo_parse_file(path, weft_algo_rule_names(), &t, err, sizeof err)) fail_msg("%s", err);
  return t;
}

static weft_graph *build(const weft_rank_desc *r, int n, const weft_topo *t) {
  weft_graph *g = NULL;
  char err[1024] = "";
  if (weft_graph_build(r, n, t, &g, err, sizeof err)) fail_msg("%s", err);
  return g;
}

static weft_graph *synth(const weft_topo *t, int nranks, int per_node) {
  weft_rank_desc *r;
  int n;
  char err[512];
  if (weft_topo_synth_ranks(t, nranks, per_node, &r, &n, err, sizeof err)) fail_msg("%s", err);
  weft_graph *g = build(r, n, t);
  free(r);
  return g;
}

static int rank_on(const weft_graph *g, const char *host, int k) {
  for (int n = 0; n < weft_graph_nnodes(g); n++)
    if (!strcmp(weft_graph_node_name(g, n), host)) {
      const int *r;
      int c = weft_graph_node_ranks(g, n, &r);
      if (k < c) return r[k];
    }
  fail_msg("no rank %d on %s", k, host);
  return -1;
}

static void test_no_file(void **state) {
  (void)state;
  weft_rank_desc r[4] = {{"a", 1, NULL}, {"a", 1, ""}, {"b", 2, NULL}, {"b", 2, NULL}};
  weft_graph *g = build(r, 4, NULL);
  assert_int_equal(weft_graph_nranks(g), 4);
  assert_int_equal(weft_graph_nsites(g), 1);
  assert_int_equal(weft_graph_nnodes(g), 2);
  assert_string_equal(weft_graph_site_name(g, 0), "site0");
  weft_link l;
  assert_int_equal(weft_graph_link(g, 0, 1, &l), WEFT_LINK_NODE);
  assert_true(l.bw == 20e9);
  assert_true(l.lat == 0.5e-6);
  assert_string_equal(l.transport, "shm");
  assert_int_equal(weft_graph_link(g, 1, 2, &l), WEFT_LINK_SITE);
  assert_true(l.bw == 12.5e9);
  assert_true(l.lat == 5e-6);
  assert_string_equal(l.transport, "tcp");
  assert_string_equal(l.codec, "none");
  assert_int_equal(l.streams, 1);
  assert_int_equal(weft_graph_link(g, 3, 3, &l), WEFT_LINK_SELF);
  assert_true(l.lat == 0);
  assert_string_equal(l.transport, "self");
  assert_int_equal(weft_graph_link(g, 0, 4, &l), -1);
  assert_int_equal(weft_graph_link(g, -1, 0, &l), -1);
  const weft_device *d = weft_graph_rank_device(g, 2);
  assert_string_equal(d->kind, "host");
  assert_string_equal(d->vendor, "generic");
  assert_true(d->speed == 1.0);
  assert_null(weft_graph_rank_device(g, 4));
  assert_null(weft_graph_forced_algo(g, "allreduce", 1 << 20));
  weft_graph_free(g);
}

static void test_site_precedence(void **state) {
  (void)state;
  weft_topo *t = parse_text("version: 1\nsites:\n  - {name: east, nodes: [a, b]}\n  - {name: west, nodes: [c]}\n");
  weft_rank_desc r[] = {
      {"d", 4, NULL},   /* in no site: site0 */
      {"a", 1, NULL},   /* the file: east */
      {"c", 3, "east"}, /* explicit beats the file's west */
      {"e", 5, "mars"}, /* explicit, not in the file */
      {"c", 3, "east"}, {"b", 2, ""}, /* empty = none: east */
  };
  weft_graph *g = build(r, 6, t);
  assert_int_equal(weft_graph_nsites(g), 3);
  assert_string_equal(weft_graph_site_name(g, 0), "site0");
  assert_string_equal(weft_graph_site_name(g, 1), "east");
  assert_string_equal(weft_graph_site_name(g, 2), "mars");
  const int want[] = {0, 1, 1, 2, 1, 1};
  for (int i = 0; i < 6; i++) assert_int_equal(weft_graph_site_of_rank(g, i), want[i]);
  assert_int_equal(weft_graph_find_site(g, "mars"), 2);
  assert_int_equal(weft_graph_find_site(g, "west"), -1); /* no ranks there */
  const int *ranks;
  assert_int_equal(weft_graph_site_ranks(g, 1, &ranks), 4);
  assert_int_equal(ranks[0], 1);
  assert_int_equal(ranks[1], 2);
  assert_int_equal(ranks[2], 4);
  assert_int_equal(ranks[3], 5);
  assert_int_equal(weft_graph_site_nodes(g, 1, &ranks), 3); /* nodes a, c, b */
  assert_string_equal(weft_graph_node_name(g, ranks[0]), "a");
  assert_string_equal(weft_graph_node_name(g, ranks[1]), "c");
  assert_string_equal(weft_graph_node_name(g, ranks[2]), "b");
  weft_link l;
  assert_int_equal(weft_graph_link(g, 0, 1, &l), WEFT_LINK_WAN);
  assert_true(l.bw == 1.25e9); /* defaults.wan_link */
  assert_false(weft_graph_wan_explicit(g, 0, 1));
  weft_graph_free(g);
  weft_topo_free(t);
}

static void test_nodes_by_host_id(void **state) {
  (void)state;
  /* same name, different ids: two nodes; different names, same id: one node */
  weft_rank_desc r[] = {{"x", 10, NULL}, {"y", 20, NULL}, {"x", 30, NULL}, {"alias", 10, NULL}, {"y", 20, NULL}};
  weft_graph *g = build(r, 5, NULL);
  assert_int_equal(weft_graph_nnodes(g), 3);
  assert_int_equal(weft_graph_node_of_rank(g, 0), 0);
  assert_int_equal(weft_graph_node_of_rank(g, 1), 1);
  assert_int_equal(weft_graph_node_of_rank(g, 2), 2);
  assert_int_equal(weft_graph_node_of_rank(g, 3), 0);
  assert_int_equal(weft_graph_node_of_rank(g, 4), 1);
  assert_string_equal(weft_graph_node_name(g, 0), "x");
  assert_int_equal(weft_graph_node_host_id(g, 2), 30);
  const int *rk;
  assert_int_equal(weft_graph_node_ranks(g, 0, &rk), 2);
  assert_int_equal(rk[0], 0);
  assert_int_equal(rk[1], 3);
  assert_int_equal(weft_graph_node_ranks(g, 1, &rk), 2);
  assert_int_equal(rk[0], 1);
  assert_int_equal(rk[1], 4);
  assert_int_equal(weft_graph_node_ranks(g, 3, &rk), 0);
  assert_null(rk);
  weft_link l;
  assert_int_equal(weft_graph_link(g, 0, 3, &l), WEFT_LINK_NODE);
  assert_int_equal(weft_graph_link(g, 0, 2, &l), WEFT_LINK_SITE);
  weft_graph_free(g);
}

static void build_fails(const weft_rank_desc *r, int n, const weft_topo *t, const char *msg) {
  weft_graph *g = NULL;
  char err[512] = "";
  assert_int_equal(weft_graph_build(r, n, t, &g, err, sizeof err), -1);
  assert_null(g);
  assert_string_equal(err, msg);
}

static void test_build_errors(void **state) {
  (void)state;
  weft_rank_desc r1[] = {{"a", 1, "x"}, {"b", 2, NULL}, {"a2", 1, "y"}};
  build_fails(r1, 3, NULL, "ranks 0 and 2 share a node (host 'a') but are in sites 'x' and 'y'");
  weft_topo *t = parse_text("version: 1\nsites:\n  - {name: east, nodes: [a]}\n  - {name: west, nodes: [b]}\n");
  weft_rank_desc r2[] = {{"a", 1, NULL}, {"b", 1, NULL}};
  build_fails(r2, 2, t, "ranks 0 and 1 share a node (host 'a') but are in sites 'east' and 'west'");
  weft_topo_free(t);
  weft_rank_desc r3[] = {{"a", 1, NULL}, {NULL, 2, NULL}};
  build_fails(r3, 2, NULL, "rank 1 has no hostname");
  weft_rank_desc r4[] = {{"a", 1, "new york"}};
  build_fails(r4, 1, NULL, "rank 0: bad site name 'new york' (at most 63 letters, digits, '-', '.' and '_')");
  build_fails(r4, 0, NULL, "a graph needs at least one rank (got 0)");
}

static void test_links_and_devices(void **state) {
  (void)state;
  weft_topo *t = example(WEFT_TOPO_EXAMPLES, "three-sites-mixed.yaml");
  weft_graph *g = synth(t, 0, 2);
  assert_int_equal(weft_graph_nranks(g), 20);
  assert_int_equal(weft_graph_nnodes(g), 10);
  assert_int_equal(weft_graph_nsites(g), 3);
  int hq0 = rank_on(g, "a100-01", 0), hq1 = rank_on(g, "a100-01", 1), hq2 = rank_on(g, "a100-02", 0);
  int lab = rank_on(g, "h20-1", 0), npu = rank_on(g, "npu2", 1), login = rank_on(g, "edge-login", 0);
  weft_link l;
  /* node: hq's node_link over defaults.node_link (transport inherited) */
  assert_int_equal(weft_graph_link(g, hq0, hq1, &l), WEFT_LINK_NODE);
  assert_true(l.bw == 300e9);
  assert_true(l.lat == 1e-6);
  assert_string_equal(l.transport, "shm");
  /* site: hq's link */
  assert_int_equal(weft_graph_link(g, hq1, hq2, &l), WEFT_LINK_SITE);
  assert_true(l.bw == 25e9);
  assert_true(l.lat == 2e-6);
  assert_string_equal(l.transport, "ucx");
  /* site with one slow node: min bandwidth, max latency */
  assert_int_equal(weft_graph_link(g, npu, login, &l), WEFT_LINK_SITE);
  assert_true(l.bw == 1.25e9);
  assert_true(l.lat == 20e-6);
  assert_int_equal(weft_graph_link(g, login, npu, &l), WEFT_LINK_SITE);
  assert_true(l.bw == 1.25e9);
  assert_int_equal(weft_graph_link(g, npu, rank_on(g, "npu1", 0), &l), WEFT_LINK_SITE);
  assert_true(l.bw == 25e9 / 8);
  assert_true(l.lat == 10e-6);
  /* wan: symmetric, oneway both ways, default */
  assert_int_equal(weft_graph_link(g, hq0, lab, &l), WEFT_LINK_WAN);
  assert_true(l.bw == 1.25e9);
  assert_true(l.lat == 5e-3);
  assert_string_equal(l.codec, "bf16");
  assert_int_equal(l.streams, 8);
  weft_graph_link(g, lab, hq0, &l);
  assert_string_equal(l.codec, "bf16");
  weft_graph_link(g, hq0, npu, &l);
  assert_true(l.bw == 2.5e8);
  assert_string_equal(l.codec, "int8");
  assert_int_equal(l.streams, 0);
  weft_graph_link(g, npu, hq0, &l);
  assert_true(l.bw == 6.25e7);
  weft_graph_link(g, lab, login, &l);
  assert_true(l.bw == 1.25e8);
  assert_true(l.lat == 0.03);
  assert_string_equal(l.codec, "auto");
  int s_hq = weft_graph_site_of_rank(g, hq0), s_lab = weft_graph_site_of_rank(g, lab),
      s_edge = weft_graph_site_of_rank(g, npu);
  assert_true(weft_graph_wan_explicit(g, s_edge, s_hq));
  assert_false(weft_graph_wan_explicit(g, s_lab, s_edge));
  assert_int_equal(weft_graph_site_link(g, s_hq, s_hq, &l), WEFT_LINK_SITE);
  assert_true(l.bw == 25e9);
  assert_int_equal(weft_graph_site_link(g, s_hq, 3, &l), -1);
  /* devices: site, node entry replacing the kind */
  const weft_device *d = weft_graph_rank_device(g, hq1);
  assert_string_equal(d->kind, "cuda");
  assert_string_equal(d->model, "A100");
  d = weft_graph_rank_device(g, lab);
  assert_string_equal(d->model, "H20");
  assert_true(d->speed == 0.6);
  d = weft_graph_rank_device(g, npu);
  assert_string_equal(d->kind, "ascend");
  assert_string_equal(d->vendor, "huawei");
  d = weft_graph_rank_device(g, login);
  assert_string_equal(d->kind, "host");
  assert_string_equal(d->vendor, "generic");
  assert_string_equal(d->model, "");
  assert_true(d->speed == 0.05);
  assert_string_equal(weft_graph_site_device(g, s_edge)->kind, "ascend");
  weft_graph_free(g);
  weft_topo_free(t);
}

static void test_device_refinement(void **state) {
  (void)state;
  weft_topo *t = example(WEFT_TOPO_TESTDATA, "good-full.yaml");
  weft_graph *g = synth(t, 0, 1);
  const weft_device *d = weft_graph_rank_device(g, rank_on(g, "r2n3", 0));
  assert_string_equal(d->kind, "cuda");
  assert_string_equal(d->vendor, "nvidia");
  assert_string_equal(d->model, "H100-NVL");
  assert_true(d->speed == 2.0);
  d = weft_graph_rank_device(g, rank_on(g, "r2n2", 0));
  assert_string_equal(d->model, "H100");
  /* kind given: the rest from defaults.device (the file's) */
  d = weft_graph_rank_device(g, rank_on(g, "alpha-login", 0));
  assert_string_equal(d->kind, "host");
  assert_string_equal(d->vendor, "intel");
  assert_string_equal(d->model, "Xeon 8480");
  assert_true(d->speed == 0.05);
  /* a node entry's node_link refines the site's */
  int login = weft_graph_node_of_rank(g, rank_on(g, "alpha-login", 0));
  const weft_link *nl = weft_graph_node_node_link(g, login);
  assert_true(nl->bw == 5e9);
  assert_true(nl->lat == 0.7e-6);
  assert_string_equal(nl->transport, "shm");
  assert_true(weft_graph_node_site_link(g, login)->bw == 1.25e9);
  /* rules: first match wins */
  assert_string_equal(weft_graph_forced_algo(g, "allreduce", 4 << 20), "hierarchical");
  assert_string_equal(weft_graph_forced_algo(g, "allreduce", 1 << 20), "rhd");
  assert_string_equal(weft_graph_forced_algo(g, "allreduce", 65536), "rhd");
  assert_string_equal(weft_graph_forced_algo(g, "allreduce", 4096), "direct");
  assert_null(weft_graph_forced_algo(g, "allreduce", 2ull << 30));
  assert_string_equal(weft_graph_forced_algo(g, "broadcast", 1ull << 40), "tree");
  assert_string_equal(weft_graph_forced_algo(g, "alltoall", 7), "pairwise");
  assert_null(weft_graph_forced_algo(g, "reduce", 4097));
  assert_int_equal(weft_graph_nrules(g), 5);
  assert_null(weft_graph_rule(g, 5));
  weft_graph_free(g);
  weft_topo_free(t);
}

/* Dumps g, parses the dump, builds a graph with ranks r, and compares. */
static void roundtrip(const weft_graph *g, const weft_rank_desc *r, int n) {
  char *buf = NULL, err[1024] = "";
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  if (weft_topo_dump(g, f, err, sizeof err)) fail_msg("%s", err);
  fclose(f);
  weft_topo *t2 = NULL;
  if (weft_topo_parse_string(buf, len, "dump", weft_algo_rule_names(), &t2, err, sizeof err))
    fail_msg("%s\n%s", err, buf);
  weft_graph *g2 = build(r, n, t2);
  char why[256];
  if (!weft_graph_equal(g, g2, why, sizeof why)) fail_msg("%s\n%s", why, buf);
  weft_graph_free(g2);
  weft_topo_free(t2);
  free(buf);
}

static void roundtrip_file(const char *dir, const char *name, int nranks, int per_node) {
  weft_topo *t = example(dir, name);
  weft_rank_desc *r;
  int n;
  char err[256];
  assert_int_equal(weft_topo_synth_ranks(t, nranks, per_node, &r, &n, err, sizeof err), 0);
  weft_graph *g = build(r, n, t);
  roundtrip(g, r, n);
  weft_graph_free(g);
  free(r);
  weft_topo_free(t);
}

static void test_dump_roundtrip(void **state) {
  (void)state;
  const char *ex[] = {"one-node.yaml", "two-sites.yaml", "three-sites-mixed.yaml"};
  for (int i = 0; i < 3; i++) {
    roundtrip_file(WEFT_TOPO_EXAMPLES, ex[i], 0, 0);
    roundtrip_file(WEFT_TOPO_EXAMPLES, ex[i], 0, 3);
    roundtrip_file(WEFT_TOPO_EXAMPLES, ex[i], 7, 0);
  }
  roundtrip_file(WEFT_TOPO_TESTDATA, "good-full.yaml", 0, 2);
  roundtrip_file(WEFT_TOPO_TESTDATA, "good-full.yaml", 5, 0);
  roundtrip_file(WEFT_TOPO_TESTDATA, "good-minimal.yaml", 4, 0);

  /* explicit site names (one not in the file), interleaved ranks, odd values:
   * the dump puts every host in its site, so the same ranks without explicit
   * names give the same graph */
  weft_topo *t = parse_text("version: 1\n"
                            "defaults: {wan_link: {bandwidth: 3.3333Gbit/s, latency: 0.123457ms}}\n"
                            "sites:\n  - {name: a, nodes: [\"n[1-3]\"], device: {kind: cuda, speed: 0.3333333}}\n"
                            "  - {name: b, nodes: [m1]}\n"
                            "nodes:\n  - {name: n2, link: {bandwidth: 1.1GB/s}}\n"
                            "wan:\n  - {between: [a, b], bandwidth: 7.77Mbit/s, oneway: true}\n"
                            "tuning: [{coll: reduce, min_size: 3K, max_size: 5000, algo: tree}]\n");
  weft_rank_desc r[] = {{"n1", 1, NULL}, {"m1", 2, NULL}, {"n2", 3, NULL}, {"z", 4, "far"},
                        {"n1", 1, NULL}, {"n3", 5, "b"},  {"q9", 6, NULL}};
  weft_graph *g = build(r, 7, t);
  assert_int_equal(weft_graph_nsites(g), 4); /* a, b, far, site0 */
  weft_hwinfo hw;
  char err[256];
  assert_int_equal(weft_hw_discover(&hw, err, sizeof err), 0);
  assert_int_equal(weft_graph_set_node_hw(g, 0, &hw), 0);
  assert_non_null(weft_graph_node_hw(g, 0));
  assert_null(weft_graph_node_hw(g, 1));
  assert_int_equal(weft_graph_set_rank_where(g, 5, "cuda 'X' id 0000:3b:00.0: PCI 0000:3b:00.0,\nNUMA node 1"), 0);
  assert_int_equal(weft_graph_set_rank_where(g, 7, "x"), -1);
  assert_null(weft_graph_rank_where(g, 4));
  roundtrip(g, r, 7);
  weft_rank_desc plain[7];
  memcpy(plain, r, sizeof r);
  for (int i = 0; i < 7; i++) plain[i].site = NULL;
  roundtrip(g, plain, 7);

  /* the dump shows the hardware as comments */
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_int_equal(weft_topo_dump(g, f, err, sizeof err), 0);
  fclose(f);
  assert_non_null(strstr(buf, "# hardware (discovered, informational):\n#   n1: "));
  /* and each rank's device, one line (the newline made a space) */
  assert_non_null(strstr(buf, "# devices (reported by each rank, informational):\n"
                              "#   rank 5 on n3: cuda 'X' id 0000:3b:00.0: PCI 0000:3b:00.0, NUMA node 1\n"));
  assert_non_null(strstr(buf, "  - between: [\"a\", \"b\"]\n    oneway: true\n    bandwidth: 7.77Mbit/s\n"));
  assert_non_null(strstr(buf, "  - {coll: reduce, min_size: 3K, max_size: 5000, algo: tree}\n"));
  assert_non_null(strstr(buf, "  - name: \"a\"\n    # ranks 0,2,4\n    nodes: [\"n[1-2]\"]\n"));
  free(buf);

  /* equality notices a difference */
  weft_graph *other = build(r, 7, NULL);
  char why[256];
  assert_int_equal(weft_graph_equal(g, other, why, sizeof why), 0);
  assert_string_equal(why, "sizes differ: 7/6/4 vs 7/6/3 ranks/nodes/sites");
  weft_graph_free(other);
  weft_graph_free(g);
  weft_topo_free(t);
}

static void test_dump_path(void **state) {
  (void)state;
  weft_topo *t = example(WEFT_TOPO_EXAMPLES, "two-sites.yaml");
  weft_graph *g = synth(t, 0, 2);
  char path[256], err[512];
  snprintf(path, sizeof path, "/tmp/weft-topo-test-%ld.yaml", (long)getpid());
  assert_int_equal(weft_topo_dump_path(g, path, err, sizeof err), 0);
  weft_topo *t2;
  if (weft_topo_parse_file(path, weft_algo_rule_names(), &t2, err, sizeof err)) fail_msg("%s", err);
  assert_int_equal(t2->nsites, 2);
  assert_int_equal(weft_topo_count_hosts(t2), 4);
  weft_topo_free(t2);
  unlink(path);
  /* the names a stranger could plant links at are not followed: the old
   * temporary name (path.tmp.PID), and path itself (replaced, not written
   * through) */
  char victim[256], planted[300];
  snprintf(victim, sizeof victim, "/tmp/weft-topo-victim-%ld", (long)getpid());
  snprintf(planted, sizeof planted, "%s.tmp.%ld", path, (long)getpid());
  FILE *v = fopen(victim, "w");
  assert_non_null(v);
  fputs("untouched\n", v);
  fclose(v);
  assert_int_equal(symlink(victim, planted), 0);
  assert_int_equal(symlink(victim, path), 0);
  assert_int_equal(weft_topo_dump_path(g, path, err, sizeof err), 0);
  char line[64] = "";
  v = fopen(victim, "r");
  assert_non_null(fgets(line, sizeof line, v));
  fclose(v);
  assert_string_equal(line, "untouched\n");
  struct stat st;
  assert_int_equal(lstat(path, &st), 0);
  assert_true(S_ISREG(st.st_mode));
  assert_int_equal(st.st_mode & 0777, 0644);
  unlink(planted);
  unlink(victim);
  unlink(path);
  assert_int_equal(weft_topo_dump_path(g, "/nonexistent-dir/x.yaml", err, sizeof err), -1);
  assert_int_equal(strncmp(err, "topology dump: cannot create a file next to /nonexistent-dir/x.yaml", 67), 0);
  weft_graph_free(g);
  weft_topo_free(t);
}

static int count_on(const weft_graph *g, int node) {
  const int *r;
  return weft_graph_node_ranks(g, node, &r);
}

static void test_synth(void **state) {
  (void)state;
  weft_topo *t = example(WEFT_TOPO_EXAMPLES, "three-sites-mixed.yaml");
  weft_graph *g = synth(t, 0, 0);
  assert_int_equal(weft_graph_nranks(g), 10);
  assert_string_equal(weft_graph_node_name(g, 9), "edge-login");
  weft_graph_free(g);
  g = synth(t, 23, 0);
  assert_int_equal(weft_graph_nnodes(g), 10);
  for (int n = 0; n < 10; n++) assert_int_equal(count_on(g, n), n < 3 ? 3 : 2);
  weft_graph_free(g);
  g = synth(t, 5, 0);
  assert_int_equal(weft_graph_nnodes(g), 5);
  assert_int_equal(weft_graph_nsites(g), 2);
  weft_graph_free(g);
  g = synth(t, 9, 4);
  assert_int_equal(weft_graph_nnodes(g), 3);
  assert_int_equal(count_on(g, 2), 1);
  weft_graph_free(g);
  weft_rank_desc *r;
  int n;
  char err[256];
  assert_int_equal(weft_topo_synth_ranks(t, 30, 2, &r, &n, err, sizeof err), -1);
  assert_string_equal(err, "30 ranks do not fit on 10 nodes with 2 ranks per node");
  weft_topo_free(t);
  /* no nodes in the file */
  t = parse_text("version: 1\n");
  g = synth(t, 3, 0);
  assert_int_equal(weft_graph_nnodes(g), 1);
  assert_string_equal(weft_graph_node_name(g, 0), "localhost");
  assert_string_equal(weft_graph_site_name(g, 0), "site0");
  weft_graph_free(g);
  weft_topo_free(t);
}

static void test_hw_and_explain(void **state) {
  (void)state;
  weft_hwinfo hw;
  char err[256], d[1024];
  assert_int_equal(weft_hw_discover(&hw, err, sizeof err), 0);
  assert_true(hw.pus > 0);
  weft_hw_describe(&hw, d, sizeof d);
  assert_int_equal(strncmp(d, hw.source, strlen(hw.source)), 0);
  assert_non_null(strstr(d, " GPUs: "));
  /* explain: two sites of two single-rank nodes; large messages go hierarchical
   * and are limited by the WAN; an unknown collective is refused */
  weft_rank_desc r[] = {{"a", 1, "east"}, {"b", 2, "east"}, {"c", 3, "west"}, {"d", 4, "west"}};
  weft_graph *g = build(r, 4, NULL);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_int_equal(weft_topo_explain(g, "allreduce", NULL, f), 0);
  fclose(f);
  assert_non_null(strstr(buf, "# 4 ranks on 4 nodes in 2 sites"));
  const char *big = strstr(buf, "512 MiB");
  assert_non_null(big);
  assert_non_null(strstr(big, "hier"));
  assert_non_null(strstr(big, "inter-site"));
  free(buf);
  buf = NULL;
  f = open_memstream(&buf, &len);
  assert_int_equal(weft_topo_explain(g, "gather", NULL, f), -1);
  fclose(f);
  assert_non_null(strstr(buf, "unknown collective 'gather'"));
  free(buf);
  weft_graph_free(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_no_file),           cmocka_unit_test(test_site_precedence),
      cmocka_unit_test(test_nodes_by_host_id),  cmocka_unit_test(test_build_errors),
      cmocka_unit_test(test_links_and_devices), cmocka_unit_test(test_device_refinement),
      cmocka_unit_test(test_dump_roundtrip),    cmocka_unit_test(test_dump_path),
      cmocka_unit_test(test_synth),             cmocka_unit_test(test_hw_and_explain),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
