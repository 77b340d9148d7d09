/* Quantities with units, as topology files write them.
 *   bandwidth  100Gbit/s, 12.5GB/s, 800Mbit/s, 10Gbps, 2GiB/s  -> bytes/s
 *   latency    2us, 1.5ms, 20ms, 500ns, 1s                      -> seconds
 *   size       1M, 64KiB, 4096, 1G                              -> bytes
 *              (parsed by util/size.h, weft_parse_size; formatted here)
 * Parsers return 0, or -1 with the reason in why. Formatters write the
 * shortest text that parses back to exactly the same value. */
#ifndef WEFT_TOPO_UNITS_H
#define WEFT_TOPO_UNITS_H

#include <stddef.h>
#include <stdint.h>

int weft_parse_bandwidth(const char *text, double *bytes_per_s, char *why, size_t whylen);
int weft_parse_latency(const char *text, double *seconds, char *why, size_t whylen);
/* A plain finite decimal number (no unit). */
int weft_parse_number(const char *text, double *out);

void weft_format_bandwidth(double bytes_per_s, char *buf, size_t len);
void weft_format_latency(double seconds, char *buf, size_t len);
void weft_format_bytes(uint64_t bytes, char *buf, size_t len);
void weft_format_number(double x, char *buf, size_t len);

#endif
