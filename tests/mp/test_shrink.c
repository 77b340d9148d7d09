/* Shrink and grow (docs/failures.md#shrink-and-grow).
 *
 *   test_shrink [-n N] [-s sites] [-T timeout_ms] [-c kill,joined,proposed,committed] [-v victim] [-g]
 *
 * For each case, N ranks ("slots", on -s fake sites) run allreduce loops;
 * the driver SIGKILLs slot -v (default 1); every survivor's call fails, it
 * calls weftCommShrink(WEFT_SHRINK_ABORT) and checks the new comm: its size
 * and an allreduce of 1 << slot (exact: the set of members) must be the
 * same on every survivor and name exactly the live slots. Cases:
 *   kill       only the victim dies;
 *   joined     slot 2 also dies during the agreement, right after its JOIN;
 *   proposed   the coordinator (the lowest survivor) dies after sending its
 *              first proposal: the next lowest takes over;
 *   committed  the coordinator dies after its first commit: the member that
 *              got it builds a comm with a dead rank, fails, and agrees again
 *              with the others.
 * (the second death: a hook in the agreement, weft_agree_test_hook, that
 * SIGKILLs the rank at that step). With -g the new rank 0 then makes a grow
 * id (weftCommGetGrowId), broadcasts it, the driver forks a replacement for
 * each dead slot, and everyone grows back to N ranks, checked the same way.
 * Prints the time from the SIGKILL to the slowest survivor's new comm
 * (detection + agreement + build). Exits 0 when every case passed. Time
 * bounds scale with WEFT_TEST_TIME_SCALE. */
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "elastic_util.h"
#include "time_scale.h"
#include "weft.h"

#define MAXS 16
#define MSG 400

extern void (*weft_agree_test_hook)(const char *step, int sent);

typedef struct {
  int n, nsites, timeout_ms, grow, victim, die_slot;
  char die_step[16];
  weftUniqueId id, grow_id;
  atomic_int id_ready, ready, grow_ready;
  double kill_time;
  int joiner_rank[MAXS];
  /* per slot */
  int stage[MAXS]; /* 1: shrunk and checked, 2: grown and checked */
  int shrunk_n[MAXS], grown_n[MAXS];
  uint64_t shrunk_mask[MAXS], grown_mask[MAXS];
  double shrink_done[MAXS], shrink_s[MAXS];
  char msg[MAXS][MSG];
} ctl_t;

static ctl_t *ctl;
static int my_slot;

static void die_at_step(const char *step, int sent) {
  if (strcmp(step, ctl->die_step) == 0 && sent >= 1) raise(SIGKILL);
}

static weftConfig_t config(void) {
  weftConfig_t cfg = WEFT_CONFIG_INITIALIZER;
  cfg.timeoutMs = ctl->timeout_ms;
  return cfg;
}

/* The members of c as a mask of slots: an exact allreduce over c. */
static int members(weftComm_t c, int *size, uint64_t *mask) {
  uint64_t mine = 1ULL << my_slot, all = 0;
  if (weftCommCount(c, size) != weftSuccess) return -1;
  if (weftAllReduce(&mine, &all, 1, weftUint64, weftSum, c, NULL) != weftSuccess) return -1;
  *mask = all;
  return 0;
}

static int say(int code, const char *what, weftComm_t c) {
  snprintf(ctl->msg[my_slot], MSG, "%s: %s", what, weftGetLastError(c));
  return code;
}

/* grow: the new rank 0 makes the id and broadcasts it; joiners read it from ctl. */
static int grow_and_check(weftComm_t c, int rank) {
  weftUniqueId gid;
  memset(&gid, 0, sizeof gid);
  if (c) {
    int r;
    weftCommUserRank(c, &r);
    if (r == 0 && weftCommGetGrowId(c, &gid) != weftSuccess) return say(20, "weftCommGetGrowId", c);
    if (weftBroadcast(&gid, &gid, sizeof gid, weftChar, 0, c, NULL) != weftSuccess) return say(21, "broadcast", c);
    if (r == 0) {
      ctl->grow_id = gid;
      atomic_store(&ctl->grow_ready, 1);
    }
  } else {
    while (!atomic_load(&ctl->grow_ready)) el_sleep_ms(2);
    gid = ctl->grow_id;
  }
  weftConfig_t cfg = config();
  weftComm_t g;
  if (weftCommGrow(c, ctl->n, &gid, c ? -1 : rank, &g, &cfg) != weftSuccess) return say(22, "weftCommGrow", c);
  if (members(g, &ctl->grown_n[my_slot], &ctl->grown_mask[my_slot]) != 0) return say(23, "allreduce after grow", g);
  ctl->stage[my_slot] = 2;
  weftCommDestroy(g);
  return 0;
}

static int slot_main(void *arg, int slot) {
  (void)arg;
  my_slot = slot;
  el_place(slot, ctl->n, ctl->nsites);
  if (slot == ctl->die_slot) weft_agree_test_hook = die_at_step;
  weftConfig_t cfg = config();
  cfg.timeoutMs = weft_test_ms(30000); /* the first init: generous on a loaded machine; the new comms get -T */
  weftComm_t comm, nc;
  if (el_share_id(slot, &ctl->id, &ctl->id_ready) != 0) return say(10, "unique id", NULL);
  if (weftCommInitRankConfig(&comm, ctl->n, ctl->id, slot, &cfg) != weftSuccess) return say(10, "init", NULL);
  cfg = config();
  float x[256], y[256];
  for (int i = 0; i < 256; i++) x[i] = 1;
  weftResult_t r = weftSuccess;
  double start = el_now();
  for (int it = 0; r == weftSuccess && el_now() - start < weft_test_seconds(20); it++) {
    r = weftAllReduce(x, y, 256, weftFloat, weftSum, comm, NULL);
    if (it == 3) atomic_fetch_add(&ctl->ready, 1);
  }
  if (r == weftSuccess) return say(11, "no failure seen", comm);
  double t0 = el_now();
  if (weftCommShrink(comm, NULL, 0, &nc, &cfg, WEFT_SHRINK_ABORT) != weftSuccess) return say(12, "weftCommShrink", comm);
  ctl->shrink_done[slot] = el_now();
  ctl->shrink_s[slot] = ctl->shrink_done[slot] - t0;
  weftCommDestroy(comm);
  if (members(nc, &ctl->shrunk_n[slot], &ctl->shrunk_mask[slot]) != 0) return say(13, "allreduce after shrink", nc);
  ctl->stage[slot] = 1;
  int rc = ctl->grow ? grow_and_check(nc, -1) : 0;
  weftCommDestroy(nc);
  return rc;
}

static int joiner_main(void *arg, int slot) {
  (void)arg;
  my_slot = slot;
  el_place(slot, ctl->n, ctl->nsites);
  return grow_and_check(NULL, ctl->joiner_rank[slot]);
}

static int run_case(const char *kase) {
  int n = ctl->n;
  memset(ctl->stage, 0, sizeof ctl->stage);
  memset(ctl->shrunk_n, 0, sizeof ctl->shrunk_n);
  memset(ctl->shrunk_mask, 0, sizeof ctl->shrunk_mask);
  memset(ctl->grown_mask, 0, sizeof ctl->grown_mask);
  memset(ctl->shrink_done, 0, sizeof ctl->shrink_done);
  memset(ctl->msg, 0, sizeof ctl->msg);
  atomic_store(&ctl->ready, 0);
  atomic_store(&ctl->grow_ready, 0);
  atomic_store(&ctl->id_ready, 0);
  ctl->die_slot = -1;
  snprintf(ctl->die_step, sizeof ctl->die_step, "%s", kase);
  int lowest = ctl->victim == 0 ? 1 : 0;
  if (strcmp(kase, "joined") == 0) ctl->die_slot = ctl->victim == 2 ? 3 : 2;
  if (strcmp(kase, "proposed") == 0 || strcmp(kase, "committed") == 0) ctl->die_slot = lowest;
  uint64_t want = (n == 64 ? ~0ULL : (1ULL << n) - 1) & ~(1ULL << ctl->victim);
  if (ctl->die_slot >= 0) want &= ~(1ULL << ctl->die_slot);
  int want_n = __builtin_popcountll(want);
  pid_t pid[MAXS * 2];
  int np = 0;
  for (int s = 0; s < n; s++) pid[np++] = el_spawn(slot_main, NULL, s);
  double deadline = el_now() + weft_test_seconds(30);
  while (atomic_load(&ctl->ready) < n && el_now() < deadline) el_sleep_ms(1);
  ctl->kill_time = el_now();
  kill(pid[ctl->victim], SIGKILL);
  if (ctl->grow) {
    while (!atomic_load(&ctl->grow_ready) && el_now() < deadline) el_sleep_ms(1);
    int k = 0;
    for (int s = 0; s < n && atomic_load(&ctl->grow_ready); s++)
      if (!(want >> s & 1)) {
        ctl->joiner_rank[s] = want_n + k++;
        pid[np++] = el_spawn(joiner_main, NULL, s);
      }
  }
  int status[MAXS * 2], bad = 0;
  for (int i = 0; i < np; i++) status[i] = el_reap(pid[i], deadline);
  for (int s = 0; s < n; s++)
    if (status[s] == 10) return -1; /* an init that timed out on a loaded machine: not what this tests */
  double worst = 0, worst_call = 0;
  for (int s = 0; s < n; s++) {
    const char *why = NULL;
    int dead = !(want >> s & 1);
    if (s == ctl->die_slot && status[s] != 128 + SIGKILL) why = "the agreement hook did not kill it";
    if (!dead && !why) {
      if (status[s] != 0 || ctl->stage[s] < 1) why = "failed";
      else if (ctl->shrunk_n[s] != want_n || ctl->shrunk_mask[s] != want) why = "shrunk comm has other members";
      else if (ctl->grow && (ctl->stage[s] < 2 || ctl->grown_n[s] != n || ctl->grown_mask[s] != (1ULL << n) - 1))
        why = "grown comm wrong";
      if (ctl->shrink_done[s] - ctl->kill_time > worst) worst = ctl->shrink_done[s] - ctl->kill_time;
      if (ctl->shrink_s[s] > worst_call) worst_call = ctl->shrink_s[s];
    }
    if (dead && ctl->grow && !why && (ctl->stage[s] < 2 || ctl->grown_mask[s] != (1ULL << n) - 1))
      why = "replacement did not join";
    if (why) {
      bad++;
      printf("    FAIL slot %d (%s): status %d stage %d, shrunk to %d (mask %#llx, want %d %#llx): %.300s\n", s, why,
             status[s], ctl->stage[s], ctl->shrunk_n[s], (unsigned long long)ctl->shrunk_mask[s], want_n,
             (unsigned long long)want, ctl->msg[s]);
    }
  }
  for (int i = n; i < np; i++)
    if (status[i] != 0) bad++, printf("    FAIL replacement %d: status %d\n", i - n, status[i]);
  if (worst > weft_test_seconds(strcmp(kase, "kill") == 0 ? 3 : 3 + 2.0 * ctl->timeout_ms / 1000)) {
    bad++;
    printf("    FAIL: too slow\n");
  }
  char second[48] = "";
  if (ctl->die_slot >= 0) snprintf(second, sizeof second, ", slot %d dies in the agreement", ctl->die_slot);
  printf("  %-9s n=%d victim %d%s: %s; SIGKILL to new comm on every survivor %.1f ms (slowest weftCommShrink %.1f ms)%s\n",
         kase, n, ctl->victim, second,
         bad ? "FAILED" : "ok", worst * 1e3, worst_call * 1e3, ctl->grow ? ", grown back" : "");
  fflush(stdout);
  return bad;
}

int main(int argc, char **argv) {
  ctl = el_shared(sizeof *ctl);
  if (!ctl) return 2;
  memset(ctl, 0, sizeof *ctl);
  ctl->n = 4;
  ctl->victim = 1;
  ctl->timeout_ms = weft_test_ms(3000);
  const char *cases = "kill";
  int opt;
  while ((opt = getopt(argc, argv, "n:s:T:c:v:g")) != -1) {
    switch (opt) {
      case 'n': ctl->n = atoi(optarg); break;
      case 's': ctl->nsites = atoi(optarg); break;
      case 'T': ctl->timeout_ms = atoi(optarg); break;
      case 'c': cases = optarg; break;
      case 'v': ctl->victim = atoi(optarg); break;
      case 'g': ctl->grow = 1; break;
      default:
        fprintf(stderr, "usage: %s [-n N] [-s sites] [-T timeout_ms] [-c kill,joined,proposed,committed] [-v victim] [-g]\n",
                argv[0]);
        return 2;
    }
  }
  if (ctl->n < 3 || ctl->n > MAXS || ctl->victim < 0 || ctl->victim >= ctl->n) return 2;
  int bad = 0;
  char list[128];
  snprintf(list, sizeof list, "%s", cases);
  for (char *k = strtok(list, ","); k; k = strtok(NULL, ",")) {
    int r = -1;
    for (int attempt = 0; attempt < 3 && r < 0; attempt++)
      if ((r = run_case(k)) < 0) printf("  (%s: init failed, run again)\n", k);
    bad += r != 0;
  }
  printf("%s\n", bad ? "FAILED" : "every case passed");
  return bad ? 1 : 0;
}
