/* Value types of the topology layer: links, devices, the partial
 * specifications a topology file gives for them, and the sets of names a
 * file may use (transports, codecs, device kinds, collectives, algorithms). */
#ifndef WEFT_TOPO_TYPES_H
#define WEFT_TOPO_TYPES_H

#include <stddef.h>

/* A link between two ranks. */
typedef struct {
  double bw;          /* bytes per second, > 0 */
  double lat;         /* seconds, one way, >= 0 */
  char transport[16]; /* auto|shm|tcp|ucx|ofi (self for a rank to itself) */
  char codec[16];     /* none|fp16|bf16|int8|topk|zstd|auto; "none" off the WAN */
  int streams;        /* parallel streams; 0 = auto; 1 off the WAN */
} weft_link;

typedef enum { WEFT_LINK_SELF = 0, WEFT_LINK_NODE, WEFT_LINK_SITE, WEFT_LINK_WAN } weft_topo_link_class;

/* The device a rank drives. */
typedef struct {
  char kind[16];   /* host|cuda|rocm|opencl|ascend */
  char vendor[32]; /* free text, e.g. nvidia */
  char model[32];  /* free text, may be empty */
  double speed;    /* relative compute speed, > 0 (1.0 = reference) */
} weft_device;

/* Partial link/device as written in a file: only the fields whose bit is
 * set in `set` were given. */
enum {
  WEFT_LINK_HAS_BW = 1u,
  WEFT_LINK_HAS_LAT = 2u,
  WEFT_LINK_HAS_TRANSPORT = 4u,
  WEFT_LINK_HAS_CODEC = 8u,
  WEFT_LINK_HAS_STREAMS = 16u,
};
enum {
  WEFT_DEV_HAS_KIND = 1u,
  WEFT_DEV_HAS_VENDOR = 2u,
  WEFT_DEV_HAS_MODEL = 4u,
  WEFT_DEV_HAS_SPEED = 8u,
};
typedef struct {
  weft_link v;
  unsigned set;
} weft_link_spec;
typedef struct {
  weft_device v;
  unsigned set;
} weft_device_spec;

/* Overwrites the fields of dst that s sets. */
void weft_link_apply(weft_link *dst, const weft_link_spec *s);
/* Device precedence: a spec that sets `kind` replaces the whole device
 * (fields it does not set come from base_default); one without `kind`
 * refines dst field by field. */
void weft_device_apply(weft_device *dst, const weft_device_spec *s, const weft_device *base_default);

int weft_link_equal(const weft_link *a, const weft_link *b);
int weft_device_equal(const weft_device *a, const weft_device *b);
const char *weft_topo_link_class_name(weft_topo_link_class c); /* "self", "node", "site", "wan" */

/* Values used when a file (or its defaults section) does not give them. */
typedef struct {
  weft_link node_link; /* 20GB/s, 0.5us, shm */
  weft_link site_link; /* 100Gbit/s, 5us, tcp */
  weft_link wan_link;  /* 10Gbit/s, 10ms, tcp, codec none, streams auto */
  weft_device device;  /* host, generic, "", 1.0 */
} weft_topo_defaults;
void weft_topo_builtin_defaults(weft_topo_defaults *d);

/* NULL-terminated name sets. */
extern const char *const weft_topo_transports[];
extern const char *const weft_topo_codecs[];
extern const char *const weft_topo_kinds[];
extern const char *const weft_topo_colls[]; /* includes "all" */
/* 1 when name is in set. */
int weft_name_in(const char *name, const char *const *set);
/* "a, b, c or d" into buf. */
void weft_name_list(const char *const *set, char *buf, size_t len);

#endif
