/* Environment parameters (WEFT_*), read once per use with defaults. */
#ifndef WEFT_PARAM_H
#define WEFT_PARAM_H

#include <stddef.h>
#include <stdint.h>

/* Value of the environment variable, or NULL when unset or empty. */
const char *weft_env(const char *name);
int64_t weft_env_int(const char *name, int64_t dflt);
/* A size as util/size.h reads it ("64K", "1MiB"); dflt when unset or bad. */
size_t weft_env_size(const char *name, size_t dflt);
/* WEFT_TIMEOUT in seconds (decimals allowed) as milliseconds; default 300 s. */
int weft_env_timeout_ms(void);

#endif
