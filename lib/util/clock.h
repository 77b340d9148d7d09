/* The monotonic clock every deadline and timing in weft is read from. */
#ifndef WEFT_CLOCK_H
#define WEFT_CLOCK_H

/* Milliseconds and microseconds on a monotonic clock. */
long long weft_now_ms(void);
double weft_now_us(void);
/* Nanoseconds on the same clock (for counters that add up short spans). */
long long weft_now_ns(void);

#endif
