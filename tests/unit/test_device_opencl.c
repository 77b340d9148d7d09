/* Unit tests for the "opencl" device backend (lib/device/opencl), through
 * its ops table only, on whatever OpenCL platform the ICD loader finds (PoCL
 * in CI). Exit code 77 (ctest SKIP) when there is no OpenCL device.
 *
 * The test opens its own context and queues and hands the first queue to the
 * backend as args->native, so that its buffers live in the backend's
 * context. It checks: opening by spec, properties, memKind of cl_mem /
 * sub-buffer / host and unreadable pointers, copies with odd offsets and
 * sizes, map/unmap, events across two queues, holds (work after a hold does
 * not run before holdRelease), and reduce bitwise against the host kernels
 * (lib/reduce) for every dtype x op, in place and out of place, with NaN
 * payloads (two NaNs, signaling NaNs, inf - inf, 0 * inf: the NaN rule,
 * checked on its own as well), signed zeros, infinities, denormals and every
 * fp16/bf16 bit pattern. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <CL/cl.h>
#include <cmocka.h>

#include "reduce/reduce.h"
#include "weft_device.h"

extern const weftDevice_t weft_device_opencl;
static const weftDevice_t *dev = &weft_device_opencl;

static cl_platform_id platform;
static cl_device_id device;
static cl_context context;
static cl_command_queue q1, q2;
static void *ctx; /* the backend, opened on q1 */

/* ---- helpers ------------------------------------------------------------------------ */

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

#define OK(call)                                                                         \
  do {                                                                                   \
    weftResult_t r_ = (call);                                                            \
    if (r_ != weftSuccess) fail_msg("%s -> %d: %s", #call, (int)r_, dev->lastError(ctx)); \
  } while (0)

/* Polls an event until done (10 s at most). */
static void wait_event(void *ev) {
  for (int i = 0; i < 10000; i++) {
    int done = 0;
    OK(dev->eventQuery(ctx, ev, &done));
    if (done) return;
    sleep_ms(1);
  }
  fail_msg("event not done after 10 s");
}

/* Records an event on stream, waits for it, destroys it. */
static void sync_stream(void *stream) {
  void *ev = NULL;
  OK(dev->eventRecord(ctx, stream, &ev));
  wait_event(ev);
  OK(dev->eventDestroy(ctx, ev));
}

static cl_mem new_buffer(size_t bytes) {
  cl_int err;
  cl_mem m = clCreateBuffer(context, CL_MEM_READ_WRITE, bytes, NULL, &err);
  assert_int_equal(err, CL_SUCCESS);
  return m;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng64(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545F4914F6CDD1Dull;
}

/* ---- opening -------------------------------------------------------------------------- */

static void test_init_specs(void **state) {
  (void)state;
  weftDeviceInitArgs_t args = {.abiVersion = WEFT_DEVICE_ABI_VERSION, .spec = ""};
  void *c = NULL;
  assert_int_equal(dev->init(&args, &c), weftSuccess);
  weftDeviceProperties_t p;
  assert_int_equal(dev->getProperties(c, &p), weftSuccess);
  assert_true(p.vendor[0] != '\0' && p.model[0] != '\0' && p.uniqueId[0] != '\0');
  assert_int_equal(dev->finalize(c), weftSuccess);

  args.spec = "0:0";
  assert_int_equal(dev->init(&args, &c), weftSuccess);
  assert_int_equal(dev->finalize(c), weftSuccess);

  const char *bad[] = {"x", "0", "0:", "0:1x", "99:0", "0:63"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    args.spec = bad[i];
    c = (void *)&args;
    weftResult_t r = dev->init(&args, &c);
    if (r == weftSuccess) fail_msg("spec \"%s\" was accepted", bad[i]);
    assert_null(c);
    assert_non_null(strstr(dev->lastError(NULL), "spec"));
  }
  args.spec = "";
  args.abiVersion = WEFT_DEVICE_ABI_VERSION + 1;
  assert_int_not_equal(dev->init(&args, &c), weftSuccess);
  assert_non_null(strstr(dev->lastError(NULL), "ABI version"));
}

static void test_properties(void **state) {
  (void)state;
  weftDeviceProperties_t p;
  OK(dev->getProperties(ctx, &p));
  char name[128] = "";
  assert_int_equal(clGetDeviceInfo(device, CL_DEVICE_NAME, sizeof name - 1, name, NULL), CL_SUCCESS);
  assert_int_equal(strncmp(p.model, name, sizeof p.model - 1), 0);
  cl_bool unified = CL_FALSE;
  clGetDeviceInfo(device, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified, &unified, NULL);
  assert_int_equal(p.hostUnified, unified == CL_TRUE);
  assert_true(p.uniqueId[0] != '\0');
  assert_true(p.numaNode >= -1);
}

/* ---- memKind ---------------------------------------------------------------------------- */

static void test_mem_kind(void **state) {
  (void)state;
  weftDeviceProperties_t p;
  OK(dev->getProperties(ctx, &p));
  const weftMemKind_t devKind = p.hostUnified ? weftMemUnified : weftMemDevice;
  weftMemKind_t k;

  cl_mem m = new_buffer(4096);
  OK(dev->memKind(ctx, m, &k));
  assert_int_equal(k, devKind);

  cl_uint align = 0; /* bits */
  clGetDeviceInfo(device, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof align, &align, NULL);
  cl_buffer_region region = {align / 8 < 4096 ? align / 8 : 0, 1024};
  cl_int err;
  cl_mem sub = clCreateSubBuffer(m, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION, &region, &err);
  assert_int_equal(err, CL_SUCCESS);
  OK(dev->memKind(ctx, sub, &k));
  assert_int_equal(k, devKind);

  /* Not buffers of this context: all unknown, none may crash. */
  char *host = malloc(64);
  memset(host, 0x5a, 64);
  OK(dev->memKind(ctx, host, &k));
  assert_int_equal(k, weftMemUnknown);
  int onStack = 7;
  OK(dev->memKind(ctx, &onStack, &k));
  assert_int_equal(k, weftMemUnknown);
  OK(dev->memKind(ctx, NULL, &k));
  assert_int_equal(k, weftMemUnknown);
  void *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  assert_true(none != MAP_FAILED);
  OK(dev->memKind(ctx, none, &k));
  assert_int_equal(k, weftMemUnknown);
  OK(dev->memKind(ctx, (char *)none + 4093, &k)); /* readable 0 of 8 bytes */
  assert_int_equal(k, weftMemUnknown);
  munmap(none, 4096);
  OK(dev->memKind(ctx, q1, &k)); /* an OpenCL object, not a buffer */
  assert_int_equal(k, weftMemUnknown);
  OK(dev->memKind(ctx, context, &k));
  assert_int_equal(k, weftMemUnknown);
  /* a buffer of another context */
  cl_context other = clCreateContext(NULL, 1, &device, NULL, NULL, &err);
  assert_int_equal(err, CL_SUCCESS);
  cl_mem foreign = clCreateBuffer(other, CL_MEM_READ_WRITE, 64, NULL, &err);
  assert_int_equal(err, CL_SUCCESS);
  OK(dev->memKind(ctx, foreign, &k));
  assert_int_equal(k, weftMemUnknown);
  clReleaseMemObject(foreign);
  clReleaseContext(other);

  /* pinned host memory from hostAlloc, at its start and inside */
  void *pinned = NULL;
  OK(dev->hostAlloc(ctx, 1000, &pinned));
  assert_non_null(pinned);
  memset(pinned, 1, 1000);
  OK(dev->memKind(ctx, pinned, &k));
  assert_int_equal(k, weftMemHostPinned);
  OK(dev->memKind(ctx, (char *)pinned + 999, &k));
  assert_int_equal(k, weftMemHostPinned);
  OK(dev->hostFree(ctx, pinned));
  assert_int_equal(dev->hostFree(ctx, host), weftInvalidArgument);

  free(host);
  clReleaseMemObject(sub);
  clReleaseMemObject(m);
}

/* ---- copies, map ------------------------------------------------------------------------- */

static void test_copies(void **state) {
  (void)state;
  void *s = NULL;
  OK(dev->streamWrap(ctx, q1, &s));
  const size_t size = 1237;
  cl_mem m = new_buffer(size), m2 = new_buffer(size);
  unsigned char *zero = calloc(1, size), *in = malloc(size), *out = malloc(size);
  for (size_t i = 0; i < size; i++) in[i] = (unsigned char)(i * 7 + 3);
  OK(dev->copyFromHost(ctx, s, m, 0, zero, size));
  const size_t offs[] = {0, 1, 3, 511, 1236}, lens[] = {1, 7, 517, 725};
  for (size_t oi = 0; oi < sizeof offs / sizeof offs[0]; oi++)
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
      size_t off = offs[oi], len = lens[li];
      if (off + len > size) continue;
      memset(out, 0xee, size);
      OK(dev->copyFromHost(ctx, s, m, off, in, len));
      OK(dev->copyToHost(ctx, s, out, m, off, len));
      /* device to device, then back from the second buffer */
      OK(dev->copyDevice(ctx, s, m2, size - len, m, off, len));
      OK(dev->copyToHost(ctx, s, out + len, m2, size - len, len < size - len ? len : size - len));
      sync_stream(s);
      assert_memory_equal(out, in, len);
      if (2 * len <= size) assert_memory_equal(out + len, in, len);
    }
  OK(dev->copyToHost(ctx, s, out, m, 0, 0)); /* nothing to do */
  /* out of range: an error that names the OpenCL error */
  assert_int_equal(dev->copyToHost(ctx, s, out, m, size - 3, 4), weftUnhandledDeviceError);
  assert_non_null(strstr(dev->lastError(ctx), "CL_INVALID_VALUE"));
  OK(dev->streamDestroy(ctx, s));
  clReleaseMemObject(m);
  clReleaseMemObject(m2);
  free(zero);
  free(in);
  free(out);
}

static void test_map(void **state) {
  (void)state;
  void *s = NULL;
  OK(dev->streamCreate(ctx, &s));
  const size_t size = 301;
  cl_mem m = new_buffer(size);
  unsigned char pattern[size], out[size];
  for (size_t i = 0; i < size; i++) pattern[i] = (unsigned char)(255 - i);
  OK(dev->copyFromHost(ctx, s, m, 0, pattern, size));
  void *host = NULL, *mapping = NULL;
  /* map only queues: the host view holds the copied bytes once an event
   * recorded after it completes */
  OK(dev->map(ctx, s, m, 5, 100, 1, &host, &mapping));
  sync_stream(s);
  assert_memory_equal(host, pattern + 5, 100);
  memset(host, 0x42, 100);
  OK(dev->unmap(ctx, s, mapping));
  OK(dev->copyToHost(ctx, s, out, m, 0, size));
  sync_stream(s);
  for (size_t i = 0; i < size; i++) assert_int_equal(out[i], i >= 5 && i < 105 ? 0x42 : pattern[i]);
  OK(dev->map(ctx, s, m, 0, 0, 0, &host, &mapping)); /* empty */
  OK(dev->unmap(ctx, s, mapping));
  OK(dev->streamDestroy(ctx, s));
  clReleaseMemObject(m);
}

/* ---- events and holds ---------------------------------------------------------------------- */

/* Stream A: hold, then a copy into buf, then event E. Stream B (another
 * queue): wait for E, then read buf. Nothing may run before the release. */
static void test_events_and_hold(void **state) {
  (void)state;
  void *a = NULL, *b = NULL, *hold = NULL, *e = NULL, *f = NULL;
  OK(dev->streamWrap(ctx, q1, &a));
  OK(dev->streamWrap(ctx, q2, &b));
  const size_t n = 4096;
  cl_mem buf = new_buffer(n);
  unsigned char *old = calloc(1, n), *fresh = malloc(n), *seen = malloc(n);
  memset(fresh, 0x77, n);
  OK(dev->copyFromHost(ctx, a, buf, 0, old, n));
  sync_stream(a);

  OK(dev->holdEnqueue(ctx, a, &hold));
  OK(dev->copyFromHost(ctx, a, buf, 0, fresh, n));
  OK(dev->eventRecord(ctx, a, &e));
  OK(dev->eventWait(ctx, b, e));
  memset(seen, 0, n);
  OK(dev->copyToHost(ctx, b, seen, buf, 0, n));
  OK(dev->eventRecord(ctx, b, &f));

  sleep_ms(100);
  int done = 1;
  OK(dev->eventQuery(ctx, e, &done));
  assert_int_equal(done, 0);
  OK(dev->eventQuery(ctx, f, &done));
  assert_int_equal(done, 0);
  /* the buffer still holds the old bytes: read it on a third, unordered queue */
  cl_int err;
  cl_command_queue q3 = clCreateCommandQueue(context, device, 0, &err);
  assert_int_equal(err, CL_SUCCESS);
  unsigned char *now = malloc(n);
  assert_int_equal(clEnqueueReadBuffer(q3, buf, CL_TRUE, 0, n, now, 0, NULL, NULL), CL_SUCCESS);
  assert_memory_equal(now, old, n);

  OK(dev->holdRelease(ctx, hold, 0));
  wait_event(f);
  assert_memory_equal(seen, fresh, n);
  OK(dev->eventQuery(ctx, e, &done));
  assert_int_equal(done, 1);
  OK(dev->eventDestroy(ctx, e));
  OK(dev->eventDestroy(ctx, f));

  /* a failed collective's hold still lets the queue go on */
  OK(dev->holdEnqueue(ctx, a, &hold));
  OK(dev->copyFromHost(ctx, a, buf, 0, old, n));
  OK(dev->holdRelease(ctx, hold, 1));
  sync_stream(a);
  assert_int_equal(clEnqueueReadBuffer(q3, buf, CL_TRUE, 0, n, now, 0, NULL, NULL), CL_SUCCESS);
  assert_memory_equal(now, old, n);

  clReleaseCommandQueue(q3);
  OK(dev->streamDestroy(ctx, a));
  OK(dev->streamDestroy(ctx, b));
  clReleaseMemObject(buf);
  free(old);
  free(fresh);
  free(seen);
  free(now);
}

/* A reduce kernel enqueued after a hold does not run before holdRelease. */
static void test_hold_blocks_kernel(void **state) {
  (void)state;
  void *s = NULL, *hold = NULL, *e = NULL;
  OK(dev->streamWrap(ctx, q1, &s));
  const size_t n = 1000;
  int32_t ones[1000], got[1000];
  for (size_t i = 0; i < n; i++) ones[i] = 1;
  cl_mem buf = new_buffer(n * 4);
  OK(dev->copyFromHost(ctx, s, buf, 0, ones, n * 4));
  OK(dev->reduce(ctx, s, buf, 0, buf, 0, buf, 0, 0, weftInt32, weftSum)); /* builds the program */
  sync_stream(s);
  OK(dev->holdEnqueue(ctx, s, &hold));
  OK(dev->reduce(ctx, s, buf, 0, buf, 0, buf, 0, n, weftInt32, weftSum)); /* 1 + 1 */
  OK(dev->eventRecord(ctx, s, &e));
  sleep_ms(100);
  int done = 1;
  OK(dev->eventQuery(ctx, e, &done));
  assert_int_equal(done, 0);
  /* eventSync gives up after its timeout while the hold stands */
  done = 1;
  OK(dev->eventSync(ctx, e, 30, &done));
  assert_int_equal(done, 0);
  assert_int_equal(clEnqueueReadBuffer(q2, buf, CL_TRUE, 0, n * 4, got, 0, NULL, NULL), CL_SUCCESS);
  for (size_t i = 0; i < n; i++) assert_int_equal(got[i], 1);
  OK(dev->holdRelease(ctx, hold, 0));
  /* and wakes once the work behind the hold is done */
  OK(dev->eventSync(ctx, e, 10000, &done));
  assert_int_equal(done, 1);
  OK(dev->eventDestroy(ctx, e));
  assert_int_equal(clEnqueueReadBuffer(q2, buf, CL_TRUE, 0, n * 4, got, 0, NULL, NULL), CL_SUCCESS);
  for (size_t i = 0; i < n; i++) assert_int_equal(got[i], 2);
  OK(dev->streamDestroy(ctx, s));
  clReleaseMemObject(buf);
}

/* ---- reduce, bitwise against the host kernels ------------------------------------------------ */

static const uint32_t f32_edges[] = {
    0x00000000, 0x80000000, 0x7f800000, 0xff800000, /* +-0, +-inf */
    0x7fc00000, 0xffc00000, 0x7fc12345, 0xffd54321, /* quiet NaNs with payloads */
    0x7f800001, 0xffa00005, 0x7fbfffff,             /* signaling NaNs */
    0x00000001, 0x80000001, 0x007fffff, 0x807fffff, 0x00400000, /* denormals */
    0x00800000, 0x80800000, 0x7f7fffff, 0xff7fffff, /* min normal, max finite */
    0x3f800000, 0xbf800000, 0x33800000, 0x33800001, 0x34000000, /* 1, -1, 2^-24 (+ulp), 2^-23 */
    0x3f800001, 0x4b800000, 0x477fe000, 0x477ff000, 0x38800000, 0x387fc000, 0x33000000, /* fp16 edges */
    0x3f808000, 0x3f818000, 0x3f807fff,             /* bf16 ties */
};
static const uint64_t f64_edges[] = {
    0, 0x8000000000000000ull, 0x7ff0000000000000ull, 0xfff0000000000000ull,
    0x7ff8000000000000ull, 0xfff8000000000000ull, 0x7ff8123456789abcull, 0x7ff0000000000001ull,
    0xfff4000000000003ull, 0x0000000000000001ull, 0x800fffffffffffffull, 0x0010000000000000ull,
    0x7fefffffffffffffull, 0xffefffffffffffffull, 0x3ff0000000000000ull, 0xbff0000000000000ull,
    0x3ca0000000000000ull, 0x3ff0000000000001ull, 0x3cb0000000000000ull,
};
static const uint64_t int_edges[] = {0, 1, 2, 0x7f, 0x80, 0xff, 0x7fffffff, 0x80000000, 0xffffffff,
                                     0x7fffffffffffffffull, 0x8000000000000000ull, ~0ull, 0x100, 0xfffe};

/* ---- the NaN rule (docs/api.md), independently of the host kernels ---------------------- */
/* Bit fields of each float type, its quiet bit and the NaN made from numbers. */
typedef struct {
  uint64_t sign, exp, mant, quiet, canon;
} float_fmt;

static int float_fmt_of(weftDataType_t dt, float_fmt *f) {
  switch (dt) {
  case weftFloat16: *f = (float_fmt){0x8000, 0x7c00, 0x03ff, 0x0200, 0x7e00}; return 1;
  case weftBfloat16: *f = (float_fmt){0x8000, 0x7f80, 0x007f, 0x0040, 0x7fc0}; return 1;
  case weftFloat32: *f = (float_fmt){0x80000000u, 0x7f800000u, 0x007fffffu, 0x00400000u, 0x7fc00000u}; return 1;
  case weftFloat64:
    *f = (float_fmt){1ull << 63, 0x7ff0000000000000ull, 0x000fffffffffffffull, 1ull << 51, 0x7ff8000000000000ull};
    return 1;
  default: return 0;
  }
}

/* Per float type: NaNs of both signs, quiet and signaling, with distinct
 * payloads (the quiet bit, the lowest bit, the top payload bit below the
 * quiet bit), the NaN made from numbers, infinities, zeros and a number.
 * Written from the fields so that every type gets the same cases. */
enum { NAN_CASES = 13 };
static void nan_case_values(const float_fmt *f, uint64_t one, uint64_t v[NAN_CASES]) {
  const uint64_t top = f->quiet >> 1; /* highest payload bit of a signaling NaN */
  const uint64_t vals[NAN_CASES] = {
      f->exp | f->quiet | 1,                 /* +qNaN, payload 1 */
      f->sign | f->exp | f->quiet | top | 2, /* -qNaN, another payload */
      f->exp | 1,                            /* +sNaN, payload 1 */
      f->sign | f->exp | top | 3,            /* -sNaN */
      f->exp | top,                          /* +sNaN, top payload bit */
      f->canon,                              /* the NaN made from numbers */
      f->sign | f->exp | f->quiet,           /* x86's default NaN */
      f->exp,                                /* +inf */
      f->sign | f->exp,                      /* -inf */
      0,                                     /* +0 */
      f->sign,                               /* -0 */
      one,                                   /* 1 */
      f->sign | one,                         /* -1 */
  };
  memcpy(v, vals, sizeof vals);
}

static uint64_t load_bits(const unsigned char *p, size_t es) {
  uint64_t v = 0;
  memcpy(&v, p, es); /* little-endian: the low bytes */
  return v;
}

/* What the rule says x op y is, where it decides: 1 and *want if x or y is
 * NaN (the first NaN, quieted) or the op makes a NaN from numbers (inf - inf,
 * 0 * inf: the positive quiet NaN with a zero payload); else 0. */
static int nan_rule_result(const float_fmt *f, weftRedOp_t op, uint64_t x, uint64_t y, uint64_t *want) {
  const uint64_t mag = f->exp | f->mant;
  const int xnan = (x & mag) > f->exp, ynan = (y & mag) > f->exp;
  const int xinf = (x & mag) == f->exp, yinf = (y & mag) == f->exp;
  const int xzero = (x & mag) == 0, yzero = (y & mag) == 0;
  if (xnan || ynan) {
    *want = (xnan ? x : y) | f->quiet;
    return 1;
  }
  const int invalid = ((op == weftSum || op == weftAvg) && xinf && yinf && (x != y)) ||
                      (op == weftProd && ((xinf && yzero) || (xzero && yinf)));
  if (invalid) *want = f->canon;
  return invalid;
}

/* Checks the host kernels' results for the first n pairs against the rule
 * (the device is then compared with the host bit for bit); returns how many
 * elements the rule decided. */
static size_t check_nan_rule(weftDataType_t dt, weftRedOp_t op, const unsigned char *a, const unsigned char *b,
                             const unsigned char *res, size_t n) {
  float_fmt f;
  if (!float_fmt_of(dt, &f)) return 0;
  const size_t es = weft_dtype_size(dt);
  size_t decided = 0;
  for (size_t i = 0; i < n; i++) {
    const uint64_t x = load_bits(a + i * es, es), y = load_bits(b + i * es, es), got = load_bits(res + i * es, es);
    uint64_t want;
    if (!nan_rule_result(&f, op, x, y, &want)) continue;
    decided++;
    if (got != want)
      fail_msg("host %s %s, element %zu: 0x%llx op 0x%llx = 0x%llx, the NaN rule says 0x%llx", weft_dtype_name(dt),
               weft_op_name(op), i, (unsigned long long)x, (unsigned long long)y, (unsigned long long)got,
               (unsigned long long)want);
  }
  return decided;
}

/* Fills a and b with n elements of dt: for float types first every pair of
 * the NaN cases, then all edge pairs, then for 16-bit floats every bit
 * pattern against a permutation of them, then random bits. */
static size_t fill_inputs(weftDataType_t dt, unsigned char *a, unsigned char *b, size_t cap) {
  const size_t es = weft_dtype_size(dt);
  size_t n = 0;
#define PUT(arr, v) memcpy((arr) + n * es, &(v), es)
  float_fmt f;
  if (float_fmt_of(dt, &f)) {
    static const uint64_t ones[weftNumTypes] = {[weftFloat16] = 0x3c00, [weftBfloat16] = 0x3f80,
                                                [weftFloat32] = 0x3f800000u, [weftFloat64] = 0x3ff0000000000000ull};
    uint64_t v[NAN_CASES];
    nan_case_values(&f, ones[dt], v);
    for (size_t i = 0; i < NAN_CASES; i++)
      for (size_t j = 0; j < NAN_CASES; j++, n++) {
        PUT(a, v[i]); /* little-endian: the low bytes */
        PUT(b, v[j]);
      }
  }
  if (dt == weftFloat32 || dt == weftFloat16 || dt == weftBfloat16) {
    const size_t ne = sizeof f32_edges / sizeof f32_edges[0];
    for (size_t i = 0; i < ne; i++)
      for (size_t j = 0; j < ne; j++, n++) {
        if (dt == weftFloat32) {
          PUT(a, f32_edges[i]);
          PUT(b, f32_edges[j]);
        } else {
          float fi, fj;
          memcpy(&fi, &f32_edges[i], 4);
          memcpy(&fj, &f32_edges[j], 4);
          uint16_t hi = dt == weftFloat16 ? weft_float_to_half(fi) : (uint16_t)(f32_edges[i] >> 16);
          uint16_t hj = dt == weftFloat16 ? weft_float_to_half(fj) : (uint16_t)(f32_edges[j] >> 16);
          PUT(a, hi);
          PUT(b, hj);
        }
      }
  } else if (dt == weftFloat64) {
    const size_t ne = sizeof f64_edges / sizeof f64_edges[0];
    for (size_t i = 0; i < ne; i++)
      for (size_t j = 0; j < ne; j++, n++) {
        PUT(a, f64_edges[i]);
        PUT(b, f64_edges[j]);
      }
  } else {
    const size_t ne = sizeof int_edges / sizeof int_edges[0];
    for (size_t i = 0; i < ne; i++)
      for (size_t j = 0; j < ne; j++, n++) {
        PUT(a, int_edges[i]); /* little-endian: the low bytes */
        PUT(b, int_edges[j]);
      }
  }
  if (dt == weftFloat16 || dt == weftBfloat16) {
    for (uint32_t i = 0; i < 65536; i++, n++) {
      uint16_t x = (uint16_t)i, y = (uint16_t)(i * 40503u + 12345u); /* odd multiplier: a permutation */
      PUT(a, x);
      PUT(b, y);
    }
    /* close pairs, where sums and products round */
    for (uint32_t i = 0; i < 65536; i++, n++) {
      uint16_t x = (uint16_t)rng64(), y = (uint16_t)(x + (rng64() % 64) - 32) ^ (uint16_t)(rng64() & 0x8000);
      PUT(a, x);
      PUT(b, y);
    }
  }
  while (n < cap) {
    uint64_t x = rng64(), y = rng64();
    if ((n & 1) && (dt == weftFloat32 || dt == weftFloat64)) {
      /* same exponent neighbourhood, so that sums round rather than absorb */
      y = dt == weftFloat32 ? (x & 0xff800000u) ^ (y & 0x807fffffu)
                            : (x & 0xfff0000000000000ull) ^ (y & 0x800fffffffffffffull);
    }
    PUT(a, x);
    PUT(b, y);
    n++;
  }
#undef PUT
  return n;
}

static void element_text(weftDataType_t dt, const unsigned char *p, char *out, size_t len) {
  uint64_t v = 0;
  memcpy(&v, p, weft_dtype_size(dt));
  snprintf(out, len, "0x%0*llx", (int)(2 * weft_dtype_size(dt)), (unsigned long long)v);
}

/* The first differing element, or n. */
static size_t first_difference(weftDataType_t dt, const unsigned char *x, const unsigned char *y, size_t n) {
  const size_t es = weft_dtype_size(dt);
  for (size_t i = 0; i < n; i++)
    if (memcmp(x + i * es, y + i * es, es) != 0) return i;
  return n;
}

static void test_reduce_bitwise(void **state) {
  (void)state;
  const size_t cap = 140000, es_max = 8, pad = 3; /* elements before each operand */
  unsigned char *a = malloc(cap * es_max), *b = malloc(cap * es_max), *want = malloc(cap * es_max),
                *got = malloc(cap * es_max);
  cl_mem ma = new_buffer((cap + pad) * es_max), mb = new_buffer((cap + pad) * es_max),
         md = new_buffer((cap + 2 * pad) * es_max);
  void *s = NULL;
  OK(dev->streamWrap(ctx, q1, &s));
  int checked = 0;
  size_t ruled = 0; /* elements whose result the NaN rule decides */
  for (int dt = 0; dt < weftNumTypes; dt++) {
    const size_t es = weft_dtype_size((weftDataType_t)dt);
    if (dev->reduce(ctx, s, md, 0, ma, 0, mb, 0, 0, (weftDataType_t)dt, weftSum) != weftSuccess) {
      /* only fp64 (no cl_khr_fp64) and fp32/bf16 (no denormals) may be refused */
      print_message("skipping %s: %s\n", weft_dtype_name((weftDataType_t)dt), dev->lastError(ctx));
      assert_true(dt == weftFloat64 || dt == weftFloat32 || dt == weftBfloat16);
      continue;
    }
    const size_t n = fill_inputs((weftDataType_t)dt, a, b, 20011);
    assert_true(n <= cap);
    for (int op = 0; op < weftNumOps; op++) {
      weft_reduce(want, a, b, n, (weftDataType_t)dt, (weftRedOp_t)op);
      ruled += check_nan_rule((weftDataType_t)dt, (weftRedOp_t)op, a, b, want, n);
      /* 0: out of place (dst at another offset), 1: dst == a, 2: dst == b */
      for (int mode = 0; mode < 3; mode++) {
        OK(dev->copyFromHost(ctx, s, ma, pad * es, a, n * es));
        OK(dev->copyFromHost(ctx, s, mb, 0, b, n * es));
        cl_mem dst = mode == 0 ? md : mode == 1 ? ma : mb;
        size_t doff = mode == 0 ? 2 * pad * es : mode == 1 ? pad * es : 0;
        OK(dev->reduce(ctx, s, dst, doff, ma, pad * es, mb, 0, n, (weftDataType_t)dt, (weftRedOp_t)op));
        memset(got, 0xcd, n * es);
        OK(dev->copyToHost(ctx, s, got, dst, doff, n * es));
        sync_stream(s);
        size_t i = first_difference((weftDataType_t)dt, got, want, n);
        if (i < n) {
          char ta[32], tb[32], tw[32], tg[32];
          element_text((weftDataType_t)dt, a + i * es, ta, sizeof ta);
          element_text((weftDataType_t)dt, b + i * es, tb, sizeof tb);
          element_text((weftDataType_t)dt, want + i * es, tw, sizeof tw);
          element_text((weftDataType_t)dt, got + i * es, tg, sizeof tg);
          fail_msg("%s %s mode %d, element %zu: %s op %s = %s on the host, %s on the device",
                   weft_dtype_name((weftDataType_t)dt), weft_op_name((weftRedOp_t)op), mode, i, ta, tb, tw, tg);
        }
        checked++;
      }
    }
  }
  print_message("%d dtype x op x aliasing cases bitwise equal to the host kernels, %zu NaN-rule results\n", checked,
                ruled);
  assert_true(checked >= 3 * 5 * 7); /* at least the integer and fp16 types */
  assert_true(ruled >= 5 * NAN_CASES * NAN_CASES / 2); /* fp16 at least */
  OK(dev->streamDestroy(ctx, s));
  clReleaseMemObject(ma);
  clReleaseMemObject(mb);
  clReleaseMemObject(md);
  free(a);
  free(b);
  free(want);
  free(got);
}

static void test_reduce_errors(void **state) {
  (void)state;
  void *s = NULL;
  OK(dev->streamCreate(ctx, &s));
  cl_mem m = new_buffer(64);
  assert_int_equal(dev->reduce(ctx, s, m, 2, m, 0, m, 0, 4, weftInt32, weftSum), weftInvalidArgument);
  assert_non_null(strstr(dev->lastError(ctx), "multiples"));
  assert_int_equal(dev->reduce(ctx, s, m, 0, m, 0, m, 0, 4, weftNumTypes, weftSum), weftInvalidArgument);
  assert_int_equal(dev->reduce(ctx, s, m, 0, m, 0, m, 0, 4, weftInt32, weftNumOps), weftInvalidArgument);
  /* past the end of the buffer: the enqueue or the kernel must not succeed silently
   * on a device that checks; the call itself may succeed, so only check no crash */
  OK(dev->streamDestroy(ctx, s));
  clReleaseMemObject(m);
}

/* ---- main ------------------------------------------------------------------------------- */

/* The device the backend would choose with spec "": first GPU, else first device. */
static int find_device(void) {
  cl_platform_id plats[16];
  cl_uint np = 0;
  if (clGetPlatformIDs(16, plats, &np) != CL_SUCCESS || np == 0) return 0;
  for (int pass = 0; pass < 2; pass++)
    for (cl_uint p = 0; p < np && p < 16; p++) {
      cl_device_id devs[64];
      cl_uint nd = 0;
      if (clGetDeviceIDs(plats[p], pass == 0 ? CL_DEVICE_TYPE_GPU : CL_DEVICE_TYPE_ALL, 64, devs, &nd) != CL_SUCCESS ||
          nd == 0)
        continue;
      platform = plats[p];
      device = devs[0];
      return 1;
    }
  return 0;
}

static int open_all(void **state) {
  (void)state;
  cl_int err;
  context = clCreateContext(NULL, 1, &device, NULL, NULL, &err);
  if (err != CL_SUCCESS) return -1;
  q1 = clCreateCommandQueue(context, device, 0, &err);
  if (err != CL_SUCCESS) return -1;
  q2 = clCreateCommandQueue(context, device, 0, &err);
  if (err != CL_SUCCESS) return -1;
  weftDeviceInitArgs_t args = {.abiVersion = WEFT_DEVICE_ABI_VERSION, .spec = "", .native = q1};
  if (dev->init(&args, &ctx) != weftSuccess) {
    fprintf(stderr, "init: %s\n", dev->lastError(NULL));
    return -1;
  }
  return 0;
}

static int close_all(void **state) {
  (void)state;
  dev->finalize(ctx);
  clReleaseCommandQueue(q1);
  clReleaseCommandQueue(q2);
  clReleaseContext(context);
  return 0;
}

int main(void) {
  if (!find_device()) {
    printf("no OpenCL platform or device: skipped\n");
    return 77;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_init_specs),       cmocka_unit_test(test_properties),
      cmocka_unit_test(test_mem_kind),         cmocka_unit_test(test_copies),
      cmocka_unit_test(test_map),              cmocka_unit_test(test_events_and_hold),
      cmocka_unit_test(test_hold_blocks_kernel), cmocka_unit_test(test_reduce_bitwise),
      cmocka_unit_test(test_reduce_errors),
  };
  return cmocka_run_group_tests(tests, open_all, close_all);
}
