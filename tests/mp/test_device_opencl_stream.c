/* Ordering with the user's OpenCL queue: a collective on a weft stream that
 * wraps the queue (weftStreamFromNative) reads its buffer only after the
 * work queued before it, and the work queued after it sees its results, with
 * no host synchronization in between.
 *
 * Each rank gates its queue with a user event, queues a fill of its buffer
 * behind the gate, the allreduce, then a read of the buffer, and opens the
 * gate 150 ms later. Without the wait for prior work the allreduce would sum
 * the unfilled buffer; without the hold the read would run before the sum.
 *
 * With "peerdeath", the last rank dies before the call: the others' call
 * fails with weftRemoteError within the timeout, and their queue is let go
 * (the read after the call completes) instead of staying held forever.
 *
 * With "abort" and "timeout", the user's work before the call never ends
 * (its gate stays shut): weftCommAbort from the rank's own thread 300 ms
 * later (WEFT_TIMEOUT 60 s), or WEFT_TIMEOUT 1.5 s, ends the call's wait for
 * it with weftAborted / weftTimeout well before the other bound, the message
 * names the wait, and the queue is let go once the gate opens.
 *
 * With "svm", the same ordering check on fine-grained SVM buffers
 * (clSVMAlloc), which weft reads and writes in place: the fill before the
 * call and the copy after it are SVM commands on the user's queue.
 *
 * With "kept", a run of calls on a plain weft stream over the same cl_mem
 * buffers (out of place a->b, in place on b, then a->c): the results are
 * right, a mapping is kept from one call to the next of the run instead of
 * mapped again (this file counts clEnqueueMapBuffer, and holds the first one
 * back 300 ms so that the whole run is queued behind it), and once the
 * stream is synchronized no buffer is still mapped (CL_MEM_MAP_COUNT); the
 * same run again allocates no schedule scratch (weftCommGetStats).
 *   test_device_opencl_stream NRANKS [peerdeath|abort|timeout|svm|kept] */
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS /* clCreateCommandQueue: the 1.2 path users have */
#include <CL/cl.h>
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "launch_fork.h"
#include "time_scale.h"
#include "weft.h"

#define COUNT 100003 /* odd, and over the node segment's slots */

#define FAILF(...) (fprintf(stderr, __VA_ARGS__), fputc('\n', stderr), 1)

enum { M_ORDER, M_PEERDEATH, M_ABORT, M_TIMEOUT, M_SVM, M_KEPT };

/* clEnqueueMapBuffer as weft calls it, counted ("kept"); the first one waits
 * 300 ms when hold_first_map is set. */
static atomic_int maps_seen;
static int hold_first_map;
typedef void *(*map_fn)(cl_command_queue, cl_mem, cl_bool, cl_map_flags, size_t, size_t, cl_uint, const cl_event *,
                        cl_event *, cl_int *);
CL_API_ENTRY void *CL_API_CALL clEnqueueMapBuffer(cl_command_queue q, cl_mem m, cl_bool blocking, cl_map_flags f,
                                                  size_t off, size_t n, cl_uint nw, const cl_event *w, cl_event *ev,
                                                  cl_int *err) {
  static map_fn real;
  if (!real) real = (map_fn)(uintptr_t)dlsym(RTLD_NEXT, "clEnqueueMapBuffer");
  if (atomic_fetch_add(&maps_seen, 1) == 0 && hold_first_map) {
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return real(q, m, blocking, f, off, n, nw, w, ev, err);
}

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* The gate before the call never opens by itself: abort or the timeout must
 * end the call's wait for the user's prior work. */
static int stuck_prior(int rank, int mode, weftComm_t comm, weftStream_t s, cl_context ctx, cl_command_queue q,
                       cl_mem buf) {
  cl_int err;
  cl_event gate = clCreateUserEvent(ctx, &err);
  if (err != CL_SUCCESS) return FAILF("clCreateUserEvent: %d", err);
  clEnqueueBarrierWithWaitList(q, 1, &gate, NULL);
  clFlush(q);
  double t0 = now_s();
  weftResult_t r = weftAllReduce(buf, buf, COUNT, weftFloat, weftSum, comm, s);
  if (r != weftSuccess) return FAILF("rank %d: allreduce not queued: %s", rank, weftGetLastError(comm));
  float one = 0;
  cl_event read;
  clEnqueueReadBuffer(q, buf, CL_FALSE, 0, sizeof one, &one, 0, NULL, &read);
  clFlush(q);
  int bad = 0;
  char msg[512] = "";
  if (mode == M_ABORT) {
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    if (weftStreamQuery(s) != weftInProgress) bad = FAILF("rank %d: the call ended with its prior work stuck", rank);
    if ((r = weftCommAbort(comm)) != weftSuccess) bad = FAILF("rank %d: weftCommAbort returned %d", rank, (int)r);
    r = weftStreamSynchronize(s);
    snprintf(msg, sizeof msg, "%s", weftGetLastError(NULL));
    if (r != weftAborted) bad = FAILF("rank %d: the call returned %d, not weftAborted: %s", rank, (int)r, msg);
  } else {
    r = weftStreamSynchronize(s);
    snprintf(msg, sizeof msg, "%s", weftGetLastError(comm));
    if (r != weftTimeout) bad = FAILF("rank %d: the call returned %d, not weftTimeout: %s", rank, (int)r, msg);
    if (!strstr(msg, "before the call")) bad = FAILF("rank %d: the message does not name the wait: %s", rank, msg);
    weftCommAbort(comm);
  }
  double took = now_s() - t0;
  if (took > 20 * weft_test_time_scale()) bad = FAILF("rank %d: the call took %.1f s to end", rank, took);
  /* the held queue goes on once the user's own gate opens */
  clSetUserEventStatus(gate, CL_COMPLETE);
  if (clWaitForEvents(1, &read) != CL_SUCCESS) bad = FAILF("rank %d: the read after the call failed", rank);
  if (!bad) printf("rank %d: %s after %.2f s: %s\n", rank, mode == M_ABORT ? "aborted" : "timed out", took, msg);
  clReleaseEvent(read);
  clReleaseEvent(gate);
  return bad;
}

static int peer_death(int rank, int n, weftComm_t comm, weftStream_t s, cl_command_queue q, cl_mem buf) {
  if (rank == n - 1) _exit(9); /* dies without a word */
  float *host = malloc(COUNT * sizeof(float));
  if (!host) return FAILF("out of memory");
  (void)weftAllReduce(buf, buf, COUNT, weftFloat, weftSum, comm, s);
  cl_event read;
  clEnqueueReadBuffer(q, buf, CL_FALSE, 0, COUNT * sizeof(float), host, 0, NULL, &read);
  clFlush(q);
  weftResult_t r = weftStreamSynchronize(s);
  int bad = r == weftSuccess ? FAILF("rank %d: the call succeeded without rank %d", rank, n - 1) : 0;
  if (!bad) printf("rank %d: failed as it should: %s\n", rank, weftGetLastError(comm));
  /* the held queue must go on: bounded by the test's launcher limit */
  if (clWaitForEvents(1, &read) != CL_SUCCESS) bad = FAILF("rank %d: the read after the call failed", rank);
  clReleaseEvent(read);
  free(host);
  weftCommAbort(comm);
  return bad;
}

static int check_buffer(int rank, cl_command_queue q, cl_mem m, const char *name, float want) {
  cl_uint maps = 1;
  clGetMemObjectInfo(m, CL_MEM_MAP_COUNT, sizeof maps, &maps, NULL);
  if (maps != 0) return FAILF("rank %d: buffer %s still mapped %u times after the stream synchronized", rank, name, maps);
  float *host = malloc(COUNT * sizeof(float));
  if (!host) return FAILF("out of memory");
  clEnqueueReadBuffer(q, m, CL_TRUE, 0, COUNT * sizeof(float), host, 0, NULL, NULL);
  size_t wrong = 0;
  for (size_t i = 0; i < COUNT; i++) wrong += host[i] != want;
  int bad = wrong ? FAILF("rank %d: %s: %zu elements wrong (element 0: %g, want %g)", rank, name, wrong, host[0], want)
                  : 0;
  free(host);
  return bad;
}

/* 8 calls a->b, 8 in place on b, 4 a->c, queued at once on weft stream s,
 * then synchronized; 0, or 1 with a message. */
static int kept_run(int rank, weftComm_t comm, weftStream_t s, cl_mem a, cl_mem b, cl_mem c) {
  weftResult_t r = weftSuccess;
  for (int i = 0; i < 20 && r == weftSuccess; i++) {
    cl_mem in = i < 8 || i >= 16 ? a : b, out = i < 16 ? b : c;
    r = weftAllReduce(in, out, COUNT, weftFloat, weftSum, comm, s);
  }
  if (r != weftSuccess) return FAILF("rank %d: allreduce: %s", rank, weftGetLastError(comm));
  if ((r = weftStreamSynchronize(s)) != weftSuccess)
    return FAILF("rank %d: synchronize: %s", rank, weftGetLastError(comm));
  return 0;
}

/* "kept": 8 calls a->b, 8 in place on b, 4 a->c, queued at once on a weft
 * stream. Mapping each buffer anew would take 32 maps; keeping them from call
 * to call takes 4 (a and b, then a and c), plus the one of weft's staging
 * block (hostAlloc). */
static int kept_maps(int rank, int n, weftComm_t comm, cl_context ctx, cl_command_queue q) {
  cl_int err;
  cl_mem a = clCreateBuffer(ctx, CL_MEM_READ_WRITE, COUNT * sizeof(float), NULL, &err);
  cl_mem b = clCreateBuffer(ctx, CL_MEM_READ_WRITE, COUNT * sizeof(float), NULL, &err);
  cl_mem c = clCreateBuffer(ctx, CL_MEM_READ_WRITE, COUNT * sizeof(float), NULL, &err);
  if (!a || !b || !c) return FAILF("clCreateBuffer: %d", err);
  float mine = (float)(rank + 1), zero = 0;
  clEnqueueFillBuffer(q, a, &mine, sizeof mine, 0, COUNT * sizeof(float), 0, NULL, NULL);
  clEnqueueFillBuffer(q, b, &zero, sizeof zero, 0, COUNT * sizeof(float), 0, NULL, NULL);
  clEnqueueFillBuffer(q, c, &zero, sizeof zero, 0, COUNT * sizeof(float), 0, NULL, NULL);
  clFinish(q);
  weftStream_t s;
  if (weftStreamCreate(&s) != weftSuccess) return FAILF("weftStreamCreate");
  hold_first_map = 1;
  atomic_store(&maps_seen, 0);
  if (kept_run(rank, comm, s, a, b, c)) return 1;
  int maps = atomic_load(&maps_seen), bad = 0;
  float sum = (float)(n * (n + 1) / 2), scaled = sum;
  for (int i = 0; i < 8; i++) scaled *= (float)n;
  bad |= check_buffer(rank, q, a, "a", mine);
  bad |= check_buffer(rank, q, b, "b", scaled);
  bad |= check_buffer(rank, q, c, "c", sum);
  if (maps > 6) bad = FAILF("rank %d: %d maps for 20 calls queued at once on 3 buffers: the mappings were not kept", rank, maps);
  /* the same run again: every schedule's scratch is warm by now, so it
   * allocates none (each queued in-place call used to build its schedule
   * in a fresh op, with fresh scratch to fault in: docs/performance.md) */
  weftCommStats_t s0, s1;
  weftCommGetStats(comm, &s0, sizeof s0);
  if (kept_run(rank, comm, s, a, b, c)) return 1;
  weftCommGetStats(comm, &s1, sizeof s1);
  if (s1.scratchBytes != s0.scratchBytes)
    bad = FAILF("rank %d: the second run of the same 20 calls allocated %llu bytes of schedule scratch", rank,
                (unsigned long long)(s1.scratchBytes - s0.scratchBytes));
  if (s0.scratchBytes == 0) bad = FAILF("rank %d: the in-place calls counted no scratch at all", rank);
  weftStreamDestroy(s);
  clReleaseMemObject(a);
  clReleaseMemObject(b);
  clReleaseMemObject(c);
  if (!bad)
    printf("rank %d: 20 calls on a weft stream, %d maps, results right, nothing mapped after; the same 20 again "
           "allocated no scratch (%llu bytes in all)\n", rank, maps, (unsigned long long)s1.scratchBytes);
  return bad;
}

static int rank_main(int rank, int n, const weftUniqueId *id, void *arg) {
  int mode = (int)(intptr_t)arg, death = mode == M_PEERDEATH;
  cl_platform_id plat;
  cl_device_id dev;
  cl_uint np = 0;
  if (clGetPlatformIDs(1, &plat, &np) != CL_SUCCESS || np == 0) return FAILF("rank %d: no OpenCL platform", rank);
  if (clGetDeviceIDs(plat, CL_DEVICE_TYPE_ALL, 1, &dev, NULL) != CL_SUCCESS) return FAILF("no OpenCL device");
  cl_int err;
  cl_context ctx = clCreateContext(NULL, 1, &dev, NULL, NULL, &err);
  if (err != CL_SUCCESS) return FAILF("clCreateContext: %d", err);
  cl_command_queue q = clCreateCommandQueue(ctx, dev, 0, &err);
  if (err != CL_SUCCESS) return FAILF("clCreateCommandQueue: %d", err);

  weftConfig_t cfg = WEFT_CONFIG_INITIALIZER;
  cfg.device = "opencl";
  cfg.deviceNative = q; /* weft uses this queue's context and device */
  weftComm_t comm;
  weftResult_t r = weftCommInitRankConfig(&comm, n, *id, rank, &cfg);
  if (r != weftSuccess) return FAILF("rank %d: init: %s", rank, weftGetLastError(NULL));
  if (mode == M_KEPT) {
    int bad = kept_maps(rank, n, comm, ctx, q);
    weftCommDestroy(comm);
    clReleaseCommandQueue(q);
    clReleaseContext(ctx);
    return bad;
  }
  weftStream_t s;
  if ((r = weftStreamFromNative(&s, comm, q)) != weftSuccess)
    return FAILF("rank %d: weftStreamFromNative: %s", rank, weftGetLastError(comm));

  cl_mem buf = clCreateBuffer(ctx, CL_MEM_READ_WRITE, COUNT * sizeof(float), NULL, &err);
  if (err != CL_SUCCESS) return FAILF("clCreateBuffer: %d", err);
  float *svm = NULL;
  if (mode == M_SVM) {
    svm = clSVMAlloc(ctx, CL_MEM_READ_WRITE | CL_MEM_SVM_FINE_GRAIN_BUFFER, COUNT * sizeof(float), 0);
    if (!svm) return FAILF("rank %d: clSVMAlloc (fine-grained) failed", rank);
  }
  if (death) return peer_death(rank, n, comm, s, q, buf);
  if (mode == M_ABORT || mode == M_TIMEOUT) return stuck_prior(rank, mode, comm, s, ctx, q, buf);
  float zero = 0, mine = (float)(rank + 1);
  if (svm) clEnqueueSVMMemFill(q, svm, &zero, sizeof zero, COUNT * sizeof(float), 0, NULL, NULL);
  else clEnqueueFillBuffer(q, buf, &zero, sizeof zero, 0, COUNT * sizeof(float), 0, NULL, NULL);
  clFinish(q);

  cl_event gate = clCreateUserEvent(ctx, &err);
  if (err != CL_SUCCESS) return FAILF("clCreateUserEvent: %d", err);
  clEnqueueBarrierWithWaitList(q, 1, &gate, NULL);
  if (svm) clEnqueueSVMMemFill(q, svm, &mine, sizeof mine, COUNT * sizeof(float), 0, NULL, NULL);
  else clEnqueueFillBuffer(q, buf, &mine, sizeof mine, 0, COUNT * sizeof(float), 0, NULL, NULL);
  clFlush(q);
  void *data = svm ? (void *)svm : (void *)buf;
  if ((r = weftAllReduce(data, data, COUNT, weftFloat, weftSum, comm, s)) != weftSuccess)
    return FAILF("rank %d: allreduce: %s", rank, weftGetLastError(comm));
  float *host = malloc(COUNT * sizeof(float));
  if (!host) return FAILF("out of memory");
  memset(host, 0xff, COUNT * sizeof(float));
  cl_event read;
  if (svm) clEnqueueSVMMemcpy(q, CL_FALSE, host, svm, COUNT * sizeof(float), 0, NULL, &read);
  else clEnqueueReadBuffer(q, buf, CL_FALSE, 0, COUNT * sizeof(float), host, 0, NULL, &read);
  clFlush(q);

  struct timespec ts = {0, 150 * 1000 * 1000};
  nanosleep(&ts, NULL);
  cl_int st = 0;
  clGetEventInfo(read, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof st, &st, NULL);
  int bad = st == CL_COMPLETE ? FAILF("rank %d: the read after the call ran before the work before it", rank) : 0;
  clSetUserEventStatus(gate, CL_COMPLETE);
  clWaitForEvents(1, &read);
  float want = (float)(n * (n + 1) / 2);
  size_t wrong = 0;
  for (size_t i = 0; i < COUNT; i++) wrong += host[i] != want;
  if (wrong) bad = FAILF("rank %d: %zu of %d elements wrong (element 0: %g, want %g)", rank, wrong, COUNT, host[0], want);
  if ((r = weftStreamSynchronize(s)) != weftSuccess) bad = FAILF("rank %d: synchronize: %s", rank, weftGetLastError(comm));

  free(host);
  clReleaseEvent(read);
  clReleaseEvent(gate);
  clReleaseMemObject(buf);
  if (svm) clSVMFree(ctx, svm);
  weftStreamDestroy(s);
  weftCommDestroy(comm);
  clReleaseCommandQueue(q);
  clReleaseContext(ctx);
  if (!bad) printf("rank %d: prior work waited for, later work held: %d elements = %g\n", rank, COUNT, want);
  return bad;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 2;
  const char *m = argc > 2 ? argv[2] : "";
  int mode = !strcmp(m, "peerdeath") ? M_PEERDEATH
             : !strcmp(m, "abort")   ? M_ABORT
             : !strcmp(m, "timeout") ? M_TIMEOUT
             : !strcmp(m, "svm")     ? M_SVM
             : !strcmp(m, "kept")    ? M_KEPT
                                     : M_ORDER;
  int death = mode == M_PEERDEATH;
  if (death) setenv("WEFT_TIMEOUT", "10", 1); /* seconds */
  if (mode == M_ABORT) setenv("WEFT_TIMEOUT", "60", 1);
  if (mode == M_TIMEOUT) setenv("WEFT_TIMEOUT", "1.5", 1);
  int status[64] = {0};
  if (n < 2 || n > 64) return FAILF("2 to 64 ranks");
  int failed = weft_launch_fork(n, rank_main, (void *)(intptr_t)mode, 60 * weft_test_time_scale(), status);
  if (!death) return failed ? 1 : 0;
  for (int r = 0; r < n - 1; r++)
    if (status[r] != 0) return FAILF("survivor rank %d exited with %d", r, status[r]);
  return 0;
}
