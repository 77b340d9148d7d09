/* Environment parameters (WEFT_*), read strictly: decimal numbers only (no
 * octal, hex, NaN or infinity), every value range-checked. A value that is
 * refused is never used silently: the readers below fall back to the
 * default and say so at WARN, naming the variable, the value and the
 * default (once per variable and value in a process); where the value
 * matters too much to guess (timeouts, ranks) the caller fails init with
 * the checkers' message instead. */
#ifndef WEFT_PARAM_H
#define WEFT_PARAM_H

#include <stddef.h>
#include <stdint.h>

/* Value of the environment variable, or NULL when unset or empty. */
const char *weft_env(const char *name);

/* A decimal integer (optional sign, no spaces) in [lo, hi] into *out: 0, or
 * -1 with why. */
int weft_parse_int(const char *text, int64_t lo, int64_t hi, int64_t *out, char *why, size_t whylen);

/* Says at WARN (once per variable and value) that name=value was refused
 * because of why, and that `used` is used instead. */
void weft_env_refused(const char *name, const char *value, const char *why, const char *used);

/* An integer in [lo, hi]; dflt when unset or refused (WARN). */
int64_t weft_env_int(const char *name, int64_t dflt, int64_t lo, int64_t hi);
/* 0/1, no/yes, off/on, false/true; dflt when unset or refused (WARN). */
int weft_env_bool(const char *name, int dflt);
/* The index in names[0..n) of the value (any case); dflt when unset or
 * refused (WARN, listing the names). */
int weft_env_choice(const char *name, const char *const *names, int n, int dflt);
/* A size as util/size.h reads it ("64K", "1MiB"); dflt when unset or refused (WARN). */
size_t weft_env_size(const char *name, size_t dflt);

/* WEFT_TIMEOUT: seconds, decimals allowed, > 0 and at most 2e6; default 300 s. */
#define WEFT_TIMEOUT_DEFAULT_MS 300000
/* The timeout in ms; the default when unset or refused (WARN). */
int weft_env_timeout_ms(void);
/* For init: *ms, or -1 with why when WEFT_TIMEOUT is set but refused. */
int weft_env_timeout_check(int *ms, char *why, size_t whylen);

#endif
