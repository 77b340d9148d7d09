/* weftCommGrow: the ranks of a comm and joiners meet through a rendezvous
 * root started by weftCommGetGrowId on a rank of the comm (a fresh secret,
 * like a unique id's), exchange a card over the new bootstrap ring saying
 * who was in the comm and what the comm's settings are, and the joiners
 * take those settings from rank 0 before the new comm starts. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/comm_life.h"
#include "bootstrap/bootstrap.h"
#include "bootstrap/keys.h"
#include "coll/algo.h"
#include "comm/comm.h"
#include "comm/comm_log.h"
#include "comm/netreg.h"
#include "tune/tune.h"
#include "util/random.h"
#include "util/sock.h"

/* What each rank of the grown comm tells the others (over the
 * authenticated ring): whether and where it was in the old comm, and the
 * settings a joiner must share with the comm. */
typedef struct {
  int32_t old_rank; /* -1: a joiner */
  int32_t old_n;
  int32_t timeout_ms, crypto, wan_streams, dev_pieces;
  char topo_file[512];
  char algo[16], codec[16], net[16];
  uint64_t direct_threshold, tree_threshold, rooted_threshold, chunk_bytes, stripe_min, pipe_bytes;
  double spin_us;
} grow_card;

WEFT_API weftResult_t weftCommGetGrowId(weftComm_t comm, weftUniqueId *growId) {
  weftResult_t res = weft_comm_check(comm);
  if (res != weftSuccess) return res;
  if (!growId) return weft_error(comm, weftInvalidArgument, "weftCommGetGrowId: growId is NULL");
  weft_id_internal id;
  memset(&id, 0, sizeof id);
  id.magic = WEFT_ID_MAGIC;
  id.version = WEFT_VERSION_CODE;
  if (weft_random_bytes(id.secret, sizeof id.secret) != 0)
    return weft_error(comm, weftSystemError, "weftCommGetGrowId: no random bytes from the kernel");
  /* the root listens where this rank's bootstrap does: the comm's network */
  id.root = comm->bootstrap->peers[comm->rank].addr;
  if (id.root.sa.sa_family == AF_INET6) id.root.in6.sin6_port = 0;
  else id.root.in.sin_port = 0;
  char err[WEFT_SOCK_ERRLEN];
  if (weft_root_start(&id.root, id.secret, comm->timeout_ms, err) != 0)
    return weft_error(comm, weftSystemError, "weftCommGetGrowId: %s", err);
  memset(growId, 0, sizeof *growId);
  memcpy(growId->internal, &id, sizeof id);
  weft_wipe(&id, sizeof id);
  return weftSuccess;
}

static void fill_card(const struct weftComm *c, grow_card *k) {
  memset(k, 0, sizeof *k);
  k->old_rank = c->rank;
  k->old_n = c->nranks;
  k->timeout_ms = c->timeout_ms;
  k->crypto = c->crypto;
  snprintf(k->topo_file, sizeof k->topo_file, "%s", c->topo_file);
  snprintf(k->algo, sizeof k->algo, "%s", c->algo_override);
  snprintf(k->codec, sizeof k->codec, "%s", c->tune.codec.want);
  snprintf(k->net, sizeof k->net, "%s", c->net_force);
  const weft_tuner *t = &c->tune;
  k->direct_threshold = t->direct_threshold;
  k->tree_threshold = t->tree_threshold;
  k->rooted_threshold = t->rooted_threshold;
  k->chunk_bytes = t->chunk_bytes;
  k->stripe_min = t->stripe_min;
  k->pipe_bytes = t->pipe_bytes;
  k->wan_streams = t->wan_streams;
  k->dev_pieces = t->dev_pieces;
  k->spin_us = t->spin_us;
}

/* A joiner takes the comm's settings from rank 0's card, in the ranges a
 * rank's own environment may set (the card came over the network). */
static weftResult_t adopt(struct weftComm *c, const grow_card *k) {
  const char *bad = k->timeout_ms <= 0                                          ? "timeout"
                    : k->crypto < WEFT_CRYPTO_AUTO || k->crypto > WEFT_CRYPTO_OFF ? "encryption mode"
                    : k->wan_streams < 0 || k->wan_streams > WEFT_MAX_STREAMS     ? "WAN stream count"
                    : k->dev_pieces < 0 || k->dev_pieces > WEFT_DEV_MAX_PIECES    ? "device piece count"
                    : k->stripe_min < 4096                                        ? "stripe size"
                    : !(k->spin_us >= 0 && k->spin_us <= 1e6)                     ? "spin time" /* NaN too */
                                                                                  : NULL;
  if (bad) return weft_error(NULL, weftRemoteError, "weftCommGrow: rank 0 sent an invalid %s in the comm's settings", bad);
#define TAKE(dst, src) snprintf(dst, sizeof dst, "%.*s", (int)sizeof(src) - 1, src)
  TAKE(c->topo_file, k->topo_file);
  TAKE(c->algo_override, k->algo);
  TAKE(c->tune.codec.want, k->codec);
  TAKE(c->net_force, k->net);
#undef TAKE
  if (c->net_force[0] && !weft_net_find(c->net_force))
    return weft_error(NULL, weftInvalidArgument, "weftCommGrow: the comm uses transport '%s', which this libweft lacks",
                      c->net_force);
  c->tune.forced = weft_algo_parse(c->algo_override[0] ? c->algo_override : NULL);
  c->timeout_ms = k->timeout_ms > 0 ? k->timeout_ms : c->timeout_ms;
  c->bootstrap->timeout_ms = c->timeout_ms;
  c->crypto = k->crypto;
  weft_tuner *t = &c->tune;
  t->direct_threshold = (size_t)k->direct_threshold;
  t->tree_threshold = (size_t)k->tree_threshold;
  t->rooted_threshold = (size_t)k->rooted_threshold;
  t->chunk_bytes = (size_t)k->chunk_bytes;
  t->stripe_min = (size_t)k->stripe_min;
  t->pipe_bytes = (size_t)k->pipe_bytes;
  t->wan_streams = k->wan_streams;
  t->dev_pieces = k->dev_pieces;
  t->spin_us = k->spin_us;
  return weftSuccess;
}

/* Every rank sees the same cards, so every rank reaches the same verdict. */
static weftResult_t check_cards(const grow_card *cards, int n) {
  int old_n = -1, olds = 0;
  for (int r = 0; r < n; r++) {
    if (cards[r].old_rank < 0) continue;
    if (old_n < 0) old_n = cards[r].old_n;
    if (cards[r].old_n != old_n || cards[r].old_rank != r)
      return weft_error(NULL, weftInvalidUsage, "weftCommGrow: rank %d of the grown comm was rank %d of a comm of %d, "
                        "not rank %d of %d: ranks of the comm keep their numbers", r, cards[r].old_rank, cards[r].old_n,
                        r, old_n);
    olds++;
  }
  if (old_n < 0)
    return weft_error(NULL, weftInvalidUsage, "weftCommGrow: no rank of the comm took part (the joiners are alone)");
  if (olds != old_n)
    return weft_error(NULL, weftInvalidUsage, "weftCommGrow: %d of the comm's %d ranks took part; joiners must take "
                      "ranks %d and up", olds, old_n, old_n);
  return weftSuccess;
}

WEFT_API weftResult_t weftCommGrow(weftComm_t comm, int nranks, const weftUniqueId *growId, int rank,
                                   weftComm_t *newcomm, weftConfig_t *config) {
  weftResult_t res = comm ? weft_comm_check(comm) : weftSuccess;
  if (res != weftSuccess) return res;
  if (!newcomm || !growId) return weft_error(comm, weftInvalidArgument, "weftCommGrow: newcomm or growId is NULL");
  *newcomm = NULL;
  if (comm) {
    if (rank != -1 && rank != comm->rank)
      return weft_error(comm, weftInvalidArgument, "weftCommGrow: a rank of the comm passes rank -1 (it keeps %d), not %d",
                        comm->rank, rank);
    if (nranks < comm->nranks)
      return weft_error(comm, weftInvalidArgument, "weftCommGrow: nranks %d < the comm's %d", nranks, comm->nranks);
    weftResult_t sticky = atomic_load(&comm->async_error);
    if (sticky != weftSuccess) return weft_comm_failed_call(comm, sticky, "weftCommGrow (shrink it first)");
    rank = comm->rank;
  } else if (nranks < 2 || rank < 1 || rank >= nranks) {
    return weft_error(NULL, weftInvalidArgument, "weftCommGrow: a joiner's rank %d must be in [1, nranks %d)", rank,
                      nranks);
  }
  weft_id_internal id;
  memcpy(&id, growId->internal, sizeof id);
  if (id.magic != WEFT_ID_MAGIC)
    return weft_error(comm, weftInvalidArgument, "weftCommGrow: growId is not from weftCommGetGrowId");
  struct weftComm *c;
  if ((res = weft_comm_new(&c, rank, nranks, config, comm)) != weftSuccess) return res;
  char err[WEFT_SOCK_ERRLEN];
  grow_card *cards = calloc((size_t)nranks, sizeof *cards);
  if (!cards) res = weft_error(NULL, weftSystemError, "out of memory");
  else if (weft_key_from_secret(id.secret, c->key) != 0)
    res = weft_error(NULL, weftSystemError, "weftCommGrow: cannot derive the communicator key (libcrypto)");
  else if ((res = weft_bootstrap_init(&id, rank, nranks, c->timeout_ms, &c->bootstrap, err)) != weftSuccess)
    weft_error(NULL, res, "weftCommGrow: rank %d/%d: %s", rank, nranks, err);
  weft_wipe(&id, sizeof id);
  if (res == weftSuccess) {
    if (comm) fill_card(comm, &cards[rank]);
    else cards[rank].old_rank = -1;
    if ((res = weft_bootstrap_allgather(c->bootstrap, cards, sizeof *cards, err)) != weftSuccess)
      weft_error(NULL, res, "weftCommGrow: %s", err);
  }
  if (res == weftSuccess) res = check_cards(cards, nranks);
  if (res == weftSuccess && !comm) res = adopt(c, &cards[0]);
  if (res == weftSuccess) res = weft_comm_start(c);
  if (res == weftSuccess && comm && weft_ef_copy(&c->tune, &comm->tune) != 0)
    res = weft_error(NULL, weftSystemError, "weftCommGrow: out of memory copying the error-feedback residuals");
  free(cards);
  if (res != weftSuccess) {
    if (comm) {
      char why[WEFT_ERRMSG_LEN];
      snprintf(why, sizeof why, "%s", weft_thread_error());
      weft_error(comm, res, "%s", why);
    }
    weft_comm_free(c);
    return res;
  }
  *newcomm = c;
  return weftSuccess;
}
