/* How a WAN link is driven: how many parallel streams it needs, and how long
 * a fresh connection is warmed before the first call (comm/warm.c). Pure
 * arithmetic on what the topology and the hosts say, so that both ends of a
 * link compute the same answer and the unit tests can pin it down. */
#ifndef WEFT_TOPO_WAN_SIZE_H
#define WEFT_TOPO_WAN_SIZE_H

#define WEFT_WAN_STREAMS_AUTO_MAX 16 /* most streams the bandwidth-delay rule opens */
#define WEFT_WAN_WARM_RTTS 12        /* round trips a warm-up lasts: TCP's ramp to a full window */
#define WEFT_WAN_WARM_MIN_RTT 5e-3   /* below this RTT (LAN, metro, loopback) the ramp costs little */

/* Streams per direction for a link of bw bytes/s and one-way latency lat s,
 * given `given` (WEFT_WAN_STREAMS or the link's `streams`, 0: auto) and win,
 * the usable window of one stream in bytes (<= 0: unknown, taken as 1 byte):
 * given when > 0, else enough streams that the bandwidth-delay product fits
 * in their windows, 1 to WEFT_WAN_STREAMS_AUTO_MAX. */
int weft_wan_streams(double bw, double lat, int win, int given);

/* Milliseconds to warm a link whose measured round trip is rtt seconds:
 * WEFT_WAN_WARM_RTTS round trips, at most cap_ms; 0 below
 * WEFT_WAN_WARM_MIN_RTT or when cap_ms <= 0. */
int weft_wan_warm_ms(double rtt, int cap_ms);

#endif
