/* A cheap counter for the short spans that weftCommGetStats adds up on every
 * call (time in calls, in local steps, in codecs). clock_gettime costs
 * 25-100 ns in a VM whose clock source is kvm-clock, twice per call: as much
 * as an 8-byte send/receive through the node segment itself. The CPU's
 * time-stamp counter costs about 10 ns; it is used where the kernel says it
 * is invariant (x86-64 with constant_tsc and nonstop_tsc: the same rate on
 * every core, in every power state), else the ticks are CLOCK_MONOTONIC
 * nanoseconds. Ticks become nanoseconds when read, at the rate measured
 * from the first use to then. Deadlines and waits use util/clock.h. */
#ifndef WEFT_TICKS_H
#define WEFT_TICKS_H

#include <stdint.h>

/* Now, in ticks. */
uint64_t weft_ticks(void);
/* A span of ticks in nanoseconds. */
double weft_ticks_ns(uint64_t ticks);

#endif
