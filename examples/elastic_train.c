/* Elastic data-parallel training with weft: training goes on when a rank
 * dies, and a replacement joins.
 *
 * A supervisor (this program's first process, like an elastic agent) forks
 * 4 workers on two fake sites ("dc-a", "dc-b"). They fit a linear model
 * y = X w by SGD on their shards, averaging gradients with one
 * weftAllReduce(weftAvg) per step. At step 30 worker 1 dies (SIGKILL). The
 * others' allreduce fails; each then
 *   1. weftCommShrink(..., WEFT_SHRINK_ABORT): the survivors agree on who is
 *      left and get a comm of 3 ranks (the dead one is known and left out);
 *   2. the new rank 0 makes a grow id (weftCommGetGrowId), writes it to a
 *      file the supervisor's replacement worker reads, and broadcasts it;
 *   3. weftCommGrow back to 4 ranks with the replacement (which calls
 *      weftCommGrow with no comm and rank 3);
 *   4. rank 0 broadcasts the weights and the step, and the failed step is
 *      done again.
 * The supervisor forks the replacement when it sees a worker die. At the end
 * every rank's weights must be the same bits (an allgather of hashes) and
 * the loss small.
 *
 *   elastic_train [steps]       (default 80; about 1 s)
 * Exit status: 0 pass, 1 wrong result, 2 an error. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "weft.h"

enum { NRANKS = 4, D = 256, NSAMPLES = 512 /* per rank */, FAIL_STEP = 30, VICTIM = 1 };
static const float LR = 0.05f;

static char id_path[256];
static float w[D], grad[D];
static uint64_t step;

static float rnd(uint64_t *s) { /* xorshift, in [-1, 1) */
  *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
  return (float)((double)(*s >> 11) / (double)(1ULL << 52) - 1.0);
}

/* Sample i of shard `shard`: features and a label from a fixed teacher. */
static float sample(int shard, int i, float *x) {
  uint64_t s = 0x9e3779b97f4a7c15ULL * (uint64_t)(shard * NSAMPLES + i + 1);
  float y = 0;
  for (int d = 0; d < D; d++) {
    x[d] = rnd(&s);
    y += x[d] * (float)((d % 7) - 3) * 0.1f;
  }
  return y;
}

/* Mean squared error gradient of one minibatch of 16 from this rank's shard. */
static float local_grad(int shard) {
  float x[D], loss = 0;
  memset(grad, 0, sizeof grad);
  for (int k = 0; k < 16; k++) {
    float y = sample(shard, (int)((step * 16 + (uint64_t)k) % NSAMPLES), x), p = 0;
    for (int d = 0; d < D; d++) p += w[d] * x[d];
    loss += (p - y) * (p - y) / 16;
    for (int d = 0; d < D; d++) grad[d] += 2 * (p - y) * x[d] / 16;
  }
  return loss;
}

static int die(const char *what, weftComm_t c) {
  fprintf(stderr, "elastic_train pid %d: %s: %s\n", (int)getpid(), what, weftGetLastError(c));
  return 2;
}

/* Survivors (small != NULL) and the replacement (small == NULL, rank 3)
 * grow to NRANKS; then everyone takes rank 0's weights and step. */
static int regrow(weftComm_t small, weftComm_t *out) {
  weftUniqueId gid;
  memset(&gid, 0, sizeof gid);
  if (small) {
    int r;
    weftCommUserRank(small, &r);
    if (r == 0) {
      char hex[2 * WEFT_UNIQUE_ID_BYTES + 1], tmp[300];
      if (weftCommGetGrowId(small, &gid) != weftSuccess) return die("weftCommGetGrowId", small);
      weftUniqueIdToString(&gid, hex, sizeof hex);
      snprintf(tmp, sizeof tmp, "%s.tmp", id_path);
      FILE *f = fopen(tmp, "w");
      if (!f || fprintf(f, "%s\n", hex) < 0 || fclose(f) != 0 || rename(tmp, id_path) != 0) return die("writing the grow id", NULL);
    }
    if (weftBroadcast(&gid, &gid, sizeof gid, weftChar, 0, small, NULL) != weftSuccess) return die("broadcast id", small);
  } else { /* the replacement: wait for the id file */
    char hex[2 * WEFT_UNIQUE_ID_BYTES + 2] = "";
    for (int tries = 0; tries < 3000; tries++) {
      FILE *f = fopen(id_path, "r");
      if (f && fgets(hex, sizeof hex, f)) {
        fclose(f);
        break;
      }
      if (f) fclose(f);
      nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    hex[strcspn(hex, "\n")] = 0;
    if (weftUniqueIdFromString(&gid, hex) != weftSuccess) return die("reading the grow id", NULL);
  }
  if (weftCommGrow(small, NRANKS, &gid, small ? -1 : NRANKS - 1, out, NULL) != weftSuccess) return die("weftCommGrow", small);
  if (weftBroadcast(&step, &step, 1, weftUint64, 0, *out, NULL) != weftSuccess ||
      weftBroadcast(w, w, D, weftFloat, 0, *out, NULL) != weftSuccess)
    return die("broadcast state", *out);
  return 0;
}

static int worker(int slot, weftComm_t comm, int steps) {
  float loss = 0;
  while (step < (uint64_t)steps) {
    if (slot == VICTIM && step == FAIL_STEP) raise(SIGKILL); /* a crash, a preempted node */
    int rank;
    weftCommUserRank(comm, &rank);
    loss = local_grad(rank);
    if (weftAllReduce(grad, grad, D, weftFloat, weftAvg, comm, NULL) == weftSuccess) {
      for (int d = 0; d < D; d++) w[d] -= LR * grad[d];
      step++;
      continue;
    }
    fprintf(stderr, "rank %d at step %llu: %s; shrinking\n", rank, (unsigned long long)step, weftGetLastError(comm));
    weftComm_t small, big;
    if (weftCommShrink(comm, NULL, 0, &small, NULL, WEFT_SHRINK_ABORT) != weftSuccess) return die("weftCommShrink", comm);
    weftCommDestroy(comm);
    int n;
    weftCommCount(small, &n);
    fprintf(stderr, "rank %d: %d ranks left; growing back\n", rank, n);
    int rc = regrow(small, &big);
    weftCommDestroy(small);
    if (rc) return rc;
    comm = big;
  }
  /* the same bits everywhere: hash the weights, gather the hashes */
  uint64_t h = 1469598103934665603ULL, all[NRANKS];
  for (size_t i = 0; i < sizeof w; i++) h = (h ^ ((unsigned char *)w)[i]) * 1099511628211ULL;
  if (weftAllGather(&h, all, 1, weftUint64, comm, NULL) != weftSuccess ||
      weftAllReduce(&loss, &loss, 1, weftFloat, weftAvg, comm, NULL) != weftSuccess)
    return die("allgather", comm);
  int rank, same = 1;
  weftCommUserRank(comm, &rank);
  for (int r = 0; r < NRANKS; r++) same &= all[r] == h;
  if (rank == 0)
    printf("elastic_train: %d steps, a rank died at step %d and was replaced; last minibatches' loss %.5f; weights %s on "
           "every rank\n", steps, FAIL_STEP, loss, same ? "identical" : "DIFFER");
  fflush(stdout); /* the workers end with _exit */
  weftCommDestroy(comm);
  return same && loss < 0.1f ? 0 : 1; /* from about 3.4 at the start */
}

int main(int argc, char **argv) {
  int steps = argc > 1 ? atoi(argv[1]) : 80;
  if (steps <= FAIL_STEP) steps = FAIL_STEP + 1;
  snprintf(id_path, sizeof id_path, "/tmp/weft_elastic_%d.id", (int)getpid());
  /* The supervisor never calls weft itself, so that it forks without threads
   * (a child forked while a thread holds a lock inherits it held): worker 0
   * makes the unique id and hands it to the others through shared memory. */
  struct shared_id {
    volatile int ready;
    weftUniqueId id;
  } *shared = mmap(NULL, sizeof *shared, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED) return 2;
  shared->ready = 0;
  pid_t pid[NRANKS + 1];
  pid[NRANKS] = -1;
  for (int s = 0; s < NRANKS; s++) {
    fflush(stdout);
    if ((pid[s] = fork()) == 0) {
      setenv("WEFT_HOST_ID", s < NRANKS / 2 ? "dc-a" : "dc-b", 1); /* two fake sites */
      setenv("WEFT_SITE", s < NRANKS / 2 ? "dc-a" : "dc-b", 1);
      weftConfig_t cfg = WEFT_CONFIG_INITIALIZER;
      cfg.timeoutMs = 10000;
      weftComm_t comm;
      if (s == 0) {
        if (weftGetUniqueId(&shared->id) != weftSuccess) _exit(die("weftGetUniqueId", NULL));
        __atomic_store_n(&shared->ready, 1, __ATOMIC_RELEASE);
      }
      for (int t = 0; t < 10000 && !__atomic_load_n(&shared->ready, __ATOMIC_ACQUIRE); t++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
      if (weftCommInitRankConfig(&comm, NRANKS, shared->id, s, &cfg) != weftSuccess) _exit(die("init", NULL));
      _exit(worker(s, comm, steps));
    }
  }
  /* the supervisor: a worker killed by a signal gets a replacement on its site */
  int bad = 0, replaced = 0;
  time_t give_up = time(NULL) + 100; /* a worker that hangs (it should not) ends the run */
  for (int left = NRANKS; left > 0; left--) {
    int st;
    pid_t p;
    while ((p = waitpid(-1, &st, WNOHANG)) == 0 && time(NULL) < give_up) nanosleep(&(struct timespec){0, 5000000}, NULL);
    if (p <= 0) {
      fprintf(stderr, "elastic_train: workers did not finish in time\n");
      for (int s = 0; s <= NRANKS; s++)
        if (pid[s] > 0) kill(pid[s], SIGKILL);
      while (wait(NULL) > 0) {
      }
      unlink(id_path);
      return 2;
    }
    int s = 0;
    while (s <= NRANKS && pid[s] != p) s++;
    if (WIFSIGNALED(st) && !replaced) {
      replaced = 1;
      left++;
      fflush(stdout);
      if ((pid[NRANKS] = fork()) == 0) {
        setenv("WEFT_HOST_ID", s < NRANKS / 2 ? "dc-a" : "dc-b", 1);
        setenv("WEFT_SITE", s < NRANKS / 2 ? "dc-a" : "dc-b", 1);
        weftComm_t comm;
        int rc = regrow(NULL, &comm);
        _exit(rc ? rc : worker(-1, comm, steps));
      }
    } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      bad = 1;
    }
  }
  unlink(id_path);
  return bad || !replaced ? 1 : 0;
}
