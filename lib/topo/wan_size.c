#include "topo/wan_size.h"

int weft_wan_streams(double bw, double lat, int win, int given) {
  if (given > 0) return given;
  if (!(bw > 0) || !(lat > 0)) return 1;
  double bdp = bw * 2 * lat; /* bytes in flight over one round trip */
  double s = bdp / (win > 0 ? win : 1) + 1;
  return s >= WEFT_WAN_STREAMS_AUTO_MAX ? WEFT_WAN_STREAMS_AUTO_MAX : (int)s;
}

int weft_wan_warm_ms(double rtt, int cap_ms) {
  if (cap_ms <= 0 || !(rtt >= WEFT_WAN_WARM_MIN_RTT)) return 0;
  double ms = rtt * 1e3 * WEFT_WAN_WARM_RTTS;
  return ms >= cap_ms ? cap_ms : (int)(ms + 0.5);
}
