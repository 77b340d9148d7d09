#include <stdio.h>

#include "common/netobj.h"

void weft_net_obj_verr(void *obj, const char *fmt, va_list ap) {
  vsnprintf(((weft_net_obj *)obj)->err, WEFT_NET_ERRLEN, fmt, ap);
}

void weft_net_obj_err(void *obj, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  weft_net_obj_verr(obj, fmt, ap);
  va_end(ap);
}

const char *weft_net_last_error(void *obj) { return obj ? ((weft_net_obj *)obj)->err : ""; }
