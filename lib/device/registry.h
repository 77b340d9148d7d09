/* Device backend registry: the built-in backends this libweft was built
 * with (host always; opencl and cuda when their sources are in the build),
 * plus at most one external backend named by WEFT_DEVICE_PLUGIN. A plugin
 * named like a built-in replaces it. Also the syntax of a device choice,
 * "name[:spec]" (WEFT_DEVICE, weftConfig_t.device). */
#ifndef WEFT_DEVICE_REGISTRY_H
#define WEFT_DEVICE_REGISTRY_H

#include <stddef.h>

#include "weft_device.h"

#define WEFT_DEVICE_SLOTS 6
#define WEFT_DEVICE_NAME_LEN 32
#define WEFT_DEVICE_SPEC_LEN 64

/* The built-in host backend (lib/device/host.c). */
extern const weftDevice_t weft_device_host;

/* Loads WEFT_DEVICE_PLUGIN (once per process). On failure returns
 * weftInvalidUsage and writes why into err (every later call too). */
weftResult_t weft_device_registry_init(char *err, size_t errlen);

int weft_device_count(void);
const weftDevice_t *weft_device_at(int slot);
const weftDevice_t *weft_device_find(const char *name);
/* "host, opencl, cuda, ..." for error messages. */
const char *weft_device_names(void);
/* Path of the plugin serving a backend, NULL for a built-in. */
const char *weft_device_origin(const weftDevice_t *ops);

/* A device choice split into its parts. */
typedef struct {
  char name[WEFT_DEVICE_NAME_LEN]; /* backend name */
  char spec[WEFT_DEVICE_SPEC_LEN]; /* what follows "name:", "" if nothing */
} weft_device_choice;

/* Splits "name[:spec]" (want must be non-NULL). Refuses an empty string, an
 * empty or overlong name or spec, and a name with characters other than
 * letters, digits, '_' and '-'. who names the source in messages
 * ("WEFT_DEVICE", "config device"). Returns weftInvalidArgument with the
 * reason in err. */
weftResult_t weft_device_parse(const char *want, const char *who, weft_device_choice *out, char *err,
                               size_t errlen);
/* The spec syntax of the built-in backends: host takes none, opencl "P" or
 * "P:D" (platform, device), cuda "N" (numbers >= 0, "" = the first). Any
 * other name passes: its backend reads its own spec. */
weftResult_t weft_device_check_spec(const weft_device_choice *c, const char *who, char *err, size_t errlen);
/* Parses want and finds its backend in the registry (initialising it):
 * weftInvalidUsage for a refused plugin, weftInvalidArgument for bad syntax
 * or an unknown backend. The built-in spec syntax is checked only where a
 * built-in serves the name (a plugin reads its own spec). */
weftResult_t weft_device_lookup(const char *want, const char *who, weft_device_choice *out,
                                const weftDevice_t **ops, char *err, size_t errlen);

#endif
