/* Where the ranks of a communicator are: the topology graph (lib/topo) built
 * at init from every rank's hostname, host id and site name plus the
 * optional topology file, and its nodes and sites as rank groups for the
 * hierarchical algorithms and the tuner. */
#ifndef WEFT_LAYOUT_H
#define WEFT_LAYOUT_H

#include <stdint.h>

#include "tune/devtable.h"
#include "util/call.h"

struct weftComm;
struct weft_graph;

typedef struct {
  struct weft_graph *graph;
  weft_groups nodes; /* ranks grouped by node (host id) */
  weft_groups sites; /* ranks grouped by site */
  int *mem;          /* backing store of both */
  weft_dev_entry *devs; /* every rank's device, exchanged with the site names */
} weft_layout;

/* Exchanges site names and device entries (tune/devtable.h) over the bootstrap, reads the topology file, builds
 * the graph and the groups; rank 0 writes WEFT_TOPO_DUMP_FILE if set. */
weftResult_t weft_layout_build(struct weftComm *c);
void weft_layout_free(weft_layout *l);

#endif
