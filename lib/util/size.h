/* Byte sizes as people write them, the one parser for environment variables,
 * topology files and benchmark flags:
 *   4096  64K  64KB  64k  1.5M  1MiB  "64 MiB"  2G  1T  1e3
 * K/M/G/T are powers of 1024 in any spelling (K, k, KB, kB, Kb, KiB). The
 * number is decimal (no octal, no hex, no inf/nan), may have a fraction or
 * an exponent, and must come out as a whole number of bytes below 2^63.
 * Depends on the C library only: benchmarks built without libweft compile
 * this file in. */
#ifndef WEFT_UTIL_SIZE_H
#define WEFT_UTIL_SIZE_H

#include <stddef.h>
#include <stdint.h>

/* 0 on success; -1 with the reason in why (may be NULL). */
int weft_parse_size(const char *text, uint64_t *bytes, char *why, size_t whylen);
/* The same into a size_t (fails where the value does not fit one). */
int weft_parse_size_t(const char *text, size_t *bytes, char *why, size_t whylen);

#endif
