#include "util/ifaddr.h"

#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

static int usable(const struct ifaddrs *it, int family) {
  if (!it->ifa_addr || !(it->ifa_flags & IFF_UP) || it->ifa_addr->sa_family != family) return 0;
  if (family == AF_INET6 && IN6_IS_ADDR_LINKLOCAL(&((const struct sockaddr_in6 *)it->ifa_addr)->sin6_addr))
    return 0;
  return family == AF_INET || family == AF_INET6;
}

static int same_ip(const weft_sockaddr *a, const struct sockaddr *b) {
  if (a->sa.sa_family != b->sa_family) return 0;
  if (b->sa_family == AF_INET)
    return a->in.sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
  return !memcmp(&a->in6.sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof a->in6.sin6_addr);
}

int weft_if_name_of(const weft_sockaddr *a, char *name, size_t len) {
  struct ifaddrs *ifs = NULL;
  if (getifaddrs(&ifs) != 0) return -1;
  int found = -1;
  for (struct ifaddrs *it = ifs; it && found; it = it->ifa_next)
    if (it->ifa_addr && same_ip(a, it->ifa_addr)) {
      snprintf(name, len, "%s", it->ifa_name);
      found = 0;
    }
  freeifaddrs(ifs);
  return found;
}

int weft_if_addr(const char *name, int family, weft_sockaddr *out) {
  struct ifaddrs *ifs = NULL;
  if (getifaddrs(&ifs) != 0) return -1;
  int found = -1;
  for (struct ifaddrs *it = ifs; it && found; it = it->ifa_next)
    if (usable(it, family) && !strcmp(it->ifa_name, name)) {
      memset(out, 0, sizeof *out);
      memcpy(out, it->ifa_addr, family == AF_INET6 ? sizeof out->in6 : sizeof out->in);
      found = 0;
    }
  freeifaddrs(ifs);
  return found;
}

int weft_if_count_usable(int family) {
  struct ifaddrs *ifs = NULL;
  if (getifaddrs(&ifs) != 0) return 0;
  /* an interface with several addresses counts once */
  char seen[32][IF_NAMESIZE];
  int n = 0;
  for (struct ifaddrs *it = ifs; it; it = it->ifa_next) {
    if (!usable(it, family) || (it->ifa_flags & IFF_LOOPBACK)) continue;
    int dup = 0;
    for (int i = 0; i < n && !dup; i++) dup = !strncmp(seen[i], it->ifa_name, IF_NAMESIZE);
    if (!dup && n < 32) snprintf(seen[n++], IF_NAMESIZE, "%s", it->ifa_name);
  }
  freeifaddrs(ifs);
  return n;
}
