/* Smallest complete weft program: forks NRANKS processes on this machine,
 * each sums a vector with the others. Run: ./hello_allreduce [nranks] */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "weft.h"

#define CHECK(call)                                                                      \
  do {                                                                                   \
    weftResult_t r_ = (call);                                                            \
    if (r_ != weftSuccess) {                                                             \
      fprintf(stderr, "%s failed: %s (%s)\n", #call, weftGetErrorString(r_), weftGetLastError(comm)); \
      return 1;                                                                          \
    }                                                                                    \
  } while (0)

static int run_rank(int rank, int nranks, weftUniqueId id) {
  weftComm_t comm = NULL;
  CHECK(weftCommInitRank(&comm, nranks, id, rank));
  float grad[4] = {rank + 1.0f, rank + 2.0f, rank + 3.0f, rank + 4.0f};
  CHECK(weftAllReduce(grad, grad, 4, weftFloat, weftAvg, comm, NULL)); /* in place */
  printf("rank %d: averaged gradient = %.2f %.2f %.2f %.2f\n", rank, grad[0], grad[1], grad[2], grad[3]);
  CHECK(weftCommDestroy(comm));
  return 0;
}

int main(int argc, char **argv) {
  int nranks = argc > 1 ? atoi(argv[1]) : 4;
  weftUniqueId id; /* in a real job: created by rank 0, sent to the others (e.g. MPI_Bcast) */
  if (weftGetUniqueId(&id) != weftSuccess) return 1;
  for (int r = 0; r < nranks; r++)
    if (fork() == 0) return run_rank(r, nranks, id);
  int failed = 0, st;
  while (wait(&st) > 0) failed |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
  return failed;
}
