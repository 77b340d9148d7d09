/* Device backend registry and WEFT_DEVICE_PLUGIN loader (the refusal rules
 * and messages are those of the transport loader, comm/netreg.c). */
#include "device/registry.h"

#include <ctype.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/param.h"

/* The opencl and cuda tables live in their own sources; the build defines
 * these macros only when those sources are part of it. */
#ifdef WEFT_HAVE_OPENCL
extern const weftDevice_t weft_device_opencl;
#endif
#ifdef WEFT_HAVE_CUDA_BACKEND
extern const weftDevice_t weft_device_cuda;
#endif

#define STR_(x) #x
#define STR(x) STR_(x)

static const weftDevice_t *slots[WEFT_DEVICE_SLOTS] = {
    &weft_device_host,
#ifdef WEFT_HAVE_OPENCL
    &weft_device_opencl,
#endif
#ifdef WEFT_HAVE_CUDA_BACKEND
    &weft_device_cuda,
#endif
};
static int nslots;
static const char *origin[WEFT_DEVICE_SLOTS]; /* plugin path, NULL for built-ins */
static char load_error[512];
static char names[128];
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* A plugin with a built-in's name replaces it; others take a new slot. */
static void install(const weftDevice_t *dev, const char *path) {
  int i = 0;
  while (i < nslots && strcmp(slots[i]->name, dev->name) != 0) i++;
  if (i == WEFT_DEVICE_SLOTS) {
    snprintf(load_error, sizeof load_error, "WEFT_DEVICE_PLUGIN: no room for device backend '%s'", dev->name);
    return;
  }
  if (i == nslots) nslots++;
  slots[i] = dev;
  origin[i] = path;
}

static int has_required(const weftDevice_t *d) {
  return d->name && d->name[0] && strlen(d->name) < WEFT_DEVICE_NAME_LEN && d->init && d->getProperties &&
         d->memKind && d->streamWrap && d->streamCreate && d->streamDestroy && d->copyToHost && d->copyFromHost &&
         d->eventRecord && d->eventQuery && d->eventWait && d->eventDestroy && d->holdEnqueue && d->holdRelease &&
         d->lastError && d->finalize;
}

static void load_plugin(const char *path) {
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    snprintf(load_error, sizeof load_error, "WEFT_DEVICE_PLUGIN: cannot load %s: %s", path, dlerror());
    return;
  }
  const weftDevice_t *dev = dlsym(h, "weftDevicePlugin_v" STR(WEFT_DEVICE_ABI_VERSION));
  if (!dev) {
    for (int v = WEFT_DEVICE_ABI_VERSION + 1; v < WEFT_DEVICE_ABI_VERSION + 8; v++) {
      char sym[32];
      snprintf(sym, sizeof sym, "weftDevicePlugin_v%d", v);
      if (dlsym(h, sym)) {
        snprintf(load_error, sizeof load_error,
                 "WEFT_DEVICE_PLUGIN: %s implements device ABI version %d, this libweft speaks version %d "
                 "(rebuild the plugin against this weft_device.h)", path, v, WEFT_DEVICE_ABI_VERSION);
        dlclose(h);
        return;
      }
    }
    snprintf(load_error, sizeof load_error, "WEFT_DEVICE_PLUGIN: %s does not export weftDevicePlugin_v%d", path,
             WEFT_DEVICE_ABI_VERSION);
    dlclose(h);
    return;
  }
  if (dev->abiVersion != WEFT_DEVICE_ABI_VERSION) {
    snprintf(load_error, sizeof load_error,
             "WEFT_DEVICE_PLUGIN: %s was built for device ABI version %u, this libweft speaks version %d "
             "(rebuild the plugin against this weft_device.h)", path, dev->abiVersion, WEFT_DEVICE_ABI_VERSION);
    dlclose(h);
    return;
  }
  if (!has_required(dev)) {
    snprintf(load_error, sizeof load_error,
             "WEFT_DEVICE_PLUGIN: %s leaves a required function of weftDevice_v%d NULL (or has no name)", path,
             WEFT_DEVICE_ABI_VERSION);
    dlclose(h);
    return;
  }
  install(dev, path); /* never unloaded: devices may still point into it */
}

static void registry_setup(void) {
  while (nslots < WEFT_DEVICE_SLOTS && slots[nslots]) nslots++;
  static char path[4096];
  const char *env = weft_env("WEFT_DEVICE_PLUGIN");
  if (env) {
    snprintf(path, sizeof path, "%s", env);
    load_plugin(path);
  }
  for (int i = 0; i < nslots; i++)
    snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "", slots[i]->name);
}

weftResult_t weft_device_registry_init(char *err, size_t errlen) {
  pthread_once(&once, registry_setup);
  if (load_error[0]) {
    snprintf(err, errlen, "%s", load_error);
    return weftInvalidUsage;
  }
  return weftSuccess;
}

int weft_device_count(void) { return nslots; }

const weftDevice_t *weft_device_at(int slot) { return slot >= 0 && slot < nslots ? slots[slot] : NULL; }

const weftDevice_t *weft_device_find(const char *name) {
  for (int i = 0; i < nslots; i++)
    if (name && strcmp(slots[i]->name, name) == 0) return slots[i];
  return NULL;
}

const char *weft_device_names(void) { return names; }

const char *weft_device_origin(const weftDevice_t *ops) {
  for (int i = 0; i < nslots; i++)
    if (slots[i] == ops) return origin[i];
  return NULL;
}

/* ---- "name[:spec]" ---------------------------------------------------------- */

static weftResult_t bad(char *err, size_t errlen, const char *fmt, const char *who, const char *want,
                        const char *detail) {
  snprintf(err, errlen, fmt, who, want, detail);
  return weftInvalidArgument;
}

weftResult_t weft_device_parse(const char *want, const char *who, weft_device_choice *out, char *err,
                               size_t errlen) {
  memset(out, 0, sizeof *out);
  if (!want || !want[0]) {
    snprintf(err, errlen, "%s is empty: give host, opencl[:P[:D]], cuda[:N] or a plugin's name[:spec]", who);
    return weftInvalidArgument;
  }
  const char *colon = strchr(want, ':');
  size_t nlen = colon ? (size_t)(colon - want) : strlen(want);
  if (nlen == 0) return bad(err, errlen, "%s '%s': %s", who, want, "no backend name before ':'");
  if (nlen >= sizeof out->name) return bad(err, errlen, "%s '%s': %s", who, want, "backend name too long");
  for (size_t i = 0; i < nlen; i++)
    if (!isalnum((unsigned char)want[i]) && want[i] != '_' && want[i] != '-')
      return bad(err, errlen, "%s '%s': %s", who, want,
                 "a backend name has only letters, digits, '_' and '-'");
  memcpy(out->name, want, nlen);
  if (colon) {
    if (!colon[1]) return bad(err, errlen, "%s '%s': %s", who, want, "nothing after ':'");
    if (strlen(colon + 1) >= sizeof out->spec) return bad(err, errlen, "%s '%s': %s", who, want, "spec too long");
    snprintf(out->spec, sizeof out->spec, "%s", colon + 1);
  }
  return weftSuccess;
}

/* Reads a number >= 0 of at most 6 digits at *p; 0 if there is none. */
static int read_index(const char **p) {
  const char *s = *p;
  while (isdigit((unsigned char)*s) && s - *p < 6) s++;
  if (s == *p || isdigit((unsigned char)*s)) return 0;
  int n = (int)(s - *p);
  *p = s;
  return n;
}

weftResult_t weft_device_check_spec(const weft_device_choice *c, const char *who, char *err, size_t errlen) {
  const char *s = c->spec;
  if (!s[0]) return weftSuccess;
  int ok = 1;
  const char *syntax = NULL;
  if (strcmp(c->name, "host") == 0) {
    ok = 0;
    syntax = "host takes no spec";
  } else if (strcmp(c->name, "opencl") == 0) {
    syntax = "opencl takes platform[:device] (numbers >= 0), and/or svm: 0:1, svm, 0:1:svm";
    size_t l = strlen(s);
    int svm = l >= 3 && !strcmp(s + l - 3, "svm") && (l == 3 || s[l - 4] == ':');
    char idx[WEFT_DEVICE_SPEC_LEN];
    snprintf(idx, sizeof idx, "%.*s", svm ? (l == 3 ? 0 : (int)(l - 4)) : (int)l, s);
    const char *q = idx;
    ok = !idx[0] || (read_index(&q) && (!*q || (*q == ':' && (q++, read_index(&q)) && !*q)));
  } else if (strcmp(c->name, "cuda") == 0) {
    syntax = "cuda takes a device number >= 0";
    ok = read_index(&s) && !*s;
  }
  if (ok) return weftSuccess;
  snprintf(err, errlen, "%s '%s:%s': %s", who, c->name, c->spec, syntax);
  return weftInvalidArgument;
}

weftResult_t weft_device_lookup(const char *want, const char *who, weft_device_choice *out,
                                const weftDevice_t **ops, char *err, size_t errlen) {
  *ops = NULL;
  weftResult_t r = weft_device_registry_init(err, errlen);
  if (r == weftSuccess) r = weft_device_parse(want, who, out, err, errlen);
  if (r != weftSuccess) return r;
  const weftDevice_t *d = weft_device_find(out->name);
  if (!d) {
    snprintf(err, errlen, "unknown device backend '%s' (%s: this libweft has %s)", out->name, who,
             weft_device_names());
    return weftInvalidArgument;
  }
  if (!weft_device_origin(d) && (r = weft_device_check_spec(out, who, err, errlen)) != weftSuccess) return r;
  *ops = d;
  return weftSuccess;
}
