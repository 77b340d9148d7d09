/* Broken device plugins for test_device, one per compile definition:
 *   BAD_ABI_FIELD  exports weftDevicePlugin_v1 whose abiVersion says 99;
 *   NEWER_SYMBOL   exports only weftDevicePlugin_v2 (a plugin for a newer ABI);
 *   NO_SYMBOL      exports no device table at all;
 *   NULL_FUNCTION  exports weftDevicePlugin_v1 with required functions missing. */
#include "weft_device.h"

#if defined(BAD_ABI_FIELD)
WEFT_DEVICE_PLUGIN_EXPORT const weftDevice_t weftDevicePlugin_v1 = {.abiVersion = 99, .name = "bad"};
#elif defined(NEWER_SYMBOL)
WEFT_DEVICE_PLUGIN_EXPORT const weftDevice_t weftDevicePlugin_v2 = {.abiVersion = 2, .name = "future"};
#elif defined(NO_SYMBOL)
WEFT_DEVICE_PLUGIN_EXPORT int weftDeviceSomethingElse = 1;
#else
WEFT_DEVICE_PLUGIN_EXPORT const weftDevice_t weftDevicePlugin_v1 = {.abiVersion = WEFT_DEVICE_ABI_VERSION,
                                                                    .name = "hollow"};
#endif
