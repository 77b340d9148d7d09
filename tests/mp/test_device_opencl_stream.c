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
 *   test_device_opencl_stream NRANKS [peerdeath] */
#include <CL/cl.h>
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

static int rank_main(int rank, int n, const weftUniqueId *id, void *arg) {
  int death = arg != NULL;
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
  weftStream_t s;
  if ((r = weftStreamFromNative(&s, comm, q)) != weftSuccess)
    return FAILF("rank %d: weftStreamFromNative: %s", rank, weftGetLastError(comm));

  cl_mem buf = clCreateBuffer(ctx, CL_MEM_READ_WRITE, COUNT * sizeof(float), NULL, &err);
  if (err != CL_SUCCESS) return FAILF("clCreateBuffer: %d", err);
  if (death) return peer_death(rank, n, comm, s, q, buf);
  float zero = 0, mine = (float)(rank + 1);
  clEnqueueFillBuffer(q, buf, &zero, sizeof zero, 0, COUNT * sizeof(float), 0, NULL, NULL);
  clFinish(q);

  cl_event gate = clCreateUserEvent(ctx, &err);
  if (err != CL_SUCCESS) return FAILF("clCreateUserEvent: %d", err);
  clEnqueueBarrierWithWaitList(q, 1, &gate, NULL);
  clEnqueueFillBuffer(q, buf, &mine, sizeof mine, 0, COUNT * sizeof(float), 0, NULL, NULL);
  clFlush(q);
  if ((r = weftAllReduce(buf, buf, COUNT, weftFloat, weftSum, comm, s)) != weftSuccess)
    return FAILF("rank %d: allreduce: %s", rank, weftGetLastError(comm));
  float *host = malloc(COUNT * sizeof(float));
  if (!host) return FAILF("out of memory");
  memset(host, 0xff, COUNT * sizeof(float));
  cl_event read;
  clEnqueueReadBuffer(q, buf, CL_FALSE, 0, COUNT * sizeof(float), host, 0, NULL, &read);
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
  weftStreamDestroy(s);
  weftCommDestroy(comm);
  clReleaseCommandQueue(q);
  clReleaseContext(ctx);
  if (!bad) printf("rank %d: prior work waited for, later work held: %d elements = %g\n", rank, COUNT, want);
  return bad;
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 2;
  int death = argc > 2 && !strcmp(argv[2], "peerdeath");
  if (death) setenv("WEFT_TIMEOUT", "10000", 1);
  int status[64] = {0};
  if (n < 2 || n > 64) return FAILF("2 to 64 ranks");
  int failed = weft_launch_fork(n, rank_main, death ? (void *)1 : NULL, 60 * weft_test_time_scale(), status);
  if (!death) return failed ? 1 : 0;
  for (int r = 0; r < n - 1; r++)
    if (status[r] != 0) return FAILF("survivor rank %d exited with %d", r, status[r]);
  return 0;
}
