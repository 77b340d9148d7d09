/* The cuda backend where no usable driver is: its table is whole, and init
 * fails cleanly (no crash, weftUnhandledDeviceError, a message saying why,
 * also through lastError(NULL) and the log callback) when libcuda.so.1
 * cannot be opened, is not a CUDA driver, or reports no device. Runs on
 * every machine: WEFT_CUDA_LIBRARY points the loader at each case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "weft_device.h"

extern const weftDevice_t weft_device_cuda;

static char logged[512];
static void log_fn(void *user, weftLogLevel_t level, const char *message) {
  (void)level;
  *(int *)user += 1;
  snprintf(logged, sizeof logged, "%s", message);
}

/* Runs init with WEFT_CUDA_LIBRARY=library and checks it fails with a
 * message starting with want_prefix. */
static void init_fails(const char *library, weftResult_t want, const char *want_prefix) {
  setenv("WEFT_CUDA_LIBRARY", library, 1);
  int calls = 0;
  logged[0] = 0;
  weftDeviceInitArgs_t args = {WEFT_DEVICE_ABI_VERSION, log_fn, &calls, "", NULL};
  void *ctx = (void *)0x1;
  weftResult_t res = weft_device_cuda.init(&args, &ctx);
  unsetenv("WEFT_CUDA_LIBRARY");
  const char *msg = weft_device_cuda.lastError(NULL);
  if (res != want || strncmp(msg, want_prefix, strlen(want_prefix)) != 0)
    fail_msg("WEFT_CUDA_LIBRARY=%s: got %d '%s', want %d '%s...'", library, res, msg, want, want_prefix);
  assert_null(ctx);
  assert_int_equal(calls, 1);
  assert_string_equal(logged, msg);
}

static void test_table(void **state) {
  (void)state;
  const weftDevice_t *d = &weft_device_cuda;
  assert_int_equal(d->abiVersion, WEFT_DEVICE_ABI_VERSION);
  assert_string_equal(d->name, "cuda");
  assert_non_null(d->init);
  assert_non_null(d->getProperties);
  assert_non_null(d->memKind);
  assert_non_null(d->streamWrap);
  assert_non_null(d->streamCreate);
  assert_non_null(d->streamDestroy);
  assert_non_null(d->copyToHost);
  assert_non_null(d->copyFromHost);
  assert_non_null(d->eventRecord);
  assert_non_null(d->eventQuery);
  assert_non_null(d->eventWait);
  assert_non_null(d->eventDestroy);
  assert_non_null(d->holdEnqueue);
  assert_non_null(d->holdRelease);
  assert_non_null(d->lastError);
  assert_non_null(d->finalize);
  assert_non_null(d->hostAlloc);
  assert_non_null(d->map);
  assert_non_null(d->copyDevice);
  assert_null(d->reduce); /* no kernels without a toolkit: weft reduces on the host */
  assert_non_null(d->ipcGetHandle);
  assert_non_null(d->finalize);
  assert_int_equal(d->finalize(NULL), weftSuccess);
}

static void test_missing_library(void **state) {
  (void)state;
  init_fails("/nonexistent/libcuda.so.1", weftUnhandledDeviceError,
             "no CUDA driver (/nonexistent/libcuda.so.1 not found: ");
}

static void test_not_a_driver(void **state) {
  (void)state;
  init_fails("libm.so.6", weftUnhandledDeviceError, "no CUDA driver (libm.so.6 has no cuInit");
}

static void test_fake_driver_without_device(void **state) {
  (void)state;
  init_fails(FAKE_LIBCUDA, weftUnhandledDeviceError, "no CUDA device");
  setenv("FAKE_CUDA_INIT", "34", 1);
  init_fails(FAKE_LIBCUDA, weftUnhandledDeviceError, "no CUDA driver (libcuda.so.1 is the toolkit's stub");
  setenv("FAKE_CUDA_INIT", "999", 1);
  init_fails(FAKE_LIBCUDA, weftUnhandledDeviceError, "no CUDA device (cuInit failed: CUDA_ERROR_FAKE");
  unsetenv("FAKE_CUDA_INIT");
}

static void test_bad_arguments(void **state) {
  (void)state;
  void *ctx = NULL;
  assert_int_equal(weft_device_cuda.init(NULL, &ctx), weftInvalidArgument);
  weftDeviceInitArgs_t args = {WEFT_DEVICE_ABI_VERSION + 1, NULL, NULL, "", NULL};
  assert_int_equal(weft_device_cuda.init(&args, &ctx), weftInvalidUsage);
  assert_non_null(strstr(weft_device_cuda.lastError(NULL), "device ABI"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table),
      cmocka_unit_test(test_missing_library),
      cmocka_unit_test(test_not_a_driver),
      cmocka_unit_test(test_fake_driver_without_device),
      cmocka_unit_test(test_bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
