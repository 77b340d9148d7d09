/* Reductions of staged device buffers on the device (docs/devices.md,
 * "Reductions"). A call the tuner marks (weft_call.dev_reduce: this rank's
 * backend has reduce kernels and WEFT_DEVICE_REDUCE, or the device table,
 * says they win) is staged, never mapped, so its buffers may be used by a
 * kernel; its schedule still runs on the host views, and each reduce step of
 * it becomes, on the engine's device stream: the operands the device does
 * not hold copied in, the backend's reduce kernel, the result copied out to
 * the host view, one wait. The host views thus always hold what the host
 * path would hold (sends, copies and the final copy out read them as
 * before); the device buffers are a cache of them:
 *  - a part of a view whose device bytes are known equal to the host's (the
 *    parts copied in at the start, the results of earlier kernels) is read
 *    where it is: the local operand stays on the device;
 *  - the results go into the call's own buffer where the call writes it
 *    (recvbuf's result part), else into device scratch;
 *  - anything else (a received chunk, a part the host wrote since) is
 *    copied in first, into the view's own place where the call writes it,
 *    else into scratch.
 * The executor tells which parts the host writes (weft_run_hook.wrote), so
 * that no kernel reads a stale part. Ops with a mapped buffer, and dtypes
 * the backend refuses (its count-0 probe), keep the host kernels. */
#ifndef WEFT_EXEC_DEVREDUCE_H
#define WEFT_EXEC_DEVREDUCE_H

#include <stddef.h>

#include "exec/devstage.h"
#include "weft.h"

struct weft_op;
struct weft_dev;

/* Runs op's schedule s with its bookkeeping m (built on its calls' host
 * views, in the engine's device pool), its reduce steps on the device where
 * a call asks for it (weft_call.dev_reduce), else as weft_run_sched does. */
weftResult_t weft_devreduce_run(struct weft_op *op, weft_sched *s, weft_run_mem *m, char *why, size_t len);
/* Whether call c (tuned) on dev's buffers reduces on dev: it is then
 * staged, not mapped (weft_devstage_add). */
int weft_devreduce_eligible(const struct weft_dev *dev, const weft_call *c);
/* Frees the pool's device scratch (before its stream goes). */
void weft_devreduce_pool_free(weft_devstage_pool *p);

#endif
