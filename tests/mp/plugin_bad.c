/* Broken transport plugins for test_plugin, one per compile definition:
 *   BAD_ABI_FIELD  exports weftNetPlugin_v1 whose abiVersion says 99;
 *   NEWER_SYMBOL   exports only weftNetPlugin_v2 (a plugin for a newer ABI);
 *   NULL_FUNCTION  exports weftNetPlugin_v1 with required functions missing. */
#include "weft_net.h"

#if defined(BAD_ABI_FIELD)
WEFT_NET_PLUGIN_EXPORT const weftNet_t weftNetPlugin_v1 = {.abiVersion = 99, .name = "bad"};
#elif defined(NEWER_SYMBOL)
WEFT_NET_PLUGIN_EXPORT const weftNet_t weftNetPlugin_v2 = {.abiVersion = 2, .name = "future"};
#else
WEFT_NET_PLUGIN_EXPORT const weftNet_t weftNetPlugin_v1 = {.abiVersion = WEFT_NET_ABI_VERSION, .name = "hollow"};
#endif
