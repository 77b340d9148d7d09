/* Failure attribution: which rank a failure of the communicator started at,
 * known the same way on every rank.
 *
 * Every comm of more than one rank keeps a second ring of TCP sockets beside
 * its transports (the fault links: each rank to the next and the previous
 * one) and a thread that watches them:
 *   - a rank that fails (an error, a timeout, weftCommAbort) writes a notice
 *     naming the origin (rank, host, pid, cause, message) on both links
 *     before it closes anything; a rank that learns of a failure first by a
 *     notice forwards it on both links, so it floods the ring both ways and
 *     reaches every rank around one broken link;
 *   - a clean weftCommDestroy writes a goodbye first;
 *   - a link that closes without a notice or a goodbye (the kernel closed the
 *     sockets of a killed process) names its neighbour as killed;
 *   - heartbeats go both ways; a neighbour silent for the comm's timeout is
 *     named as timed out (stopped or hung);
 *   - the first origin a rank learns is the one it keeps and forwards; with
 *     one failure it is the same on every rank.
 * A rank whose operation fails because a peer closed its connection or went
 * quiet does not name that peer at once: it waits up to weft_fault_grace_ms
 * for the origin to arrive, and only then falls back to what it saw itself.
 * Learning an origin revokes the comm: the async error is set and running
 * operations return within one poll slice (docs/failures.md). */
#ifndef WEFT_FAULT_H
#define WEFT_FAULT_H

#include <stdint.h>

#include "weft.h"

struct weftComm;

typedef enum {
  WEFT_FAULT_KILLED = 1, /* its process went away without a word (SIGKILL, exit) */
  WEFT_FAULT_STALLED,    /* alive but silent past the timeout (SIGSTOP, hung) */
  WEFT_FAULT_TIMEOUT,    /* its own operation made no progress for the timeout */
  WEFT_FAULT_ABORTED,    /* weftCommAbort */
  WEFT_FAULT_REPORTED,   /* any other error it reported */
  WEFT_FAULT_CLOSED      /* closed its connections without a notice (fallback) */
} weft_fault_cause;

#define WEFT_FAULT_MSG_LEN 320

typedef struct {
  int32_t rank, cause, result, pid; /* result: the origin's own error code */
  int32_t seen_by;                  /* the rank that first saw it (itself, or a neighbour) */
  char host[64];
  char msg[WEFT_FAULT_MSG_LEN];
} weft_fault_origin;

/* Allocates the comm's fault state (no links yet); 0 or -1 (memory). */
int weft_fault_new(struct weftComm *comm);
/* Collective, once the bootstrap is up: builds the fault links and starts
 * the watching thread (nothing on a 1-rank comm). */
weftResult_t weft_fault_start(struct weftComm *comm);
/* Says goodbye on the links (unless a failure is known), stops the thread,
 * closes the links and frees the state. */
void weft_fault_free(struct weftComm *comm);

/* Records o as the origin unless one is known, sets the comm's async error,
 * releases ranks waiting in the node segment and tells the neighbours.
 * Returns 1 if o became the origin. */
int weft_fault_raise(struct weftComm *comm, const weft_fault_origin *o);
/* Fills o for rank r of comm (name from the bootstrap table). */
void weft_fault_origin_of(struct weftComm *comm, int r, weft_fault_cause cause, weftResult_t res, const char *fmt,
                          ...) __attribute__((format(printf, 5, 6)));
/* Copies the known origin into o and returns 1, waiting up to ms for one. */
int weft_fault_await(struct weftComm *comm, int ms, weft_fault_origin *o);
/* How long a failure seen through a peer waits for the origin. */
int weft_fault_grace_ms(const struct weftComm *comm);
/* "rank 2 (host pid 1234) was killed: ..." */
void weft_fault_describe(const weft_fault_origin *o, char *buf, size_t len);
/* The error code a rank reports for origin o: the origin's own code on the
 * origin, weftTimeout for a peer that timed out, weftRemoteError otherwise. */
weftResult_t weft_fault_result(const struct weftComm *comm, const weft_fault_origin *o);

#endif
