/* Ranking NICs by PCI distance to a device, whatever the source of the
 * topology (pci_locality.h). */
#include "topo/pci_locality.h"

#include <stdio.h>
#include <string.h>

int weft_pci_busid_norm(const char *id, char *out, size_t len) {
  unsigned dom = 0, bus, dev, fn;
  int used = 0;
  if (!id) return -1;
  if (sscanf(id, "%x:%x:%x.%1x%n", &dom, &bus, &dev, &fn, &used) != 4) {
    dom = 0;
    used = 0;
    if (sscanf(id, "%x:%x.%1x%n", &bus, &dev, &fn, &used) != 3) return -1;
  }
  if (id[used] || dom > 0xffff || bus > 0xff || dev > 0x1f || fn > 7) return -1;
  snprintf(out, len, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
  return 0;
}

const char *weft_nearness_str(weft_nearness n) {
  switch (n) {
    case WEFT_NEAR_SWITCH: return "same PCI switch";
    case WEFT_NEAR_HOSTBRIDGE: return "same host bridge";
    case WEFT_NEAR_NUMA: return "same NUMA node";
    case WEFT_NEAR_PACKAGE: return "same package";
    case WEFT_NEAR_OTHER: return "other NUMA node";
    case WEFT_NEAR_NONE: return "no PCI device";
  }
  return "?";
}

/* Bridges the two chains share, from the root down. */
static int shared_bridges(const weft_pci_place *a, const weft_pci_place *b) {
  int k = 0;
  while (k < a->depth && k < b->depth && !strcmp(a->up[k], b->up[k])) k++;
  return k;
}

weft_nearness weft_pci_nearness(const weft_pci_place *dev, const weft_pci_place *nic) {
  if (!nic->busid[0]) return WEFT_NEAR_NONE;
  if (dev->busid[0]) {
    int k = shared_bridges(dev, nic);
    if (k >= 2) return WEFT_NEAR_SWITCH; /* a bridge below the root */
    if (k == 1) return WEFT_NEAR_HOSTBRIDGE;
  }
  if (dev->numa >= 0 && dev->numa == nic->numa) return WEFT_NEAR_NUMA;
  if (dev->package >= 0 && dev->package == nic->package) return WEFT_NEAR_PACKAGE;
  return WEFT_NEAR_OTHER;
}

/* Bridges crossed between device and NIC (only meaningful within a class). */
static int hops(const weft_pci_place *dev, const weft_pci_place *nic) {
  int k = shared_bridges(dev, nic);
  return dev->depth + nic->depth - 2 * k;
}

static int nearer(const weft_locality *loc, const weft_nic *a, const weft_nic *b) {
  if (a->near != b->near) return a->near < b->near;
  return hops(&loc->dev, &a->place) < hops(&loc->dev, &b->place);
}

void weft_locality_rank(weft_locality *loc) {
  for (int i = 0; i < loc->nnics; i++) loc->nics[i].near = weft_pci_nearness(&loc->dev, &loc->nics[i].place);
  /* insertion sort: stable, and there are at most WEFT_PCI_MAX_NICS */
  for (int i = 1; i < loc->nnics; i++) {
    weft_nic x = loc->nics[i];
    int j = i;
    while (j > 0 && nearer(loc, &x, &loc->nics[j - 1])) {
      loc->nics[j] = loc->nics[j - 1];
      j--;
    }
    loc->nics[j] = x;
  }
}

const char *weft_locality_nearest(const weft_locality *loc, char *names, size_t len) {
  if (len) names[0] = 0;
  if (!loc->nnics) return NULL;
  weft_nearness best = loc->nics[0].near;
  /* without a PCI device, only a known NUMA node makes one NIC nearer */
  if (best == WEFT_NEAR_NONE || (best == WEFT_NEAR_OTHER && !loc->has_pci)) return NULL;
  size_t used = 0;
  for (int i = 0; i < loc->nnics && loc->nics[i].near == best && used < len; i++) {
    int w = snprintf(names + used, len - used, "%s%s", i ? ", " : "", loc->nics[i].name);
    used += w > 0 ? (size_t)w : 0;
  }
  return weft_nearness_str(best);
}

void weft_locality_describe(const weft_locality *loc, char *buf, size_t len) {
  char numa[48] = "NUMA node unknown", names[160];
  if (loc->dev.numa >= 0) snprintf(numa, sizeof numa, "NUMA node %d", loc->dev.numa);
  const char *why = weft_locality_nearest(loc, names, sizeof names);
  char nic[224] = "no nearest NIC";
  if (why) snprintf(nic, sizeof nic, "nearest NIC %s (%s)", names, why);
  if (loc->has_pci)
    snprintf(buf, len, "PCI %s, %s, %s", loc->dev.busid, numa, nic);
  else if (loc->dev.busid[0])
    snprintf(buf, len, "PCI %s (not in this host's PCI topology), %s, %s", loc->dev.busid, numa, nic);
  else
    snprintf(buf, len, "host memory, no PCI locality, %s%s, %s", numa,
             loc->numa_from_binding && loc->dev.numa >= 0 ? " (CPU binding)" : "", nic);
}
