/* What the local node has: cores, NUMA nodes, GPUs and NICs. Uses hwloc
 * when weft was built with it (WEFT_HAVE_HWLOC), else sysconf. Only shown
 * in dumps and by weft-topo; nothing depends on it. */
#ifndef WEFT_TOPO_HW_H
#define WEFT_TOPO_HW_H

#include <stddef.h>

#define WEFT_HW_MAX_DEVS 16

typedef struct {
  char source[16]; /* "hwloc" or "sysconf" */
  int packages;    /* -1 = unknown */
  int cores;       /* -1 = unknown */
  int pus;         /* hardware threads */
  int numa;        /* -1 = unknown */
  int ngpus, nnics; /* listed below, at most WEFT_HW_MAX_DEVS each */
  char gpus[WEFT_HW_MAX_DEVS][48];
  char nics[WEFT_HW_MAX_DEVS][48];
} weft_hwinfo;

/* Fills *hw. Returns 0; -1 with a message only when nothing at all could be
 * learned (hw then holds what sysconf gave). */
int weft_hw_discover(weft_hwinfo *hw, char *err, size_t errlen);
/* One line: "hwloc: 2 packages, 64 cores, 128 PUs, 2 NUMA nodes, GPUs: ..., NICs: ..." */
void weft_hw_describe(const weft_hwinfo *hw, char *buf, size_t len);

#endif
