/* Group calls: everything issued between weftGroupStart and weftGroupEnd on
 * this thread is fused into one schedule per communicator, so that e.g. a
 * send and a receive between the same ranks cannot deadlock, and several
 * communicators driven by one thread progress together. */
#include <stdlib.h>

#include "core/comm.h"
#include "core/launch.h"
#include "core/log.h"

static _Thread_local int depth;
static _Thread_local weft_pending *pending;
static _Thread_local int npending, cap;
static _Thread_local weftResult_t group_error;

WEFT_API weftResult_t weftGroupStart(void) {
  if (depth == 0) group_error = weftSuccess;
  depth++;
  return weftSuccess;
}

static void group_clear(void) {
  free(pending);
  pending = NULL;
  npending = cap = 0;
}

WEFT_API weftResult_t weftGroupEnd(void) {
  if (depth == 0) return weft_error(NULL, weftInvalidUsage, "weftGroupEnd without weftGroupStart");
  if (--depth > 0) return weftSuccess;
  weftResult_t res = group_error;
  if (res != weftSuccess) {
    weft_error(NULL, res, "weftGroupEnd: a call in the group failed; the group was not launched");
  } else if (npending > 0) {
    res = weft_launch(pending, npending);
  }
  group_clear();
  return res;
}

weftResult_t weft_submit(weftComm_t comm, const weft_call *c, weftStream_t stream) {
  weft_pending p = {comm, *c, stream};
  if (depth == 0) return weft_launch(&p, 1);
  if (npending == cap) {
    int nc = cap ? cap * 2 : 16;
    weft_pending *np = realloc(pending, sizeof *np * (size_t)nc);
    if (!np) return group_error = weft_error(comm, weftSystemError, "out of memory recording a group call");
    pending = np;
    cap = nc;
  }
  pending[npending++] = p;
  return weftSuccess;
}

/* Validation errors inside a group also fail the group at weftGroupEnd. */
void weft_group_note_error(weftResult_t r) {
  if (depth > 0 && group_error == weftSuccess) group_error = r;
}
