/* The communicator: what every layer needs to know about one rank's view. */
#ifndef WEFT_COMM_H
#define WEFT_COMM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "weft.h"
#include "weft_net.h"

#define WEFT_COMM_MAGIC 0x7765667443304d4dULL
#define WEFT_ERRMSG_LEN 512

struct bootstrap;
struct weft_engine;

typedef struct {
  void *send; /* transport send endpoint to this peer, NULL for self */
  void *recv; /* transport receive endpoint from this peer */
} weft_peer_conn;

struct weftComm {
  uint64_t magic;
  int rank, nranks;
  int timeout_ms;
  int log_level;
  weftLogCallback_t log_cb;
  void *log_user;
  char algo_override[16]; /* "" = tuner decides */
  char site[64];
  uint8_t secret[16];
  uint64_t split_count; /* splits done so far, to derive child secrets */

  struct bootstrap *bootstrap;
  const weftNet_t *net;
  void *net_ctx;
  void *net_listen;
  weft_peer_conn *peers;

  struct weft_engine *engine;
  uint32_t coll_seq; /* collectives issued so far (same on every rank) */

  atomic_int aborted;
  atomic_int active_calls;
  _Atomic weftResult_t async_error;

  pthread_mutex_t err_mu;
  char last_error[WEFT_ERRMSG_LEN];
  char last_algo[32];
};

/* Validates comm (non-NULL, not destroyed) or records an error for the thread. */
weftResult_t weft_comm_check(struct weftComm *comm);
/* Marks the comm broken with res (first error wins) and closes its
 * connections so peers notice at once. Safe from the progress thread. */
void weft_comm_fail(struct weftComm *comm, weftResult_t res);
/* Describes a peer for error messages: "rank 3 (host:pid)". */
void weft_comm_peer_name(struct weftComm *comm, int peer, char *buf, size_t len);

#endif
