/* PCI locality from hwloc: the bridges above a PCI device, and the NUMA
 * node and package of its first non-I/O ancestor. xml_path loads a saved
 * topology instead of this host's (tests). */
#include "topo/pci_locality.h"

#include <stdio.h>
#include <string.h>

#ifdef WEFT_HAVE_HWLOC
#include <hwloc.h>

static void bridge_id(hwloc_obj_t b, char *out, size_t len) {
  if (b->attr->bridge.upstream_type == HWLOC_OBJ_BRIDGE_HOST) {
    /* host bridges have no bus id of their own: name them by what they serve */
    snprintf(out, len, "host%04x:%02x", (unsigned)b->attr->bridge.downstream.pci.domain,
             (unsigned)b->attr->bridge.downstream.pci.secondary_bus);
  } else {
    const struct hwloc_pcidev_attr_s *u = &b->attr->bridge.upstream.pci;
    snprintf(out, len, "%04x:%02x:%02x.%x", (unsigned)u->domain, (unsigned)u->bus, (unsigned)u->dev,
             (unsigned)u->func);
  }
}

static void place_of(hwloc_topology_t t, hwloc_obj_t pci, weft_pci_place *p) {
  memset(p, 0, sizeof *p);
  const struct hwloc_pcidev_attr_s *a = &pci->attr->pcidev;
  snprintf(p->busid, sizeof p->busid, "%04x:%02x:%02x.%x", (unsigned)a->domain, (unsigned)a->bus, (unsigned)a->dev,
           (unsigned)a->func);
  hwloc_obj_t chain[64];
  int n = 0;
  for (hwloc_obj_t o = pci->parent; o && o->type == HWLOC_OBJ_BRIDGE && n < 64; o = o->parent) chain[n++] = o;
  /* keep the top of the chain (root first) when it is deeper than we store */
  p->depth = n < WEFT_PCI_MAX_DEPTH ? n : WEFT_PCI_MAX_DEPTH;
  for (int i = 0; i < p->depth; i++) bridge_id(chain[n - 1 - i], p->up[i], sizeof p->up[i]);
  hwloc_obj_t cpu = hwloc_get_non_io_ancestor_obj(t, pci);
  p->numa = p->package = -1;
  if (cpu && cpu->nodeset && hwloc_bitmap_weight(cpu->nodeset) == 1) p->numa = hwloc_bitmap_first(cpu->nodeset);
  hwloc_obj_t pkg = cpu && cpu->type == HWLOC_OBJ_PACKAGE ? cpu : hwloc_get_ancestor_obj_by_type(t, HWLOC_OBJ_PACKAGE, cpu);
  if (pkg) p->package = (int)pkg->os_index;
  else if (cpu && hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PACKAGE) == 1) p->package = 0;
}

static void add_nics(hwloc_topology_t t, weft_locality *out) {
  hwloc_obj_t o = NULL;
  while ((o = hwloc_get_next_osdev(t, o)) && out->nnics < WEFT_PCI_MAX_NICS) {
    int type = o->attr->osdev.type;
    if ((type != HWLOC_OBJ_OSDEV_NETWORK && type != HWLOC_OBJ_OSDEV_OPENFABRICS) || !o->name ||
        strlen(o->name) >= sizeof out->nics[0].name)
      continue;
    weft_nic *nic = &out->nics[out->nnics++];
    memset(nic, 0, sizeof *nic);
    snprintf(nic->name, sizeof nic->name, "%s", o->name);
    nic->rdma = type == HWLOC_OBJ_OSDEV_OPENFABRICS;
    nic->place.numa = nic->place.package = -1;
    if (o->parent && o->parent->type == HWLOC_OBJ_PCI_DEVICE) place_of(t, o->parent, &nic->place);
  }
}

int weft_locality_hwloc(const char *xml_path, const char *busid, weft_locality *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  snprintf(out->source, sizeof out->source, "hwloc");
  out->dev.numa = out->dev.package = -1;
  hwloc_topology_t t;
  if (hwloc_topology_init(&t)) {
    snprintf(err, errlen, "hwloc_topology_init failed");
    return -1;
  }
  hwloc_topology_set_io_types_filter(t, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
  if (xml_path && hwloc_topology_set_xml(t, xml_path)) {
    snprintf(err, errlen, "hwloc cannot read the topology %s", xml_path);
    hwloc_topology_destroy(t);
    return -1;
  }
  if (hwloc_topology_load(t)) {
    snprintf(err, errlen, "hwloc_topology_load failed%s%s", xml_path ? " on " : "", xml_path ? xml_path : "");
    hwloc_topology_destroy(t);
    return -1;
  }
  unsigned dom, bus, dev, fn;
  char id[WEFT_BUSID_LEN];
  if (busid && weft_pci_busid_norm(busid, id, sizeof id) == 0 && sscanf(id, "%x:%x:%x.%x", &dom, &bus, &dev, &fn) == 4) {
    hwloc_obj_t pci = hwloc_get_pcidev_by_busid(t, dom, bus, dev, fn);
    if (pci) {
      place_of(t, pci, &out->dev);
      out->has_pci = 1;
    }
  }
  add_nics(t, out);
  hwloc_topology_destroy(t);
  return 0;
}

#else

int weft_locality_hwloc(const char *xml_path, const char *busid, weft_locality *out, char *err, size_t errlen) {
  (void)xml_path;
  (void)busid;
  memset(out, 0, sizeof *out);
  snprintf(err, errlen, "weft was built without hwloc");
  return -1;
}

#endif
