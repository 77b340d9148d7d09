/* weft-topo explain and dump. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "topo/dump.h"
#include "tune/explain.h"

int cmd_explain(int argc, char **argv) {
  cli_opts o;
  if (cli_parse(argc, argv, 1, &o)) return EXIT_USAGE;
  if (o.help) {
    puts("usage: weft-topo explain FILE --nranks N [--ranks-per-node K] [--coll COLL] [--csv]\n"
         "\n"
         "For a job of N ranks on the file's nodes, prints for each message size the algorithm the\n"
         "tuner would choose, its predicted time and the bottleneck link. COLL: allreduce (default),\n"
         "allgather, reducescatter, broadcast, reduce, alltoall. --csv: one line per size and\n"
         "algorithm, 'bytes,algorithm,predicted_s,bottleneck,chosen'.");
    return EXIT_OK;
  }
  if (!o.nranks) {
    fprintf(stderr, "weft-topo explain: --nranks N is required (try -h)\n");
    return EXIT_USAGE;
  }
  weft_topo *t;
  weft_graph *g;
  if (cli_load(&o, &t, &g)) return EXIT_BAD;
  const char *coll = o.coll ? o.coll : "allreduce";
  int rc = o.csv ? weft_topo_explain_csv(g, coll, stdout) : weft_topo_explain(g, coll, stdout);
  weft_graph_free(g);
  weft_topo_free(t);
  return rc ? EXIT_BAD : EXIT_OK;
}

int cmd_dump(int argc, char **argv) {
  cli_opts o;
  if (cli_parse(argc, argv, 0, &o)) return EXIT_USAGE;
  if (o.help) {
    puts("usage: weft-topo dump FILE [--nranks N] [--ranks-per-node K]\n"
         "\n"
         "Writes the graph of a synthetic job on the file's nodes back as a topology file, with every\n"
         "value explicit: what a library run writes to WEFT_TOPO_DUMP_FILE.");
    return EXIT_OK;
  }
  weft_topo *t;
  weft_graph *g;
  if (cli_load(&o, &t, &g)) return EXIT_BAD;
  char err[512];
  int rc = weft_topo_dump(g, stdout, err, sizeof err);
  if (rc) fprintf(stderr, "%s\n", err);
  weft_graph_free(g);
  weft_topo_free(t);
  return rc ? EXIT_BAD : EXIT_OK;
}
