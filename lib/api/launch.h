/* Turning validated user calls into ops: immediately, or at the end of a
 * group. */
#ifndef WEFT_LAUNCH_CALLS_H
#define WEFT_LAUNCH_CALLS_H

#include "coll/coll.h"
#include "weft.h"

typedef struct {
  weftComm_t comm;
  weft_call call;
  weftStream_t stream;
} weft_pending;

/* Inside a group: records the call and returns weftSuccess. Otherwise runs it. */
weftResult_t weft_submit(weftComm_t comm, const weft_call *c, weftStream_t stream);
/* Builds one op per communicator from calls (in order) and runs them. */
weftResult_t weft_launch(weft_pending *calls, int ncalls);

/* Records a failed call made inside a group so that weftGroupEnd fails too. */
void weft_group_note_error(weftResult_t r);

#endif
