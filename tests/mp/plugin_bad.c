/* Broken transport plugins for test_plugin, one per compile definition:
 *   BAD_ABI_FIELD  exports weftNetPlugin_v2 whose abiVersion says 99;
 *   NEWER_SYMBOL   exports only weftNetPlugin_v3 (a plugin for a newer ABI);
 *   OLDER_SYMBOL   exports only weftNetPlugin_v1 (the ABI whose key went in clear);
 *   NULL_FUNCTION  exports weftNetPlugin_v2 with required functions missing. */
#include "weft_net.h"

#if defined(BAD_ABI_FIELD)
WEFT_NET_PLUGIN_EXPORT const weftNet_t weftNetPlugin_v2 = {.abiVersion = 99, .name = "bad"};
#elif defined(NEWER_SYMBOL)
WEFT_NET_PLUGIN_EXPORT const weftNet_t weftNetPlugin_v3 = {.abiVersion = 3, .name = "future"};
#elif defined(OLDER_SYMBOL)
WEFT_NET_PLUGIN_EXPORT const weftNet_t weftNetPlugin_v1 = {.abiVersion = 1, .name = "past"};
#else
WEFT_NET_PLUGIN_EXPORT const weftNet_t weftNetPlugin_v2 = {.abiVersion = WEFT_NET_ABI_VERSION, .name = "hollow"};
#endif
