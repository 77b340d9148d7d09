/* Built-in shared-memory transport for peers on the same host. */
#ifndef WEFT_SHM_H
#define WEFT_SHM_H

#include "weft_net.h"

extern const weftNet_t weft_net_shm;

#endif
