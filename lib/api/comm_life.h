/* Starting and freeing a communicator with every layer it uses (init and
 * split share them). */
#ifndef WEFT_API_COMM_LIFE_H
#define WEFT_API_COMM_LIFE_H

#include "weft.h"

struct weftComm;

/* Builds the layout and tuning, connects, sets up the node segment, starts
 * the progress thread: the comm is usable after this. */
weftResult_t weft_comm_start(struct weftComm *c);
/* Stops the engine (draining queued ops), then frees everything. */
void weft_comm_free(struct weftComm *c);

#endif
