/*
 * Device backends as a comm sees them (one scenario per run: the device
 * registry, WEFT_DEVICE_PLUGIN included, is set up once per process):
 *   plugin PLUGIN NAME   WEFT_DEVICE_PLUGIN=PLUGIN, WEFT_DEVICE=NAME: 2 ranks
 *                        init on it (the INFO log names the device and the
 *                        plugin, a split child opens it again), a stream
 *                        wraps a native queue and outlives its comm; then,
 *                        in this process, the ops table is driven directly
 *                        (PLUGIN must be the docs/devices.md skeleton: it
 *                        exports mydevMalloc/mydevFree): round trip, holds,
 *                        events across streams, errors; and "NAME:bogus" is
 *                        refused with the backend's reason.
 *   refused PLUGIN TEXT  init fails with weftInvalidUsage and a message that
 *                        contains TEXT, on both ranks.
 *   choice               the host default, config.device over WEFT_DEVICE,
 *                        unknown backends and bad specs refused, a config
 *                        from an older weft.h (size short of device), split.
 */
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "launch_fork.h"
#include "time_scale.h"
#include "weft.h"
#include "weft_device.h"

#define CHECK(cond, ...)                                 \
  do {                                                   \
    if (!(cond)) {                                       \
      fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);    \
      fprintf(stderr, __VA_ARGS__);                      \
      fprintf(stderr, " [%s]\n", #cond);                 \
      return 1;                                          \
    }                                                    \
  } while (0)

typedef struct {
  const char *plugin, *name, *text;
} scenario;

/* INFO lines that say which device a rank uses. */
static char seen[4][512];
static int nseen;

static void log_cb(weftLogLevel_t level, const char *msg, void *user) {
  (void)user;
  (void)level;
  if (strstr(msg, " uses device ") && nseen < 4) snprintf(seen[nseen++], sizeof seen[0], "%s", msg);
}

static weftConfig_t info_config(void) {
  weftConfig_t cfg = WEFT_CONFIG_INITIALIZER;
  cfg.logLevel = weftLogInfo;
  cfg.logCallback = log_cb;
  cfg.timeoutMs = weft_test_ms(20000);
  return cfg;
}

/* A one-rank comm with cfg (NULL: defaults). */
static weftResult_t init_one(weftComm_t *comm, weftConfig_t *cfg) {
  weftUniqueId id;
  weftResult_t r = weftGetUniqueId(&id);
  return r != weftSuccess ? r : weftCommInitRankConfig(comm, 1, id, 0, cfg);
}

/* ---- plugin ------------------------------------------------------------------ */

static int plugin_rank(int rank, int n, const weftUniqueId *id, void *arg) {
  const scenario *s = arg;
  weftConfig_t cfg = info_config();
  weftComm_t comm, child;
  weftResult_t r = weftCommInitRankConfig(&comm, n, *id, rank, &cfg);
  CHECK(r == weftSuccess, "rank %d: init: %s", rank, weftGetLastError(NULL));
  char want[256];
  snprintf(want, sizeof want, "uses device %s (vendor", s->name);
  CHECK(nseen == 1 && strstr(seen[0], want) && strstr(seen[0], s->plugin), "rank %d: device line '%s'", rank,
        nseen ? seen[0] : "(none)");
  /* the skeleton wants a native queue */
  weftStream_t st;
  r = weftStreamFromNative(&st, comm, NULL);
  CHECK(r == weftInvalidArgument && strstr(weftGetLastError(comm), "no native queue"), "rank %d: %s: %s", rank,
        weftGetErrorString(r), weftGetLastError(comm));
  static int app_queue; /* the application's queue: opaque to weft */
  r = weftStreamFromNative(&st, comm, &app_queue);
  CHECK(r == weftSuccess, "rank %d: weftStreamFromNative: %s", rank, weftGetLastError(comm));
  r = weftCommSplit(comm, 0, rank, &child, NULL);
  CHECK(r == weftSuccess, "rank %d: split: %s", rank, weftGetLastError(comm));
  CHECK(nseen == 2 && strstr(seen[1], want), "rank %d: the split child said nothing of its device", rank);
  CHECK(weftCommDestroy(child) == weftSuccess && weftCommDestroy(comm) == weftSuccess, "rank %d: destroy", rank);
  /* the stream keeps the device open after its comm */
  CHECK(weftStreamSynchronize(st) == weftSuccess, "rank %d: sync: %s", rank, weftGetLastError(NULL));
  CHECK(weftStreamDestroy(st) == weftSuccess, "rank %d: stream destroy: %s", rank, weftGetLastError(NULL));
  printf("rank %d: comm, split and stream on device %s\n", rank, s->name);
  return 0;
}

/* The ops table of the docs/devices.md skeleton, driven directly. */
static int plugin_ops(const char *path) {
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  CHECK(h, "dlopen %s: %s", path, dlerror());
  const weftDevice_t *d = dlsym(h, "weftDevicePlugin_v1");
  void *(*dev_malloc)(size_t) = (void *(*)(size_t))dlsym(h, "mydevMalloc");
  void (*dev_free)(void *) = (void (*)(void *))dlsym(h, "mydevFree");
  CHECK(d && dev_malloc && dev_free, "%s lacks weftDevicePlugin_v1, mydevMalloc or mydevFree", path);
  weftDeviceInitArgs_t args = {WEFT_DEVICE_ABI_VERSION, NULL, NULL, "", NULL};
  void *ctx, *s1, *s2, *hold, *e1, *e2;
  CHECK(d->init(&args, &ctx) == weftSuccess, "init");
  weftDeviceProperties_t p;
  memset(&p, 0, sizeof p);
  CHECK(d->getProperties(ctx, &p) == weftSuccess && p.vendor[0] && p.uniqueId[0], "getProperties");
  enum { N = 4096 };
  unsigned char src[N], dst[N], again[N];
  for (int i = 0; i < N; i++) src[i] = (unsigned char)(i * 7 + 3);
  void *buf = dev_malloc(N);
  CHECK(buf, "mydevMalloc");
  weftMemKind_t k;
  CHECK(d->memKind(ctx, buf, &k) == weftSuccess && k == weftMemDevice, "memKind(device buffer) = %d", (int)k);
  CHECK(d->memKind(ctx, src, &k) == weftSuccess && k == weftMemUnknown, "memKind(host pointer) = %d", (int)k);
  CHECK(d->streamCreate(ctx, &s1) == weftSuccess && d->streamCreate(ctx, &s2) == weftSuccess, "streamCreate");

  /* round trip, at an offset */
  memset(dst, 0, N);
  CHECK(d->copyFromHost(ctx, s1, buf, 100, src, N - 100) == weftSuccess, "copyFromHost: %s", d->lastError(ctx));
  CHECK(d->copyToHost(ctx, s1, dst, buf, 100, N - 100) == weftSuccess, "copyToHost: %s", d->lastError(ctx));
  CHECK(d->eventRecord(ctx, s1, &e1) == weftSuccess, "eventRecord");
  int done = 0;
  for (int i = 0; i < 1000 && !done; i++) CHECK(d->eventQuery(ctx, e1, &done) == weftSuccess, "eventQuery");
  CHECK(done && memcmp(dst, src, N - 100) == 0, "round trip through the device changed the bytes");
  d->eventDestroy(ctx, e1);

  /* a hold stops its stream; another stream waits on an event behind it */
  CHECK(d->holdEnqueue(ctx, s1, &hold) == weftSuccess, "holdEnqueue");
  for (int i = 0; i < N; i++) src[i] = (unsigned char)(255 - i);
  CHECK(d->copyFromHost(ctx, s1, buf, 0, src, N) == weftSuccess, "copyFromHost behind the hold");
  CHECK(d->eventRecord(ctx, s1, &e1) == weftSuccess && d->eventWait(ctx, s2, e1) == weftSuccess, "eventWait");
  memset(again, 0, N);
  CHECK(d->copyToHost(ctx, s2, again, buf, 0, N) == weftSuccess && d->eventRecord(ctx, s2, &e2) == weftSuccess,
        "copyToHost on the waiting stream");
  CHECK(d->eventQuery(ctx, e1, &done) == weftSuccess && !done, "an event behind a hold completed");
  CHECK(d->eventQuery(ctx, e2, &done) == weftSuccess && !done, "a stream passed an event it waits for");
  CHECK(again[0] == 0 && again[N - 1] == 0, "the waiting stream copied before the event");
  CHECK(d->holdRelease(ctx, hold, 0) == weftSuccess, "holdRelease");
  for (int i = 0, d1 = 0, d2 = 0; i < 1000 && !(d1 && d2); i++) {
    CHECK(d->eventQuery(ctx, e1, &d1) == weftSuccess && d->eventQuery(ctx, e2, &d2) == weftSuccess, "query");
    done = d1 && d2;
  }
  CHECK(done && memcmp(again, src, N) == 0, "after the release the waiting stream did not see the data");
  d->eventDestroy(ctx, e1);
  d->eventDestroy(ctx, e2);

  /* errors: a range outside the buffer, a host pointer as a buffer */
  CHECK(d->copyToHost(ctx, s1, dst, buf, N - 10, 11) != weftSuccess, "a copy past the end was taken");
  CHECK(strstr(d->lastError(ctx), "not a mydev buffer"), "lastError '%s'", d->lastError(ctx));
  CHECK(d->copyFromHost(ctx, s1, src, 0, dst, 1) != weftSuccess, "a host pointer was taken as a buffer");
  CHECK(d->streamDestroy(ctx, s1) == weftSuccess && d->streamDestroy(ctx, s2) == weftSuccess, "streamDestroy");
  dev_free(buf);
  CHECK(d->finalize(ctx) == weftSuccess, "finalize");
  printf("ops table: round trip, hold, events across streams and errors as documented\n");
  return 0;
}

static int plugin_main(const scenario *s) {
  setenv("WEFT_DEVICE_PLUGIN", s->plugin, 1);
  setenv("WEFT_DEVICE", s->name, 1);
  int failed = weft_launch_fork(2, plugin_rank, (void *)s, weft_test_seconds(120), NULL);
  if (failed) return 1;
  if (plugin_ops(s->plugin)) return 1;
  /* a spec the backend refuses: its reason, logged at WARN during init */
  char want[64];
  snprintf(want, sizeof want, "%s:bogus", s->name);
  weftConfig_t cfg = WEFT_CONFIG_INITIALIZER;
  cfg.device = want;
  cfg.logLevel = weftLogNone;
  weftComm_t comm;
  weftResult_t r = init_one(&comm, &cfg);
  CHECK(r == weftInvalidArgument && strstr(weftGetLastError(NULL), "takes no spec, got 'bogus'"), "%s: %s",
        weftGetErrorString(r), weftGetLastError(NULL));
  printf("%s refused: %s\n", want, weftGetLastError(NULL));
  return 0;
}

/* ---- refused ----------------------------------------------------------------- */

static int refused_rank(int rank, int n, const weftUniqueId *id, void *arg) {
  const scenario *s = arg;
  weftConfig_t cfg = WEFT_CONFIG_INITIALIZER;
  cfg.timeoutMs = weft_test_ms(5000);
  weftComm_t comm = (weftComm_t)&cfg;
  weftResult_t r = weftCommInitRankConfig(&comm, n, *id, rank, &cfg);
  const char *msg = weftGetLastError(NULL);
  printf("rank %d: %s: %s\n", rank, weftGetErrorString(r), msg);
  CHECK(r == weftInvalidUsage && strstr(msg, s->text) && strstr(msg, "WEFT_DEVICE_PLUGIN") && !comm,
        "rank %d: expected weftInvalidUsage with '%s'", rank, s->text);
  return 0;
}

/* ---- choice ------------------------------------------------------------------ */

static int expect_refused(weftConfig_t *cfg, weftResult_t want_res, const char *text) {
  weftComm_t comm;
  cfg->logLevel = weftLogNone;
  weftResult_t r = init_one(&comm, cfg);
  CHECK(r == want_res && strstr(weftGetLastError(NULL), text), "wanted %s with '%s', got %s: %s",
        weftGetErrorString(want_res), text, weftGetErrorString(r), weftGetLastError(NULL));
  printf("refused as expected: %s\n", weftGetLastError(NULL));
  return 0;
}

static int choice_main(void) {
  unsetenv("WEFT_DEVICE");
  unsetenv("WEFT_DEVICE_PLUGIN");
  /* the default is host; a stream from the host device's (NULL) queue works */
  weftConfig_t cfg = info_config();
  weftComm_t comm, child;
  CHECK(init_one(&comm, &cfg) == weftSuccess, "default init: %s", weftGetLastError(NULL));
  CHECK(nseen == 1 && strstr(seen[0], "uses device host (vendor 'weft', model 'host memory'"), "device line '%s'",
        nseen ? seen[0] : "(none)");
  weftStream_t st;
  int app_queue = 0;
  weftResult_t r = weftStreamFromNative(&st, comm, &app_queue);
  CHECK(r == weftInvalidArgument && strstr(weftGetLastError(comm), "host device has no native queue"), "%s: %s",
        weftGetErrorString(r), weftGetLastError(comm));
  CHECK(weftStreamFromNative(&st, comm, NULL) == weftSuccess, "host stream: %s", weftGetLastError(comm));
  int x = 5, y = 0;
  CHECK(weftAllReduce(&x, &y, 1, weftInt32, weftSum, comm, st) == weftSuccess, "allreduce on it");
  CHECK(weftStreamSynchronize(st) == weftSuccess && y == 5, "allreduce result %d", y);
  CHECK(weftCommSplit(comm, 0, 0, &child, NULL) == weftSuccess, "split: %s", weftGetLastError(comm));
  CHECK(nseen == 2 && strstr(seen[1], "uses device host"), "the split child said nothing of its device");
  weftCommDestroy(child);
  weftCommDestroy(comm);
  CHECK(weftStreamDestroy(st) == weftSuccess, "stream destroy after its comm");

  /* bad choices in the config */
  weftConfig_t bad = WEFT_CONFIG_INITIALIZER;
  bad.device = "nosuch";
  if (expect_refused(&bad, weftInvalidArgument, "unknown device backend 'nosuch' (config device: this libweft has host"))
    return 1;
  bad.device = "host:1";
  if (expect_refused(&bad, weftInvalidArgument, "config device 'host:1': host takes no spec")) return 1;
  bad.device = "";
  if (expect_refused(&bad, weftInvalidArgument, "config device is empty")) return 1;
  bad.device = "a/b";
  if (expect_refused(&bad, weftInvalidArgument, "only letters, digits")) return 1;

  /* WEFT_DEVICE, and the config over it */
  setenv("WEFT_DEVICE", "nosuch:1", 1);
  weftConfig_t plain = WEFT_CONFIG_INITIALIZER;
  if (expect_refused(&plain, weftInvalidArgument, "unknown device backend 'nosuch' (WEFT_DEVICE:")) return 1;
  weftConfig_t over = WEFT_CONFIG_INITIALIZER;
  over.device = "host";
  over.logLevel = weftLogNone;
  CHECK(init_one(&comm, &over) == weftSuccess, "config device over WEFT_DEVICE: %s", weftGetLastError(NULL));
  weftCommDestroy(comm);
  unsetenv("WEFT_DEVICE");

  /* a program built against the weft.h before device: what lies past its
   * size is not read */
  weftConfig_t old = WEFT_CONFIG_INITIALIZER;
  old.size = offsetof(weftConfig_t, device);
  old.device = "nosuch";
  old.deviceNative = &app_queue;
  old.logLevel = weftLogNone;
  CHECK(init_one(&comm, &old) == weftSuccess, "a short config: %s", weftGetLastError(NULL));
  weftCommDestroy(comm);
  printf("device choice: default, config, WEFT_DEVICE, old configs as documented\n");
  return 0;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  int rc;
  if (argc == 4 && strcmp(mode, "plugin") == 0) {
    scenario s = {argv[2], argv[3], NULL};
    rc = plugin_main(&s);
  } else if (argc == 4 && strcmp(mode, "refused") == 0) {
    scenario s = {argv[2], NULL, argv[3]};
    setenv("WEFT_DEVICE_PLUGIN", s.plugin, 1);
    rc = weft_launch_fork(2, refused_rank, &s, weft_test_seconds(60), NULL) != 0;
  } else if (argc == 2 && strcmp(mode, "choice") == 0) {
    rc = choice_main();
  } else {
    fprintf(stderr, "usage: test_device plugin PLUGIN NAME | refused PLUGIN TEXT | choice\n");
    return 2;
  }
  printf("%s\n", rc ? "FAILED" : "PASSED");
  return rc;
}
