/* Host streams: in-order completion tickets shared across communicators.
 * A stream made by weftStreamFromNative also wraps a device's native queue
 * (dev, dev_stream): the data path orders its device work with it. */
#ifndef WEFT_STREAM_H
#define WEFT_STREAM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "weft.h"

struct weft_dev;

#define WEFT_STREAM_MAGIC 0x7765667453747265ULL

struct weftStream {
  uint64_t magic;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  uint64_t enqueued, completed;
  int turn_waiters, sync_waiters; /* threads blocked in wait_turn / Synchronize */
  weftResult_t error; /* first error of any op on the stream */
  char errmsg[512];
  int timeout_ms;     /* longest timeout of the comms that used the stream */
  struct weft_dev *dev; /* a reference to the device whose queue it wraps, or NULL */
  void *dev_stream;        /* the backend's streamWrap of the native queue */
};

/* A weft stream wrapping native, a queue of dev (weftStreamFromNative): takes
 * a reference to dev, asks the backend to wrap the queue. On failure err
 * says why (with the backend's lastError) and nothing is kept. */
weftResult_t weft_stream_wrap_device(struct weft_dev *dev, void *native, weftStream_t *out, char *err,
                                     size_t errlen);

/* Takes the next ticket for an op of a comm with the given timeout. */
uint64_t weft_stream_enqueue(weftStream_t s, int timeout_ms);
/* weft_stream_enqueue that also says whether every earlier ticket has
 * completed (*turn: the op may start now), decided under the same lock. */
uint64_t weft_stream_enqueue_turn(weftStream_t s, int timeout_ms, int *turn);
/* Blocks until every op before `ticket` completed; gives up after timeout_ms
 * without any completion or when *aborted becomes set. */
weftResult_t weft_stream_wait_turn(weftStream_t s, uint64_t ticket, int timeout_ms, const atomic_int *aborted);
void weft_stream_complete(weftStream_t s, weftResult_t res, const char *msg);

#endif
