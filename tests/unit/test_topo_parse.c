/* Topology layer: parsing topology files, good and bad. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "topo/file.h"
#include "coll/algo.h"

static weft_topo *parse_ok(const char *text) {
  weft_topo *t = NULL;
  char err[1024] = "";
  if (weft_topo_parse_string(text, strlen(text), NULL, weft_algo_rule_names(), &t, err, sizeof err))
    fail_msg("%s", err);
  return t;
}

static weft_topo *load(const char *dir, const char *name) {
  char path[1024], err[1024] = "";
  snprintf(path, sizeof path, "%s/%s", dir, name);
  weft_topo *t = NULL;
  if (weft_topo_parse_file(path, weft_algo_rule_names(), &t, err, sizeof err)) fail_msg("%s", err);
  return t;
}

static const weft_topo_site *site(const weft_topo *t, const char *name) {
  int i = weft_topo_find_site(t, name);
  if (i < 0) fail_msg("no site '%s'", name);
  return &t->sites[i];
}

static void test_minimal(void **state) {
  (void)state;
  weft_topo *t = parse_ok("version: 1\n");
  assert_int_equal(t->version, 1);
  assert_int_equal(t->nsites, 0);
  assert_int_equal(t->nnodes, 0);
  assert_int_equal(t->nwans, 0);
  assert_int_equal(t->nrules, 0);
  assert_string_equal(t->source, "<string>");
  /* built-in defaults */
  assert_true(t->defaults.node_link.bw == 20e9);
  assert_true(t->defaults.node_link.lat == 0.5e-6);
  assert_string_equal(t->defaults.node_link.transport, "shm");
  assert_true(t->defaults.site_link.bw == 12.5e9);
  assert_true(t->defaults.site_link.lat == 5e-6);
  assert_string_equal(t->defaults.site_link.transport, "tcp");
  assert_true(t->defaults.wan_link.bw == 1.25e9);
  assert_true(t->defaults.wan_link.lat == 0.01);
  assert_string_equal(t->defaults.wan_link.codec, "none");
  assert_int_equal(t->defaults.wan_link.streams, 0);
  assert_string_equal(t->defaults.device.kind, "host");
  assert_string_equal(t->defaults.device.vendor, "generic");
  assert_string_equal(t->defaults.device.model, "");
  assert_true(t->defaults.device.speed == 1.0);
  weft_topo_free(t);
}

static void test_two_sites_example(void **state) {
  (void)state;
  weft_topo *t = load(WEFT_TOPO_EXAMPLES, "two-sites.yaml");
  assert_int_equal(t->nsites, 2);
  const weft_topo_site *e = site(t, "east"), *w = site(t, "west");
  assert_int_equal(e->nnodes, 2);
  assert_string_equal(e->nodes[0], "east-gpu1");
  assert_string_equal(e->nodes[1], "east-gpu2");
  assert_string_equal(w->nodes[1], "west-gpu2");
  assert_int_equal(e->link.set, WEFT_LINK_HAS_BW | WEFT_LINK_HAS_LAT | WEFT_LINK_HAS_TRANSPORT);
  assert_true(e->link.v.bw == 25e9);
  assert_true(e->link.v.lat == 2e-6);
  assert_string_equal(e->link.v.transport, "ucx");
  assert_int_equal(w->link.set, 0);
  assert_int_equal(t->nwans, 1);
  const weft_topo_wan *x = weft_topo_wan_entry(t, weft_topo_find_site(t, "west"), weft_topo_find_site(t, "east"));
  assert_non_null(x);
  assert_int_equal(x->oneway, 0);
  assert_true(x->link.v.bw == 1.25e8);
  assert_true(x->link.v.lat == 0.02);
  assert_string_equal(x->link.v.codec, "int8");
  assert_int_equal(x->link.v.streams, 16);
  assert_int_equal(x->link.set & WEFT_LINK_HAS_TRANSPORT, 0);
  assert_string_equal(t->defaults.device.kind, "cuda");
  assert_string_equal(t->defaults.device.model, "A100");
  assert_int_equal(weft_topo_site_of_host(t, "west-gpu1"), 1);
  assert_int_equal(weft_topo_site_of_host(t, "nowhere"), -1);
  assert_int_equal(weft_topo_count_hosts(t), 4);
  weft_topo_free(t);
}

static void test_three_sites_example(void **state) {
  (void)state;
  weft_topo *t = load(WEFT_TOPO_EXAMPLES, "three-sites-mixed.yaml");
  assert_int_equal(t->nsites, 3);
  assert_int_equal(weft_topo_count_hosts(t), 10);
  assert_int_equal(site(t, "hq")->nnodes, 4);
  assert_string_equal(site(t, "hq")->nodes[3], "a100-04");
  assert_string_equal(site(t, "edge")->nodes[3], "edge-login");
  assert_true(site(t, "hq")->node_link.v.bw == 300e9);
  assert_int_equal(site(t, "hq")->node_link.set, WEFT_LINK_HAS_BW | WEFT_LINK_HAS_LAT);
  assert_string_equal(site(t, "edge")->device.v.kind, "ascend");
  assert_true(site(t, "lab")->device.v.speed == 0.6);
  const weft_topo_node *login = weft_topo_node_entry(t, "edge-login");
  assert_non_null(login);
  assert_int_equal(login->device.set, WEFT_DEV_HAS_KIND | WEFT_DEV_HAS_SPEED);
  assert_true(login->device.v.speed == 0.05);
  assert_true(login->link.v.bw == 1.25e9);
  int hq = weft_topo_find_site(t, "hq"), lab = weft_topo_find_site(t, "lab"), edge = weft_topo_find_site(t, "edge");
  const weft_topo_wan *down = weft_topo_wan_entry(t, hq, edge), *up = weft_topo_wan_entry(t, edge, hq);
  assert_non_null(down);
  assert_non_null(up);
  assert_true(down != up);
  assert_true(down->link.v.bw == 2.5e8);
  assert_true(up->link.v.bw == 6.25e7);
  assert_null(weft_topo_wan_entry(t, lab, edge));
  assert_non_null(weft_topo_wan_entry(t, lab, hq));
  assert_string_equal(t->defaults.wan_link.codec, "auto");
  assert_true(t->defaults.wan_link.lat == 0.03);
  assert_int_equal(t->nrules, 2);
  assert_string_equal(weft_topo_rules_match(t->rules, t->nrules, "allreduce", 1 << 20), "hierarchical");
  assert_string_equal(weft_topo_rules_match(t->rules, t->nrules, "allreduce", 4096), "tree");
  assert_string_equal(weft_topo_rules_match(t->rules, t->nrules, "broadcast", 65536), "tree");
  assert_null(weft_topo_rules_match(t->rules, t->nrules, "broadcast", 65537));
  assert_null(weft_topo_rules_match(t->rules, t->nrules, "allreduce", 100000));
  weft_topo_free(t);
}

static void test_one_node_example(void **state) {
  (void)state;
  weft_topo *t = load(WEFT_TOPO_EXAMPLES, "one-node.yaml");
  assert_int_equal(t->nsites, 1);
  assert_int_equal(weft_topo_count_hosts(t), 1);
  assert_true(t->defaults.node_link.bw == 200e9);
  assert_string_equal(t->defaults.node_link.transport, "shm");
  assert_true(t->defaults.site_link.bw == 12.5e9); /* untouched */
  weft_topo_free(t);
}

static void test_good_forms(void **state) {
  (void)state;
  /* null sections, scalar node list, streams auto, quoted version, anchors, block hostlists with commas */
  weft_topo *t = parse_ok("# comment\n"
                          "version: \"1\"\n"
                          "defaults:\n"
                          "sites:\n"
                          "  - name: a\n"
                          "    nodes: n[1-3,7]\n"
                          "    device: &dev {kind: rocm, vendor: amd, model: MI250X, speed: 2}\n"
                          "  - name: b.dc-2_x\n"
                          "    nodes:\n"
                          "      - m[01-02],login\n"
                          "    device: *dev\n"
                          "  - name: empty\n"
                          "nodes:\n"
                          "wan:\n"
                          "  - {between: [a, b.dc-2_x], streams: auto, transport: auto, oneway: yes}\n"
                          "tuning:\n");
  assert_int_equal(t->nsites, 3);
  assert_int_equal(t->sites[0].nnodes, 4);
  assert_string_equal(t->sites[0].nodes[3], "n7");
  assert_int_equal(t->sites[1].nnodes, 3);
  assert_string_equal(t->sites[1].nodes[2], "login");
  assert_int_equal(t->sites[2].nnodes, 0);
  assert_string_equal(t->sites[1].device.v.model, "MI250X");
  assert_true(t->sites[1].device.v.speed == 2.0);
  assert_int_equal(t->nwans, 1);
  assert_int_equal(t->wans[0].oneway, 1);
  assert_int_equal(t->wans[0].link.set, WEFT_LINK_HAS_STREAMS | WEFT_LINK_HAS_TRANSPORT);
  assert_int_equal(t->wans[0].link.v.streams, 0);
  assert_non_null(weft_topo_wan_entry(t, 0, 1));
  assert_null(weft_topo_wan_entry(t, 1, 0));
  weft_topo_free(t);

  /* oneway in both directions is fine; a tuning rule without sizes matches everything */
  t = parse_ok("version: 1\nsites: [{name: a}, {name: b}]\n"
               "wan:\n  - {between: [a, b], oneway: true, bandwidth: 1Gbit/s}\n"
               "  - {between: [b, a], oneway: true, bandwidth: 2Gbit/s}\n"
               "tuning: [{coll: all, algo: ring}]\n");
  assert_true(weft_topo_wan_entry(t, 0, 1)->link.v.bw == 1.25e8);
  assert_true(weft_topo_wan_entry(t, 1, 0)->link.v.bw == 2.5e8);
  assert_string_equal(weft_topo_rules_match(t->rules, t->nrules, "alltoall", UINT64_MAX), "ring");
  assert_string_equal(weft_topo_rules_match(t->rules, t->nrules, "reduce", 0), "ring");
  weft_topo_free(t);

  /* defaults: a device with a kind starts from the built-in device */
  t = parse_ok("version: 1\ndefaults:\n  device: {kind: opencl, speed: 0.5}\n"
               "  wan_link: {codec: zstd, streams: 4}\n");
  assert_string_equal(t->defaults.device.kind, "opencl");
  assert_string_equal(t->defaults.device.vendor, "generic");
  assert_true(t->defaults.device.speed == 0.5);
  assert_string_equal(t->defaults.wan_link.codec, "zstd");
  assert_int_equal(t->defaults.wan_link.streams, 4);
  assert_true(t->defaults.wan_link.bw == 1.25e9);
  weft_topo_free(t);
}

/* Each bad text and its exact message. */
static const struct {
  const char *text, *msg;
} bad[] = {
    {"", "<string>:1:1: empty topology (expected at least 'version: 1')"},
    {"# only a comment\n", "<string>:1:1: empty topology (expected at least 'version: 1')"},
    {"- 1\n", "<string>:1:1: the top level must be a mapping, got a list"},
    {"sites: []\n", "<string>:1:1: missing 'version' (add 'version: 1' at the top)"},
    {"version: 2\n", "<string>:1:10: unsupported version 2 (this weft reads version 1)"},
    {"version: one\n", "<string>:1:10: 'version' must be an integer, got 'one'"},
    {"version: 1\nversion: 1\n", "<string>:2:1: duplicate key 'version' in the top level (first at line 1)"},
    {"version: 1\nsite:\n", "<string>:2:1: unknown key 'site' in the top level; did you mean 'sites'?"},
    {"version: 1\nfoo: 1\n",
     "<string>:2:1: unknown key 'foo' in the top level (expected version, defaults, sites, nodes, wan or tuning)"},
    {"version: 1\n---\nversion: 1\n", "<string>:3:1: a second YAML document; a topology file holds one document"},
    {"version: 1\nsites: [{name: a, nodes: [gpu[01-16], x]}]\n",
     "<string>:2:30: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence started at "
     "line 2); hostlists inside [...] must be quoted: [\"gpu[01-16]\"]"},
    {"version: 1\nsites:\n  - name: a\n   nodes: x\n",
     "<string>:4:4: YAML syntax error: did not find expected '-' indicator (while parsing a block collection "
     "started at line 3)"},
    {"version: 1\ndefaults:\n  wan_link: {bandwith: 1Gbit/s}\n",
     "<string>:3:14: unknown key 'bandwith' in wan_link; did you mean 'bandwidth'?"},
    {"version: 1\nsites: [{name: a}, {name: b}]\nwan:\n  - between: [a, b]\n    bandwith: 1Gbit/s\n",
     "<string>:5:5: unknown key 'bandwith' in wan link; did you mean 'bandwidth'?"},
    {"version: 1\ndefaults:\n  site_link: {codec: int8}\n",
     "<string>:3:15: 'codec' applies to WAN links only (wan_link and wan entries), not to site_link"},
    {"version: 1\nsites:\n  - name: a\n    link: {streams: 4}\n",
     "<string>:4:12: 'streams' applies to WAN links only (wan_link and wan entries), not to link of site 'a'"},
    {"version: 1\ndefaults:\n  node_link: {bandwidth: 0GB/s}\n",
     "<string>:3:26: bandwidth must be positive, got '0GB/s'"},
    {"version: 1\ndefaults:\n  node_link: {bandwidth: -3GB/s}\n",
     "<string>:3:26: bandwidth must be positive, got '-3GB/s'"},
    {"version: 1\ndefaults:\n  node_link: {bandwidth: 20}\n",
     "<string>:3:26: missing unit in bandwidth '20' (e.g. 100Gbit/s or 12.5GB/s)"},
    {"version: 1\ndefaults:\n  node_link: {latency: 5 msec}\n",
     "<string>:3:24: unknown latency unit 'msec' in '5 msec'; did you mean 'ms'?"},
    {"version: 1\ndefaults:\n  node_link: {latency: -1us}\n",
     "<string>:3:24: latency must not be negative, got '-1us'"},
    {"version: 1\ndefaults:\n  node_link: {bandwidth: [1, 2]}\n",
     "<string>:3:26: 'bandwidth' must be a single value, got a list"},
    {"version: 1\ndefaults:\n  node_link: {bandwidth: }\n", "<string>:3:26: missing value for 'bandwidth'"},
    {"version: 1\ndefaults:\n  node_link: {transport: tpc}\n",
     "<string>:3:26: unknown transport 'tpc'; did you mean 'tcp'?"},
    {"version: 1\ndefaults:\n  node_link: {transport: carrier-pigeon}\n",
     "<string>:3:26: unknown transport 'carrier-pigeon' (expected auto, shm, tcp, ucx or ofi)"},
    {"version: 1\ndefaults:\n  wan_link: {codec: int4}\n",
     "<string>:3:21: unknown codec 'int4'; did you mean 'int8'?"},
    {"version: 1\ndefaults:\n  wan_link: {streams: 0}\n",
     "<string>:3:23: 'streams' must be auto or an integer from 1 to 256, got '0'"},
    {"version: 1\ndefaults:\n  wan_link: {streams: many}\n",
     "<string>:3:23: 'streams' must be auto or an integer from 1 to 256, got 'many'"},
    {"version: 1\ndefaults:\n  device: {kind: gpu}\n",
     "<string>:3:18: unknown device kind 'gpu' (expected host, cuda, rocm, opencl or ascend)"},
    {"version: 1\ndefaults:\n  device: {kind: cdua}\n",
     "<string>:3:18: unknown device kind 'cdua'; did you mean 'cuda'?"},
    {"version: 1\ndefaults:\n  device: {speed: 0}\n", "<string>:3:19: 'speed' must be a positive number, got '0'"},
    {"version: 1\ndefaults:\n  device: {speed: fast}\n",
     "<string>:3:19: 'speed' must be a positive number, got 'fast'"},
    {"version: 1\ndefaults:\n  device: {model: \"a\\\"b\"}\n",
     "<string>:3:19: 'model' must not contain control characters, quotes or backslashes"},
    {"version: 1\ndefaults:\n  device: {model: 0123456789012345678901234567890123}\n",
     "<string>:3:19: 'model' is too long (at most 31 characters)"},
    {"version: 1\ndefaults:\n  device: {vendr: x}\n",
     "<string>:3:12: unknown key 'vendr' in device; did you mean 'vendor'?"},
    {"version: 1\ndefaults:\n  node_link: fast\n", "<string>:3:14: node_link must be a mapping, got a string"},
    {"version: 1\ndefaults: [1]\n", "<string>:2:11: defaults must be a mapping, got a list"},
    {"version: 1\nsites: {name: a}\n", "<string>:2:8: 'sites' must be a list, got a mapping"},
    {"version: 1\nsites:\n  - nodes: [a]\n", "<string>:3:5: site entry is missing 'name'"},
    {"version: 1\nsites:\n  - name: a b\n",
     "<string>:3:11: bad site name 'a b': use letters, digits, '-', '.' and '_'"},
    {"version: 1\nsites:\n  - name: \"\"\n", "<string>:3:11: site name must not be empty"},
    {"version: 1\nsites:\n  - name: east\n  - name: west\n  - name: east\n",
     "<string>:5:11: duplicate site name 'east' (first defined at line 3)"},
    {"version: 1\nsites:\n  - name: east\n    nodes: [\"gpu[01-04]\"]\n  - name: west\n    nodes: [\"gpu[04-08]\"]\n",
     "<string>:6:13: node 'gpu04' is already in site 'east' (line 3)"},
    {"version: 1\nsites:\n  - name: east\n    nodes: [a, b, a]\n",
     "<string>:4:19: node 'a' is listed twice in site 'east'"},
    {"version: 1\nsites:\n  - name: east\n    nodes: [\"gpu[01-04\"]\n",
     "<string>:4:13: bad hostlist 'gpu[01-04': missing ']'"},
    {"version: 1\nsites:\n  - name: east\n    nodes: [\"n[1-70000]\"]\n",
     "<string>:4:13: bad hostlist 'n[1-70000]': expands to more than 65536 names"},
    {"version: 1\nsites:\n  - name: e\n    nodes: [\"a[1-40000]\", \"b[1-40000]\"]\n",
     "<string>:4:27: too many nodes in sites (more than 65536)"},
    {"version: 1\nsites:\n  - name: east\n    nodes: [[a, b]]\n",
     "<string>:4:13: 'nodes' items must be host names or hostlists, got a list (quote hostlists inside [...]: "
     "\"gpu[01-16]\")"},
    {"version: 1\nsites:\n  - name: east\n    nodes: [\"gpu 1\"]\n",
     "<string>:4:13: bad hostlist 'gpu 1': bad character ' ' (host names use letters, digits, '-', '.' and '_')"},
    {"version: 1\nsites:\n  - name: east\n    speed: 1\n",
     "<string>:4:5: unknown key 'speed' in site entry (expected name, nodes, link, node_link or device)"},
    {"version: 1\nsites:\n  - name: e\n    link: {bandwidth: 1GB/s, codec: int8}\n",
     "<string>:4:30: 'codec' applies to WAN links only (wan_link and wan entries), not to link of site 'e'"},
    {"version: 1\nnodes:\n  - device: {kind: host}\n", "<string>:3:5: node entry is missing 'name'"},
    {"version: 1\nnodes:\n  - name: \"n[1-3]\"\n  - name: n2\n",
     "<string>:4:11: node 'n2' already has an entry in 'nodes' (line 3)"},
    {"version: 1\nnodes:\n  - name: x\n    device: {speed: -1}\n",
     "<string>:4:21: 'speed' must be a positive number, got '-1'"},
    {"version: 1\nnodes:\n  - name: x\n    site: a\n",
     "<string>:4:5: unknown key 'site' in node entry (expected name, link, node_link or device)"},
    {"version: 1\nsites: [{name: east}, {name: west}]\nwan:\n  - between: [east, wset]\n",
     "<string>:4:21: unknown site 'wset' in 'between'; did you mean 'west'?"},
    {"version: 1\nsites: [{name: east}, {name: west}]\nwan:\n  - between: [east, mars]\n",
     "<string>:4:21: unknown site 'mars' in 'between' (sites must be listed under 'sites')"},
    {"version: 1\nsites: [{name: east}, {name: west}]\nwan:\n  - between: [east, west, east]\n",
     "<string>:4:14: 'between' needs exactly 2 site names, got 3"},
    {"version: 1\nsites: [{name: east}, {name: west}]\nwan:\n  - between: east\n",
     "<string>:4:14: 'between' must be a list of 2 site names, got a string"},
    {"version: 1\nsites: [{name: east}, {name: west}]\nwan:\n  - between: [east, east]\n",
     "<string>:4:14: 'between' names site 'east' twice"},
    {"version: 1\nsites: [{name: east}, {name: west}]\nwan:\n  - bandwidth: 1Gbit/s\n",
     "<string>:4:5: wan link is missing 'between' (e.g. between: [east, west])"},
    {"version: 1\nsites: [{name: east}, {name: west}]\nwan:\n  - between: [east, west]\n  - between: [west, east]\n",
     "<string>:5:5: WAN link west -> east is already defined at line 4"},
    {"version: 1\nsites: [{name: a}, {name: b}]\nwan:\n  - {between: [a, b], oneway: true}\n  - {between: [b, a]}\n",
     "<string>:5:5: WAN link a -> b is already defined at line 4"},
    {"version: 1\nsites: [{name: a}, {name: b}]\nwan:\n  - {between: [a, b], oneway: maybe}\n",
     "<string>:4:31: 'oneway' must be true or false, got 'maybe'"},
    {"version: 1\nsites: [{name: a}, {name: b}]\nwan:\n  - {between: [a, b], latency: 20}\n",
     "<string>:4:32: missing unit in latency '20' (e.g. 2us, 1.5ms or 20ms)"},
    {"version: 1\ntuning:\n  - coll: allreduce\n", "<string>:3:5: tuning rule is missing 'algo'"},
    /* a block scalar gives an empty name, which the dump would write as a missing value (fuzz_topo) */
    {"version: 1\ntuning:\n  - coll: allreduce\n    algo: |\n", "<string>:4:11: 'algo' is empty: name an algorithm"},
    {"version: 1\ntuning:\n  - algo: ring\n", "<string>:3:5: tuning rule is missing 'coll'"},
    {"version: 1\ntuning:\n  - {coll: allreduse, algo: ring}\n",
     "<string>:3:12: unknown coll 'allreduse'; did you mean 'allreduce'?"},
    {"version: 1\ntuning:\n  - {coll: all, algo: butterfly}\n",
     "<string>:3:23: unknown algo 'butterfly' (expected direct, tree, rhd, ring, hierarchical, pairwise or slots)"},
    {"version: 1\ntuning:\n  - {coll: all, algo: ring, min_size: 2M, max_size: 1M}\n",
     "<string>:3:53: max_size (1048576 bytes) is smaller than min_size (2097152 bytes)"},
    {"version: 1\ntuning:\n  - {coll: all, algo: ring, min_size: 1X}\n",
     "<string>:3:39: min_size: unknown size unit 'X' in '1X' (use K, M, G, T or KiB, MiB, GiB, TiB)"},
    {"version: 1\ntuning:\n  - {coll: all, algo: ring, maxsize: 1M}\n",
     "<string>:3:29: unknown key 'maxsize' in tuning rule; did you mean 'max_size'?"},
    {"version: 1\n\tsites: []\n",
     "<string>:2:1: YAML syntax error: found a tab character that violates indentation (while scanning a plain "
     "scalar started at line 1)"},
};

static void test_bad(void **state) {
  (void)state;
  int failed = 0;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    weft_topo *t = NULL;
    char err[1024] = "";
    int rc =
        weft_topo_parse_string(bad[i].text, strlen(bad[i].text), NULL, weft_algo_rule_names(), &t, err, sizeof err);
    if (rc != -1 || t) {
      print_error("case %zu parsed:\n%s\n", i, bad[i].text);
      weft_topo_free(t);
      failed++;
    } else if (strcmp(err, bad[i].msg)) {
      print_error("case %zu:\n%s\ngot:  %s\nwant: %s\n", i, bad[i].text, err, bad[i].msg);
      failed++;
    }
  }
  assert_int_equal(failed, 0);
}

static void test_named_source(void **state) {
  (void)state;
  weft_topo *t;
  char err[512];
  const char *text = "version: 3\n";
  assert_int_equal(
      weft_topo_parse_string(text, strlen(text), "mine.yaml", weft_algo_rule_names(), &t, err, sizeof err), -1);
  assert_string_equal(err, "mine.yaml:1:10: unsupported version 3 (this weft reads version 1)");
  assert_int_equal(weft_topo_parse_file("/nonexistent/x.yaml", weft_algo_rule_names(), &t, err, sizeof err), -1);
  assert_string_equal(err, "/nonexistent/x.yaml: cannot open: No such file or directory");
  /* invalid UTF-8 */
  const char bin[] = "version: 1\n\xff\xfe\n";
  assert_int_equal(weft_topo_parse_string(bin, sizeof bin - 1, NULL, weft_algo_rule_names(), &t, err, sizeof err), -1);
  assert_string_equal(err, "<string>: invalid text at byte 11: invalid leading UTF-8 octet");
}

/* Hostile files: deep nesting is refused before libyaml spends minutes on
 * it, a NUL inside a value is refused instead of cutting it short, and an
 * oversized text is refused before parsing. */
static void test_hostile(void **state) {
  (void)state;
  weft_topo *t = NULL;
  char err[512];
  size_t n = 100000;
  char *deep = malloc(2 * n + 32);
  assert_non_null(deep);
  strcpy(deep, "version: 1\nsites: ");
  size_t at = strlen(deep);
  memset(deep + at, '[', n);
  memset(deep + at + n, ']', n);
  deep[at + 2 * n] = 0;
  assert_int_equal(weft_topo_parse_string(deep, strlen(deep), NULL, weft_algo_rule_names(), &t, err, sizeof err), -1);
  assert_string_equal(err, "<string>:2:39: nesting deeper than 32 levels");
  free(deep);
  const char nul[] = "version: 1\nsites:\n  - name: \"east\\0west\"\n";
  assert_int_equal(weft_topo_parse_string(nul, sizeof nul - 1, NULL, weft_algo_rule_names(), &t, err, sizeof err), -1);
  assert_string_equal(err, "<string>:3:11: a NUL character inside a value");
  const char raw[] = "version: 1\nsites:\n  - name: east\0west\n";
  assert_int_equal(weft_topo_parse_string(raw, sizeof raw - 1, NULL, weft_algo_rule_names(), &t, err, sizeof err), -1);
  size_t big = (16u << 20) + 1;
  char *huge = malloc(big);
  assert_non_null(huge);
  memset(huge, ' ', big);
  assert_int_equal(weft_topo_parse_string(huge, big, "huge.yaml", weft_algo_rule_names(), &t, err, sizeof err), -1);
  assert_non_null(strstr(err, "huge.yaml: too large"));
  free(huge);
  assert_null(t);
  /* with no list of algorithm names, a name must still be one (found by
   * fuzz_topo: the dump wrote it bare and did not parse back) */
  const char rule[] = "version: 1\ntuning:\n  - {coll: all, algo: \"ring, x: 1\"}\n";
  assert_int_equal(weft_topo_parse_string(rule, sizeof rule - 1, NULL, NULL, &t, err, sizeof err), -1);
  assert_string_equal(err, "<string>:3:23: 'algo' must be a name of letters, digits, '_' and '-', got 'ring, x: 1'");
}

/* tests/unit/topo: good-*.yaml parse; bad-*.yaml fail with the message on
 * their first line ("# expect: MESSAGE", MESSAGE starting with the base name). */
static void test_data_files(void **state) {
  (void)state;
  DIR *d = opendir(WEFT_TOPO_TESTDATA);
  assert_non_null(d);
  int good = 0, nbad = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t l = strlen(e->d_name);
    if (l < 5 || strcmp(e->d_name + l - 5, ".yaml")) continue;
    char path[1024], err[1024] = "";
    snprintf(path, sizeof path, "%s/%s", WEFT_TOPO_TESTDATA, e->d_name);
    weft_topo *t = NULL;
    int rc = weft_topo_parse_file(path, weft_algo_rule_names(), &t, err, sizeof err);
    if (!strncmp(e->d_name, "good-", 5)) {
      if (rc) fail_msg("%s", err);
      weft_topo_free(t);
      good++;
    } else if (!strncmp(e->d_name, "bad-", 4)) {
      FILE *f = fopen(path, "r");
      char line[1024] = "", want[2048];
      assert_non_null(f);
      assert_non_null(fgets(line, sizeof line, f));
      fclose(f);
      line[strcspn(line, "\n")] = '\0';
      assert_int_equal(strncmp(line, "# expect: ", 10), 0);
      snprintf(want, sizeof want, "%s/%s", WEFT_TOPO_TESTDATA, line + 10);
      assert_int_equal(rc, -1);
      if (strcmp(err, want)) fail_msg("%s\ngot:  %s\nwant: %s", e->d_name, err, want);
      nbad++;
    }
  }
  closedir(d);
  assert_true(good >= 2);
  assert_true(nbad >= 6);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_minimal),         cmocka_unit_test(test_two_sites_example),
      cmocka_unit_test(test_three_sites_example), cmocka_unit_test(test_one_node_example),
      cmocka_unit_test(test_good_forms),      cmocka_unit_test(test_bad),
      cmocka_unit_test(test_named_source),    cmocka_unit_test(test_data_files),
      cmocka_unit_test(test_hostile),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
