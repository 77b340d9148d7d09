/* Churn: training goes on while ranks die and are replaced
 * (docs/failures.md#churn-test; scripts/churn.sh runs it for hours).
 *
 *   test_churn [-n 6] [-s 2] [-t seconds] [-N cycles] [-T timeout_ms] [-p stop_every] [-c codec] [-q]
 *
 * N ranks ("slots") on -s fake sites train a small model: each step every
 * rank makes a gradient from (step, slot, params), allreduces it with the
 * hierarchical algorithm and the lossy codec -c (topk with error feedback
 * by default) between the sites, and applies it; then an allgather of each
 * rank's hash of its parameters must show the same bits everywhere. Each
 * cycle the driver waits until every rank has trained two steps of the
 * current comm, then SIGKILLs a random rank (every -p-th cycle it SIGSTOPs it
 * instead, and SIGKILLs it once the others have shrunk). The survivors'
 * call fails, they weftCommShrink(WEFT_SHRINK_ABORT), the new rank 0 makes a
 * grow id, the driver forks a replacement, everyone weftCommGrow()s back to
 * N, and rank 0 broadcasts the parameters and the step. Every rank counts
 * its file descriptors, memory mappings and threads (/proc/self) once it
 * has lived through two cycles and at every cycle after: none may grow by
 * more than a small slack. Runs until -t seconds or -N cycles; exits 0
 * when every cycle ended with identical parameters and nothing leaked. */
#include <dirent.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "elastic_util.h"
#include "time_scale.h"
#include "weft.h"

#define MAXS 16
#define K 16384 /* parameters */
#define MSG 400
#define SLACK_FD 2
#if defined(__SANITIZE_ADDRESS__)
#define WEFT_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_TEST_ASAN 1
#endif
#endif
#ifdef WEFT_TEST_ASAN
#define SLACK_MAPS 64 /* AddressSanitizer's allocator maps more regions as its quarantine fills */
#else
#define SLACK_MAPS 8
#endif
#define SLACK_THREADS 2

typedef struct {
  atomic_int epoch, steps; /* grows seen, steps trained in this comm */
  int fd0, maps0, thr0, lived; /* counts after its second cycle */
  int fd, maps, thr;           /* the latest counts */
  int leak;
  uint64_t hash;
  const char *phase; /* what it does now (a string literal: the same address in every forked slot) */
  double phase_at;   /* since when (el_now) */
  char last[MSG];    /* the last failure it lived through, from weftGetLastError */
  char msg[MSG];
} slot_state;

typedef struct {
  int n, nsites, timeout_ms;
  char codec[16];
  weftUniqueId id, grow_id;
  atomic_int id_ready;
  atomic_int grow_seq; /* grow ids published */
  atomic_int stop;
  int joiner_rank[MAXS];
  slot_state s[MAXS];
} ctl_t;

static ctl_t *ctl;
static int my_slot;
static float params[K], grad[K];
static struct {
  uint64_t epoch, step;
} progress;

static int count_dir(const char *path) {
  DIR *d = opendir(path);
  int k = 0;
  if (!d) return -1;
  for (struct dirent *e; (e = readdir(d));) k += e->d_name[0] != '.';
  closedir(d);
  return k;
}

static int count_lines(const char *path) {
  FILE *f = fopen(path, "r");
  int k = 0, ch;
  if (!f) return -1;
  while ((ch = fgetc(f)) != EOF) k += ch == '\n';
  fclose(f);
  return k;
}

static uint64_t hash_params(void) {
  uint64_t h = 0xcbf29ce484222325ULL;
  const unsigned char *p = (const unsigned char *)params;
  for (size_t i = 0; i < sizeof params; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

static float noise(uint64_t step, int slot, int i) {
  uint64_t x = step * 0x9e3779b97f4a7c15ULL ^ (uint64_t)slot << 40 ^ (uint64_t)i;
  x ^= x >> 31;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 29;
  return (float)((double)(x >> 11) / (double)(1ULL << 53) - 0.5);
}

/* Says what this slot does now, for the driver's report when a cycle stalls. */
static void phase(const char *what) {
  ctl->s[my_slot].phase = what;
  ctl->s[my_slot].phase_at = el_now();
}

static int fail(int code, const char *what, weftComm_t c) {
  snprintf(ctl->s[my_slot].msg, MSG, "%s: %s", what, weftGetLastError(c));
  return code;
}

static weftConfig_t config(void) {
  weftConfig_t cfg = WEFT_CONFIG_INITIALIZER;
  cfg.timeoutMs = ctl->timeout_ms;
  cfg.algo = "hier";
  cfg.codec = ctl->codec;
  cfg.logLevel = weftLogNone; /* the failures are the point; their lines would drown the output */
  return cfg;
}

/* One step; 0, 1 when the comm failed, or an exit code (parameters differ). */
static int step(weftComm_t c, int *stop) {
  int n;
  weftCommCount(c, &n);
  for (int i = 0; i < K; i++) grad[i] = noise(progress.step, my_slot, i) + 1e-3f * params[i];
  if (weftAllReduce(grad, grad, K, weftFloat, weftSum, c, NULL) != weftSuccess) return 1;
  for (int i = 0; i < K; i++) params[i] -= 0.01f * grad[i] / (float)n;
  progress.step++;
  uint64_t mine[2] = {hash_params(), (uint64_t)atomic_load(&ctl->stop)}, all[2 * MAXS];
  if (weftAllGather(mine, all, 2, weftUint64, c, NULL) != weftSuccess) return 1;
  ctl->s[my_slot].hash = mine[0];
  for (int r = 0; r < n; r++) {
    if (all[2 * r] != mine[0]) {
      snprintf(ctl->s[my_slot].msg, MSG, "step %llu: parameters differ from rank %d's (%#llx vs %#llx)",
               (unsigned long long)progress.step, r, (unsigned long long)all[2 * r], (unsigned long long)mine[0]);
      return 40;
    }
    *stop |= all[2 * r + 1] != 0;
  }
  atomic_fetch_add(&ctl->s[my_slot].steps, 1);
  return 0;
}

/* After a grow: everyone takes rank 0's parameters and progress. */
static int sync_state(weftComm_t c) {
  if (weftBroadcast(&progress, &progress, 2, weftUint64, 0, c, NULL) != weftSuccess) return 1;
  if (weftBroadcast(params, params, K, weftFloat, 0, c, NULL) != weftSuccess) return 1;
  slot_state *me = &ctl->s[my_slot];
  atomic_store(&me->steps, 0);
  atomic_store(&me->epoch, (int)progress.epoch);
  return 0;
}

static void sample_leaks(void) {
  slot_state *me = &ctl->s[my_slot];
  me->fd = count_dir("/proc/self/fd");
  me->maps = count_lines("/proc/self/maps");
  me->thr = count_dir("/proc/self/task");
  if (++me->lived == 2) me->fd0 = me->fd, me->maps0 = me->maps, me->thr0 = me->thr;
  if (me->lived > 2 && (me->fd > me->fd0 + SLACK_FD || me->maps > me->maps0 + SLACK_MAPS || me->thr > me->thr0 + SLACK_THREADS))
    me->leak = 1;
}

/* Grows c (NULL for a joiner of rank `rank`) back to n ranks. */
static int grow(weftComm_t c, int rank, weftComm_t *out) {
  weftUniqueId gid;
  memset(&gid, 0, sizeof gid);
  if (c) {
    int r;
    weftCommUserRank(c, &r);
    if (r == 0 && weftCommGetGrowId(c, &gid) != weftSuccess) return fail(20, "weftCommGetGrowId", c);
    if (weftBroadcast(&gid, &gid, sizeof gid, weftChar, 0, c, NULL) != weftSuccess) return fail(21, "broadcast id", c);
    if (r == 0) {
      ctl->grow_id = gid;
      progress.epoch++;
      atomic_fetch_add(&ctl->grow_seq, 1);
    }
  } else {
    gid = ctl->grow_id;
  }
  weftConfig_t cfg = config();
  if (weftCommGrow(c, ctl->n, &gid, c ? -1 : rank, out, &cfg) != weftSuccess) return fail(22, "weftCommGrow", c);
  if (sync_state(*out) != 0) return fail(23, "state broadcast", *out);
  return 0;
}

static int train(weftComm_t comm) {
  for (;;) {
    int stop = 0, r = step(comm, &stop);
    if (r > 1) return r;
    if (r == 0 && stop) break;
    if (r == 0) continue;
    snprintf(ctl->s[my_slot].last, MSG, "%s", weftGetLastError(comm));
    weftComm_t small, big;
    weftConfig_t cfg = config();
    phase("shrink");
    if (weftCommShrink(comm, NULL, 0, &small, &cfg, WEFT_SHRINK_ABORT) != weftSuccess)
      return fail(30, "weftCommShrink", comm);
    weftCommDestroy(comm);
    phase("grow");
    int g = grow(small, -1, &big);
    weftCommDestroy(small);
    if (g) return g;
    comm = big;
    sample_leaks();
    phase("train");
  }
  weftCommDestroy(comm);
  return 0;
}

static int slot_main(void *arg, int slot) {
  (void)arg;
  my_slot = slot;
  el_place(slot, ctl->n, ctl->nsites);
  weftConfig_t cfg = config();
  /* the first init only: generous (a loaded machine), not what this tests;
   * every shrunk and grown comm has the timeout under test */
  cfg.timeoutMs = weft_test_ms(30000);
  weftComm_t comm;
  if (el_share_id(slot, &ctl->id, &ctl->id_ready) != 0) return fail(10, "unique id", NULL);
  phase("init");
  if (weftCommInitRankConfig(&comm, ctl->n, ctl->id, slot, &cfg) != weftSuccess) return fail(10, "init", NULL);
  /* the comm the cycles start from has the timeout under test too: a split
   * of everyone (else a first failure that is a SIGSTOP waits 30 s) */
  weftComm_t first;
  cfg = config();
  if (weftCommSplit(comm, 0, slot, &first, &cfg) != weftSuccess) return fail(11, "split", comm);
  weftCommDestroy(comm);
  comm = first;
  phase("train");
  for (int i = 0; i < K; i++) params[i] = noise(0, -1, i);
  return train(comm);
}

static int joiner_main(void *arg, int slot) {
  (void)arg;
  my_slot = slot;
  el_place(slot, ctl->n, ctl->nsites);
  weftComm_t comm;
  phase("join");
  int g = grow(NULL, ctl->joiner_rank[slot], &comm);
  phase("train");
  return g ? g : train(comm);
}

/* Where every slot was when the driver gave up on a cycle (stall_at). */
static void report_phases(double stall_at) {
  for (int s = 0; s < ctl->n; s++) {
    const slot_state *x = &ctl->s[s];
    printf("  slot %d: epoch %d, %d steps, %s for %.1f s; last failure: %.300s\n", s, atomic_load(&x->epoch),
           atomic_load(&x->steps), x->phase ? x->phase : "-", x->phase ? stall_at - x->phase_at : 0,
           x->last[0] ? x->last : "-");
  }
}

static int all_ready(int epoch) {
  for (int s = 0; s < ctl->n; s++)
    if (atomic_load(&ctl->s[s].epoch) != epoch || atomic_load(&ctl->s[s].steps) < 2) return 0;
  return 1;
}

int main(int argc, char **argv) {
  ctl = el_shared(sizeof *ctl);
  if (!ctl) return 2;
  memset(ctl, 0, sizeof *ctl);
  ctl->n = 6;
  ctl->nsites = 2;
  ctl->timeout_ms = weft_test_ms(3000); /* the stop cycles last this long; scaled: an init under sanitizers needs it */
  snprintf(ctl->codec, sizeof ctl->codec, "topk");
  double seconds = 30;
  int max_cycles = 1 << 30, stop_every = 10, opt;
  unsigned seed = (unsigned)getpid();
  while ((opt = getopt(argc, argv, "n:s:t:N:T:p:c:r:")) != -1) {
    switch (opt) {
      case 'n': ctl->n = atoi(optarg); break;
      case 's': ctl->nsites = atoi(optarg); break;
      case 't': seconds = atof(optarg); break;
      case 'N': max_cycles = atoi(optarg); break;
      case 'T': ctl->timeout_ms = atoi(optarg); break;
      case 'p': stop_every = atoi(optarg); break;
      case 'c': snprintf(ctl->codec, sizeof ctl->codec, "%s", optarg); break;
      case 'r': seed = (unsigned)atoi(optarg); break;
      default:
        fprintf(stderr, "usage: %s [-n 6] [-s 2] [-t seconds] [-N cycles] [-T timeout_ms] [-p stop_every] [-c codec] [-r seed]\n",
                argv[0]);
        return 2;
    }
  }
  if (ctl->n < 3 || ctl->n > MAXS) return 2;
  srand(seed);
  printf("churn: %d ranks on %d sites, codec %s, timeout %d ms, every %d-th failure a SIGSTOP, seed %u, for %.0f s or %d cycles\n",
         ctl->n, ctl->nsites, ctl->codec, ctl->timeout_ms, stop_every, seed, seconds, max_cycles);
  fflush(stdout);
  pid_t pid[MAXS];
  for (int attempt = 0;; attempt++) { /* an init that fails on a loaded machine is launched again */
    for (int s = 0; s < ctl->n; s++) pid[s] = el_spawn(slot_main, NULL, s);
    double until = el_now() + weft_test_seconds(60);
    int init_failed = 0;
    while (!all_ready(0) && !init_failed && el_now() < until) {
      for (int s = 0; s < ctl->n; s++)
        if (pid[s] > 0 && waitpid(pid[s], NULL, WNOHANG) == pid[s]) pid[s] = -1, init_failed = 1;
      el_sleep_ms(2);
    }
    if (all_ready(0) || attempt == 2) break;
    printf("  (init failed: %.200s; launched again)\n", ctl->s[0].msg);
    for (int s = 0; s < ctl->n; s++)
      if (pid[s] > 0) kill(pid[s], SIGKILL), el_reap(pid[s], el_now() + 5);
    memset(ctl->s, 0, sizeof ctl->s);
    atomic_store(&ctl->id_ready, 0);
  }
  double start = el_now(), worst_kill = 0, sum_kill = 0, worst_stop = 0;
  int cycles = 0, kills = 0, stops = 0, bad = 0;
  const char *why = NULL;
  while (!why && cycles < max_cycles && el_now() - start < seconds) {
    double wait_until = el_now() + weft_test_seconds(30);
    while (!all_ready(cycles) && el_now() < wait_until) {
      for (int s = 0; s < ctl->n && !why; s++)
        if (waitpid(pid[s], NULL, WNOHANG) == pid[s]) pid[s] = -1, why = "a rank exited";
      if (why) break;
      el_sleep_ms(1);
    }
    if (why) break;
    if (!all_ready(cycles)) {
      double stall_at = el_now();
      why = "ranks did not come back to training in time";
      report_phases(stall_at);
      break;
    }
    int v = rand() % ctl->n, stop = stop_every > 0 && cycles % stop_every == stop_every - 1;
    double t0 = el_now();
    kill(pid[v], stop ? SIGSTOP : SIGKILL);
    while (atomic_load(&ctl->grow_seq) <= cycles && el_now() < wait_until) el_sleep_ms(1);
    if (atomic_load(&ctl->grow_seq) <= cycles) {
      double stall_at = el_now();
      printf("  cycle %d: slot %d got SIG%s %.1f s ago\n", cycles, v, stop ? "STOP" : "KILL", stall_at - t0);
      why = "the survivors did not shrink in time";
      report_phases(stall_at);
      break;
    }
    double took = el_now() - t0;
    if (stop) {
      stops++;
      if (took > worst_stop) worst_stop = took;
      kill(pid[v], SIGKILL);
    } else {
      kills++;
      sum_kill += took;
      if (took > worst_kill) worst_kill = took;
    }
    el_reap(pid[v], el_now() + 5);
    memset(&ctl->s[v], 0, sizeof ctl->s[v]);
    atomic_store(&ctl->s[v].epoch, -1);
    ctl->joiner_rank[v] = ctl->n - 1;
    pid[v] = el_spawn(joiner_main, NULL, v);
    cycles++;
    if (cycles % 10 == 0) {
      printf("  %d cycles in %.1f s\n", cycles, el_now() - start);
      fflush(stdout);
    }
  }
  atomic_store(&ctl->stop, 1);
  double end = el_now() + weft_test_seconds(30);
  for (int s = 0; s < ctl->n; s++) {
    int st = pid[s] > 0 ? el_reap(pid[s], end) : -1;
    slot_state *x = &ctl->s[s];
    if (st != 0 || x->leak) {
      bad++;
      printf("  FAIL slot %d: status %d%s (fds %d -> %d, maps %d -> %d, threads %d -> %d over %d cycles): %.300s\n", s, st,
             x->leak ? ", leak" : "", x->fd0, x->fd, x->maps0, x->maps, x->thr0, x->thr, x->lived, x->msg);
    }
  }
  int longest = 0, ls = 0;
  for (int s = 0; s < ctl->n; s++)
    if (ctl->s[s].lived > longest) longest = ctl->s[s].lived, ls = s;
  const slot_state *o = &ctl->s[ls];
  printf("churn: %d cycles (%d SIGKILL, %d SIGSTOP) in %.1f s; SIGKILL to shrunk comm (grow id out): mean %.0f ms, worst %.0f ms; "
         "SIGSTOP: worst %.0f ms; the longest-lived rank (%d cycles): fds %d -> %d, maps %d -> %d, threads %d -> %d\n",
         cycles, kills, stops, el_now() - start, kills ? sum_kill / kills * 1e3 : 0, worst_kill * 1e3, worst_stop * 1e3,
         o->lived, o->fd0, o->fd, o->maps0, o->maps, o->thr0, o->thr);
  if (why) printf("churn: FAILED: %s\n", why);
  printf("%s\n", why || bad ? "FAILED" : "churn passed");
  return why || bad ? 1 : 0;
}
