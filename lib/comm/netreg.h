/* Transport registry: the built-in transports this libweft was configured
 * with, plus at most one external plugin named by WEFT_NET_PLUGIN. Slots are
 * numbered in a fixed order that every rank of a job shares (handles are
 * exchanged by slot). */
#ifndef WEFT_NETREG_H
#define WEFT_NETREG_H

#include <stddef.h>

#include "weft_net.h"

#define WEFT_NET_SLOTS 6

/* Loads WEFT_NET_PLUGIN (once per process). On failure returns
 * weftInvalidUsage and writes why into err. */
weftResult_t weft_net_registry_init(char *err, size_t errlen);

int weft_net_count(void);
const weftNet_t *weft_net_at(int slot);
int weft_net_slot_of(const weftNet_t *net);
const weftNet_t *weft_net_find(const char *name);
/* "tcp, shm, ucx, ..." for error messages. */
const char *weft_net_names(void);
/* Path of the plugin serving a slot, NULL for a built-in. */
const char *weft_net_origin(int slot);

#endif
