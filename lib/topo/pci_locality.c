/* The locality of a device on this host: the source to ask, and the NUMA
 * node of this process's CPU binding for devices that are not on PCI. */
#include "topo/pci_locality.h"

#include <dirent.h>
#include <pthread.h>
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

/* Loading hwloc's topology with its I/O objects takes tens of ms: every
 * comm of a process on the same PCI device reuses the first answer (also
 * when the device was not found). */
#define CACHE_SLOTS 8
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
  char id[WEFT_BUSID_LEN];
  weft_locality loc;
} cache[CACHE_SLOTS];
static int cached;

static void from_pci(const char *id, weft_locality *out) {
  pthread_mutex_lock(&cache_lock);
  for (int i = 0; i < cached; i++)
    if (!strcmp(cache[i].id, id)) {
      *out = cache[i].loc;
      pthread_mutex_unlock(&cache_lock);
      return;
    }
  pthread_mutex_unlock(&cache_lock);
  char err[256];
  /* hwloc knows packages, sysfs does not; hwloc without PCI access
   * (containers) or filtering the device out leaves it to sysfs. The two
   * name bridges differently: take all of one. */
  if (weft_locality_hwloc(NULL, id, out, err, sizeof err) != 0 || !out->has_pci)
    weft_locality_sysfs("/sys", id, out, err, sizeof err);
  pthread_mutex_lock(&cache_lock);
  if (cached < CACHE_SLOTS) {
    snprintf(cache[cached].id, sizeof cache[cached].id, "%s", id);
    cache[cached++].loc = *out;
  }
  pthread_mutex_unlock(&cache_lock);
}

void weft_locality_discover(const char *device_id, weft_locality *out) {
  char err[256], id[WEFT_BUSID_LEN];
  if (device_id && weft_pci_busid_norm(device_id, id, sizeof id) == 0) {
    from_pci(id, out);
    if (!out->has_pci) {
      /* a PCI device this host's topology does not show (no PCI access,
       * emulation): say so rather than take the CPU binding for its node */
      snprintf(out->dev.busid, sizeof out->dev.busid, "%s", id);
      weft_locality_rank(out);
      return;
    }
  } else {
    /* no PCI device: only the NICs, and sysfs lists them in well under 1 ms */
    weft_locality_sysfs("/sys", NULL, out, err, sizeof err);
  }
  if (!out->has_pci) {
    out->dev.numa = weft_binding_numa();
    out->numa_from_binding = 1;
  }
  weft_locality_rank(out);
}
