/* weft-topo validate FILE... */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "coll/algo.h"

static const char *plural(size_t n, const char *one, const char *many) { return n == 1 ? one : many; }

int cmd_validate(int argc, char **argv) {
  int nfiles = 0, bad = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      puts("usage: weft-topo validate FILE...\n"
           "\n"
           "Parses each topology file and checks it. Prints 'FILE: ok (S sites, N nodes, W wan links)'\n"
           "on stdout, or 'FILE:LINE:COL: message' on stderr. Exit status 0 when every file is valid,\n"
           "1 when one is not, 2 on bad usage.");
      return EXIT_OK;
    }
    if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "weft-topo validate: unknown option '%s' (try -h)\n", argv[i]);
      return EXIT_USAGE;
    }
  }
  for (int i = 1; i < argc; i++) {
    nfiles++;
    weft_topo *t;
    char err[1024];
    if (weft_topo_parse_file(argv[i], weft_algo_rule_names(), &t, err, sizeof err)) {
      fprintf(stderr, "%s\n", err);
      bad = 1;
      continue;
    }
    size_t nn = weft_topo_count_hosts(t);
    printf("%s: ok (%d %s, %zu %s, %d %s)\n", argv[i], t->nsites, plural((size_t)t->nsites, "site", "sites"), nn,
           plural(nn, "node", "nodes"), t->nwans, plural((size_t)t->nwans, "wan link", "wan links"));
    weft_topo_free(t);
  }
  if (!nfiles) {
    fprintf(stderr, "weft-topo validate: missing FILE (try -h)\n");
    return EXIT_USAGE;
  }
  return bad ? EXIT_BAD : EXIT_OK;
}
