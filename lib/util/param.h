/* Environment parameters (WEFT_*), read once per use with defaults. */
#ifndef WEFT_PARAM_H
#define WEFT_PARAM_H

#include <stddef.h>
#include <stdint.h>

/* Value of the environment variable, or NULL when unset or empty. */
const char *weft_env(const char *name);
int64_t weft_env_int(const char *name, int64_t dflt);
/* Accepts K/M/G suffixes (powers of 1024). */
size_t weft_env_size(const char *name, size_t dflt);
/* WEFT_TIMEOUT in seconds (decimals allowed) as milliseconds; default 300 s. */
int weft_env_timeout_ms(void);
/* Parses "64", "64K", "1M", "2G"; returns 0 on success. */
int weft_parse_size(const char *text, size_t *out);

#endif
