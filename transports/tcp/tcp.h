/* Built-in tcp transport (always available). */
#ifndef WEFT_TCP_H
#define WEFT_TCP_H

#include "weft_net.h"

extern const weftNet_t weft_net_tcp;

#endif
