/* weft-topo: check, show and draw weft topology files (docs/topology.md). */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
  fputs("usage: weft-topo COMMAND [ARGS]\n"
        "\n"
        "commands:\n"
        "  validate FILE...                check topology files; prints 'FILE: ok (...)' or the error\n"
        "  show FILE [--nranks N] [--ranks-per-node K]\n"
        "                                  tree of sites, nodes and ranks with devices and links\n"
        "  dot FILE [--nranks N] [--ranks-per-node K]\n"
        "                                  Graphviz drawing: one cluster per site, WAN edges\n"
        "  dump FILE [--nranks N] [--ranks-per-node K]\n"
        "                                  the graph written back as a topology file\n"
        "  explain FILE --nranks N [--ranks-per-node K] [--coll COLL] [--csv]\n"
        "                                  algorithm, predicted time and bottleneck per size\n"
        "  hw [--device SPEC]              what hwloc finds on this node; the device, its NUMA node and NICs\n"
        "\n"
        "'weft-topo COMMAND -h' explains one command. Exit status: 0 ok, 1 invalid file, 2 bad usage.\n",
        f);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
    usage(stdout);
    return EXIT_OK;
  }
  static const struct {
    const char *name;
    int (*fn)(int, char **);
  } cmds[] = {{"validate", cmd_validate}, {"show", cmd_show},       {"dot", cmd_dot},
              {"explain", cmd_explain},   {"dump", cmd_dump},       {"hw", cmd_hw}};
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
    if (!strcmp(cmd, cmds[i].name)) return cmds[i].fn(argc - 1, argv + 1);
  fprintf(stderr, "weft-topo: unknown command '%s'\n\n", cmd);
  usage(stderr);
  return EXIT_USAGE;
}
