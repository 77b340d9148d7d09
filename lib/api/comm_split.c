/* weftCommSplit: ranks exchange color and key over the parent's bootstrap,
 * each color's members build a child bootstrap from the gathered table, and
 * the child starts like a new communicator. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/comm_life.h"
#include "bootstrap/bootstrap.h"
#include "bootstrap/keys.h"
#include "comm/comm.h"
#include "comm/comm_log.h"
#include "util/sock.h"

typedef struct {
  int32_t color, key, rank;
  weft_rank_info info;
} split_entry;

static int split_cmp(const void *a, const void *b) {
  const split_entry *x = a, *y = b;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  return x->rank < y->rank ? -1 : x->rank > y->rank;
}

WEFT_API weftResult_t weftCommSplit(weftComm_t comm, int color, int key, weftComm_t *newcomm,
                                    weftConfig_t *config) {
  weftResult_t res = weft_comm_check(comm);
  if (res != weftSuccess) return res;
  if (!newcomm) return weft_error(comm, weftInvalidArgument, "weftCommSplit: newcomm is NULL");
  *newcomm = NULL;
  if (color < 0 && color != WEFT_SPLIT_NOCOLOR)
    return weft_error(comm, weftInvalidArgument, "weftCommSplit: color %d must be >= 0 or WEFT_SPLIT_NOCOLOR", color);
  weftResult_t sticky = atomic_load(&comm->async_error);
  if (sticky != weftSuccess) return weft_comm_failed_call(comm, sticky, "weftCommSplit");
  int n = comm->nranks;
  char err[WEFT_SOCK_ERRLEN];
  split_entry *all = calloc((size_t)n, sizeof *all);
  weft_rank_info *table = calloc((size_t)n, sizeof *table);
  if (!all || !table) {
    free(all);
    free(table);
    return weft_error(comm, weftSystemError, "out of memory");
  }
  int lfd = -1;
  split_entry *me = &all[comm->rank];
  me->color = color;
  me->key = key;
  me->rank = comm->rank;
  if (color != WEFT_SPLIT_NOCOLOR &&
      weft_bootstrap_prepare_listener(&comm->bootstrap->peers[comm->rank].addr, &me->info, &lfd, err) != 0) {
    /* still take part in the exchange so the others do not wait for us */
    me->color = -2;
    res = weftSystemError;
  }
  weftResult_t xr = weft_bootstrap_allgather(comm->bootstrap, all, sizeof *all, err);
  uint64_t split_id = ++comm->split_count;
  if (xr != weftSuccess) res = weft_error(comm, xr, "weftCommSplit: %s", err);
  else if (res != weftSuccess) res = weft_error(comm, res, "weftCommSplit: %s", err);
  for (int i = 0; i < n && res == weftSuccess; i++)
    if (all[i].color == -2) res = weft_error(comm, weftRemoteError, "weftCommSplit: rank %d failed to prepare", i);
  if (res != weftSuccess || color == WEFT_SPLIT_NOCOLOR) {
    if (lfd >= 0) close(lfd);
    free(all);
    free(table);
    return res;
  }
  int m = 0;
  for (int i = 0; i < n; i++)
    if (all[i].color == color) all[m++] = all[i];
  qsort(all, (size_t)m, sizeof *all, split_cmp);
  int newrank = 0;
  for (int i = 0; i < m; i++) {
    table[i] = all[i].info;
    table[i].rank = i;
    if (all[i].rank == comm->rank) newrank = i;
  }
  struct weftComm *c;
  res = weft_comm_new(&c, newrank, m, config, comm);
  if (res == weftSuccess) {
    /* the child's key: HKDF of the parent's with the split number and the
     * color, so that each child (and each later split) has its own */
    uint64_t ctx[2] = {split_id, (uint64_t)(uint32_t)color};
    if (weft_key_derive(comm->key, WEFT_KEY_LABEL_SPLIT, ctx, sizeof ctx, c->key) != 0) {
      snprintf(err, sizeof err, "cannot derive the child's key (libcrypto)");
      res = weftSystemError;
      close(lfd);
    } else {
      res = weft_bootstrap_from_table(lfd, table, newrank, m, c->key, c->timeout_ms, &c->bootstrap, err);
    }
    lfd = -1;
    if (res != weftSuccess) weft_error(comm, res, "weftCommSplit: %s", err);
    else res = weft_comm_start(c);
    if (res != weftSuccess) weft_comm_free(c);
    else *newcomm = c;
  }
  if (lfd >= 0) close(lfd);
  free(all);
  free(table);
  return res;
}
