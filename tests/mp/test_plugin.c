/*
 * Transport plugins loaded with WEFT_NET_PLUGIN (one scenario per run, since
 * the plugin is loaded once per process):
 *   loaded PLUGIN NAME   3 ranks with WEFT_NET_PLUGIN=PLUGIN, WEFT_NET=NAME:
 *                        the INFO log names the plugin as the transport in
 *                        use and an allreduce is exact.
 *   refused PLUGIN TEXT  init fails with weftInvalidUsage, a message that
 *                        contains TEXT, and no comm.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "launch_fork.h"
#include "time_scale.h"
#include "weft.h"

typedef struct {
  const char *plugin, *name, *text;
} scenario;

static int saw_plugin;
static const char *wanted_plugin;

static void log_cb(weftLogLevel_t level, const char *msg, void *user) {
  (void)user;
  (void)level;
  if (strstr(msg, "from plugin") && strstr(msg, wanted_plugin)) saw_plugin = 1;
}

static int loaded_rank(int rank, int n, const weftUniqueId *id, void *arg) {
  const scenario *s = arg;
  wanted_plugin = s->plugin;
  weftConfig_t cfg = WEFT_CONFIG_INITIALIZER;
  cfg.logLevel = weftLogInfo;
  cfg.logCallback = log_cb;
  weftComm_t comm;
  weftResult_t r = weftCommInitRankConfig(&comm, n, *id, rank, &cfg);
  if (r != weftSuccess) {
    fprintf(stderr, "rank %d: init: %s\n", rank, weftGetLastError(NULL));
    return 10;
  }
  enum { COUNT = 100003 };
  int *buf = malloc(COUNT * sizeof *buf), bad = 0;
  for (int i = 0; i < COUNT; i++) buf[i] = rank * 7 + i;
  r = weftAllReduce(buf, buf, COUNT, weftInt32, weftSum, comm, NULL);
  for (int i = 0; i < COUNT && r == weftSuccess; i++) bad += buf[i] != n * i + 7 * n * (n - 1) / 2;
  free(buf);
  weftCommDestroy(comm);
  if (r != weftSuccess || bad) {
    fprintf(stderr, "rank %d: allreduce %s, %d wrong\n", rank, weftGetErrorString(r), bad);
    return 11;
  }
  if (!saw_plugin) {
    fprintf(stderr, "rank %d: the log never said the transport came from %s\n", rank, s->plugin);
    return 12;
  }
  printf("rank %d: exact allreduce through plugin %s\n", rank, s->plugin);
  return 0;
}

static int refused_rank(int rank, int n, const weftUniqueId *id, void *arg) {
  const scenario *s = arg;
  weftConfig_t cfg = WEFT_CONFIG_INITIALIZER;
  cfg.timeoutMs = weft_test_ms(5000);
  weftComm_t comm;
  weftResult_t r = weftCommInitRankConfig(&comm, n, *id, rank, &cfg);
  const char *msg = weftGetLastError(NULL);
  printf("rank %d: %s: %s\n", rank, weftGetErrorString(r), msg);
  if (r != weftInvalidUsage || !strstr(msg, s->text)) return 20;
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 4 || (strcmp(argv[1], "loaded") != 0 && strcmp(argv[1], "refused") != 0)) {
    fprintf(stderr, "usage: test_plugin loaded PLUGIN NAME | refused PLUGIN TEXT\n");
    return 2;
  }
  scenario s = {argv[2], argv[3], argv[3]};
  setenv("WEFT_NET_PLUGIN", s.plugin, 1);
  int loaded = strcmp(argv[1], "loaded") == 0;
  if (loaded) setenv("WEFT_NET", s.name, 1);
  int failed =
      weft_launch_fork(loaded ? 3 : 2, loaded ? loaded_rank : refused_rank, &s, weft_test_seconds(120), NULL);
  printf("%s\n", failed ? "FAILED" : "PASSED");
  return failed != 0;
}
