#include "comm/locality.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "bootstrap/bootstrap.h"
#include "comm/comm.h"
#include "comm/comm_log.h"
#include "device/device.h"
#include "topo/pci_locality.h"
#include "util/ifaddr.h"
#include "util/param.h"

static int has_address(const char *name, void *family) {
  weft_sockaddr a;
  return weft_if_addr(name, *(int *)family, &a) == 0;
}

void weft_comm_choose_nic(struct weftComm *c) {
  c->net_local_ip[0] = 0;
  const struct weft_dev *d = c->device;
  char id[WEFT_BUSID_LEN];
  if (weft_env("WEFT_SOCKET_IFNAME") || !d || weft_pci_busid_norm(d->props.uniqueId, id, sizeof id) != 0) return;
  const weft_sockaddr *boot = &c->bootstrap->peers[c->rank].addr;
  int family = boot->sa.sa_family;
  /* loopback: every rank is on this host; one interface: nothing to choose */
  if (weft_sockaddr_is_loopback(boot) || weft_if_count_usable(family) < 2) return;
  char current[64] = "";
  weft_if_name_of(boot, current, sizeof current);
  if (c->layout.sites.ngroups > 1) {
    /* peers in other sites reach this host through what routes to the root */
    WEFT_INFO(c, "NIC %s: the bootstrap interface, as the comm spans %d sites", current[0] ? current : "?",
              c->layout.sites.ngroups);
    return;
  }
  weft_locality loc;
  weft_locality_discover(id, &loc); /* cached since the device opened */
  const weft_nic *nic = weft_locality_prefer(&loc, current[0] ? current : NULL, has_address, &family);
  weft_sockaddr a;
  if (!nic || weft_if_addr(nic->name, family, &a) != 0) {
    WEFT_INFO(c, "NIC %s: the bootstrap interface, %s %s", current[0] ? current : "?",
              loc.has_pci ? "as near as any other to the device" : "as this host's PCI topology lacks the device", id);
    return;
  }
  inet_ntop(family, family == AF_INET6 ? (const void *)&a.in6.sin6_addr : (const void *)&a.in.sin_addr,
            c->net_local_ip, sizeof c->net_local_ip);
  WEFT_INFO(c, "NIC %s (%s): nearest the device %s (%s); the bootstrap interface %s is farther", nic->name,
            c->net_local_ip, id, weft_nearness_str(nic->near), current[0] ? current : "?");
}

void weft_comm_locality(struct weftComm *c) {
  weft_locality loc;
  const struct weft_dev *d = c->device;
  weft_locality_discover(d ? d->props.uniqueId : NULL, &loc);
  char where[256];
  weft_locality_describe(&loc, where, sizeof where);
  snprintf(c->dev_where, sizeof c->dev_where, "%s%s%s '%.100s' id %.64s: %s", d ? d->name : "host",
           d && d->spec[0] ? ":" : "", d ? d->spec : "", d ? d->props.model : "host memory",
           d ? d->props.uniqueId : "-", where);
  WEFT_INFO(c, "device locality: %s", where);
}
