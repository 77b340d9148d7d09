/* libfabric (OFI) transport, built when pkg-config finds libfabric. */
#ifndef WEFT_OFI_H
#define WEFT_OFI_H

#include "weft_net.h"

extern const weftNet_t weft_net_ofi;

#endif
