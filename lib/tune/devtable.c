#include "tune/devtable.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reduce/reduce.h"
#include "util/clock.h"

#define DEFAULT_COPY_GBPS 10.0     /* a staging rank whose copy speed is unknown */
#define PIECE_OVERHEAD_S 30e-6     /* per piece: a device event round trip, a schedule start */
#define MIN_PIECE_BYTES (256 << 10) /* smaller pieces cost more than they overlap */
#define MAX_GBPS 1e6               /* anything above is not a measurement */

const char *weft_dev_kind_name(int kind) {
  switch (kind) {
    case WEFT_DEVK_HOST: return "host";
    case WEFT_DEVK_UNIFIED: return "unified";
    case WEFT_DEVK_DISCRETE: return "discrete";
  }
  return "?";
}

static void put32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char *p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
  return v;
}

/* GB/s travel as MB/s in 32 bits. */
static uint32_t to_mbps(double gbps) {
  return !(gbps > 0) ? 0 : gbps >= MAX_GBPS ? (uint32_t)(MAX_GBPS * 1000) : (uint32_t)lround(gbps * 1000);
}

void weft_dev_entry_pack(const weft_dev_entry *e, unsigned char *wire) {
  memset(wire, 0, WEFT_DEV_WIRE_BYTES);
  memcpy(wire, e->backend, strnlen(e->backend, WEFT_DEV_BACKEND_LEN - 1));
  wire[16] = (unsigned char)e->kind;
  put32(wire + 20, to_mbps(e->copy_gbps));
  put32(wire + 24, to_mbps(e->reduce_gbps));
}

static int name_ok(const char *s) {
  if (!s[0]) return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
          *s == '-'))
      return 0;
  return 1;
}

int weft_dev_entry_unpack(const unsigned char *wire, weft_dev_entry *e, char *why, size_t len) {
  memset(e, 0, sizeof *e);
  if (memchr(wire, 0, WEFT_DEV_BACKEND_LEN) == NULL) {
    snprintf(why, len, "device backend name is not terminated");
    return -1;
  }
  memcpy(e->backend, wire, WEFT_DEV_BACKEND_LEN);
  if (!name_ok(e->backend)) {
    snprintf(why, len, "device backend name has other characters than letters, digits, '_' and '-'");
    return -1;
  }
  e->kind = wire[16];
  if (e->kind > WEFT_DEVK_DISCRETE) {
    snprintf(why, len, "device kind %d is none of host, unified, discrete", e->kind);
    return -1;
  }
  uint32_t copy = get32(wire + 20), red = get32(wire + 24);
  if (copy > MAX_GBPS * 1000 || red > MAX_GBPS * 1000) {
    snprintf(why, len, "device bandwidth above %g GB/s", MAX_GBPS);
    return -1;
  }
  e->copy_gbps = copy / 1000.0;
  e->reduce_gbps = red / 1000.0;
  return 0;
}

int weft_dev_entry_parse(const char *s, weft_dev_entry *e) {
  memset(e, 0, sizeof *e);
  char buf[96];
  if (strlen(s) >= sizeof buf) return -1;
  snprintf(buf, sizeof buf, "%s", s);
  char *kind = strchr(buf, ':');
  if (kind) *kind++ = 0;
  if (strlen(buf) >= WEFT_DEV_BACKEND_LEN || !name_ok(buf)) return -1;
  snprintf(e->backend, sizeof e->backend, "%s", buf);
  if (!kind) {
    e->kind = strcmp(buf, "host") == 0 ? WEFT_DEVK_HOST : WEFT_DEVK_DISCRETE;
    return 0;
  }
  char *copy = strchr(kind, ':'), *red = NULL;
  if (copy) *copy++ = 0;
  if (copy && (red = strchr(copy, ':'))) *red++ = 0;
  e->kind = -1;
  for (int k = WEFT_DEVK_HOST; k <= WEFT_DEVK_DISCRETE; k++)
    if (strcmp(kind, weft_dev_kind_name(k)) == 0) e->kind = k;
  char *end;
  if (copy) {
    e->copy_gbps = strtod(copy, &end);
    if (*end || !(e->copy_gbps >= 0) || e->copy_gbps > MAX_GBPS) return -1;
  }
  if (red) {
    e->reduce_gbps = strtod(red, &end);
    if (*end || !(e->reduce_gbps >= 0) || e->reduce_gbps > MAX_GBPS) return -1;
  }
  return e->kind < 0 ? -1 : 0;
}

int weft_devtable_stagers(const weft_devtable *t, double *slowest) {
  int n = 0;
  double low = 0;
  for (int r = 0; t->e && r < t->n; r++) {
    if (t->e[r].kind != WEFT_DEVK_DISCRETE) continue;
    double g = t->e[r].copy_gbps > 0 ? t->e[r].copy_gbps : DEFAULT_COPY_GBPS;
    if (n++ == 0 || g < low) low = g;
  }
  if (slowest) *slowest = low;
  return n;
}

/* Predicted time of a staged call in p pieces: unsplit, the copy in, the
 * network and the copy out one after the other; split, the first piece's
 * copy in and the last one's copy out stick out, and in between each piece
 * costs the longer of its network time and the next piece's copy, plus the
 * fixed cost of a piece. */
static double staged_time(int p, double copy_s, size_t bytes, weft_net_time_fn net, const void *user) {
  double c = copy_s / p, m = net(user, bytes / (size_t)p);
  if (p == 1) return 2 * copy_s + m + PIECE_OVERHEAD_S;
  return 2 * c + p * ((m > c ? m : c) + PIECE_OVERHEAD_S);
}

int weft_devtable_pieces(const weft_devtable *t, weft_coll_kind kind, size_t bytes, weft_net_time_fn net,
                         const void *user, double *t1, double *tp) {
  double gbps = 0;
  int best = 1;
  if (t1) *t1 = 0;
  if (tp) *tp = 0;
  if (weft_devtable_stagers(t, &gbps) == 0) return 1;
  if (kind != COLL_ALLREDUCE && kind != COLL_BROADCAST && kind != COLL_REDUCE) return 1;
  double copy_s = bytes / (gbps * 1e9);
  double base = staged_time(1, copy_s, bytes, net, user), bt = base;
  for (int p = 2; p <= WEFT_DEV_MAX_PIECES && bytes / (size_t)p >= MIN_PIECE_BYTES; p *= 2) {
    double x = staged_time(p, copy_s, bytes, net, user);
    if (x < bt) bt = x, best = p;
  }
  if (t1) *t1 = base;
  if (tp) *tp = bt;
  return best;
}

/* Throughput of e's reduce kernel with its copies paid (a discrete device
 * copies each reduced byte in and out), GB/s; 0: no kernel of known speed. */
static double device_reduce_gbps(const weft_dev_entry *e) {
  if (e->kind == WEFT_DEVK_HOST || e->reduce_gbps <= 0) return 0;
  double per_byte = 1 / e->reduce_gbps;
  if (e->kind == WEFT_DEVK_DISCRETE) per_byte += 2 / (e->copy_gbps > 0 ? e->copy_gbps : DEFAULT_COPY_GBPS);
  return 1 / per_byte;
}

static double host_gbps(const weft_devtable *t) { return t->host_reduce_gbps > 0 ? t->host_reduce_gbps : 1; }

int weft_devtable_rank_reduces(const weft_devtable *t, int rank) {
  return t->e && rank >= 0 && rank < t->n && device_reduce_gbps(&t->e[rank]) > host_gbps(t);
}

int weft_devtable_reduce_on_device(const weft_devtable *t, char *why, size_t len) {
  double host = host_gbps(t);
  int any = 0;
  for (int r = 0; t->e && r < t->n; r++) {
    const weft_dev_entry *e = &t->e[r];
    any |= e->kind != WEFT_DEVK_HOST;
    if (weft_devtable_rank_reduces(t, r)) {
      snprintf(why, len, "rank %d's %s kernel (%.1f GB/s with its copies) beats the host kernels (%.1f GB/s)", r,
               e->backend, device_reduce_gbps(e), host);
      return 1;
    }
  }
  if (!any) snprintf(why, len, "host kernels: every rank on host memory");
  else
    snprintf(why, len,
             "host kernels (%.1f GB/s): no device has a reduce kernel of known speed that beats them once its "
             "copies are paid",
             host);
  return 0;
}

void weft_devtable_describe(const weft_devtable *t, char *buf, size_t len) {
  size_t at = 0;
  buf[0] = 0;
  for (int r = 0; r < t->n && at < len; r++) {
    const weft_dev_entry *e = t->e ? &t->e[r] : NULL;
    int w;
    if (!e || e->kind == WEFT_DEVK_HOST)
      w = snprintf(buf + at, len - at, "%srank %d %s", r ? ", " : "", r, e ? e->backend : "host");
    else if (e->reduce_gbps > 0)
      w = snprintf(buf + at, len - at, "%srank %d %s %s copy %.1f GB/s, reduce kernel %.1f GB/s", r ? ", " : "", r,
                   e->backend, weft_dev_kind_name(e->kind), e->copy_gbps, e->reduce_gbps);
    else
      w = snprintf(buf + at, len - at, "%srank %d %s %s copy %.1f GB/s", r ? ", " : "", r, e->backend,
                   weft_dev_kind_name(e->kind), e->copy_gbps);
    if (w < 0) break;
    at += (size_t)w;
  }
}

double weft_devtable_measure_host_reduce(void) {
  enum { N = 64 << 10 }; /* floats: 256 KiB per operand */
  float *a = malloc(3 * N * sizeof *a);
  if (!a) return 0;
  for (size_t i = 0; i < 3 * (size_t)N; i++) a[i] = (float)(i & 1023);
  weft_reduce(a + 2 * N, a, a + N, N, weftFloat32, weftSum); /* warm */
  double t0 = weft_now_us();
  for (int k = 0; k < 4; k++) weft_reduce(a + 2 * N, a, a + N, N, weftFloat32, weftSum);
  double us = weft_now_us() - t0;
  free(a);
  return us > 0 ? 4.0 * N * sizeof(float) / (us * 1e3) : 0;
}
