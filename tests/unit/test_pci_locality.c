/* PCI locality (lib/topo/pci_locality.h): the NUMA node of a device and the
 * NICs ranked by PCI distance to it, from a hand-written hwloc topology
 * (topo/pci-two-numa.xml) and from a fake sysfs tree built here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "topo/pci_locality.h"

/* "name:class name:class ..." of the ranked NICs. */
static void ranked(const weft_locality *l, char *buf, size_t len) {
  size_t used = 0;
  buf[0] = 0;
  for (int i = 0; i < l->nnics && used < len; i++)
    used += (size_t)snprintf(buf + used, len - used, "%s%s:%d", i ? " " : "", l->nics[i].name, (int)l->nics[i].near);
}

/* Every interface has an address but the one named by arg. */
static int usable_but(const char *name, void *arg) { return !arg || strcmp(name, (const char *)arg) != 0; }

static void test_busid(void **state) {
  (void)state;
  char id[WEFT_BUSID_LEN];
  assert_int_equal(weft_pci_busid_norm("0000:3B:00.0", id, sizeof id), 0);
  assert_string_equal(id, "0000:3b:00.0");
  assert_int_equal(weft_pci_busid_norm("00000001:3b:1f.7", id, sizeof id), 0);
  assert_string_equal(id, "0001:3b:1f.7");
  assert_int_equal(weft_pci_busid_norm("3b:00.1", id, sizeof id), 0);
  assert_string_equal(id, "0000:3b:00.1");
  assert_int_equal(weft_pci_busid_norm("opencl:0:0:cpu", id, sizeof id), -1);
  assert_int_equal(weft_pci_busid_norm("0000:3b:00.0x", id, sizeof id), -1);
  assert_int_equal(weft_pci_busid_norm("host", id, sizeof id), -1);
  assert_int_equal(weft_pci_busid_norm(NULL, id, sizeof id), -1);
}

/* The classes on hand-made places: the bridges first, then NUMA, package. */
static void test_nearness(void **state) {
  (void)state;
  weft_pci_place dev = {"0000:01:00.0", 2, {"r0", "sw"}, 0, 0};
  weft_pci_place sw = {"0000:01:01.0", 2, {"r0", "sw"}, 0, 0};
  weft_pci_place hb = {"0000:00:02.0", 1, {"r0"}, 0, 0};
  weft_pci_place numa = {"0000:40:00.0", 1, {"r1"}, 0, 0};
  weft_pci_place pkg = {"0000:60:00.0", 1, {"r2"}, 1, 0};
  weft_pci_place far = {"0000:80:00.0", 1, {"r3"}, 2, 1};
  weft_pci_place none = {"", 0, {{0}}, -1, -1};
  assert_int_equal(weft_pci_nearness(&dev, &sw), WEFT_NEAR_SWITCH);
  assert_int_equal(weft_pci_nearness(&dev, &hb), WEFT_NEAR_HOSTBRIDGE);
  assert_int_equal(weft_pci_nearness(&dev, &numa), WEFT_NEAR_NUMA);
  assert_int_equal(weft_pci_nearness(&dev, &pkg), WEFT_NEAR_PACKAGE);
  assert_int_equal(weft_pci_nearness(&dev, &far), WEFT_NEAR_OTHER);
  assert_int_equal(weft_pci_nearness(&dev, &none), WEFT_NEAR_NONE);
  /* a device off PCI (host memory) on NUMA node 0: only NUMA counts */
  weft_pci_place host = {"", 0, {{0}}, 0, -1};
  assert_int_equal(weft_pci_nearness(&host, &sw), WEFT_NEAR_NUMA);
  assert_int_equal(weft_pci_nearness(&host, &far), WEFT_NEAR_OTHER);
}

static void test_hwloc_xml(void **state) {
  (void)state;
#ifndef WEFT_HAVE_HWLOC
  skip();
#else
  const char *xml = WEFT_TOPO_TESTDATA "/pci-two-numa.xml";
  weft_locality l;
  char err[256], got[256], d[512];
  /* GPU 0 sits behind the switch that also holds the InfiniBand card */
  assert_int_equal(weft_locality_hwloc(xml, "0000:01:00.0", &l, err, sizeof err), 0);
  weft_locality_rank(&l);
  assert_true(l.has_pci);
  assert_int_equal(l.dev.numa, 0);
  assert_int_equal(l.dev.package, 0);
  ranked(&l, got, sizeof got);
  assert_string_equal(got, "ib0:0 mlx5_0:0 eth0:1 eth1:4");
  assert_int_equal(l.nics[0].place.numa, 0);
  assert_string_equal(l.nics[0].place.busid, "0000:01:01.0");
  assert_int_equal(l.nics[1].rdma, 1);
  weft_locality_describe(&l, d, sizeof d);
  assert_string_equal(d, "PCI 0000:01:00.0, NUMA node 0, nearest NIC ib0, mlx5_0 (same PCI switch)");
  /* GPU 1, on the other package, shares its host bridge with eth1 only */
  assert_int_equal(weft_locality_hwloc(xml, "0000:81:00.0", &l, err, sizeof err), 0);
  weft_locality_rank(&l);
  assert_int_equal(l.dev.numa, 1);
  ranked(&l, got, sizeof got);
  assert_string_equal(got, "eth1:1 eth0:4 ib0:4 mlx5_0:4");
  assert_int_equal(l.nics[0].place.numa, 1);
  /* GPU 1 again, from eth0 (the bootstrap interface, say): eth1 is nearer */
  const weft_nic *p = weft_locality_prefer(&l, "eth0", usable_but, NULL);
  assert_non_null(p);
  assert_string_equal(p->name, "eth1");
  assert_null(weft_locality_prefer(&l, "eth1", usable_but, NULL));
  /* GPU 0: ib0 over eth0 and eth1; ib0 without an address: eth0, which is
   * as near as nothing else from eth0, so keep it */
  assert_int_equal(weft_locality_hwloc(xml, "0000:01:00.0", &l, err, sizeof err), 0);
  weft_locality_rank(&l);
  assert_string_equal(weft_locality_prefer(&l, "eth1", usable_but, NULL)->name, "ib0");
  assert_string_equal(weft_locality_prefer(&l, NULL, usable_but, NULL)->name, "ib0");
  assert_null(weft_locality_prefer(&l, "ib0", usable_but, NULL));
  assert_string_equal(weft_locality_prefer(&l, "eth1", usable_but, "ib0")->name, "eth0");
  assert_null(weft_locality_prefer(&l, "eth0", usable_but, "ib0"));
  /* a bus id the topology does not have: no PCI locality, NICs still listed */
  assert_int_equal(weft_locality_hwloc(xml, "0000:99:00.0", &l, err, sizeof err), 0);
  assert_false(l.has_pci);
  assert_int_equal(l.nnics, 4);
  assert_null(weft_locality_prefer(&l, "eth0", usable_but, NULL)); /* off PCI: no preference */
  assert_int_equal(weft_locality_hwloc("/nonexistent.xml", NULL, &l, err, sizeof err), -1);
#endif
}

/* ---- a fake sysfs tree ------------------------------------------------------ */

static void mkdirs(const char *root, const char *rel) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", root, rel);
  for (char *p = path + strlen(root) + 1; *p; p++)
    if (*p == '/') {
      *p = 0;
      mkdir(path, 0755);
      *p = '/';
    }
  mkdir(path, 0755);
}

static void put(const char *root, const char *rel, const char *text) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", root, rel);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

/* rel -> target (absolute under root) */
static void link_to(const char *root, const char *rel, const char *target) {
  char from[1024], to[1024];
  snprintf(from, sizeof from, "%s/%s", root, rel);
  snprintf(to, sizeof to, "%s/%s", root, target);
  assert_int_equal(symlink(to, from), 0);
}

#define SW "devices/pci0000:00/0000:00:01.0"
static void make_sysfs(const char *root) {
  const char *dirs[] = {SW "/0000:01:00.0", SW "/0000:01:01.0", "devices/pci0000:00/0000:00:02.0/virtio3",
                        "devices/pci0000:80/0000:80:00.0", "bus/pci/devices", "class/net/eth0", "class/net/eth1",
                        "class/net/ib0", "class/net/veth0", "class/net/lo", "class/infiniband/mlx5_0"};
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) mkdirs(root, dirs[i]);
  put(root, SW "/0000:01:00.0/numa_node", "0\n");
  put(root, SW "/0000:01:01.0/numa_node", "0\n");
  put(root, "devices/pci0000:00/0000:00:02.0/numa_node", "0\n");
  put(root, "devices/pci0000:80/0000:80:00.0/numa_node", "1\n");
  link_to(root, "bus/pci/devices/0000:01:00.0", SW "/0000:01:00.0");
  link_to(root, "class/net/eth0/device", "devices/pci0000:00/0000:00:02.0/virtio3");
  link_to(root, "class/net/eth1/device", "devices/pci0000:80/0000:80:00.0");
  link_to(root, "class/net/ib0/device", SW "/0000:01:01.0");
  link_to(root, "class/infiniband/mlx5_0/device", SW "/0000:01:01.0");
}

static void test_sysfs(void **state) {
  (void)state;
  char root[] = "/tmp/weft-sysfs-XXXXXX";
  assert_non_null(mkdtemp(root));
  make_sysfs(root);
  weft_locality l;
  char err[256], got[256], d[512];
  assert_int_equal(weft_locality_sysfs(root, "0000:01:00.0", &l, err, sizeof err), 0);
  weft_locality_rank(&l);
  assert_true(l.has_pci);
  assert_int_equal(l.dev.numa, 0);
  ranked(&l, got, sizeof got);
  assert_string_equal(got, "ib0:0 mlx5_0:0 eth0:1 eth1:4 veth0:5");
  assert_string_equal(l.nics[2].place.busid, "0000:00:02.0"); /* the PCI function above virtio3 */
  assert_int_equal(l.nics[3].place.numa, 1);
  assert_string_equal(weft_locality_prefer(&l, "eth1", usable_but, NULL)->name, "ib0");
  assert_null(weft_locality_prefer(&l, "eth0", usable_but, "ib0"));
  weft_locality_describe(&l, d, sizeof d);
  assert_string_equal(d, "PCI 0000:01:00.0, NUMA node 0, nearest NIC ib0, mlx5_0 (same PCI switch)");
  /* off PCI, bound to NUMA node 1: the NIC on node 1 comes first */
  assert_int_equal(weft_locality_sysfs(root, "opencl:0:0:cpu", &l, err, sizeof err), 0);
  assert_false(l.has_pci);
  l.dev.numa = 1;
  l.numa_from_binding = 1;
  weft_locality_rank(&l);
  ranked(&l, got, sizeof got);
  assert_string_equal(got, "eth1:2 eth0:4 ib0:4 mlx5_0:4 veth0:5");
  weft_locality_describe(&l, d, sizeof d);
  assert_string_equal(d, "host memory, no PCI locality, NUMA node 1 (CPU binding), nearest NIC eth1 (same NUMA node)");
  /* unknown binding: no NIC is nearer than another */
  l.dev.numa = -1;
  weft_locality_rank(&l);
  weft_locality_describe(&l, d, sizeof d);
  assert_string_equal(d, "host memory, no PCI locality, NUMA node unknown, no nearest NIC");
  char cmd[1100];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
  assert_int_equal(system(cmd), 0);
  assert_int_equal(weft_locality_sysfs(root, NULL, &l, err, sizeof err), -1);
}

/* This host, whatever it has: discovery never fails and stays in bounds. */
static void test_discover_here(void **state) {
  (void)state;
  weft_locality l;
  weft_locality_discover("host", &l);
  assert_false(l.has_pci);
  assert_true(l.numa_from_binding);
  assert_true(l.nnics >= 0 && l.nnics <= WEFT_PCI_MAX_NICS);
  for (int i = 1; i < l.nnics; i++) assert_true(l.nics[i - 1].near <= l.nics[i].near);
  /* a bus id no host has: named, not taken for host memory */
  weft_locality_discover("0000:FE:1F.7", &l);
  assert_false(l.has_pci);
  assert_string_equal(l.dev.busid, "0000:fe:1f.7");
  char d[512];
  weft_locality_describe(&l, d, sizeof d);
  assert_string_equal(d, "PCI 0000:fe:1f.7 (not in this host's PCI topology), NUMA node unknown, no nearest NIC");
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_busid), cmocka_unit_test(test_nearness),
                                     cmocka_unit_test(test_hwloc_xml), cmocka_unit_test(test_sysfs),
                                     cmocka_unit_test(test_discover_here)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
