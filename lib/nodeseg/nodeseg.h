/* Node segment: one shared-memory segment mapped by every rank of a
 * communicator whose ranks all live on one host and talk over a host-local
 * transport (weftNetProperties_t.hostLocal: shm). Each rank owns two slots
 * in it (used alternately, call by call) where it publishes a small
 * contribution with a sequence number and the call's signature; the others
 * read it in place (nodeseg/slots_run.c). One cache line carries the number,
 * the signature and the first 48 bytes, so a small call costs one line moved
 * per rank, no messages.
 *
 * The segment is an anonymous memfd that rank 0 creates and hands to the
 * others over an abstract Unix socket (SCM_RIGHTS), so nothing is named in
 * /dev/shm and the memory goes away with the last rank that maps it, killed
 * or not. */
#ifndef WEFT_NODESEG_H
#define WEFT_NODESEG_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "weft.h"

struct weftComm;

typedef struct weft_nodeseg {
  char *map;
  size_t map_len;
  int n, rank;
  size_t max_bytes;  /* largest contribution per rank (WEFT_SLOTS_MAX) */
  size_t slot_bytes; /* one slot: sequence word, then the payload */
  size_t rank_bytes; /* one rank's area: its control line and two slots */
  uint32_t seq;      /* calls made through the segment (same on every rank) */
  int membarrier;    /* every rank registered for expedited global barriers */
  int *pidfd;        /* per rank: a pidfd to notice a dead peer, or -1 */
  int *pid;          /* per rank: its process id (when pidfd is -1) */
  char *box;         /* the point-to-point boxes (nodeseg/box.h), or NULL */
  uint32_t *box_sent, *box_seen, *box_got; /* per peer: messages sent to it, read by
                                           * it as last seen, received from it */
} weft_nodeseg;

/* Sets comm->nodeseg up when every rank of comm runs on this host, every
 * peer is reached over a host-local transport (weftNetProperties_t.hostLocal:
 * shm) and WEFT_SLOTS is not 0 anywhere;
 * leaves it NULL otherwise, or if anything fails locally on any rank (the
 * collectives then use their message-based algorithms). Collective over the
 * comm's bootstrap; an error is returned only if the bootstrap fails. */
weftResult_t weft_nodeseg_create(struct weftComm *comm);
/* Marks this rank gone (peers waiting for it fail at once instead of timing
 * out) and unmaps the segment. */
void weft_nodeseg_destroy(struct weftComm *comm);
/* Tells the peers this rank will not publish anymore (comm failed). */
void weft_nodeseg_mark_gone(struct weftComm *comm);

/* The slot of rank r for call seq: a 32-bit sequence word, the call's
 * signature (coll/sig.h) at +8, the payload at +16. */
static inline _Atomic uint32_t *weft_nodeseg_slot(const weft_nodeseg *g, int r, uint32_t seq) {
  return (_Atomic uint32_t *)(g->map + (size_t)r * g->rank_bytes + 64 + (size_t)(seq & 1) * g->slot_bytes);
}
static inline void *weft_nodeseg_payload(_Atomic uint32_t *slot) { return (char *)slot + 16; }

/* Publishes this rank's slot for the current call (signature sig): the
 * payload must already be written; wakes peers sleeping on it. */
void weft_nodeseg_publish(weft_nodeseg *g, _Atomic uint32_t *slot, uint32_t seq, uint64_t sig);
/* Waits until rank r has published seq in slot: spins, yields, then sleeps
 * (futex), bounded by the comm's timeout, its abort flag and r's liveness.
 * A slot or a current call of r whose signature differs from sig is a
 * mismatch (weftInvalidUsage). On failure err says why. until_us > 0 (a
 * weft_now_us time): gives up with weftInProgress once that time has passed
 * without r's slot (a caller that may hand the rest of its call over). */
weftResult_t weft_nodeseg_wait(struct weftComm *c, int r, _Atomic uint32_t *slot, uint32_t seq, uint64_t sig,
                               double until_us, char *err, size_t errlen);
/* Whether rank r left the comm (marked itself gone) or, with check_pid,
 * its process is gone: weftRemoteError with err saying which, else
 * weftSuccess. */
weftResult_t weft_nodeseg_peer_left(struct weftComm *c, int r, int check_pid, char *err, size_t errlen);
/* Every call on a comm with a segment announces its signature there, so a
 * rank that waits (in the segment or for a message) can tell a peer that
 * is in a different call of the same number: a mismatch, not a slow peer. */
void weft_nodeseg_note_call(weft_nodeseg *g, uint64_t sig, size_t count);
/* Whether a peer announced a call of the same number as sig but a different
 * signature; err then explains it. */
int weft_nodeseg_mismatch(struct weftComm *c, uint64_t sig, char *err, size_t errlen);

#endif
