#include "topo/hw.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef WEFT_HAVE_HWLOC
#include <hwloc.h>
#endif

static void from_sysconf(weft_hwinfo *hw) {
  memset(hw, 0, sizeof *hw);
  snprintf(hw->source, sizeof hw->source, "sysconf");
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  hw->pus = n > 0 ? (int)n : -1;
  hw->packages = hw->cores = hw->numa = -1;
}

#ifdef WEFT_HAVE_HWLOC
static void add_dev(char (*list)[48], int *n, const char *name, const char *what) {
  if (*n >= WEFT_HW_MAX_DEVS) return;
  snprintf(list[(*n)++], 48, "%s%s%s", name ? name : "?", what ? " " : "", what ? what : "");
}

static int from_hwloc(weft_hwinfo *hw, char *err, size_t errlen) {
  hwloc_topology_t topo;
  if (hwloc_topology_init(&topo)) {
    snprintf(err, errlen, "hwloc_topology_init failed");
    return -1;
  }
  hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
  if (hwloc_topology_load(topo)) {
    snprintf(err, errlen, "hwloc_topology_load failed");
    hwloc_topology_destroy(topo);
    return -1;
  }
  snprintf(hw->source, sizeof hw->source, "hwloc");
  hw->packages = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
  hw->cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
  hw->pus = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
  hw->numa = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
  hwloc_obj_t o = NULL;
  while ((o = hwloc_get_next_osdev(topo, o))) {
    const char *sub = hwloc_obj_get_info_by_name(o, "GPUModel");
    switch (o->attr->osdev.type) {
      case HWLOC_OBJ_OSDEV_GPU:
      case HWLOC_OBJ_OSDEV_COPROC: add_dev(hw->gpus, &hw->ngpus, o->name, sub); break;
      case HWLOC_OBJ_OSDEV_NETWORK:
      case HWLOC_OBJ_OSDEV_OPENFABRICS: add_dev(hw->nics, &hw->nnics, o->name, NULL); break;
      default: break;
    }
  }
  hwloc_topology_destroy(topo);
  return 0;
}
#endif

int weft_hw_discover(weft_hwinfo *hw, char *err, size_t errlen) {
  from_sysconf(hw);
  if (err && errlen) err[0] = '\0';
#ifdef WEFT_HAVE_HWLOC
  weft_hwinfo h;
  memset(&h, 0, sizeof h);
  char why[128];
  if (from_hwloc(&h, why, sizeof why) == 0) {
    if (h.pus <= 0) h.pus = hw->pus;
    *hw = h;
  }
#endif
  if (hw->pus <= 0) {
    if (err && errlen) snprintf(err, errlen, "cannot discover the local node (no hwloc, sysconf failed)");
    return -1;
  }
  return 0;
}

static size_t put(char *buf, size_t len, size_t used, const char *fmt, const char *label, int n) {
  if (n < 0 || used >= len) return used;
  int w = snprintf(buf + used, len - used, fmt, n, label, n == 1 ? "" : "s");
  return w < 0 ? used : used + (size_t)w;
}

void weft_hw_describe(const weft_hwinfo *hw, char *buf, size_t len) {
  size_t used = (size_t)snprintf(buf, len, "%s:", hw->source);
  used = put(buf, len, used, " %d %s%s,", "package", hw->packages);
  used = put(buf, len, used, " %d %s%s,", "core", hw->cores);
  used = put(buf, len, used, " %d %s%s,", "PU", hw->pus);
  used = put(buf, len, used, " %d %s%s,", "NUMA node", hw->numa);
  const char *lab[2] = {"GPUs", "NICs"};
  const int cnt[2] = {hw->ngpus, hw->nnics};
  for (int k = 0; k < 2 && used < len; k++) {
    int w = snprintf(buf + used, len - used, " %s:", lab[k]);
    used += w > 0 ? (size_t)w : 0;
    if (!cnt[k] && used < len) {
      w = snprintf(buf + used, len - used, " none");
      used += w > 0 ? (size_t)w : 0;
    }
    for (int i = 0; i < cnt[k] && used < len; i++) {
      w = snprintf(buf + used, len - used, "%s %s", i ? "," : "", k ? hw->nics[i] : hw->gpus[i]);
      used += w > 0 ? (size_t)w : 0;
    }
    if (k == 0 && used < len) {
      w = snprintf(buf + used, len - used, ";");
      used += w > 0 ? (size_t)w : 0;
    }
  }
}
