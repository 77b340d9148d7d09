/* Link and device mappings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topo/parse.h"

static const char *const link_keys[] = {"bandwidth", "latency", "transport", "codec", "streams", NULL};
static const char *const device_keys[] = {"kind", "vendor", "model", "speed", NULL};

int weft_tp_link_fields(ty_ctx *c, const yaml_node_t *n, int wan, const char *what, weft_link_spec *out) {
  memset(out, 0, sizeof *out);
  if (!wan) {
    static const char *const wan_only[] = {"codec", "streams"};
    for (int i = 0; i < 2; i++) {
      yaml_node_t *k = weft_ty_get_key(c, n, wan_only[i]);
      if (k)
        return weft_ty_fail(c, k, "'%s' applies to WAN links only (wan_link and wan entries), not to %s", wan_only[i],
                       what);
    }
  }
  yaml_node_t *v;
  if ((v = weft_ty_get(c, n, "bandwidth"))) {
    if (weft_ty_bandwidth(c, v, "bandwidth", &out->v.bw)) return -1;
    out->set |= WEFT_LINK_HAS_BW;
  }
  if ((v = weft_ty_get(c, n, "latency"))) {
    if (weft_ty_latency(c, v, "latency", &out->v.lat)) return -1;
    out->set |= WEFT_LINK_HAS_LAT;
  }
  if ((v = weft_ty_get(c, n, "transport"))) {
    if (weft_ty_choice(c, v, "transport", weft_topo_transports, out->v.transport, sizeof out->v.transport)) return -1;
    out->set |= WEFT_LINK_HAS_TRANSPORT;
  }
  if ((v = weft_ty_get(c, n, "codec"))) {
    if (weft_ty_choice(c, v, "codec", weft_topo_codecs, out->v.codec, sizeof out->v.codec)) return -1;
    out->set |= WEFT_LINK_HAS_CODEC;
  }
  if ((v = weft_ty_get(c, n, "streams"))) {
    const char *s = NULL;
    if (weft_ty_scalar(c, v, "streams", &s)) return -1;
    int x = 0;
    if (strcmp(s, "auto")) {
      char *end;
      long l = strtol(s, &end, 10);
      if (end == s || *end || l < 1 || l > 256)
        return weft_ty_fail(c, v, "'streams' must be auto or an integer from 1 to 256, got '%s'", s);
      x = (int)l;
    }
    out->v.streams = x;
    out->set |= WEFT_LINK_HAS_STREAMS;
  }
  return 0;
}

int weft_tp_link(ty_ctx *c, const yaml_node_t *n, int wan, const char *what, weft_link_spec *out) {
  memset(out, 0, sizeof *out);
  if (weft_ty_is_null(n)) return 0;
  if (weft_ty_map(c, n, what, link_keys)) return -1;
  return weft_tp_link_fields(c, n, wan, what, out);
}

int weft_tp_device(ty_ctx *c, const yaml_node_t *n, const char *what, weft_device_spec *out) {
  memset(out, 0, sizeof *out);
  if (weft_ty_is_null(n)) return 0;
  if (weft_ty_map(c, n, what, device_keys)) return -1;
  yaml_node_t *v;
  if ((v = weft_ty_get(c, n, "kind"))) {
    if (weft_ty_choice(c, v, "device kind", weft_topo_kinds, out->v.kind, sizeof out->v.kind)) return -1;
    out->set |= WEFT_DEV_HAS_KIND;
  }
  if ((v = weft_ty_get(c, n, "vendor"))) {
    if (weft_ty_string(c, v, "vendor", out->v.vendor, sizeof out->v.vendor)) return -1;
    out->set |= WEFT_DEV_HAS_VENDOR;
  }
  if ((v = weft_ty_get(c, n, "model"))) {
    if (weft_ty_string(c, v, "model", out->v.model, sizeof out->v.model)) return -1;
    out->set |= WEFT_DEV_HAS_MODEL;
  }
  if ((v = weft_ty_get(c, n, "speed"))) {
    if (weft_ty_positive(c, v, "speed", &out->v.speed)) return -1;
    out->set |= WEFT_DEV_HAS_SPEED;
  }
  return 0;
}
