/* Transport registry and WEFT_NET_PLUGIN loader. */
#include "comm/netreg.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "util/param.h"
#include "shm/shm.h"
#include "tcp/tcp.h"
#ifdef WEFT_HAVE_UCX
#include "ucx/ucx.h"
#endif
#ifdef WEFT_HAVE_OFI
#include "ofi/ofi.h"
#endif

static const weftNet_t *slots[WEFT_NET_SLOTS] = {
    &weft_net_tcp, &weft_net_shm,
#ifdef WEFT_HAVE_UCX
    &weft_net_ucx,
#endif
#ifdef WEFT_HAVE_OFI
    &weft_net_ofi,
#endif
};
static int nslots;
static const char *origin[WEFT_NET_SLOTS]; /* plugin path, NULL for built-ins */
static char load_error[512];
static char names[128];
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* A plugin with a built-in's name replaces it (same slot, so ranks that load
 * it interoperate with ranks that use the built-in); others take a new slot. */
static void install(const weftNet_t *net, const char *path) {
  int i = 0;
  while (i < nslots && strcmp(slots[i]->name, net->name) != 0) i++;
  if (i == WEFT_NET_SLOTS) {
    snprintf(load_error, sizeof load_error, "WEFT_NET_PLUGIN: no room for transport '%s'", net->name);
    return;
  }
  if (i == nslots) nslots++;
  slots[i] = net;
  origin[i] = path;
}

static void load_plugin(const char *path) {
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    snprintf(load_error, sizeof load_error, "WEFT_NET_PLUGIN: cannot load %s: %s", path, dlerror());
    return;
  }
  const weftNet_t *net = dlsym(h, "weftNetPlugin_v" WEFT_NET_STR(WEFT_NET_ABI_VERSION));
  if (!net) {
    for (int v = 1; v < WEFT_NET_ABI_VERSION + 8 && !net; v++) {
      char sym[32];
      snprintf(sym, sizeof sym, "weftNetPlugin_v%d", v);
      if (v != WEFT_NET_ABI_VERSION && dlsym(h, sym)) {
        /* version 1 took a 64-bit key that its transports sent in clear: no
         * adapter can make such a plugin prove the key without revealing it */
        snprintf(load_error, sizeof load_error,
                 "WEFT_NET_PLUGIN: %s implements transport ABI version %d, this libweft speaks version %d%s "
                 "(rebuild the plugin against this weft_net.h)", path, v, WEFT_NET_ABI_VERSION,
                 v == 1 ? " (version 1 sent its key in clear; version 2 takes a 32-byte link key that must never "
                          "travel, and may be asked to encrypt)" : "");
        dlclose(h);
        return;
      }
    }
    snprintf(load_error, sizeof load_error, "WEFT_NET_PLUGIN: %s does not export weftNetPlugin_v%d", path,
             WEFT_NET_ABI_VERSION);
    dlclose(h);
    return;
  }
  if (net->abiVersion != WEFT_NET_ABI_VERSION) {
    snprintf(load_error, sizeof load_error,
             "WEFT_NET_PLUGIN: %s was built for transport ABI version %u, this libweft speaks version %d "
             "(rebuild the plugin against this weft_net.h)", path, net->abiVersion, WEFT_NET_ABI_VERSION);
    dlclose(h);
    return;
  }
  if (!net->name || !net->name[0] || !net->init || !net->listen || !net->connect || !net->accept || !net->isend ||
      !net->irecv || !net->test || !net->lastError || !net->closeSend || !net->closeRecv || !net->closeListen ||
      !net->finalize) {
    snprintf(load_error, sizeof load_error, "WEFT_NET_PLUGIN: %s leaves a required function of weftNet_v%d NULL",
             path, WEFT_NET_ABI_VERSION);
    dlclose(h);
    return;
  }
  install(net, path); /* never unloaded: communicators may still point into it */
}

static void registry_setup(void) {
  while (nslots < WEFT_NET_SLOTS && slots[nslots]) nslots++;
  static char path[4096];
  const char *env = weft_env("WEFT_NET_PLUGIN");
  if (env && env[0]) {
    snprintf(path, sizeof path, "%s", env);
    load_plugin(path);
  }
  for (int i = 0; i < nslots; i++)
    snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "", slots[i]->name);
}

weftResult_t weft_net_registry_init(char *err, size_t errlen) {
  pthread_once(&once, registry_setup);
  if (load_error[0]) {
    snprintf(err, errlen, "%s", load_error);
    return weftInvalidUsage;
  }
  return weftSuccess;
}

int weft_net_count(void) { return nslots; }

const weftNet_t *weft_net_at(int slot) { return slot >= 0 && slot < nslots ? slots[slot] : NULL; }

int weft_net_slot_of(const weftNet_t *net) {
  for (int i = 0; i < nslots; i++)
    if (slots[i] == net) return i;
  return -1;
}

const weftNet_t *weft_net_find(const char *name) {
  for (int i = 0; i < nslots; i++)
    if (name && strcmp(slots[i]->name, name) == 0) return slots[i];
  return NULL;
}

const char *weft_net_names(void) { return names; }

const char *weft_net_origin(int slot) { return slot >= 0 && slot < nslots ? origin[slot] : NULL; }
