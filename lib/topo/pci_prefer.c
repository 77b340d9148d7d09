/* Which NIC the socket transports should listen on, given the device's
 * locality (pci_locality.h). */
#include "topo/pci_locality.h"

#include <string.h>

const weft_nic *weft_locality_prefer(const weft_locality *loc, const char *current,
                                     int (*usable)(const char *name, void *arg), void *arg) {
  if (!loc->has_pci) return NULL; /* host memory: no device to be near */
  weft_nearness now = WEFT_NEAR_NONE;
  for (int i = 0; current && i < loc->nnics; i++)
    if (!loc->nics[i].rdma && !strcmp(loc->nics[i].name, current)) now = loc->nics[i].near;
  /* nics are ranked: the first usable interface is the nearest */
  for (int i = 0; i < loc->nnics; i++) {
    const weft_nic *n = &loc->nics[i];
    if (n->rdma || n->near >= WEFT_NEAR_NONE || !usable(n->name, arg)) continue;
    /* as near as the current one: keep the current (it routes to the root) */
    return n->near < now ? n : NULL;
  }
  return NULL;
}
