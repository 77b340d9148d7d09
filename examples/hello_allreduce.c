/* Smallest complete weft program: NRANKS processes on this machine average
 * a vector. Run: ./hello_allreduce [nranks] */
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
  int pipes[64][2];
  if (nranks < 1 || nranks > 64) return 2;
  /* ranks 1..n-1 are child processes; rank 0 (this process) creates the id
   * and sends it to them, as a real job would with MPI_Bcast or a file */
  for (int r = 1; r < nranks; r++) {
    if (pipe(pipes[r]) != 0) return 1;
    if (fork() == 0) {
      weftUniqueId id;
      close(pipes[r][1]);
      if (read(pipes[r][0], &id, sizeof id) != (ssize_t)sizeof id) return 1;
      return run_rank(r, nranks, id);
    }
    close(pipes[r][0]);
  }
  weftUniqueId id;
  if (weftGetUniqueId(&id) != weftSuccess) return 1;
  for (int r = 1; r < nranks; r++) {
    if (write(pipes[r][1], &id, sizeof id) != (ssize_t)sizeof id) return 1;
    close(pipes[r][1]);
  }
  int failed = run_rank(0, nranks, id), st;
  while (wait(&st) > 0) failed |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
  return failed;
}
