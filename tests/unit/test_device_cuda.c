/* The cuda device backend on a real GPU, through its ops table: device
 * choice, properties, memory kinds, copies with offsets and odd sizes,
 * events ordering two streams, holds (stream wait value and host function)
 * released from another thread, the host function's timeout, map, IPC.
 *
 * Without a driver or a device it exits 77 (ctest SKIP); with
 * WEFT_CUDA_REQUIRE=1 (scripts/gpu-check.sh) it fails instead. The test
 * allocates its buffers through the driver table the backend loaded. */
#include <pthread.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "device/cuda/cuda_private.h"
#include "util/clock.h"

static const weftDevice_t *D = &weft_device_cuda;
static const weft__cuda_api_t *cu;
static void *ctx; /* default device, default hold mechanism */

#define CHECK(call)                                                                              \
  do {                                                                                           \
    weftResult_t r_ = (call);                                                                    \
    if (r_ != weftSuccess) fail_msg("%s: %d: %s", #call, r_, D->lastError(ctx));               \
  } while (0)
#define CU_OK(call)                                                                              \
  do {                                                                                           \
    CUresult r_ = (call);                                                                        \
    if (r_ != CUDA_SUCCESS) fail_msg("%s: CUresult %d", #call, r_);                             \
  } while (0)

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Polls an event until done; 1 when done within ms. */
static int wait_event(void *c, void *ev, int ms) {
  long long deadline = weft_now_ms() + ms;
  for (;;) {
    int done = 0;
    weftResult_t r = D->eventQuery(c, ev, &done);
    if (r != weftSuccess) fail_msg("eventQuery: %s", D->lastError(c));
    if (done) return 1;
    if (weft_now_ms() > deadline) return 0;
    sleep_ms(1);
  }
}

/* Everything on stream so far is done (bounded). */
static void finish(void *c, void *stream) {
  void *ev = NULL;
  CHECK(D->eventRecord(c, stream, &ev));
  if (!wait_event(c, ev, 20000)) fail_msg("stream work did not finish in 20 s");
  CHECK(D->eventDestroy(c, ev));
}

static void fill(unsigned char *p, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++) p[i] = (unsigned char)((i * 131u + seed * 7u + (i >> 8)) & 0xff);
}

static void *dev_alloc(size_t bytes) {
  CUdeviceptr p = 0;
  CU_OK(cu->MemAlloc(&p, bytes));
  return (void *)(uintptr_t)p;
}
static void dev_free(void *p) { CU_OK(cu->MemFree((CUdeviceptr)(uintptr_t)p)); }

/* ---- device choice and properties ------------------------------------------------ */

static void test_properties(void **state) {
  (void)state;
  weftDeviceProperties_t p;
  CHECK(D->getProperties(ctx, &p));
  assert_string_equal(p.vendor, "NVIDIA Corporation");
  assert_true(strlen(p.model) > 0);
  regex_t re;
  assert_int_equal(regcomp(&re, "^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\\.[0-9a-f]$", REG_EXTENDED | REG_NOSUB), 0);
  if (regexec(&re, p.uniqueId, 0, NULL, 0) != 0) fail_msg("uniqueId '%s' is not a PCI bus id", p.uniqueId);
  regfree(&re);
  assert_true(p.hostUnified == 0 || p.hostUnified == 1);
  assert_true(p.numaNode >= -1);
  assert_true(p.copyGBps == 0 && p.reduceGBps == 0);
  printf("# cuda device: %s, %s, numa %d, hostUnified %d\n", p.model, p.uniqueId, p.numaNode, p.hostUnified);
}

static void test_device_choice(void **state) {
  (void)state;
  weftDeviceProperties_t mine, other;
  CHECK(D->getProperties(ctx, &mine));
  void *c2 = NULL;
  /* bad specs are refused with a message naming them */
  const char *bad[] = {"abc", "-1", "0x", "99999"};
  for (int i = 0; i < 4; i++) {
    weftDeviceInitArgs_t a = {WEFT_DEVICE_ABI_VERSION, NULL, NULL, bad[i], NULL};
    assert_int_equal(D->init(&a, &c2), weftInvalidArgument);
    assert_null(c2);
    assert_non_null(strstr(D->lastError(NULL), i == 3 ? "no device 99999" : bad[i]));
  }
  /* "0" is the default device */
  weftDeviceInitArgs_t a0 = {WEFT_DEVICE_ABI_VERSION, NULL, NULL, "0", NULL};
  CHECK(D->init(&a0, &c2));
  CHECK(D->getProperties(c2, &other));
  assert_string_equal(mine.uniqueId, other.uniqueId);
  CHECK(D->finalize(c2));
  /* the application's own context (deviceNative) */
  weftDeviceInitArgs_t an = {WEFT_DEVICE_ABI_VERSION, NULL, NULL, "", ((weft__cuda_ctx *)ctx)->context};
  CHECK(D->init(&an, &c2));
  assert_int_equal(((weft__cuda_ctx *)c2)->ownsPrimary, 0);
  CHECK(D->getProperties(c2, &other));
  assert_string_equal(mine.uniqueId, other.uniqueId);
  CHECK(D->finalize(c2));
  /* the default context still works after the native one went */
  CHECK(D->getProperties(ctx, &other));
}

/* ---- memory kinds, map ------------------------------------------------------------- */

static void test_mem_kind(void **state) {
  (void)state;
  weftMemKind_t k;
  void *dev = dev_alloc(4096);
  CHECK(D->memKind(ctx, dev, &k));
  assert_int_equal(k, weftMemDevice);
  CHECK(D->memKind(ctx, (char *)dev + 100, &k));
  assert_int_equal(k, weftMemDevice);
  void *pinned = NULL;
  CHECK(D->hostAlloc(ctx, 4096, &pinned));
  CHECK(D->memKind(ctx, pinned, &k));
  assert_int_equal(k, weftMemHostPinned);
  char *plain = malloc(4096);
  CHECK(D->memKind(ctx, plain, &k));
  assert_int_equal(k, weftMemUnknown);
  CHECK(D->memKind(ctx, NULL, &k));
  assert_int_equal(k, weftMemUnknown);
  if (cu->MemAllocManaged) {
    CUdeviceptr m = 0;
    CU_OK(cu->MemAllocManaged(&m, 4096, CU_MEM_ATTACH_GLOBAL));
    CHECK(D->memKind(ctx, (void *)(uintptr_t)m, &k));
    assert_int_equal(k, ((weft__cuda_ctx *)ctx)->managedHostAccess ? weftMemUnified : weftMemDevice);
    CU_OK(cu->MemFree(m));
  }
  free(plain);
  CHECK(D->hostFree(ctx, pinned));
  dev_free(dev);
}

static void test_map(void **state) {
  (void)state;
  void *s = NULL, *host = NULL, *mapping = NULL;
  CHECK(D->streamCreate(ctx, &s));
  /* pinned host memory maps to itself */
  unsigned char *pinned = NULL;
  CHECK(D->hostAlloc(ctx, 4096, (void **)&pinned));
  CHECK(D->map(ctx, s, pinned, 17, 100, 0, &host, &mapping));
  assert_ptr_equal(host, pinned + 17);
  CHECK(D->unmap(ctx, s, mapping));
  /* plain device memory does not map: weft copies */
  void *dev = dev_alloc(4096);
  assert_int_equal(D->map(ctx, s, dev, 0, 100, 0, &host, &mapping), weftInvalidUsage);
  assert_non_null(strstr(D->lastError(ctx), "map"));
  /* managed memory with concurrent access maps; the view holds the copy once the stream reached it */
  if (cu->MemAllocManaged && ((weft__cuda_ctx *)ctx)->managedHostAccess) {
    CUdeviceptr m = 0;
    CU_OK(cu->MemAllocManaged(&m, 4096, CU_MEM_ATTACH_GLOBAL));
    unsigned char src[1000];
    fill(src, sizeof src, 3);
    CHECK(D->copyFromHost(ctx, s, (void *)(uintptr_t)m, 33, src, sizeof src));
    CHECK(D->map(ctx, s, (void *)(uintptr_t)m, 33, sizeof src, 0, &host, &mapping));
    finish(ctx, s); /* the view is usable once an event after the map completes */
    assert_memory_equal(host, src, sizeof src);
    CHECK(D->unmap(ctx, s, mapping));
    CU_OK(cu->MemFree(m));
  }
  dev_free(dev);
  CHECK(D->hostFree(ctx, pinned));
  CHECK(D->streamDestroy(ctx, s));
}

/* ---- copies ------------------------------------------------------------------------ */

static void round_trip(void *stream, size_t bytes, size_t devOffset, int pinnedHost) {
  size_t total = bytes + devOffset + 64;
  unsigned char *src, *dst;
  if (pinnedHost) {
    CHECK(D->hostAlloc(ctx, bytes + 1, (void **)&src));
    CHECK(D->hostAlloc(ctx, bytes + 1, (void **)&dst));
  } else {
    src = malloc(bytes + 1);
    dst = malloc(bytes + 1);
  }
  fill(src, bytes + 1, (unsigned)bytes);
  memset(dst, 0xee, bytes + 1);
  void *a = dev_alloc(total), *b = dev_alloc(total);
  /* guard bytes around the copy: they must not change */
  unsigned char *guard = malloc(total), *back = malloc(total);
  memset(guard, 0x5a, total);
  CHECK(D->copyFromHost(ctx, stream, a, 0, guard, total));
  CHECK(D->copyFromHost(ctx, stream, b, 0, guard, total));
  CHECK(D->copyFromHost(ctx, stream, a, devOffset, src, bytes));
  /* device to device between different offsets, then back to the host */
  CHECK(D->copyDevice(ctx, stream, b, devOffset + 3, a, devOffset, bytes));
  CHECK(D->copyToHost(ctx, stream, dst, b, devOffset + 3, bytes));
  CHECK(D->copyToHost(ctx, stream, back, a, 0, total));
  finish(ctx, stream);
  if (memcmp(dst, src, bytes) != 0) fail_msg("round trip of %zu bytes at offset %zu differs", bytes, devOffset);
  assert_int_equal(dst[bytes], 0xee); /* nothing past the end */
  for (size_t i = 0; i < total; i++)
    if ((i < devOffset || i >= devOffset + bytes) && back[i] != 0x5a)
      fail_msg("byte %zu outside the copy changed (bytes %zu offset %zu)", i, bytes, devOffset);
  dev_free(a);
  dev_free(b);
  free(guard);
  free(back);
  if (pinnedHost) {
    CHECK(D->hostFree(ctx, src));
    CHECK(D->hostFree(ctx, dst));
  } else {
    free(src);
    free(dst);
  }
}

static void test_copies(void **state) {
  (void)state;
  void *own = NULL, *legacy = NULL;
  CHECK(D->streamCreate(ctx, &own));
  CHECK(D->streamWrap(ctx, NULL, &legacy)); /* NULL: the legacy default stream */
  const size_t sizes[] = {1, 7, 4096, 65537, (1u << 20) + 3};
  const size_t offsets[] = {0, 1, 13, 4096};
  for (int s = 0; s < 5; s++)
    for (int o = 0; o < 4; o++) {
      round_trip(own, sizes[s], offsets[o], (s + o) % 2);
      round_trip(legacy, sizes[s], offsets[o], (s + o + 1) % 2);
    }
  /* zero bytes: nothing to do, and no pointer needed */
  CHECK(D->copyToHost(ctx, own, NULL, NULL, 0, 0));
  CHECK(D->copyFromHost(ctx, own, NULL, 0, NULL, 0));
  CHECK(D->copyDevice(ctx, own, NULL, 0, NULL, 0, 0));
  CHECK(D->streamDestroy(ctx, legacy));
  CHECK(D->streamDestroy(ctx, own));
}

/* ---- events and holds -------------------------------------------------------------- */

typedef struct {
  void *ctx, *hold;
  int delayMs;
  weftResult_t res;
} release_job;

static void *release_later(void *arg) {
  release_job *j = arg;
  sleep_ms(j->delayMs);
  j->res = D->holdRelease(j->ctx, j->hold, 0);
  return NULL;
}

/* A hold on stream a keeps back a's upload and, through an event, stream
 * b's download; a thread releases it and both go on with the right data. */
static void hold_orders_streams(void *c) {
  const size_t n = (8u << 20) + 5;
  /* pinned: a copy from or to pageable memory may block the calling thread
   * until the stream reaches it, which a held stream never does here */
  unsigned char *old, *neu, *seen, *early;
  CHECK(D->hostAlloc(c, n, (void **)&old));
  CHECK(D->hostAlloc(c, n, (void **)&neu));
  CHECK(D->hostAlloc(c, n, (void **)&seen));
  CHECK(D->hostAlloc(c, n, (void **)&early));
  fill(old, n, 1);
  fill(neu, n, 2);
  void *buf = dev_alloc(n);
  void *a = NULL, *b = NULL, *side = NULL;
  CHECK(D->streamCreate(c, &a));
  CHECK(D->streamCreate(c, &b));
  CHECK(D->streamCreate(c, &side));
  CHECK(D->copyFromHost(c, a, buf, 0, old, n));
  finish(c, a);

  void *hold = NULL, *ea = NULL, *eb = NULL;
  CHECK(D->holdEnqueue(c, a, &hold));
  CHECK(D->copyFromHost(c, a, buf, 0, neu, n));
  CHECK(D->eventRecord(c, a, &ea));
  CHECK(D->eventWait(c, b, ea));
  CHECK(D->copyToHost(c, b, seen, buf, 0, n));
  CHECK(D->eventRecord(c, b, &eb));

  /* held: neither stream has gone on, and the buffer still has the old bytes */
  assert_int_equal(wait_event(c, eb, 200), 0);
  int done = 1;
  CHECK(D->eventQuery(c, ea, &done));
  assert_int_equal(done, 0);
  CHECK(D->copyToHost(c, side, early, buf, 0, n));
  finish(c, side);
  assert_memory_equal(early, old, n);

  release_job job = {c, hold, 50, weftInternalError};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, release_later, &job), 0);
  int finished = wait_event(c, eb, 20000);
  pthread_join(t, NULL);
  assert_int_equal(job.res, weftSuccess);
  assert_true(finished);
  assert_memory_equal(seen, neu, n);
  /* a second release is refused */
  assert_int_equal(D->holdRelease(c, hold, 0), weftInvalidUsage);

  CHECK(D->eventDestroy(c, ea));
  CHECK(D->eventDestroy(c, eb));
  /* many holds at once, released in reverse order, then reused */
  for (int round = 0; round < 2; round++) {
    void *holds[40];
    for (int i = 0; i < 40; i++) CHECK(D->holdEnqueue(c, a, &holds[i]));
    CHECK(D->eventRecord(c, a, &ea));
    assert_int_equal(wait_event(c, ea, 50), 0);
    for (int i = 39; i >= 0; i--) CHECK(D->holdRelease(c, holds[i], i % 2));
    assert_true(wait_event(c, ea, 20000));
    CHECK(D->eventDestroy(c, ea));
  }
  CHECK(D->streamDestroy(c, a));
  CHECK(D->streamDestroy(c, b));
  CHECK(D->streamDestroy(c, side));
  dev_free(buf);
  CHECK(D->hostFree(c, old));
  CHECK(D->hostFree(c, neu));
  CHECK(D->hostFree(c, seen));
  CHECK(D->hostFree(c, early));
}

static void log_line(void *user, weftLogLevel_t level, const char *message) {
  (void)user;
  if (level <= weftLogInfo) printf("# log: %s\n", message);
}

static void *open_with(const char *holdMode, const char *timeout) {
  if (holdMode) setenv("WEFT_CUDA_HOLD", holdMode, 1);
  if (timeout) setenv("WEFT_TIMEOUT", timeout, 1);
  void *c = NULL;
  weftDeviceInitArgs_t a = {WEFT_DEVICE_ABI_VERSION, log_line, NULL, "", NULL};
  weftResult_t r = D->init(&a, &c);
  if (holdMode) unsetenv("WEFT_CUDA_HOLD");
  if (timeout) unsetenv("WEFT_TIMEOUT");
  return r == weftSuccess ? c : NULL;
}

static void test_hold_wait_value(void **state) {
  (void)state;
  void *c = open_with("wait", NULL);
  if (!c) {
    printf("# no stream wait value on this device (%s): host function holds only\n", D->lastError(NULL));
    assert_int_equal(((weft__cuda_ctx *)ctx)->holdByWaitValue, 0);
    return;
  }
  assert_int_equal(((weft__cuda_ctx *)c)->holdByWaitValue, 1);
  hold_orders_streams(c);
  printf("# holds ended by %s\n", ((weft__cuda_ctx *)c)->holdByWaitValue ? "stream wait value" : "host function");
  CHECK(D->finalize(c));
}

static void test_hold_host_function(void **state) {
  (void)state;
  void *c = open_with("hostfn", NULL);
  assert_non_null(c);
  assert_int_equal(((weft__cuda_ctx *)c)->holdByWaitValue, 0);
  hold_orders_streams(c);
  CHECK(D->finalize(c));
}

/* A host function hold never blocks for ever: after WEFT_TIMEOUT the stream
 * goes on and the late release says so. */
static void test_hold_host_function_timeout(void **state) {
  (void)state;
  void *c = open_with("hostfn", "0.3");
  assert_non_null(c);
  void *s = NULL, *hold = NULL, *ev = NULL;
  CHECK(D->streamCreate(c, &s));
  long long t0 = weft_now_ms();
  CHECK(D->holdEnqueue(c, s, &hold));
  CHECK(D->eventRecord(c, s, &ev));
  assert_true(wait_event(c, ev, 10000));
  assert_true(weft_now_ms() - t0 >= 250);
  assert_int_equal(D->holdRelease(c, hold, 1), weftTimeout);
  assert_non_null(strstr(D->lastError(c), "hold gave up"));
  CHECK(D->eventDestroy(c, ev));
  CHECK(D->streamDestroy(c, s));
  CHECK(D->finalize(c));
}

/* finalize lets pending holds go rather than leave the stream stuck. */
static void test_finalize_releases_holds(void **state) {
  (void)state;
  const char *modes[] = {"wait", "hostfn"};
  for (int m = 0; m < 2; m++) {
    void *c = open_with(modes[m], NULL);
    if (!c) continue; /* no wait value here: covered by test_hold_wait_value */
    void *user = NULL, *hold = NULL;
    CUstream raw = NULL;
    CU_OK(cu->StreamCreate(&raw, CU_STREAM_NON_BLOCKING));
    CHECK(D->streamWrap(c, raw, &user)); /* the application's stream */
    CHECK(D->holdEnqueue(c, user, &hold));
    CHECK(D->streamDestroy(c, user));     /* a wrapped stream stays the application's */
    CHECK(D->finalize(c));
    /* the application's stream goes on */
    CUevent e = NULL;
    CU_OK(cu->EventCreate(&e, CU_EVENT_DISABLE_TIMING));
    CU_OK(cu->EventRecord(e, raw));
    long long deadline = weft_now_ms() + 20000;
    CUresult r;
    while ((r = cu->EventQuery(e)) == CUDA_ERROR_NOT_READY && weft_now_ms() < deadline) sleep_ms(1);
    assert_int_equal(r, CUDA_SUCCESS);
    CU_OK(cu->EventDestroy(e));
    CU_OK(cu->StreamDestroy(raw));
  }
}

/* ---- IPC ------------------------------------------------------------------------------ */

static void test_ipc(void **state) {
  (void)state;
  void *dev = dev_alloc(1 << 20);
  unsigned char handle[WEFT_DEVICE_IPC_BYTES], zero[WEFT_DEVICE_IPC_BYTES] = {0};
  memset(handle, 0, sizeof handle);
  weftResult_t r = D->ipcGetHandle(ctx, dev, handle);
  if (r != weftSuccess) {
    /* some platforms (WSL, some virtual GPUs) have no CUDA IPC */
    printf("# no CUDA IPC here: %s\n", D->lastError(ctx));
    assert_int_equal(r, weftUnhandledDeviceError);
  } else {
    assert_memory_not_equal(handle, zero, sizeof handle);
    /* the driver refuses to open a handle in the process that made it;
     * either way nothing crashes and a success can be closed */
    void *opened = NULL;
    if (D->ipcOpenHandle(ctx, handle, &opened) == weftSuccess) CHECK(D->ipcCloseHandle(ctx, opened));
    else assert_true(strlen(D->lastError(ctx)) > 0);
  }
  dev_free(dev);
}

int main(void) {
  weftDeviceInitArgs_t a = {WEFT_DEVICE_ABI_VERSION, NULL, NULL, "", NULL};
  weftResult_t r = D->init(&a, &ctx);
  if (r != weftSuccess) {
    const char *why = D->lastError(NULL);
    int absent = r == weftUnhandledDeviceError &&
                 (!strncmp(why, "no CUDA driver", 14) || !strncmp(why, "no CUDA device", 14));
    if (absent && !getenv("WEFT_CUDA_REQUIRE")) {
      printf("SKIP: %s\n", why);
      return 77;
    }
    fprintf(stderr, "cuda init failed (%d): %s\n", r, why);
    return 1;
  }
  char err[256];
  cu = weft__cuda_load(err, sizeof err);
  if (!cu || !cu->MemAlloc || !cu->MemFree) {
    fprintf(stderr, "the driver has no cuMemAlloc/cuMemFree: cannot make test buffers\n");
    return 1;
  }
  printf("# holds by %s by default\n", ((weft__cuda_ctx *)ctx)->holdByWaitValue ? "stream wait value" : "host function");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_properties),
      cmocka_unit_test(test_device_choice),
      cmocka_unit_test(test_mem_kind),
      cmocka_unit_test(test_map),
      cmocka_unit_test(test_copies),
      cmocka_unit_test(test_hold_wait_value),
      cmocka_unit_test(test_hold_host_function),
      cmocka_unit_test(test_hold_host_function_timeout),
      cmocka_unit_test(test_finalize_releases_holds),
      cmocka_unit_test(test_ipc),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  if (D->finalize(ctx) != weftSuccess) {
    fprintf(stderr, "finalize: %s\n", D->lastError(NULL));
    failed++;
  }
  return failed ? 1 : 0;
}
