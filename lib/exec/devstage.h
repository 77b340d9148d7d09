/* Device buffers in an op (docs/devices.md, "data path"). The network and
 * the reductions only ever see host bytes, so an op whose calls name device
 * buffers gets host views of them for the time it runs:
 *  - memory the host addresses as it is (host, pinned) is used in place;
 *  - unified memory of a device that maps (PoCL's CPU device, integrated
 *    GPUs) is mapped: no copy;
 *  - other device memory is staged through the engine's pinned buffer:
 *    copied in before the schedule runs and out after it.
 * The launch records the calls (weft_devstage_add) and, on a stream that
 * wraps a device queue, marks the user's prior work with an event and holds
 * the queue's later work (weft_devstage_mark); the engine builds the
 * schedule on the host views when the op runs (weft_devstage_run) and lets
 * the queue go once the results are in the buffers. An op on a plain weft
 * stream may leave its last device work (copies out, unmaps) unwaited: the
 * engine runs the next op, whose first wait covers it, and completes the op
 * after weft_devstage_settle. Such an op also leaves its mappings in the
 * engine's pool (weft_devstage_pool.kept) instead of unmapping them: the
 * next op of the stream takes those that cover its buffers and maps nothing
 * again, so a run of calls maps each buffer once; the op that ends the run
 * unmaps them in weft_devstage_settle, before it completes. Every wait on
 * the device is bounded by the comm's timeout and ends on abort. */
#ifndef WEFT_EXEC_DEVSTAGE_H
#define WEFT_EXEC_DEVSTAGE_H

#include <stddef.h>

#include "exec/run.h"
#include "util/call.h"
#include "weft.h"

struct weft_dev;
struct weft_op;
struct weft_engine;

/* One call with device buffers. */
typedef struct {
  weft_call call;        /* as tuned, naming the user's buffers */
  size_t in_off, in_len;   /* the part of sendbuf the call reads (0 length: none) */
  size_t out_off, out_len; /* the part of recvbuf it writes */
  size_t in_span, out_span; /* what the call may touch of each (its host view) */
  size_t extent;           /* in place: the part of the one buffer the host view covers */
  int inplace;             /* sendbuf and recvbuf are one buffer */
  int in_host, out_host;   /* the buffer is host memory: used as it is */
  int in_map, out_map;     /* the buffer is unified memory the device maps */
  void *hin, *hout;        /* host views while the op runs */
  void *min, *mout;        /* mappings to undo (map path), or NULL */
  size_t min_bytes, mout_bytes; /* what each mapping covers (from offset 0) */
  int mout_write;          /* mout was mapped for writing (min: for reading only,
                            * unless it was a kept read-write mapping) */
  int min_write;
  int dev_reduce;          /* its reductions run on the device (exec/devreduce.h): staged, never mapped */
} weft_dev_call;

typedef struct {
  struct weft_dev *dev; /* the comm's device; NULL: the op has no device calls */
  weft_dev_call *calls;
  int ncalls, cap;
  struct weft_dev *qdev; /* the device of the user's queue (a wrapped stream), or NULL */
  void *prior;           /* event: the user's work on that queue before the call */
  void *hold;            /* the queue's later work waits for this */
  int may_defer;         /* the engine may finish the op later (weft_devstage_settle) */
  void *tail;            /* event after the op's last device work (copies out,
                          * unmaps) when it was not waited for; WEFT_DEVSTAGE_KEPT
                          * when the op only left its mappings kept; or NULL */
  const char *tail_what;
  int kept;              /* the op left its mappings in the pool (weft_devstage_pool) */
} weft_devstage;

/* ds->tail of an op that queued nothing but left its mappings kept: the
 * engine keeps it pending (finishes it after the next op) all the same. */
extern char weft_devstage_kept_mark;
#define WEFT_DEVSTAGE_KEPT ((void *)&weft_devstage_kept_mark)

/* Records call c (tuned) of rank of n whose buffers belong to dev; checks
 * that each buffer is dev's (weftInvalidArgument otherwise, with err). */
weftResult_t weft_devstage_add(weft_devstage *ds, struct weft_dev *dev, const weft_call *c, int rank, int n,
                               char *err, size_t errlen);
/* On a stream wrapping qdev's queue qstream: marks the user's prior work and
 * holds the queue until the op ends. */
weftResult_t weft_devstage_mark(weft_devstage *ds, struct weft_dev *qdev, void *qstream, char *err, size_t errlen);
/* Runs op (its calls recorded with weft_devstage_add): host views, schedule
 * built on them, run, results back into the buffers, the queue let go. */
weftResult_t weft_devstage_run(struct weft_op *op, char *why, size_t len);
/* Waits for what weft_devstage_run left queued (ds->tail: the copies out
 * or unmaps of an op the engine finishes later, after starting the next
 * op, whose first wait on the same device stream usually covers it). */
weftResult_t weft_devstage_settle(struct weft_op *op, char *why, size_t len);
/* Ends what the op still holds (the queue, events, mappings) and forgets its
 * calls; failed tells a backend the collective failed. */
void weft_devstage_end(weft_devstage *ds, int failed);
void weft_devstage_free(weft_devstage *ds);

/* A mapping an op on a weft stream left in place for the next op of the
 * same stream (docs/devices.md, "data path"): buffer, bytes from offset 0,
 * whether it was mapped for writing, the host view and the backend's handle. */
typedef struct {
  const void *buf;
  size_t bytes;
  int write;
  void *host, *mapping;
} weft_dev_kept;

#define WEFT_DEV_KEPT_MAX 8

/* The engine's device resources (its own device stream, the staging
 * buffer, the kept mappings, the schedule device ops run on), released when
 * the engine stops. */
typedef struct {
  struct weft_dev *dev;
  void *stream;
  void *stage;
  size_t stage_cap;
  int stage_pinned;
  weft_dev_kept kept[WEFT_DEV_KEPT_MAX];
  int nkept;
  const weft_devstage *kept_by; /* the op whose mappings they are */
  /* Every op on device buffers builds its schedule (on its host views) here,
   * not in the op: ops queued on a stream are fresh or pooled ones without
   * scratch (engine.c), so a schedule in the op allocated its scratch anew
   * on every call (an in-place ring's slots: 1 MiB at 4 MiB) and faulted it
   * in during the receives, which took 3-4 ms per call on a 2-core virtual
   * machine (docs/performance.md). One op runs at a time per engine, so one
   * schedule, whose scratch stays from call to call, serves them all. */
  weft_sched sched;
  weft_run_mem mem;
  void *dscratch;               /* device scratch of the device reductions (exec/devreduce.c) */
  size_t dscratch_cap;
} weft_devstage_pool;
void weft_devstage_pool_init(weft_devstage_pool *p);
void weft_devstage_pool_free(weft_devstage_pool *p);

#endif
