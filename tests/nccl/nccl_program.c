/*
 * An NCCL program for host memory, written as an NCCL user writes one: it
 * includes <nccl.h> and calls only NCCL's API. Built against weft's
 * <nccl.h> (include/weft/nccl.h) and linked with libweft-nccl, it must give
 * exact results. The parts marked "weft" are what only weft has: host
 * streams, and checks of the NCCL ABI (layouts and values) that a program
 * built against NVIDIA's nccl.h relies on.
 *
 *   nccl_program [nranks]      (default 4; forks nranks processes)
 *
 * Exit 0 when every rank passed; every failure prints the rank, the line
 * and NCCL's message.
 */
#include <nccl.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int me = -1;

#define NCCLCHECK(cmd)                                                                               \
  do {                                                                                               \
    ncclResult_t r_ = (cmd);                                                                         \
    if (r_ != ncclSuccess) {                                                                         \
      fprintf(stderr, "rank %d line %d: %s: %s (%s)\n", me, __LINE__, #cmd, ncclGetErrorString(r_), \
              ncclGetLastError(NULL));                                                               \
      exit(1);                                                                                       \
    }                                                                                                \
  } while (0)

#define EXPECT(cond, ...)                                             \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "rank %d line %d: %s: ", me, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                   \
      fprintf(stderr, "\n");                                          \
      exit(1);                                                        \
    }                                                                 \
  } while (0)

#ifdef WEFT_NCCL_VERSION_CODE
/* weft: NCCL's ABI, as a program built against NVIDIA's nccl.h sees it */
_Static_assert(sizeof(ncclUniqueId) == 128, "ncclUniqueId is 128 bytes");
_Static_assert(offsetof(ncclConfig_t, magic) == 8 && offsetof(ncclConfig_t, version) == 12 &&
                   offsetof(ncclConfig_t, blocking) == 16 && offsetof(ncclConfig_t, maxCTAs) == 28 &&
                   offsetof(ncclConfig_t, netName) == 32 && offsetof(ncclConfig_t, splitShare) == 40,
               "ncclConfig_t has NCCL 2.18's layout");
_Static_assert(ncclInProgress == 7 && ncclNumResults == 8 && ncclRemoteError == 6, "NCCL's result codes");
_Static_assert(ncclHalf == 6 && ncclFloat == 7 && ncclDouble == 8 && ncclBfloat16 == 9 && ncclInt == 2 &&
                   ncclChar == 0 && ncclNumTypes == 10,
               "NCCL's data types");
_Static_assert(ncclAvg == 4 && ncclNumOps == 5 && sizeof(ncclRedOp_t) == sizeof(int), "NCCL's ops");
_Static_assert(NCCL_VERSION(2, 18, 3) == 21803 && NCCL_VERSION(2, 8, 4) == 2804, "NCCL's version encoding");
#endif

static void check_collectives(ncclComm_t comm, int rank, int n) {
  const size_t count = 1000;
  float *fs = malloc(count * sizeof *fs), *fr = malloc(count * sizeof *fr);
  int32_t *is = malloc(n * count * sizeof *is), *ir = malloc(n * count * sizeof *ir);
  EXPECT(fs && fr && is && ir, "out of memory");

  /* allreduce, out of place, float sum */
  for (size_t i = 0; i < count; i++) fs[i] = (float)(rank + 1) + (float)i;
  NCCLCHECK(ncclAllReduce(fs, fr, count, ncclFloat, ncclSum, comm, NULL));
  for (size_t i = 0; i < count; i++)
    EXPECT(fr[i] == (float)(n * (n + 1) / 2) + (float)(n * i), "allreduce[%zu] = %g", i, fr[i]);

  /* allreduce, in place, int32 max and float avg */
  for (size_t i = 0; i < count; i++) is[i] = (int32_t)((rank + (int)i) % n) - 3;
  NCCLCHECK(ncclAllReduce(is, is, count, ncclInt32, ncclMax, comm, NULL));
  for (size_t i = 0; i < count; i++) EXPECT(is[i] == n - 1 - 3, "max[%zu] = %d", i, is[i]);
  for (size_t i = 0; i < count; i++) fs[i] = (float)(2 * rank);
  NCCLCHECK(ncclAllReduce(fs, fs, count, ncclFloat32, ncclAvg, comm, NULL));
  EXPECT(fs[0] == (float)(n - 1) && fs[count - 1] == (float)(n - 1), "avg = %g", fs[0]);

  /* broadcast from the last rank, then an in-place bcast of int64 from 0 */
  int root = n - 1;
  for (size_t i = 0; i < count; i++) fs[i] = rank == root ? (float)i * 0.5f : -1.0f;
  memset(fr, 0, count * sizeof *fr);
  NCCLCHECK(ncclBroadcast(fs, fr, count, ncclFloat, root, comm, NULL));
  for (size_t i = 0; i < count; i++) EXPECT(fr[i] == (float)i * 0.5f, "broadcast[%zu] = %g", i, fr[i]);
  int64_t big[3] = {rank ? 0 : INT64_MAX, rank ? 0 : INT64_MIN, rank ? 0 : 42};
  NCCLCHECK(ncclBcast(big, 3, ncclInt64, 0, comm, NULL));
  EXPECT(big[0] == INT64_MAX && big[1] == INT64_MIN && big[2] == 42, "bcast %lld", (long long)big[2]);

  /* reduce of doubles to rank 1 (rank 0 with one rank) */
  double ds[5], dr[5] = {0};
  for (int i = 0; i < 5; i++) ds[i] = (double)(rank + 1) * (i + 1);
  int rroot = n > 1 ? 1 : 0;
  NCCLCHECK(ncclReduce(ds, dr, 5, ncclDouble, ncclProd, rroot, comm, NULL));
  if (rank == rroot) {
    for (int i = 0; i < 5; i++) {
      double want = 1;
      for (int k = 0; k < n; k++) want *= (double)(k + 1) * (i + 1);
      EXPECT(dr[i] == want, "reduce[%d] = %g, want %g", i, dr[i], want);
    }
  }

  /* allgather of bfloat16 bits (moved, never converted) */
  uint16_t hs[3], hr[3 * 16];
  for (int i = 0; i < 3; i++) hs[i] = (uint16_t)(0x3f80 + rank * 3 + i);
  NCCLCHECK(ncclAllGather(hs, hr, 3, ncclBfloat16, comm, NULL));
  for (int k = 0; k < n; k++)
    for (int i = 0; i < 3; i++) EXPECT(hr[k * 3 + i] == 0x3f80 + k * 3 + i, "allgather[%d][%d]", k, i);

  /* reducescatter of int32 sums: block b of every rank's input goes to rank b */
  for (int b = 0; b < n; b++)
    for (size_t i = 0; i < count; i++) is[b * count + i] = (int32_t)(rank * 1000 + b * 10 + (int)(i % 7));
  NCCLCHECK(ncclReduceScatter(is, ir, count, ncclInt, ncclSum, comm, NULL));
  for (size_t i = 0; i < count; i++)
    EXPECT(ir[i] == 1000 * n * (n - 1) / 2 + n * (rank * 10 + (int)(i % 7)), "reducescatter[%zu] = %d", i, ir[i]);

  /* a ring of send/recv in a group: each rank receives from its left */
  int right = (rank + 1) % n, left = (rank + n - 1) % n;
  for (size_t i = 0; i < count; i++) fs[i] = (float)(rank * 10000 + (int)i);
  NCCLCHECK(ncclGroupStart());
  NCCLCHECK(ncclSend(fs, count, ncclFloat, right, comm, NULL));
  NCCLCHECK(ncclRecv(fr, count, ncclFloat, left, comm, NULL));
  NCCLCHECK(ncclGroupEnd());
  for (size_t i = 0; i < count; i++) EXPECT(fr[i] == (float)(left * 10000 + (int)i), "recv[%zu] = %g", i, fr[i]);

  free(fs), free(fr), free(is), free(ir);
}

/* Even and odd ranks, ordered backwards by key; the last rank (of 3 or
 * more) takes no part. */
static void check_split(ncclComm_t comm, int rank, int n) {
  int none = n >= 3 && rank == n - 1;
  ncclComm_t sub = NULL;
  NCCLCHECK(ncclCommSplit(comm, none ? NCCL_SPLIT_NOCOLOR : rank % 2, -rank, &sub, NULL));
  if (none) {
    EXPECT(sub == NULL, "NOCOLOR gave a communicator");
    return;
  }
  int members = 0, last_member = n - (n >= 3 ? 2 : 1);
  for (int r = 0; r < n - (n >= 3); r++) members += r % 2 == rank % 2;
  int count, subrank;
  NCCLCHECK(ncclCommCount(sub, &count));
  NCCLCHECK(ncclCommUserRank(sub, &subrank));
  EXPECT(count == members, "split size %d, want %d", count, members);
  /* keys -rank order the members from the highest old rank down */
  int above = 0;
  for (int r = rank + 2; r <= last_member; r += 2) above++;
  EXPECT(subrank == above, "split rank %d, want %d", subrank, above);
  int v = rank, sum = 0, want = 0;
  for (int r = rank % 2; r <= last_member; r += 2) want += r;
  NCCLCHECK(ncclAllReduce(&v, &sum, 1, ncclInt, ncclSum, sub, NULL));
  EXPECT(sum == want, "sum over the split %d, want %d", sum, want);
  NCCLCHECK(ncclCommDestroy(sub));
}

#ifdef NCCL_SHRINK_ABORT
/* NCCL 2.27's shrink: the last rank is left out (and, as NCCL asks, does not
 * call it); the others get a comm of n-1 with their ranks kept. */
static void check_shrink(ncclComm_t comm, int rank, int n) {
  ncclComm_t small = NULL;
  int out = n - 1;
  EXPECT(ncclCommShrink(comm, &out, 1, &small, NULL, 7) == ncclInvalidArgument, "shrinkFlags 7 accepted");
  if (rank == out) return;
  NCCLCHECK(ncclCommShrink(comm, &out, 1, &small, NULL, NCCL_SHRINK_DEFAULT));
  int count, r, v = rank + 1, sum = 0;
  NCCLCHECK(ncclCommCount(small, &count));
  NCCLCHECK(ncclCommUserRank(small, &r));
  EXPECT(count == n - 1 && r == rank, "shrunk comm: rank %d of %d, want %d of %d", r, count, rank, n - 1);
  NCCLCHECK(ncclAllReduce(&v, &sum, 1, ncclInt, ncclSum, small, NULL));
  EXPECT(sum == (n - 1) * n / 2, "sum over the shrunk comm %d, want %d", sum, (n - 1) * n / 2);
  NCCLCHECK(ncclCommDestroy(small));
}
#endif

static void check_errors(ncclComm_t comm) {
  float x = 1;
  ncclResult_t r = ncclAllReduce(&x, &x, 1, (ncclDataType_t)42, ncclSum, comm, NULL);
  EXPECT(r == ncclInvalidArgument, "bad datatype gave %d", (int)r);
  EXPECT(strstr(ncclGetLastError(comm), "datatype") != NULL, "message '%s'", ncclGetLastError(comm));
  r = ncclBroadcast(&x, &x, 1, ncclFloat, 1 << 20, comm, NULL);
  EXPECT(r == ncclInvalidArgument, "bad root gave %d", (int)r);
  r = ncclAllReduce(&x, &x, 1, ncclFloat, ncclSum, NULL, NULL);
  EXPECT(r == ncclInvalidArgument, "NULL comm gave %d", (int)r);
  EXPECT(strstr(ncclGetLastError(NULL), "comm is NULL") != NULL, "message '%s'", ncclGetLastError(NULL));
  r = ncclGroupEnd();
  EXPECT(r == ncclInvalidUsage, "GroupEnd without GroupStart gave %d", (int)r);
  EXPECT(strcmp(ncclGetErrorString(ncclRemoteError), ncclGetErrorString(ncclSystemError)) != 0, "error strings");
  ncclResult_t async = ncclInternalError;
  NCCLCHECK(ncclCommGetAsyncError(comm, &async));
  EXPECT(async == ncclSuccess, "async error %d", (int)async);
}

#ifdef WEFT_NCCL_VERSION_CODE
/* weft: a host stream passed as the cudaStream_t; calls return once queued */
static void check_weft_stream(ncclComm_t comm, int n) {
  weftStream_t s;
  EXPECT(weftStreamCreate(&s) == weftSuccess, "weftStreamCreate");
  int a[64], b[64];
  for (int i = 0; i < 64; i++) a[i] = i;
  NCCLCHECK(ncclAllReduce(a, b, 64, ncclInt, ncclSum, comm, ncclStreamFromWeft(s)));
  NCCLCHECK(ncclAllReduce(b, b, 64, ncclInt, ncclSum, comm, ncclStreamFromWeft(s)));
  EXPECT(weftStreamSynchronize(s) == weftSuccess, "weftStreamSynchronize: %s", weftGetLastError(NULL));
  for (int i = 0; i < 64; i++) EXPECT(b[i] == i * n * n, "stream allreduce[%d] = %d", i, b[i]);
  EXPECT(weftStreamDestroy(s) == weftSuccess, "weftStreamDestroy");
}
#endif

static void run_rank(int rank, int n, ncclUniqueId id) {
  me = rank;
  int version = 0;
  NCCLCHECK(ncclGetVersion(&version));
  EXPECT(version == NCCL_VERSION_CODE, "version %d", version);

  /* a non-blocking init, polled as NCCL's documentation shows */
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  ncclComm_t comm;
  ncclResult_t r = ncclCommInitRankConfig(&comm, n, id, rank, &config);
  if (r == ncclInProgress) {
    ncclResult_t state;
    do NCCLCHECK(ncclCommGetAsyncError(comm, &state));
    while (state == ncclInProgress);
    r = state;
  }
  NCCLCHECK(r);
  int count, user_rank, device;
  NCCLCHECK(ncclCommCount(comm, &count));
  NCCLCHECK(ncclCommUserRank(comm, &user_rank));
  NCCLCHECK(ncclCommCuDevice(comm, &device));
  EXPECT(count == n && user_rank == rank, "count %d rank %d", count, user_rank);
  EXPECT(device == -1, "host memory has no CUDA device, got %d", device); /* weft: host comm */

  check_collectives(comm, rank, n);
  check_split(comm, rank, n);
#ifdef NCCL_SHRINK_ABORT
  check_shrink(comm, rank, n);
#endif
  check_errors(comm);
#ifdef WEFT_NCCL_VERSION_CODE
  check_weft_stream(comm, n);
#endif
  NCCLCHECK(ncclCommFinalize(comm));
  float x = 0;
  r = ncclAllReduce(&x, &x, 1, ncclFloat, ncclSum, comm, NULL);
  EXPECT(r == ncclInvalidUsage, "a call after ncclCommFinalize gave %d", (int)r);
  NCCLCHECK(ncclCommDestroy(comm));

  /* one process, two communicators (ncclCommInitAll), driven in one group */
  if (rank == 0) {
    ncclComm_t comms[2];
    NCCLCHECK(ncclCommInitAll(comms, 2, NULL));
    int in[2][4] = {{1, 2, 3, 4}, {10, 20, 30, 40}}, out[2][4];
    NCCLCHECK(ncclGroupStart());
    for (int d = 0; d < 2; d++) NCCLCHECK(ncclAllReduce(in[d], out[d], 4, ncclInt, ncclSum, comms[d], NULL));
    NCCLCHECK(ncclGroupEnd());
    for (int d = 0; d < 2; d++)
      for (int i = 0; i < 4; i++) EXPECT(out[d][i] == 11 * (i + 1), "InitAll allreduce %d", out[d][i]);
    for (int d = 0; d < 2; d++) NCCLCHECK(ncclCommDestroy(comms[d]));
  }
}

/* Forks the ranks first, then makes the id and hands it to them through
 * pipes (no fork while the rendezvous thread runs). Rank 0 is this process. */
int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 4;
  if (n < 1 || n > 64) {
    fprintf(stderr, "usage: %s [nranks 1..64]\n", argv[0]);
    return 2;
  }
  int fds[64][2];
  pid_t pids[64];
  for (int r = 1; r < n; r++) {
    if (pipe(fds[r]) != 0) return 2;
    pids[r] = fork();
    if (pids[r] < 0) return 2;
    if (pids[r] == 0) {
      ncclUniqueId id;
      close(fds[r][1]);
      if (read(fds[r][0], &id, sizeof id) != (ssize_t)sizeof id) _exit(3);
      run_rank(r, n, id);
      _exit(0);
    }
    close(fds[r][0]);
  }
  ncclUniqueId id;
  NCCLCHECK(ncclGetUniqueId(&id));
  for (int r = 1; r < n; r++) {
    if (write(fds[r][1], &id, sizeof id) != (ssize_t)sizeof id) return 2;
    close(fds[r][1]);
  }
  run_rank(0, n, id);
  int failed = 0;
  for (int r = 1; r < n; r++) {
    int status = 0;
    waitpid(pids[r], &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "rank %d failed (status 0x%x)\n", r, status);
      failed = 1;
    }
  }
  if (!failed) printf("nccl program: %d ranks ok\n", n);
  return failed;
}
