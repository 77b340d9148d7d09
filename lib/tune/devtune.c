/* The tuner's side of the device table: its copy at init, the pieces of a
 * staged call (weft_tune), and the log lines that show them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tune/tune.h"
#include "util/param.h"

#define FALLBACK_NET_GBPS 5.0 /* a piece's network time where the model has no formula */

typedef struct {
  const weft_tuner *t;
  weft_coll_kind kind;
  weft_algo algo;
} net_ctx;

static double net_time(const void *user, size_t bytes) {
  const net_ctx *x = user;
  weft_cost c;
  if (weft_cost_predict(&x->t->model, x->kind, x->algo, bytes, &c) == 0) return c.time;
  return 20e-6 + bytes / (FALLBACK_NET_GBPS * 1e9);
}

weft_devred_mode weft_tune_device_reduce_mode(void) {
  static const char *const names[] = {"auto", "on", "off"};
  return (weft_devred_mode)weft_env_choice("WEFT_DEVICE_REDUCE", names, 3, WEFT_DEVRED_AUTO);
}

int weft_tune_devices_init(weft_tuner *t, const weft_tune_inputs *in) {
  t->dev_pieces = (int)weft_env_int("WEFT_DEVICE_PIECES", 0, 0, WEFT_DEV_MAX_PIECES);
  t->dev.n = in->nranks;
  t->dev.e = NULL;
  t->dev_reduce = 0;
  if (!in->devs) return 0;
  int any = 0;
  for (int r = 0; r < in->nranks; r++) any |= in->devs[r].kind != WEFT_DEVK_HOST;
  if (!any) return 0; /* all host: nothing to decide */
  t->dev.e = malloc((size_t)in->nranks * sizeof *t->dev.e);
  if (!t->dev.e) return -1;
  memcpy(t->dev.e, in->devs, (size_t)in->nranks * sizeof *t->dev.e);
  t->dev.host_reduce_gbps = weft_devtable_measure_host_reduce();
  weft_devred_mode mode = weft_tune_device_reduce_mode();
  int own = in->devs[in->rank].kind != WEFT_DEVK_HOST;
  t->dev_reduce = own && (mode == WEFT_DEVRED_ON || (mode == WEFT_DEVRED_AUTO && weft_devtable_rank_reduces(&t->dev, in->rank)));
  t->dev_mode = (int)mode;
  weft_tune_log_devices(t, in->log);
  return 0;
}

int weft_tune_pieces(const weft_tuner *t, const weft_call *c) {
  if (!t->dev.e || (c->kind != COLL_ALLREDUCE && c->kind != COLL_BROADCAST && c->kind != COLL_REDUCE) ||
      c->algo == ALGO_SLOTS || weft_devtable_stagers(&t->dev, NULL) == 0)
    return 1;
  size_t bytes = c->count * weft_dtype_size(c->dt);
  int p;
  if (t->dev_pieces) {
    p = t->dev_pieces;
  } else {
    net_ctx x = {t, c->kind, c->algo};
    p = weft_devtable_pieces(&t->dev, c->kind, bytes, net_time, &x, NULL, NULL);
  }
  return (size_t)p > c->count ? (c->count ? (int)c->count : 1) : p;
}

void weft_tune_log_devices(const weft_tuner *t, weft_log_sink *log) {
  char buf[1024];
  weft_devtable_describe(&t->dev, buf, sizeof buf);
  weft_log_to(log, weftLogInfo, "devices: %s", buf);
  double gbps = 0;
  int stagers = weft_devtable_stagers(&t->dev, &gbps);
  if (!stagers) {
    weft_log_to(log, weftLogInfo, "device staging: no rank stages (host or mapped memory): calls are not split");
  } else if (t->dev_pieces) {
    weft_log_to(log, weftLogInfo, "device staging: %d rank(s) stage; WEFT_DEVICE_PIECES splits allreduce, "
                                  "broadcast and reduce into %d pieces", stagers, t->dev_pieces);
  } else {
    char line[512];
    int at = snprintf(line, sizeof line, "device staging: %d rank(s) stage, slowest copy %.1f GB/s; allreduce pieces",
                      stagers, gbps);
    for (size_t b = 1 << 20; b <= (size_t)1 << 28 && at > 0 && (size_t)at < sizeof line; b <<= 2) {
      net_ctx x = {t, COLL_ALLREDUCE, ALGO_RING};
      double t1, tp;
      int p = weft_devtable_pieces(&t->dev, COLL_ALLREDUCE, b, net_time, &x, &t1, &tp);
      at += snprintf(line + at, sizeof line - (size_t)at, " %zu MiB: %d (%.2f -> %.2f ms)", b >> 20, p, t1 * 1e3,
                     tp * 1e3);
    }
    weft_log_to(log, weftLogInfo, "%s", line);
  }
  weft_devtable_reduce_on_device(&t->dev, buf, sizeof buf);
  static const char *const mode[] = {"auto", "on", "off"};
  weft_log_to(log, weftLogInfo, "device reduce: %s; this rank (WEFT_DEVICE_REDUCE=%s): %s", buf, mode[t->dev_mode],
              t->dev_reduce ? "its device's kernels where its buffers are staged" : "host kernels");
}
