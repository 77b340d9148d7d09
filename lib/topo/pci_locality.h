/* PCI locality of a device: its NUMA node and the NICs of this host ranked
 * by how near they are to it (same PCI switch first, then same host bridge,
 * same NUMA node, same package, the rest, then interfaces with no PCI
 * function). The topology comes from hwloc when weft is built with it
 * (pci_hwloc.c), else from sysfs (pci_sysfs.c); the ranking (pci_rank.c)
 * is the same for both. Display and a hint for the transports only:
 * nothing fails when locality is unknown. */
#ifndef WEFT_TOPO_PCI_LOCALITY_H
#define WEFT_TOPO_PCI_LOCALITY_H

#include <stddef.h>

#define WEFT_PCI_MAX_DEPTH 8 /* bridges kept above a function */
#define WEFT_PCI_MAX_NICS 16
#define WEFT_BUSID_LEN 16 /* "0000:3b:00.0" */

/* Where a PCI function sits. */
typedef struct {
  char busid[WEFT_BUSID_LEN];      /* "" = not a PCI function */
  int depth;                       /* bridges above it */
  char up[WEFT_PCI_MAX_DEPTH][24]; /* their ids, host bridge (root) first */
  int numa;                        /* NUMA node, -1 unknown */
  int package;                     /* package (socket), -1 unknown */
} weft_pci_place;

/* How near a NIC is to the device, nearest first. */
typedef enum {
  WEFT_NEAR_SWITCH = 0, /* below one PCI bridge or switch */
  WEFT_NEAR_HOSTBRIDGE, /* below one host bridge (root complex) */
  WEFT_NEAR_NUMA,       /* same NUMA node */
  WEFT_NEAR_PACKAGE,    /* same package, another NUMA node */
  WEFT_NEAR_OTHER,      /* another package, or unknown */
  WEFT_NEAR_NONE        /* the NIC has no PCI function (virtual interface) */
} weft_nearness;

typedef struct {
  char name[32]; /* interface ("eth0") or RDMA device ("mlx5_0") */
  int rdma;      /* 1: RDMA device (no socket), 0: network interface */
  weft_pci_place place;
  weft_nearness near; /* to the device (or to the binding's NUMA node) */
} weft_nic;

typedef struct {
  char source[16]; /* "hwloc", "sysfs" */
  int has_pci;     /* the device is a PCI function found on this host */
  int numa_from_binding; /* dev.numa is this process's CPU binding (no PCI) */
  weft_pci_place dev;
  int nnics;
  weft_nic nics[WEFT_PCI_MAX_NICS]; /* nearest first after weft_locality_rank */
} weft_locality;

/* Normalizes a PCI bus id ("0000:3B:00.0", 8-digit domains, "3b:00.0")
 * to "0000:3b:00.0"; -1 when id is not one. */
int weft_pci_busid_norm(const char *id, char *out, size_t len);
const char *weft_nearness_str(weft_nearness n);
weft_nearness weft_pci_nearness(const weft_pci_place *dev, const weft_pci_place *nic);
/* Sets each NIC's nearness and sorts them nearest first: by class, then
 * fewer bridges between, then discovery order. */
void weft_locality_rank(weft_locality *loc);

/* Sources; each fills out (busid may be NULL or not a PCI id: then only the
 * NICs) and returns 0, or -1 with err. */
int weft_locality_hwloc(const char *xml_path, const char *busid, weft_locality *out, char *err, size_t errlen);
int weft_locality_sysfs(const char *root, const char *busid, weft_locality *out, char *err, size_t errlen);
/* This host: hwloc (when built with it and it knows the device), else
 * sysfs under /sys. A device without a PCI id gets the NUMA node of this
 * process's CPU binding (-1 when it spans several); one with a PCI id the
 * topology lacks keeps that id in dev.busid, has_pci 0, NUMA -1. Ranked. */
void weft_locality_discover(const char *device_id, weft_locality *out);
/* The NUMA node holding every CPU this process may run on, else -1. */
int weft_binding_numa(void);

/* The network interface (not RDMA device) the socket transports should
 * listen on: the nearest one for which usable(name, arg) holds, when it is
 * strictly nearer the device than the interface `current` (may be NULL);
 * else NULL: keep current. Always NULL for a device off PCI. */
const weft_nic *weft_locality_prefer(const weft_locality *loc, const char *current,
                                     int (*usable)(const char *name, void *arg), void *arg);

/* "PCI 0000:3b:00.0, NUMA node 0, nearest NIC ib0 (same PCI switch)",
 * "PCI 0000:ab:00.0 (not in this host's PCI topology), NUMA node unknown, ..."
 * or "host memory, no PCI locality, NUMA node 0 (CPU binding), ...". */
void weft_locality_describe(const weft_locality *loc, char *buf, size_t len);
/* The NICs of the best class, "ib0, mlx5_0" and that class; NULL when none. */
const char *weft_locality_nearest(const weft_locality *loc, char *names, size_t len);

#endif
