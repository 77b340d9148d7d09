#include "topo/types.h"

#include <stdio.h>
#include <string.h>

const char *const weft_topo_transports[] = {"auto", "shm", "tcp", "ucx", "ofi", NULL};
const char *const weft_topo_codecs[] = {"none", "fp16", "bf16", "int8", "topk", "zstd", "auto", NULL};
const char *const weft_topo_kinds[] = {"host", "cuda", "rocm", "opencl", "ascend", NULL};
const char *const weft_topo_colls[] = {"allreduce", "allgather", "reducescatter", "broadcast",
                                       "reduce",    "alltoall",  "all",           NULL};

static void copy_str(char *dst, size_t cap, const char *src) { snprintf(dst, cap, "%s", src); }

void weft_link_apply(weft_link *dst, const weft_link_spec *s) {
  if (!s) return;
  if (s->set & WEFT_LINK_HAS_BW) dst->bw = s->v.bw;
  if (s->set & WEFT_LINK_HAS_LAT) dst->lat = s->v.lat;
  if (s->set & WEFT_LINK_HAS_TRANSPORT) copy_str(dst->transport, sizeof dst->transport, s->v.transport);
  if (s->set & WEFT_LINK_HAS_CODEC) copy_str(dst->codec, sizeof dst->codec, s->v.codec);
  if (s->set & WEFT_LINK_HAS_STREAMS) dst->streams = s->v.streams;
}

void weft_device_apply(weft_device *dst, const weft_device_spec *s, const weft_device *base_default) {
  if (!s) return;
  if (s->set & WEFT_DEV_HAS_KIND) {
    *dst = *base_default;
    copy_str(dst->kind, sizeof dst->kind, s->v.kind);
  }
  if (s->set & WEFT_DEV_HAS_VENDOR) copy_str(dst->vendor, sizeof dst->vendor, s->v.vendor);
  if (s->set & WEFT_DEV_HAS_MODEL) copy_str(dst->model, sizeof dst->model, s->v.model);
  if (s->set & WEFT_DEV_HAS_SPEED) dst->speed = s->v.speed;
}

int weft_link_equal(const weft_link *a, const weft_link *b) {
  return a->bw == b->bw && a->lat == b->lat && !strcmp(a->transport, b->transport) &&
         !strcmp(a->codec, b->codec) && a->streams == b->streams;
}

int weft_device_equal(const weft_device *a, const weft_device *b) {
  return !strcmp(a->kind, b->kind) && !strcmp(a->vendor, b->vendor) && !strcmp(a->model, b->model) &&
         a->speed == b->speed;
}

const char *weft_topo_link_class_name(weft_topo_link_class c) {
  switch (c) {
    case WEFT_LINK_SELF: return "self";
    case WEFT_LINK_NODE: return "node";
    case WEFT_LINK_SITE: return "site";
    case WEFT_LINK_WAN: return "wan";
  }
  return "?";
}

static weft_link mk_link(double bw, double lat, const char *transport, int streams) {
  weft_link l;
  memset(&l, 0, sizeof l);
  l.bw = bw;
  l.lat = lat;
  copy_str(l.transport, sizeof l.transport, transport);
  copy_str(l.codec, sizeof l.codec, "none");
  l.streams = streams;
  return l;
}

void weft_topo_builtin_defaults(weft_topo_defaults *d) {
  memset(d, 0, sizeof *d);
  d->node_link = mk_link(20e9, 0.5e-6, "shm", 1);
  d->site_link = mk_link(100e9 / 8, 5e-6, "tcp", 1);
  d->wan_link = mk_link(10e9 / 8, 10e-3, "tcp", 0);
  copy_str(d->device.kind, sizeof d->device.kind, "host");
  copy_str(d->device.vendor, sizeof d->device.vendor, "generic");
  d->device.speed = 1.0;
}

int weft_name_in(const char *name, const char *const *set) {
  for (; *set; set++)
    if (!strcmp(name, *set)) return 1;
  return 0;
}

void weft_name_list(const char *const *set, char *buf, size_t len) {
  size_t n = 0, used = 0;
  while (set[n]) n++;
  buf[0] = '\0';
  for (size_t i = 0; i < n && used < len; i++) {
    const char *sep = i == 0 ? "" : (i + 1 == n ? " or " : ", ");
    int w = snprintf(buf + used, len - used, "%s%s", sep, set[i]);
    if (w < 0) break;
    used += (size_t)w;
  }
}
