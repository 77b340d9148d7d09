/* weft-topo dot: Graphviz drawing. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "topo/dump.h"
#include "topo/units.h"

static void edge_label(const weft_link *l, char *buf, size_t len) {
  char bw[64], lat[64];
  weft_format_bandwidth(l->bw, bw, sizeof bw);
  weft_format_latency(l->lat, lat, sizeof lat);
  if (l->streams)
    snprintf(buf, len, "%s\\n%s\\ncodec %s, %d streams", bw, lat, l->codec, l->streams);
  else
    snprintf(buf, len, "%s\\n%s\\ncodec %s", bw, lat, l->codec);
}

int cmd_dot(int argc, char **argv) {
  cli_opts o;
  if (cli_parse(argc, argv, 0, &o)) return EXIT_USAGE;
  if (o.help) {
    puts("usage: weft-topo dot FILE [--nranks N] [--ranks-per-node K]\n"
         "\n"
         "Writes the graph in Graphviz format: one cluster per site (labelled with its site link),\n"
         "one box per node (ranks and device), and WAN edges between sites labelled with bandwidth,\n"
         "latency and codec (dashed: defaults.wan_link). Render with: weft-topo dot F | dot -Tsvg > t.svg");
    return EXIT_OK;
  }
  weft_topo *t;
  weft_graph *g;
  if (cli_load(&o, &t, &g)) return EXIT_BAD;
  int ns = weft_graph_nsites(g);
  puts("digraph weft {\n  compound=true;\n  node [shape=box, fontsize=10];\n  edge [fontsize=9];");
  for (int s = 0; s < ns; s++) {
    weft_link sl;
    char l[160];
    weft_graph_site_link(g, s, s, &sl);
    weft_link_describe(&sl, 0, l, sizeof l);
    printf("  subgraph cluster_%d {\n    label=\"%s\\n%s\";\n", s, weft_graph_site_name(g, s), l);
    const int *nodes;
    int nn = weft_graph_site_nodes(g, s, &nodes);
    for (int i = 0; i < nn; i++) {
      const int *ranks;
      int nr = weft_graph_node_ranks(g, nodes[i], &ranks);
      char rl[256], dev[160];
      weft_ranks_describe(ranks, nr, rl, sizeof rl);
      weft_device_describe(weft_graph_node_device(g, nodes[i]), dev, sizeof dev);
      printf("    n%d [label=\"%s\\nrank%s %s\\n%s\"];\n", nodes[i], weft_graph_node_name(g, nodes[i]), nr == 1 ? "" : "s", rl, dev);
    }
    puts("  }");
  }
  for (int a = 0; a < ns; a++)
    for (int b = a + 1; b < ns; b++) {
      const int *na, *nb;
      weft_graph_site_nodes(g, a, &na);
      weft_graph_site_nodes(g, b, &nb);
      weft_link ab, ba;
      char la[200], lb[200];
      weft_graph_site_link(g, a, b, &ab);
      weft_graph_site_link(g, b, a, &ba);
      edge_label(&ab, la, sizeof la);
      const char *style = weft_graph_wan_explicit(g, a, b) ? "solid" : "dashed";
      if (weft_link_equal(&ab, &ba)) {
        printf("  n%d -> n%d [ltail=cluster_%d, lhead=cluster_%d, dir=both, style=%s, label=\"%s\"];\n", na[0],
               nb[0], a, b, style, la);
      } else {
        edge_label(&ba, lb, sizeof lb);
        printf("  n%d -> n%d [ltail=cluster_%d, lhead=cluster_%d, style=%s, label=\"%s\"];\n", na[0], nb[0], a, b,
               style, la);
        printf("  n%d -> n%d [ltail=cluster_%d, lhead=cluster_%d, style=%s, label=\"%s\"];\n", nb[0], na[0], b, a,
               weft_graph_wan_explicit(g, b, a) ? "solid" : "dashed", lb);
      }
    }
  puts("}");
  weft_graph_free(g);
  weft_topo_free(t);
  return EXIT_OK;
}
