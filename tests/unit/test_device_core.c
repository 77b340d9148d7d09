/* The device layer's core (lib/device): the syntax of a device choice
 * (WEFT_DEVICE, weftConfig_t.device), the registry lookup, and the host
 * backend driven through weft_dev_open and its ops table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "device/device.h"
#include "device/registry.h"
#include "tune/devtable.h"

static void parse_ok(const char *want, const char *name, const char *spec) {
  weft_device_choice c;
  char err[256] = "";
  if (weft_device_parse(want, "WEFT_DEVICE", &c, err, sizeof err) != weftSuccess) fail_msg("'%s': %s", want, err);
  assert_string_equal(c.name, name);
  assert_string_equal(c.spec, spec);
  if (weft_device_check_spec(&c, "WEFT_DEVICE", err, sizeof err) != weftSuccess) fail_msg("'%s': %s", want, err);
}

/* Refused by the parser or by the built-in spec syntax, with msg. */
static void choice_bad(const char *want, const char *msg) {
  weft_device_choice c;
  char err[256] = "";
  weftResult_t r = weft_device_parse(want, "WEFT_DEVICE", &c, err, sizeof err);
  if (r == weftSuccess) r = weft_device_check_spec(&c, "WEFT_DEVICE", err, sizeof err);
  if (r != weftInvalidArgument) fail_msg("'%s' was taken (%s/%s)", want ? want : "(null)", c.name, c.spec);
  assert_string_equal(err, msg);
}

static void test_parse_good(void **state) {
  (void)state;
  parse_ok("host", "host", "");
  parse_ok("opencl", "opencl", "");
  parse_ok("opencl:1", "opencl", "1");
  parse_ok("opencl:0:1", "opencl", "0:1");
  parse_ok("opencl:svm", "opencl", "svm");
  parse_ok("opencl:0:1:svm", "opencl", "0:1:svm");
  parse_ok("opencl:12:345", "opencl", "12:345");
  parse_ok("cuda", "cuda", "");
  parse_ok("cuda:3", "cuda", "3");
  /* a plugin's spec is its own business */
  parse_ok("ascend:npu=2,stream=x", "ascend", "npu=2,stream=x");
  parse_ok("my-dev_2", "my-dev_2", "");
}

static void test_parse_bad(void **state) {
  (void)state;
  choice_bad("", "WEFT_DEVICE is empty: give host, opencl[:P[:D]], cuda[:N] or a plugin's name[:spec]");
  choice_bad(NULL, "WEFT_DEVICE is empty: give host, opencl[:P[:D]], cuda[:N] or a plugin's name[:spec]");
  choice_bad(":0", "WEFT_DEVICE ':0': no backend name before ':'");
  choice_bad("cuda:", "WEFT_DEVICE 'cuda:': nothing after ':'");
  choice_bad("a/b", "WEFT_DEVICE 'a/b': a backend name has only letters, digits, '_' and '-'");
  choice_bad("cu da", "WEFT_DEVICE 'cu da': a backend name has only letters, digits, '_' and '-'");
  choice_bad("abcdefghijklmnopqrstuvwxyz0123456789", "WEFT_DEVICE 'abcdefghijklmnopqrstuvwxyz0123456789': "
                                                     "backend name too long");
  choice_bad("opencl:x", "WEFT_DEVICE 'opencl:x': opencl takes platform[:device] (numbers >= 0), and/or svm: 0:1, svm, 0:1:svm");
  choice_bad("opencl:0:", "WEFT_DEVICE 'opencl:0:': opencl takes platform[:device] (numbers >= 0), and/or svm: 0:1, svm, 0:1:svm");
  choice_bad("opencl:0:1:2", "WEFT_DEVICE 'opencl:0:1:2': opencl takes platform[:device] (numbers >= 0), and/or svm: 0:1, svm, 0:1:svm");
  choice_bad("opencl:-1", "WEFT_DEVICE 'opencl:-1': opencl takes platform[:device] (numbers >= 0), and/or svm: 0:1, svm, 0:1:svm");
  choice_bad("opencl:svmx", "WEFT_DEVICE 'opencl:svmx': opencl takes platform[:device] (numbers >= 0), and/or svm: 0:1, svm, 0:1:svm");
  choice_bad("opencl:0svm", "WEFT_DEVICE 'opencl:0svm': opencl takes platform[:device] (numbers >= 0), and/or svm: 0:1, svm, 0:1:svm");
  choice_bad("opencl:1x", "WEFT_DEVICE 'opencl:1x': opencl takes platform[:device] (numbers >= 0), and/or svm: 0:1, svm, 0:1:svm");
  choice_bad("cuda:-1", "WEFT_DEVICE 'cuda:-1': cuda takes a device number >= 0");
  choice_bad("cuda:1:2", "WEFT_DEVICE 'cuda:1:2': cuda takes a device number >= 0");
  choice_bad("cuda:9999999", "WEFT_DEVICE 'cuda:9999999': cuda takes a device number >= 0");
  choice_bad("host:0", "WEFT_DEVICE 'host:0': host takes no spec");
}

static void test_lookup(void **state) {
  (void)state;
  unsetenv("WEFT_DEVICE_PLUGIN");
  weft_device_choice c;
  const weftDevice_t *ops = NULL;
  char err[256] = "";
  assert_int_equal(weft_device_lookup("host", "config device", &c, &ops, err, sizeof err), weftSuccess);
  assert_ptr_equal(ops, &weft_device_host);
  assert_ptr_equal(weft_device_find("host"), &weft_device_host);
  assert_null(weft_device_origin(ops));
  assert_int_equal(weft_device_lookup("nosuch:7", "config device", &c, &ops, err, sizeof err), weftInvalidArgument);
  assert_null(ops);
  char want[256];
  snprintf(want, sizeof want, "unknown device backend 'nosuch' (config device: this libweft has %s)",
           weft_device_names());
  assert_string_equal(err, want);
  assert_non_null(strstr(weft_device_names(), "host"));
  assert_int_equal(weft_device_lookup("host:1", "config device", &c, &ops, err, sizeof err), weftInvalidArgument);
  assert_string_equal(err, "config device 'host:1': host takes no spec");
}

static int warned;
static void count_warn(weftLogLevel_t level, const char *msg, void *user) {
  (void)msg;
  (void)user;
  warned += level == weftLogWarn;
}

static void test_host_backend(void **state) {
  (void)state;
  unsetenv("WEFT_DEVICE");
  weft_dev *d = NULL;
  char err[256] = "";
  if (weft_dev_open(NULL, NULL, NULL, &d, err, sizeof err) != weftSuccess) fail_msg("%s", err);
  assert_true(weft_dev_is_host(d));
  assert_true(weft_dev_maps(d));
  assert_false(weft_dev_reduces(d)); /* weft reduces host bytes itself */
  assert_true(weft_dev_pins(d));
  assert_string_equal(d->props.vendor, "weft");
  assert_int_equal(strncmp(d->props.uniqueId, "host:", 5), 0);
  char desc[256];
  weft_dev_describe(d, desc, sizeof desc);
  assert_int_equal(strncmp(desc, "host (vendor 'weft', model 'host memory', id 'host:", 51), 0);
  const weftDevice_t *o = d->ops;
  void *ctx = d->ctx;

  /* copies at offsets are real copies */
  unsigned char buf[256], out[256];
  for (int i = 0; i < 256; i++) buf[i] = (unsigned char)i;
  memset(out, 0, sizeof out);
  void *s, *e, *h, *m, *p;
  assert_int_equal(o->streamCreate(ctx, &s), weftSuccess);
  assert_int_equal(o->copyToHost(ctx, s, out, buf, 16, 100), weftSuccess);
  assert_memory_equal(out, buf + 16, 100);
  assert_int_equal(o->copyFromHost(ctx, s, buf, 200, out, 50), weftSuccess);
  assert_memory_equal(buf + 200, out, 50);
  assert_int_equal(o->copyDevice(ctx, s, out, 0, buf, 1, 10), weftSuccess);
  assert_int_equal(out[0], 1);
  assert_int_equal(weft_dev_mem_kind(d, buf), weftMemHost);
  /* events and holds are complete at once */
  int done = 0;
  assert_int_equal(o->eventRecord(ctx, s, &e), weftSuccess);
  assert_int_equal(o->eventQuery(ctx, e, &done), weftSuccess);
  assert_int_equal(done, 1);
  assert_int_equal(o->holdEnqueue(ctx, s, &h), weftSuccess);
  assert_int_equal(o->holdRelease(ctx, h, 1), weftSuccess);
  assert_int_equal(o->eventDestroy(ctx, e), weftSuccess);
  /* map hands out the pointer itself */
  assert_int_equal(o->map(ctx, s, buf, 8, 4, 1, &p, &m), weftSuccess);
  assert_ptr_equal(p, buf + 8);
  assert_int_equal(o->unmap(ctx, s, m), weftSuccess);
  assert_int_equal(o->hostAlloc(ctx, 100, &p), weftSuccess);
  assert_int_equal((uintptr_t)p % 64, 0);
  assert_int_equal(o->hostFree(ctx, p), weftSuccess);
  assert_int_equal(o->streamDestroy(ctx, s), weftSuccess);
  /* the host has no native queue */
  assert_int_equal(o->streamWrap(ctx, buf, &s), weftInvalidArgument);
  assert_non_null(strstr(o->lastError(ctx), "has no native queue"));
  assert_int_equal(o->streamWrap(ctx, NULL, &s), weftSuccess);
  /* a second reference keeps it open */
  assert_ptr_equal(weft_dev_retain(d), d);
  weft_dev_close(d);
  assert_int_equal(atomic_load(&d->refs), 1);
  weft_dev_close(d);

  /* WEFT_DEVICE when want is NULL; a spec host refuses never reaches it */
  setenv("WEFT_DEVICE", "host:2", 1);
  assert_int_equal(weft_dev_open(NULL, NULL, NULL, &d, err, sizeof err), weftInvalidArgument);
  assert_null(d);
  assert_string_equal(err, "WEFT_DEVICE 'host:2': host takes no spec");
  unsetenv("WEFT_DEVICE");
  /* the host ignores a native context, and says so at INFO only */
  weft_log_sink sink;
  weft_log_sink_init(&sink, 0, 1);
  sink.level = weftLogTrace;
  sink.cb = count_warn;
  int native;
  assert_int_equal(weft_dev_open("host", &native, &sink, &d, err, sizeof err), weftSuccess);
  assert_int_equal(warned, 0);
  weft_dev_close(d);
  weft_log_sink_fini(&sink);
}


/* ---- the device table (lib/tune/devtable.c) ---------------------------------------------- */

static void test_devtable_wire(void **state) {
  (void)state;
  weft_dev_entry e = {"opencl", WEFT_DEVK_DISCRETE, 12.5, 3.25}, back;
  unsigned char w[WEFT_DEV_WIRE_BYTES];
  char why[160];
  weft_dev_entry_pack(&e, w);
  assert_int_equal(weft_dev_entry_unpack(w, &back, why, sizeof why), 0);
  assert_string_equal(back.backend, "opencl");
  assert_int_equal(back.kind, WEFT_DEVK_DISCRETE);
  assert_true(back.copy_gbps == 12.5 && back.reduce_gbps == 3.25);
  /* what a hostile or broken peer may send */
  unsigned char bad[WEFT_DEV_WIRE_BYTES];
  memcpy(bad, w, sizeof bad);
  memset(bad, 'a', WEFT_DEV_BACKEND_LEN); /* no terminator */
  assert_int_equal(weft_dev_entry_unpack(bad, &back, why, sizeof why), -1);
  memcpy(bad, w, sizeof bad);
  bad[2] = '/';
  assert_int_equal(weft_dev_entry_unpack(bad, &back, why, sizeof why), -1);
  memcpy(bad, w, sizeof bad);
  bad[0] = 0; /* empty name */
  assert_int_equal(weft_dev_entry_unpack(bad, &back, why, sizeof why), -1);
  memcpy(bad, w, sizeof bad);
  bad[16] = 3; /* no such kind */
  assert_int_equal(weft_dev_entry_unpack(bad, &back, why, sizeof why), -1);
  memcpy(bad, w, sizeof bad);
  memset(bad + 20, 0xff, 4); /* 4.3e6 GB/s */
  assert_int_equal(weft_dev_entry_unpack(bad, &back, why, sizeof why), -1);
  assert_non_null(strstr(why, "bandwidth"));
}

static void test_devtable_parse(void **state) {
  (void)state;
  weft_dev_entry e;
  assert_int_equal(weft_dev_entry_parse("host", &e), 0);
  assert_int_equal(e.kind, WEFT_DEVK_HOST);
  assert_int_equal(weft_dev_entry_parse("cuda", &e), 0);
  assert_int_equal(e.kind, WEFT_DEVK_DISCRETE);
  assert_int_equal(weft_dev_entry_parse("opencl:unified:0:40", &e), 0);
  assert_true(e.kind == WEFT_DEVK_UNIFIED && e.reduce_gbps == 40);
  assert_int_equal(weft_dev_entry_parse("cuda:discrete:x", &e), -1);
  assert_int_equal(weft_dev_entry_parse("cuda:gpu", &e), -1);
  assert_int_equal(weft_dev_entry_parse("a/b:host", &e), -1);
  assert_int_equal(weft_dev_entry_parse("cuda:discrete:-1", &e), -1);
}

/* A network at 5 GB/s and 10 us a call. */
static double fake_net(const void *user, size_t bytes) {
  (void)user;
  return 10e-6 + bytes / 5e9;
}

static void test_devtable_decisions(void **state) {
  (void)state;
  weft_dev_entry e[2] = {{"host", WEFT_DEVK_HOST, 0, 0}, {"opencl", WEFT_DEVK_UNIFIED, 0, 0}};
  weft_devtable t = {2, e, 10};
  double t1, tp;
  /* nobody stages: never split */
  assert_int_equal(weft_devtable_pieces(&t, COLL_ALLREDUCE, 64u << 20, fake_net, NULL, &t1, &tp), 1);
  e[1].kind = WEFT_DEVK_DISCRETE;
  e[1].copy_gbps = 10;
  int p = weft_devtable_pieces(&t, COLL_ALLREDUCE, 64u << 20, fake_net, NULL, &t1, &tp);
  assert_true(p > 1 && p <= WEFT_DEV_MAX_PIECES && tp < t1);
  assert_true(weft_devtable_pieces(&t, COLL_BROADCAST, 64u << 20, fake_net, NULL, NULL, NULL) > 1);
  /* not contiguous in both buffers, or too small to pay for a piece */
  assert_int_equal(weft_devtable_pieces(&t, COLL_ALLGATHER, 64u << 20, fake_net, NULL, NULL, NULL), 1);
  assert_int_equal(weft_devtable_pieces(&t, COLL_ALLREDUCE, 4096, fake_net, NULL, NULL, NULL), 1);
  /* device reduce: none known loses; a fast kernel on mapped memory wins */
  char why[256];
  assert_int_equal(weft_devtable_reduce_on_device(&t, why, sizeof why), 0);
  assert_non_null(strstr(why, "host kernels"));
  e[1] = (weft_dev_entry){"opencl", WEFT_DEVK_UNIFIED, 0, 100};
  assert_int_equal(weft_devtable_reduce_on_device(&t, why, sizeof why), 1);
  /* the same kernel behind slow copies loses */
  e[1] = (weft_dev_entry){"cuda", WEFT_DEVK_DISCRETE, 5, 100};
  assert_int_equal(weft_devtable_reduce_on_device(&t, why, sizeof why), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_good),
      cmocka_unit_test(test_devtable_wire),
      cmocka_unit_test(test_devtable_parse),
      cmocka_unit_test(test_devtable_decisions),
      cmocka_unit_test(test_parse_bad),
      cmocka_unit_test(test_lookup),
      cmocka_unit_test(test_host_backend),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
