/* UCX transport (built when pkg-config finds ucx). */
#ifndef WEFT_UCX_H
#define WEFT_UCX_H

#include "weft_net.h"

extern const weftNet_t weft_net_ucx;

#endif
