/* Network interfaces and their addresses (getifaddrs), for choosing the
 * interface the transports listen on. */
#ifndef WEFT_IFADDR_H
#define WEFT_IFADDR_H

#include <stddef.h>

#include "util/sock.h"

/* Name of the interface that holds address a (port ignored); 0, or -1. */
int weft_if_name_of(const weft_sockaddr *a, char *name, size_t len);
/* The first address of the given family (AF_INET, AF_INET6; not link-local)
 * on interface name, which must be up; 0, or -1. Port 0. */
int weft_if_addr(const char *name, int family, weft_sockaddr *out);
/* Interfaces that are up, not loopback, with an address of that family. */
int weft_if_count_usable(int family);

#endif
