#include "cli.h"
#include "coll/algo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topo/synth.h"

static int int_arg(const char *opt, const char *v, int *out) {
  char *end;
  errno = 0;
  long x = v ? strtol(v, &end, 10) : 0;
  if (!v || errno || end == v || *end || x < 1 || x > (1 << 24)) {
    fprintf(stderr, "weft-topo: %s needs a positive integer, got '%s'\n", opt, v ? v : "");
    return -1;
  }
  *out = (int)x;
  return 0;
}

int cli_parse(int argc, char **argv, int with_coll, cli_opts *o) {
  memset(o, 0, sizeof *o);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      o->help = 1;
    } else if (!strcmp(a, "--nranks") || !strcmp(a, "-n")) {
      if (int_arg(a, i + 1 < argc ? argv[++i] : NULL, &o->nranks)) return -1;
    } else if (!strcmp(a, "--ranks-per-node") || !strcmp(a, "-k")) {
      if (int_arg(a, i + 1 < argc ? argv[++i] : NULL, &o->per_node)) return -1;
    } else if (with_coll && !strcmp(a, "--coll")) {
      if (i + 1 >= argc) {
        fprintf(stderr, "weft-topo: --coll needs a collective name\n");
        return -1;
      }
      o->coll = argv[++i];
      if (!weft_name_in(o->coll, weft_topo_colls) || !strcmp(o->coll, "all")) {
        fprintf(stderr, "weft-topo: unknown collective '%s'\n", o->coll);
        return -1;
      }
    } else if (with_coll && !strcmp(a, "--csv")) {
      o->csv = 1;
    } else if (with_coll && !strcmp(a, "--codec")) {
      if (i + 1 >= argc) {
        fprintf(stderr, "weft-topo: --codec needs a name (try -h)\n");
        return -1;
      }
      o->codec = argv[++i];
    } else if (with_coll && !strcmp(a, "--devices")) {
      if (i + 1 >= argc) {
        fprintf(stderr, "weft-topo: --devices needs a list (try -h)\n");
        return -1;
      }
      o->devices = argv[++i];
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "weft-topo: unknown option '%s' (try -h)\n", a);
      return -1;
    } else if (!o->file) {
      o->file = a;
    } else {
      fprintf(stderr, "weft-topo: unexpected argument '%s' (try -h)\n", a);
      return -1;
    }
  }
  if (!o->help && !o->file) {
    fprintf(stderr, "weft-topo: missing FILE (try -h)\n");
    return -1;
  }
  return 0;
}

int cli_load(const cli_opts *o, weft_topo **t, weft_graph **g) {
  char err[1024];
  *t = NULL;
  *g = NULL;
  if (weft_topo_parse_file(o->file, weft_algo_rule_names(), t, err, sizeof err)) {
    fprintf(stderr, "%s\n", err);
    return -1;
  }
  weft_rank_desc *ranks = NULL;
  int n = 0;
  if (weft_topo_synth_ranks(*t, o->nranks, o->per_node, &ranks, &n, err, sizeof err) ||
      weft_graph_build(ranks, n, *t, g, err, sizeof err)) {
    free(ranks);
    fprintf(stderr, "%s: %s\n", o->file, err);
    weft_topo_free(*t);
    *t = NULL;
    return -1;
  }
  free(ranks);
  return 0;
}
