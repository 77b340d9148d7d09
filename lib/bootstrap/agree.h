/* Membership agreement for weftCommShrink (docs/failures.md#the-agreement):
 * the ranks of a comm that take part agree on which of them form the new
 * comm, over fresh sockets to the old comm's bootstrap listeners (never its
 * data connections), every message with an HMAC under a key derived for this
 * shrink. The lowest rank not known to have failed coordinates: it collects
 * a JOIN from every other rank it does not know to be gone, proposes the set
 * that joined, and commits it once every member acknowledged; a member that
 * died meanwhile makes it propose again without it. A rank whose coordinator
 * dies (its socket closes, its listener refuses, or it is silent past the
 * bounds) counts it as failed and joins the next lowest rank, which takes
 * over with the union of the failed sets it is told. Every wait is bounded
 * by the timeout. */
#ifndef WEFT_BOOT_AGREE_H
#define WEFT_BOOT_AGREE_H

#include <stdint.h>

#include "bootstrap/bootstrap.h"

/* A rank's state of another rank, in the flags the agreement takes and gives. */
enum { WEFT_AGREE_LIVE = 0, WEFT_AGREE_FAILED = 1, WEFT_AGREE_EXCLUDED = 2 };

typedef struct {
  uint8_t *state;         /* in: n flags as above (what this rank knows); out: what it learned */
  weft_rank_info mine;    /* this rank's listener for the new comm */
  int timeout_ms;         /* bound on each wait */
  /* out, on success: */
  uint8_t *member;        /* n flags: 1 for the ranks of the new comm */
  weft_rank_info *table;  /* n entries: the listeners of the members */
  int coordinator;        /* who decided, and its proposal number: the */
  uint32_t ballot;        /* new comm's key is derived from them */
} weft_agree_io;

/* Runs the agreement over b (the old comm's bootstrap: rank, listener,
 * peers' addresses) with key. weftSuccess with the members in io, or an
 * error in err: this rank was left out (weftRemoteError), or no decision in
 * time (weftTimeout). */
weftResult_t weft_agree_members(bootstrap_t *b, const uint8_t key[32], weft_agree_io *io, char *err);

/* Tests only: called at each step ("joined", "proposed", "committed") with
 * the number of messages of that step sent so far; NULL in production. */
extern void (*weft_agree_test_hook)(const char *step, int sent);

#endif
