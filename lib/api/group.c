/* Group calls: everything issued between weftGroupStart and weftGroupEnd on
 * this thread is fused into one schedule per communicator, so that e.g. a
 * send and a receive between the same ranks cannot deadlock, and several
 * communicators driven by one thread progress together. */
#include <stdlib.h>
#include <string.h>

#include "comm/comm.h"
#include "api/launch.h"
#include "comm/comm_log.h"

/* A group's calls are recorded in place for the usual few (a sendrecv, a
 * halo exchange): no allocation per group on that path. */
#define GROUP_INLINE 16

static _Thread_local int depth;
static _Thread_local weft_pending inline_calls[GROUP_INLINE];
static _Thread_local weft_pending *pending; /* inline_calls, or the heap past GROUP_INLINE */
static _Thread_local int npending, cap;
static _Thread_local weftResult_t group_error;

WEFT_API weftResult_t weftGroupStart(void) {
  if (depth == 0) group_error = weftSuccess;
  depth++;
  return weftSuccess;
}

static void group_clear(void) {
  for (int i = 0; i < npending; i++) /* the group's copies of v-calls' counts */
    if (weft_coll_is_v(pending[i].call.kind)) free((void *)pending[i].call.vec);
  if (pending != inline_calls) free(pending);
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
    weft_pending *np = inline_calls;
    if (cap) { /* past the inline record: on the heap from now on */
      np = realloc(pending == inline_calls ? NULL : pending, sizeof *np * (size_t)cap * 2);
      if (!np) return group_error = weft_error(comm, weftSystemError, "out of memory recording a group call");
      if (pending == inline_calls) memcpy(np, inline_calls, sizeof inline_calls);
    }
    pending = np;
    cap = cap ? cap * 2 : GROUP_INLINE;
  }
  if (weft_coll_is_v(c->kind)) { /* the caller's counts may be gone by weftGroupEnd */
    size_t len = weft_vcall_len(c->kind, comm->nranks);
    size_t *v = malloc(sizeof *v * len);
    if (!v) return group_error = weft_error(comm, weftSystemError, "out of memory recording a group call");
    memcpy(v, c->vec, sizeof *v * len);
    p.call.vec = v;
  }
  pending[npending++] = p;
  return weftSuccess;
}

/* Validation errors inside a group also fail the group at weftGroupEnd. */
void weft_group_note_error(weftResult_t r) {
  if (depth > 0 && group_error == weftSuccess) group_error = r;
}
