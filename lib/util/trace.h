/* WEFT_TRACE: a per-rank timeline in the Chrome trace event format (JSON
 * array of "X" complete events), which Perfetto (ui.perfetto.dev) and
 * chrome://tracing open. One process per rank (pid = rank), one lane
 * (tid) per activity: the calls, local compute, and each peer's send and
 * receive streams. Timestamps are wall-clock microseconds, so the files of
 * the ranks of one machine line up when merged (weft-perf --trace merges
 * them). Writes are serialized by a mutex; a rank's ops run one at a time
 * anyway. Costs nothing when tracing is off (the executor checks a NULL). */
#ifndef WEFT_TRACE_H
#define WEFT_TRACE_H

#include <stddef.h>

typedef struct weft_trace weft_trace;

/* Lanes: 0 the calls, 1 local compute; a peer's traffic gets the lanes of
 * weft_trace_link_lane. */
enum { WEFT_LANE_CALLS = 0, WEFT_LANE_COMPUTE = 1 };

/* Opens the trace of rank (of nranks) for path: "%r" in path becomes the
 * rank, else ".rank<r>.json" is appended. NULL with why in err on failure.
 * site names the rank's site for the process label (may be NULL). */
weft_trace *weft_trace_open(const char *path, int rank, int nranks, const char *site, char *err, size_t errlen);
/* Ends the JSON array and closes the file (NULL: nothing). */
void weft_trace_close(weft_trace *t);
/* Wall-clock microseconds, the trace's time base. */
double weft_trace_now_us(void);
/* The lane of the traffic with peer on stream k, sending or receiving
 * (named "send to rank 3 [wan] stream 1" on first use); wan marks links
 * between sites. */
int weft_trace_link_lane(weft_trace *t, int peer, int send, int k, int wan);
/* One span: name, category, start and duration in microseconds, args a
 * JSON object's members without braces (may be NULL), e.g. "\"bytes\":4096". */
void weft_trace_span(weft_trace *t, int lane, const char *name, const char *cat, double start_us, double dur_us,
                     const char *args);

#endif
