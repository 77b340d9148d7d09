/* weft-topo explain and dump. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "codec/codec.h"
#include "topo/dump.h"
#include "tune/explain.h"

/* --devices LIST: one entry per rank, rank r taking item r mod the count. */
static int explain_devices(const weft_graph *g, const char *list, const char *coll) {
  int n = weft_graph_nranks(g), nitems = 0, rc = 0;
  weft_dev_entry items[64];
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", list);
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok && rc == 0; tok = strtok_r(NULL, ",", &save)) {
    if (nitems == 64 || weft_dev_entry_parse(tok, &items[nitems++]) != 0) {
      fprintf(stderr, "weft-topo: --devices: bad device '%s' (BACKEND[:host|unified|discrete[:COPY[:REDUCE]]])\n",
              tok);
      rc = -1;
    }
  }
  if (rc == 0 && nitems == 0) {
    fprintf(stderr, "weft-topo: --devices: empty list\n");
    rc = -1;
  }
  weft_devtable t = {n, rc == 0 ? calloc((size_t)n, sizeof(weft_dev_entry)) : NULL, 0};
  if (rc == 0 && !t.e) rc = -1;
  for (int r = 0; rc == 0 && r < n; r++) t.e[r] = items[r % nitems];
  if (rc == 0) {
    t.host_reduce_gbps = weft_devtable_measure_host_reduce();
    rc = weft_topo_explain_devices(g, &t, coll, stdout);
  }
  free(t.e);
  return rc;
}

int cmd_explain(int argc, char **argv) {
  cli_opts o;
  if (cli_parse(argc, argv, 1, &o)) return EXIT_USAGE;
  if (o.help) {
    puts("usage: weft-topo explain FILE --nranks N [--ranks-per-node K] [--coll COLL] [--csv]\n"
         "                         [--codec CODEC] [--devices DEV,DEV,...]\n"
         "\n"
         "For a job of N ranks on the file's nodes, prints for each message size the algorithm the\n"
         "library's tuner chooses for an fp32 sum (the same code a call runs: WEFT_ALGO aside, the\n"
         "WEFT_* tuning variables of this environment count), its predicted time and the bottleneck\n"
         "link; 'hier/bf16' is the hierarchical algorithm carrying a WAN codec. COLL: allreduce\n"
         "(default), allgather, reducescatter, broadcast, reduce, alltoall. --csv: one line per size\n"
         "and algorithm, 'bytes,algorithm,predicted_s,bottleneck,chosen,codec'.\n"
         "--codec: the WAN codec as WEFT_CODEC names it (default: WEFT_CODEC, else the file's).\n"
         "--devices: each rank's device as the library exchanges it at init, rank r taking item\n"
         "r mod the count, each BACKEND[:KIND[:COPY_GBPS[:REDUCE_GBPS]]] with KIND host, unified\n"
         "(mapped, no copy) or discrete (staged; default for a backend other than host), e.g.\n"
         "'cuda:discrete:20,host'. Adds the device block: each rank's device, into how many pieces\n"
         "staged calls are split per size (copies overlapping the network), and whether reductions\n"
         "run on a device kernel or the host kernels, and why.");
    return EXIT_OK;
  }
  if (!o.nranks) {
    fprintf(stderr, "weft-topo explain: --nranks N is required (try -h)\n");
    return EXIT_USAGE;
  }
  weft_codec_id id;
  if (o.codec && strcasecmp(o.codec, "auto") != 0 && weft_codec_parse(o.codec, &id) != 0) {
    fprintf(stderr, "weft-topo explain: unknown codec '%s' (none, fp16, bf16, int8, topk, zstd or auto)\n", o.codec);
    return EXIT_USAGE;
  }
  weft_topo *t;
  weft_graph *g;
  if (cli_load(&o, &t, &g)) return EXIT_BAD;
  const char *coll = o.coll ? o.coll : "allreduce";
  int rc = o.csv ? weft_topo_explain_csv(g, coll, o.codec, stdout) : weft_topo_explain(g, coll, o.codec, stdout);
  if (rc == 0 && o.devices && !o.csv) rc = explain_devices(g, o.devices, coll);
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
