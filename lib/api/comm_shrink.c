/* weftCommShrink: the callers agree on the members over the old comm's
 * bootstrap listeners (bootstrap/agree.c), then build the new comm from
 * the agreed table like a split child. A build that fails because a member
 * died after the agreement is agreed again (docs/failures.md). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/comm_life.h"
#include "bootstrap/agree.h"
#include "bootstrap/bootstrap.h"
#include "bootstrap/keys.h"
#include "comm/comm.h"
#include "comm/comm_log.h"
#include "comm/fault.h"
#include "tune/tune.h"
#include "util/clock.h"
#include "util/sock.h"

/* With WEFT_SHRINK_ABORT: the ranks the comm knows to be gone (the origin
 * of its failure, when that rank is not alive and calling shrink). */
static void mark_known_failed(struct weftComm *comm, uint8_t *state) {
  weft_fault_origin o;
  if (!weft_fault_await(comm, 0, &o) || o.rank == comm->rank) return;
  if (o.cause == WEFT_FAULT_KILLED || o.cause == WEFT_FAULT_STALLED || o.cause == WEFT_FAULT_ABORTED ||
      o.cause == WEFT_FAULT_CLOSED)
    if (state[o.rank] == WEFT_AGREE_LIVE) state[o.rank] = WEFT_AGREE_FAILED;
}

static weftResult_t check_args(struct weftComm *comm, const int *ex, int nex, weftComm_t *newcomm, int flags,
                               uint8_t *state) {
  if (!newcomm) return weft_error(comm, weftInvalidArgument, "weftCommShrink: newcomm is NULL");
  if (nex < 0 || (nex > 0 && !ex))
    return weft_error(comm, weftInvalidArgument, "weftCommShrink: %d ranks to exclude but excludeRanks is NULL", nex);
  if (flags != WEFT_SHRINK_DEFAULT && flags != WEFT_SHRINK_ABORT)
    return weft_error(comm, weftInvalidArgument, "weftCommShrink: flags %d is not WEFT_SHRINK_DEFAULT or WEFT_SHRINK_ABORT",
                      flags);
  for (int i = 0; i < nex; i++) {
    if (ex[i] < 0 || ex[i] >= comm->nranks)
      return weft_error(comm, weftInvalidArgument, "weftCommShrink: excludeRanks[%d] = %d is not a rank of [0, %d)", i,
                        ex[i], comm->nranks);
    if (ex[i] == comm->rank)
      return weft_error(comm, weftInvalidArgument,
                        "weftCommShrink: this rank (%d) is in excludeRanks; excluded ranks do not call it", ex[i]);
    state[ex[i]] = WEFT_AGREE_EXCLUDED;
  }
  return weftSuccess;
}

/* The agreed members, in the order of their old ranks, as a rank table. */
static int compact(const weft_agree_io *io, int n, int me, weft_rank_info *table, int *newrank) {
  int m = 0;
  for (int r = 0; r < n; r++) {
    if (!io->member[r]) continue;
    if (r == me) *newrank = m;
    table[m] = io->table[r];
    table[m].rank = m;
    m++;
  }
  return m;
}

/* One build of the new comm from the agreement's result. */
static weftResult_t build(struct weftComm *comm, const weft_agree_io *io, int lfd, weftConfig_t *config,
                          weft_rank_info *table, struct weftComm **out, char *err) {
  int newrank = 0, m = compact(io, comm->nranks, comm->rank, table, &newrank);
  struct weftComm *c;
  weftResult_t res = weft_comm_new(&c, newrank, m, config, comm);
  if (res != weftSuccess) {
    close(lfd);
    snprintf(err, WEFT_SOCK_ERRLEN, "%s", weft_thread_error());
    return res;
  }
  uint64_t ctx[3] = {comm->shrink_count, (uint64_t)io->coordinator, io->ballot};
  if (weft_key_derive(comm->key, WEFT_KEY_LABEL_SHRINK, ctx, sizeof ctx, c->key) != 0) {
    close(lfd);
    weft_comm_free(c);
    snprintf(err, WEFT_SOCK_ERRLEN, "cannot derive the new comm's key (libcrypto)");
    return weftSystemError;
  }
  /* every member listens already: the ring is made in milliseconds, unless
   * a member died after the agreement; then fail soon and agree again */
  int build_ms = c->timeout_ms / 2 < 200 ? (c->timeout_ms < 200 ? c->timeout_ms : 200) : c->timeout_ms / 2;
  res = weft_bootstrap_from_table(lfd, table, newrank, m, c->key, build_ms, &c->bootstrap, err);
  if (res == weftSuccess) {
    c->bootstrap->timeout_ms = c->timeout_ms;
    res = weft_comm_start(c);
    if (res != weftSuccess) snprintf(err, WEFT_SOCK_ERRLEN, "%s", weft_thread_error());
  }
  if (res == weftSuccess && weft_ef_copy(&c->tune, &comm->tune) != 0) {
    snprintf(err, WEFT_SOCK_ERRLEN, "out of memory copying the error-feedback residuals");
    res = weftSystemError;
  }
  if (res != weftSuccess) {
    weft_comm_free(c);
    return res;
  }
  *out = c;
  return weftSuccess;
}

WEFT_API weftResult_t weftCommShrink(weftComm_t comm, const int *excludeRanks, int nExclude, weftComm_t *newcomm,
                                     weftConfig_t *config, int flags) {
  weftResult_t res = weft_comm_check(comm);
  if (res != weftSuccess) return res;
  if (newcomm) *newcomm = NULL;
  int n = comm->nranks, me = comm->rank;
  weft_agree_io io = {0};
  io.state = calloc((size_t)n, 1);
  io.member = calloc((size_t)n, 1);
  io.table = calloc((size_t)n, sizeof *io.table);
  weft_rank_info *table = calloc((size_t)n, sizeof *table);
  if (!io.state || !io.member || !io.table || !table) {
    res = weft_error(comm, weftSystemError, "weftCommShrink: out of memory");
    goto out;
  }
  if ((res = check_args(comm, excludeRanks, nExclude, newcomm, flags, io.state)) != weftSuccess) goto out;
  if (flags == WEFT_SHRINK_ABORT) {
    atomic_store(&comm->aborted, 1); /* calls blocked on the parent in other threads leave */
    mark_known_failed(comm, io.state);
  }
  long long t0 = weft_now_ms();
  comm->shrink_count++;
  uint64_t no = comm->shrink_count;
  uint8_t akey[32];
  if (weft_key_derive(comm->key, WEFT_KEY_LABEL_AGREE, &no, sizeof no, akey) != 0) {
    res = weft_error(comm, weftSystemError, "weftCommShrink: cannot derive the agreement key (libcrypto)");
    goto out;
  }
  /* the agreement's bound T: the new comm's timeout */
  io.timeout_ms = comm->timeout_ms;
  if (config && config->magic == WEFT_CONFIG_MAGIC && config->timeoutMs > 0) io.timeout_ms = config->timeoutMs;
  char err[WEFT_SOCK_ERRLEN];
  for (int attempt = 1;; attempt++) {
    int lfd = -1;
    if (weft_bootstrap_prepare_listener(&comm->bootstrap->peers[me].addr, &io.mine, &lfd, err) != 0) {
      res = weft_error(comm, weftSystemError, "weftCommShrink: %s", err);
      break;
    }
    res = weft_agree_members(comm->bootstrap, akey, &io, err);
    if (res != weftSuccess) {
      close(lfd);
      weft_error(comm, res, "weftCommShrink: %s", err);
      break;
    }
    for (int r = 0; r < n; r++) /* whoever is not in was found gone (or excluded) */
      if (!io.member[r] && io.state[r] == WEFT_AGREE_LIVE) io.state[r] = WEFT_AGREE_FAILED;
    long long agreed = weft_now_ms();
    res = build(comm, &io, lfd, config, table, newcomm, err);
    if (res == weftSuccess) {
      int m = 0;
      for (int r = 0; r < n; r++) m += io.member[r];
      WEFT_INFO(comm, "weftCommShrink: %d of %d ranks agreed (coordinator rank %d, proposal %u, attempt %d) after %lld ms, "
                "new comm built in %lld ms; this rank is rank %d of it", m, n, io.coordinator, io.ballot, attempt,
                agreed - t0, weft_now_ms() - agreed, (*newcomm)->rank);
      break;
    }
    if (attempt > n) {
      weft_error(comm, res, "weftCommShrink: building the new comm failed %d times, last: %s", attempt, err);
      break;
    }
    weft_log_to(&comm->log, weftLogWarn, "weftCommShrink: building the new comm failed (%s); agreeing again", err);
  }
  weft_wipe(akey, sizeof akey);
out:
  free(io.state);
  free(io.member);
  free(io.table);
  free(table);
  return res;
}
