/* PCI locality from sysfs, for builds without hwloc: a function's place is
 * read off the resolved path of its sysfs directory
 * (.../devices/pci0000:3a/0000:3a:00.0/0000:3b:00.0), its NUMA node off
 * its numa_node file. The package is not known here. root is "/sys", or a
 * fake tree in tests. */
#include "topo/pci_locality.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_root_bus(const char *c) {
  unsigned dom, bus;
  char tail;
  return sscanf(c, "pci%x:%x%c", &dom, &bus, &tail) == 2;
}

static int read_numa(const char *dir) {
  char path[PATH_MAX + 16];
  snprintf(path, sizeof path, "%s/numa_node", dir);
  FILE *f = fopen(path, "re");
  int node = -1;
  if (f) {
    if (fscanf(f, "%d", &node) != 1) node = -1;
    fclose(f);
  }
  return node < 0 ? -1 : node;
}

/* Fills p from the resolved path of link (a PCI function's directory, or a
 * directory below one, such as a virtio device). 0, or -1 when the path
 * holds no PCI function. */
static int place_of(const char *link, weft_pci_place *p) {
  char real[PATH_MAX];
  memset(p, 0, sizeof *p);
  p->numa = p->package = -1;
  if (!realpath(link, real)) return -1;
  char ids[WEFT_PCI_MAX_DEPTH + 2][24];
  int n = 0;
  size_t fn_end = 0; /* end of the last PCI function's component in real */
  int in_pci = 0;
  for (char *c = real + 1, *next; c && *c; c = next) {
    next = strchr(c, '/');
    if (next) *next = 0;
    char id[WEFT_BUSID_LEN];
    if (is_root_bus(c)) {
      in_pci = 1;
      n = 0;
      snprintf(ids[n++], sizeof ids[0], "%s", c);
    } else if (in_pci && weft_pci_busid_norm(c, id, sizeof id) == 0) {
      if (n < WEFT_PCI_MAX_DEPTH + 1) snprintf(ids[n++], sizeof ids[0], "%s", id);
      fn_end = (size_t)(c - real) + strlen(c);
    }
    if (next) *next++ = '/';
  }
  if (!in_pci || n < 2) return -1;
  snprintf(p->busid, sizeof p->busid, "%s", ids[n - 1]);
  p->depth = n - 1 < WEFT_PCI_MAX_DEPTH ? n - 1 : WEFT_PCI_MAX_DEPTH;
  for (int i = 0; i < p->depth; i++) memcpy(p->up[i], ids[i], sizeof p->up[i]);
  real[fn_end] = 0;
  p->numa = read_numa(real);
  return 0;
}

/* Every entry of root/class/<cls> but lo, with its PCI function if any. */
static void add_class(const char *root, const char *cls, int rdma, weft_locality *out) {
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s/class/%s", root, cls);
  DIR *d = opendir(dir);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d)) && out->nnics < WEFT_PCI_MAX_NICS) {
    if (e->d_name[0] == '.' || !strcmp(e->d_name, "lo") || strlen(e->d_name) >= sizeof out->nics[0].name) continue;
    weft_nic *nic = &out->nics[out->nnics++];
    memset(nic, 0, sizeof *nic);
    snprintf(nic->name, sizeof nic->name, "%s", e->d_name);
    nic->rdma = rdma;
    char link[PATH_MAX + 300];
    snprintf(link, sizeof link, "%s/%s/device", dir, e->d_name);
    place_of(link, &nic->place); /* none: a virtual interface */
  }
  closedir(d);
}

/* The NUMA node of a host that has only one, else -1: PCI functions of
 * such hosts say -1 (no affinity) though all their memory is that node's. */
static int only_numa_node(const char *root) {
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s/devices/system/node", root);
  DIR *d = opendir(dir);
  if (!d) return -1;
  int count = 0, node = -1, k;
  char tail;
  struct dirent *e;
  while ((e = readdir(d)))
    if (sscanf(e->d_name, "node%d%c", &k, &tail) == 1) {
      count++;
      node = k;
    }
  closedir(d);
  return count == 1 ? node : -1;
}

static int by_name(const void *a, const void *b) {
  const weft_nic *x = a, *y = b;
  if (x->rdma != y->rdma) return x->rdma - y->rdma;
  return strcmp(x->name, y->name);
}

int weft_locality_sysfs(const char *root, const char *busid, weft_locality *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  snprintf(out->source, sizeof out->source, "sysfs");
  out->dev.numa = out->dev.package = -1;
  char id[WEFT_BUSID_LEN];
  if (busid && weft_pci_busid_norm(busid, id, sizeof id) == 0) {
    char link[PATH_MAX];
    snprintf(link, sizeof link, "%s/bus/pci/devices/%s", root, id);
    out->has_pci = place_of(link, &out->dev) == 0;
  }
  add_class(root, "net", 0, out);
  add_class(root, "infiniband", 1, out);
  /* readdir order is arbitrary: a fixed order keeps ties stable */
  qsort(out->nics, (size_t)out->nnics, sizeof out->nics[0], by_name);
  int only = only_numa_node(root);
  if (out->has_pci && out->dev.numa < 0) out->dev.numa = only;
  for (int i = 0; i < out->nnics; i++)
    if (out->nics[i].place.busid[0] && out->nics[i].place.numa < 0) out->nics[i].place.numa = only;
  char probe[PATH_MAX];
  snprintf(probe, sizeof probe, "%s/class/net", root);
  DIR *d = opendir(probe);
  if (!d) {
    if (err && errlen) snprintf(err, errlen, "cannot read %s", probe);
    return -1;
  }
  closedir(d);
  return 0;
}
