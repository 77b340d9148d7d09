/* weft-topo hw: what weft discovers on this node, and the PCI locality of
 * the device this process would open (WEFT_DEVICE or --device). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "device/device.h"
#include "topo/hw.h"
#include "topo/pci_locality.h"
#include "util/param.h"

static void print_nics(const weft_locality *loc) {
  if (!loc->nnics) {
    printf("NICs (%s): none found\n", loc->source);
    return;
  }
  printf("NICs (%s, nearest first):\n", loc->source);
  for (int i = 0; i < loc->nnics; i++) {
    const weft_nic *n = &loc->nics[i];
    char numa[24] = "NUMA ?";
    if (n->place.numa >= 0) snprintf(numa, sizeof numa, "NUMA %d", n->place.numa);
    printf("  %-12s %-4s PCI %-12s  %-7s  %s\n", n->name, n->rdma ? "rdma" : "net",
           n->place.busid[0] ? n->place.busid : "-", numa, weft_nearness_str(n->near));
  }
}

/* The device block; 0, or -1 when the device cannot be opened. */
static int print_device(const char *spec) {
  weft_dev *d = NULL;
  char err[512], desc[400], where[512];
  if (weft_dev_open(spec, NULL, NULL, &d, err, sizeof err) != weftSuccess) {
    printf("device: %s cannot be opened\n", spec ? spec : weft_env("WEFT_DEVICE") ? weft_env("WEFT_DEVICE") : "host");
    fprintf(stderr, "weft-topo hw: %s\n", err);
    weft_locality loc;
    weft_locality_discover(NULL, &loc);
    print_nics(&loc);
    return -1;
  }
  weft_dev_describe(d, desc, sizeof desc);
  weft_locality loc;
  weft_locality_discover(d->props.uniqueId, &loc);
  weft_locality_describe(&loc, where, sizeof where);
  printf("device: %s\n  %s\n", desc, where);
  print_nics(&loc);
  weft_dev_close(d);
  return 0;
}

int cmd_hw(int argc, char **argv) {
  const char *spec = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      puts("usage: weft-topo hw [--device SPEC]\n"
           "\n"
           "Prints what weft discovers on this node (hwloc when built with it, else sysconf), then the\n"
           "device this process would open (SPEC as WEFT_DEVICE takes it: host, opencl[:P:D], cuda[:N],\n"
           "a plugin; default WEFT_DEVICE, else host): backend, vendor, model, unique id, NUMA node and\n"
           "nearest NIC, and the NICs ranked by PCI distance to it.");
      return EXIT_OK;
    }
    if (!strcmp(argv[i], "--device") && i + 1 < argc) {
      spec = argv[++i];
      continue;
    }
    fprintf(stderr, "weft-topo hw: unexpected argument '%s' (try -h)\n", argv[i]);
    return EXIT_USAGE;
  }
  weft_hwinfo hw;
  char err[256], d[1024];
  int rc = weft_hw_discover(&hw, err, sizeof err);
  weft_hw_describe(&hw, d, sizeof d);
  printf("%s\n", d);
  if (rc) fprintf(stderr, "weft-topo hw: %s\n", err);
  if (print_device(spec)) rc = -1;
  return rc ? EXIT_BAD : EXIT_OK;
}
