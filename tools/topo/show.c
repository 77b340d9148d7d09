/* weft-topo show: the graph as a tree. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "topo/dump.h"
#include "topo/units.h"

static void show_node(const weft_graph *g, int n, int s) {
  const int *ranks;
  int nr = weft_graph_node_ranks(g, n, &ranks);
  char rl[256], dev[160], l[160];
  weft_ranks_describe(ranks, nr, rl, sizeof rl);
  weft_device_describe(weft_graph_node_device(g, n), dev, sizeof dev);
  printf("  node %s: rank%s %s, %s\n", weft_graph_node_name(g, n), nr == 1 ? "" : "s", rl, dev);
  weft_link site_link;
  weft_graph_site_link(g, s, s, &site_link);
  const weft_link *own = weft_graph_node_site_link(g, n), *nl = weft_graph_node_node_link(g, n);
  if (!weft_link_equal(own, &site_link)) {
    weft_link_describe(own, 0, l, sizeof l);
    printf("    link to its site: %s (node entry)\n", l);
  }
  if (nr > 1) {
    weft_link_describe(nl, 0, l, sizeof l);
    printf("    between its ranks: %s\n", l);
  }
}

static void show_wan(const weft_graph *g) {
  int ns = weft_graph_nsites(g);
  if (ns < 2) return;
  puts("wan links:");
  for (int a = 0; a < ns; a++)
    for (int b = a + 1; b < ns; b++) {
      weft_link ab, ba;
      char l[200];
      weft_graph_site_link(g, a, b, &ab);
      weft_graph_site_link(g, b, a, &ba);
      const char *src = weft_graph_wan_explicit(g, a, b) ? "" : " (default)";
      weft_link_describe(&ab, 1, l, sizeof l);
      if (weft_link_equal(&ab, &ba)) {
        printf("  %s <-> %s: %s%s\n", weft_graph_site_name(g, a), weft_graph_site_name(g, b), l, src);
      } else {
        printf("  %s -> %s: %s%s\n", weft_graph_site_name(g, a), weft_graph_site_name(g, b), l, src);
        weft_link_describe(&ba, 1, l, sizeof l);
        printf("  %s -> %s: %s%s\n", weft_graph_site_name(g, b), weft_graph_site_name(g, a), l,
               weft_graph_wan_explicit(g, b, a) ? "" : " (default)");
      }
    }
}

static void show_rules(const weft_graph *g) {
  int n = weft_graph_nrules(g);
  if (!n) return;
  puts("tuning rules (first match wins):");
  for (int i = 0; i < n; i++) {
    const weft_topo_rule *r = weft_graph_rule(g, i);
    char mn[32], mx[32] = "unlimited";
    weft_format_bytes(r->min_size, mn, sizeof mn);
    if (r->max_size != UINT64_MAX) weft_format_bytes(r->max_size, mx, sizeof mx);
    printf("  %s, %s .. %s bytes: %s\n", r->coll, mn, mx, r->algo);
  }
}

int cmd_show(int argc, char **argv) {
  cli_opts o;
  if (cli_parse(argc, argv, 0, &o)) return EXIT_USAGE;
  if (o.help) {
    puts("usage: weft-topo show FILE [--nranks N] [--ranks-per-node K]\n"
         "\n"
         "Builds the graph of a synthetic job on the file's nodes and prints it as a tree:\n"
         "sites, their nodes, the ranks of each node with its device, and the links.\n"
         "Nodes are those of the sites in file order. Default: one rank per node; --ranks-per-node K\n"
         "puts K on each; --nranks N spreads N evenly (or K per node until N are placed).");
    return EXIT_OK;
  }
  weft_topo *t;
  weft_graph *g;
  if (cli_load(&o, &t, &g)) return EXIT_BAD;
  int ns = weft_graph_nsites(g);
  printf("%s: %d site%s, %d node%s, %d rank%s\n", o.file, ns, ns == 1 ? "" : "s", weft_graph_nnodes(g),
         weft_graph_nnodes(g) == 1 ? "" : "s", weft_graph_nranks(g), weft_graph_nranks(g) == 1 ? "" : "s");
  for (int s = 0; s < ns; s++) {
    const int *nodes, *ranks;
    int nn = weft_graph_site_nodes(g, s, &nodes), nr = weft_graph_site_ranks(g, s, &ranks);
    char rl[256], l[160];
    weft_ranks_describe(ranks, nr, rl, sizeof rl);
    printf("site %s: %d node%s, rank%s %s\n", weft_graph_site_name(g, s), nn, nn == 1 ? "" : "s",
           nr == 1 ? "" : "s", rl);
    weft_link sl;
    weft_graph_site_link(g, s, s, &sl);
    weft_link_describe(&sl, 0, l, sizeof l);
    if (nn > 1) printf("  between its nodes: %s\n", l);
    for (int i = 0; i < nn; i++) show_node(g, nodes[i], s);
  }
  show_wan(g);
  show_rules(g);
  weft_graph_free(g);
  weft_topo_free(t);
  return EXIT_OK;
}
