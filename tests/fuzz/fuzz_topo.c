/* Topology files (lib/topo): the parser with its pre-scan; for a file that
 * parses, the graph of a small synthetic job on it and the graph's dump,
 * which must parse again. Rule algorithm names are not checked here (NULL
 * accepts any), so the harness needs only the topology layer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "topo/dump.h"
#include "topo/file.h"
#include "topo/graph.h"
#include "topo/synth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  weft_topo *t = NULL;
  char err[1024];
  if (weft_topo_parse_string((const char *)data, size, "fuzz.yaml", NULL, &t, err, sizeof err) != 0)
    return 0;
  weft_rank_desc *ranks = NULL;
  int n = 0;
  weft_graph *g = NULL;
  if (weft_topo_synth_ranks(t, 8, 0, &ranks, &n, err, sizeof err) == 0 &&
      weft_graph_build(ranks, n, t, &g, err, sizeof err) == 0) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f && weft_topo_dump(g, f, err, sizeof err) == 0) {
      fclose(f);
      f = NULL;
      weft_topo *again = NULL;
      if (weft_topo_parse_string(text, len, "dump", NULL, &again, err, sizeof err) != 0) {
        fprintf(stderr, "a dump does not parse back: %s\n%s\n", err, text);
        abort(); /* a finding */
      }
      weft_topo_free(again);
    }
    if (f) fclose(f);
    free(text);
  }
  weft_graph_free(g);
  free(ranks);
  weft_topo_free(t);
  return 0;
}
