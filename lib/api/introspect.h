/* Internal introspection hooks for tools (weft-perf) and tests. Not part of
 * the public API. */
#ifndef WEFT_INTROSPECT_H
#define WEFT_INTROSPECT_H

#include "weft.h"

/* Algorithm and transport chosen for the last collective launched on comm,
 * e.g. "ring/tcp". Never NULL ("" before the first collective, or for an
 * invalid comm). Valid until the next collective on comm. */
const char *weft_debug_last_algo(weftComm_t comm);

/* The device comm's buffers belong to (device/device.h), or NULL for an
 * invalid comm: weft-perf and tests allocate and fill device buffers with
 * it. */
struct weft_dev *weft_debug_comm_device(weftComm_t comm);

/* Reduce steps comm's ops ran with its device's kernels (exec/devreduce.c;
 * WEFT_DEVICE_REDUCE); 0 for an invalid comm. Tests check that the device
 * path ran. */
unsigned long long weft_debug_device_reduces(weftComm_t comm);

#endif
