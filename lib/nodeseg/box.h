/* Point-to-point channels in the node segment ("boxes"): one per ordered
 * pair of ranks, a ring of WEFT_BOX_SLOTS slots that the sender fills and
 * the receiver empties. A slot's first cache line carries its sequence
 * number, the message's size and signature and the first 48 bytes of the
 * payload, so an 8-byte message costs one line moved, no frame, request or
 * system call. A send completes as soon as its data is in a slot (eager);
 * it waits only while the receiver has WEFT_BOX_SLOTS messages unread.
 *
 * Every send and receive of at most WEFT_BOX_MAX_BYTES between two ranks of
 * a comm whose segment has boxes goes through them, blocking or on a
 * stream, alone or in a group (the tuner's ALGO_BOX): both ends decide by
 * the message's size alone, so each box carries one ordered sequence of
 * messages, as a transport endpoint does. Boxes exist when the segment
 * does and the comm has at most WEFT_BOX_MAX_RANKS ranks (n*n boxes; the
 * pages of pairs that never talk are never touched). */
#ifndef WEFT_NODESEG_BOX_H
#define WEFT_NODESEG_BOX_H

#include <stddef.h>
#include <stdint.h>

#include "weft.h"

struct weftComm;
struct weft_nodeseg;

#define WEFT_BOX_SLOTS 4
#define WEFT_BOX_MAX_BYTES 1024
#define WEFT_BOX_MAX_STR "1024"
#define WEFT_BOX_MAX_RANKS 64

/* Bytes of the boxes of n ranks (0 when there are none). */
size_t weft_box_area_bytes(int n);

/* One send or receive through a box: peer, buffer, bytes and signature. */
typedef struct {
  int send; /* 1: send, 0: receive */
  int peer;
  const void *src;
  void *dst;
  size_t bytes;
  uint64_t tag;
  int done;
} weft_box_op;

/* Tries op once: a send that finds a free slot, a receive that finds its
 * message, completes (op->done = 1). A received message whose signature or
 * size differs from the receive's is a mismatch (weftInvalidUsage, err says
 * how). Never waits. */
weftResult_t weft_box_try(struct weftComm *c, weft_box_op *op, char *err, size_t errlen);
/* Tries ops in order until every one is done (ops to the same peer in the
 * same direction complete in their order), waiting as the node segment
 * does: spins, yields, then sleeps in slices of at most 1 ms, bounded by
 * the comm's timeout, its abort flag and the liveness of the peers waited
 * for. The caller's thread must hold the comm's engine. */
weftResult_t weft_box_run(struct weftComm *c, weft_box_op *ops, int nops, char *err, size_t errlen);
/* After op was tried and is not done, and nothing else moved for a while:
 * fails if its peer is gone (weftRemoteError), else sleeps up to max_us
 * (woken when a message for a receive arrives). */
weftResult_t weft_box_idle(struct weftComm *c, const weft_box_op *op, double max_us, char *err, size_t errlen);

#endif
