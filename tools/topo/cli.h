/* weft-topo: shared command-line handling. */
#ifndef WEFT_TOPO_CLI_H
#define WEFT_TOPO_CLI_H

#include "topo/file.h"
#include "topo/graph.h"

enum { EXIT_OK = 0, EXIT_BAD = 1, EXIT_USAGE = 2 };

typedef struct {
  const char *file;
  int nranks;   /* 0 = default */
  int per_node; /* 0 = default */
  const char *coll;
  int csv; /* explain --csv */
  const char *devices; /* explain --devices LIST */
  const char *codec;   /* explain --codec NAME */
  int help;
} cli_opts;

/* Parses FILE [--nranks N] [--ranks-per-node K] [--coll C] [-h]; with_coll
 * allows --coll. Prints the problem to stderr and returns -1 on bad usage. */
int cli_parse(int argc, char **argv, int with_coll, cli_opts *o);
/* Parses the file and builds the synthetic job's graph; prints the error to
 * stderr and returns -1 on failure. */
int cli_load(const cli_opts *o, weft_topo **t, weft_graph **g);

int cmd_validate(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_dot(int argc, char **argv);
int cmd_explain(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_hw(int argc, char **argv);

#endif
