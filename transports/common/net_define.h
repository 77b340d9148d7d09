/* Names a transport's weftNet_t: `weft_net_NAME` when linked into libweft,
 * the exported `weftNetPlugin_v2` when built as a WEFT_NET_PLUGIN module. */
#ifndef WEFT_NET_DEFINE_H
#define WEFT_NET_DEFINE_H

#include "weft_net.h"

#ifdef WEFT_NET_AS_PLUGIN
#define WEFT_NET_DEFINE(builtin_name) WEFT_NET_PLUGIN_EXPORT const weftNet_t weftNetPlugin_v2
#else
#define WEFT_NET_DEFINE(builtin_name) const weftNet_t builtin_name
#endif

#endif
