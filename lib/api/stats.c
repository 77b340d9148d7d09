/* weftCommGetStats: a snapshot of a communicator's counters (kept by the
 * executor, comm/exec_view.h). */
#include <string.h>

#include "coll/algo.h"
#include "comm/comm.h"
#include "comm/comm_log.h"
#include "util/ticks.h"

_Static_assert(WEFT_STATS_ALGOS == sizeof(((weftCommStats_t *)0)->callsByAlgo) / sizeof(uint64_t),
               "the public and the internal number of algorithm counters differ");
_Static_assert(WEFT_LINK_CLASSES == WEFT_STATS_LINK_CLASSES, "link classes differ");

static uint64_t get(_Atomic uint64_t *x) { return atomic_load_explicit(x, memory_order_relaxed); }

WEFT_API weftResult_t weftCommGetStats(const weftComm_t comm, weftCommStats_t *stats, size_t size) {
  weftResult_t r = weft_comm_check(comm);
  if (r != weftSuccess) return r;
  if (!stats || size == 0 || size > sizeof(weftCommStats_t))
    return weft_error(comm, weftInvalidArgument, "weftCommGetStats: stats is NULL or size %zu is not in 1..%zu",
                      size, sizeof(weftCommStats_t));
  weft_comm_stats *x = &comm->stats;
  weftCommStats_t s;
  memset(&s, 0, sizeof s);
  s.calls = get(&x->calls);
  s.failedCalls = get(&x->failed);
  for (int i = 0; i < WEFT_STATS_ALGOS; i++) s.callsByAlgo[i] = get(&x->by_algo[i]);
  for (int k = 0; k < WEFT_LINK_CLASSES; k++) {
    s.bytesSent[k] = get(&x->sent[k]);
    s.bytesReceived[k] = get(&x->received[k]);
    s.messagesSent[k] = get(&x->messages[k]);
  }
  s.codecBytesIn = get(&x->codec_in);
  s.codecBytesOut = get(&x->codec_out);
  s.callSeconds = weft_ticks_ns(get(&x->call_ticks)) * 1e-9;
  s.computeSeconds = weft_ticks_ns(get(&x->compute_ticks)) * 1e-9;
  s.codecSeconds = weft_ticks_ns(get(&x->codec_ticks)) * 1e-9;
  s.scratchBytes = get(&x->scratch);
  memcpy(stats, &s, size);
  return weftSuccess;
}

WEFT_API const char *weftAlgoName(int i) {
  if (i <= ALGO_NONE || i >= WEFT_STATS_ALGOS) return NULL;
  const weft_algo_info *e = weft_algo_info_of((weft_algo)i);
  return e ? e->name : NULL;
}
