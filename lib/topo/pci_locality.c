/* The locality of a device on this host: the source to ask, and the NUMA
 * node of this process's CPU binding for devices that are not on PCI. */
#include "topo/pci_locality.h"

#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads a cpulist ("0-3,8,10-11") into set; -1 when malformed. */
static int parse_cpulist(const char *s, cpu_set_t *set) {
  CPU_ZERO(set);
  while (*s && *s != '\n') {
    char *end;
    long a = strtol(s, &end, 10), b = a;
    if (end == s || a < 0) return -1;
    if (*end == '-') {
      s = end + 1;
      b = strtol(s, &end, 10);
      if (end == s || b < a) return -1;
    }
    for (long c = a; c <= b && c < CPU_SETSIZE; c++) CPU_SET((int)c, set);
    s = *end == ',' ? end + 1 : end;
  }
  return 0;
}

int weft_binding_numa(void) {
  cpu_set_t mine;
  if (sched_getaffinity(0, sizeof mine, &mine) != 0) return -1;
  DIR *d = opendir("/sys/devices/system/node");
  if (!d) return -1;
  int found = -1;
  struct dirent *e;
  while (found < 0 && (e = readdir(d))) {
    int node;
    char tail;
    if (sscanf(e->d_name, "node%d%c", &node, &tail) != 1) continue;
    char path[300], line[4096];
    snprintf(path, sizeof path, "/sys/devices/system/node/%s/cpulist", e->d_name);
    FILE *f = fopen(path, "re");
    if (!f) continue;
    cpu_set_t cpus, both;
    int ok = fgets(line, sizeof line, f) && parse_cpulist(line, &cpus) == 0;
    fclose(f);
    if (!ok) continue;
    CPU_AND(&both, &mine, &cpus);
    if (CPU_EQUAL(&both, &mine)) found = node; /* every allowed CPU is on this node */
  }
  closedir(d);
  return found;
}

void weft_locality_discover(const char *device_id, weft_locality *out) {
  char err[256], id[WEFT_BUSID_LEN];
  int pci_id = device_id && weft_pci_busid_norm(device_id, id, sizeof id) == 0;
  int done = weft_locality_hwloc(NULL, device_id, out, err, sizeof err) == 0;
  /* hwloc without PCI access (containers) or filtering the device out: try
   * sysfs, and take all of it (bridge ids differ between the two sources) */
  if (!done || (pci_id && !out->has_pci) || !out->nnics) {
    weft_locality s;
    int got = weft_locality_sysfs("/sys", device_id, &s, err, sizeof err) == 0;
    if (!done || (got && (s.has_pci || (!out->has_pci && s.nnics > out->nnics)))) *out = s;
  }
  if (!out->has_pci) {
    out->dev.numa = weft_binding_numa();
    out->numa_from_binding = 1;
  }
  weft_locality_rank(out);
}
