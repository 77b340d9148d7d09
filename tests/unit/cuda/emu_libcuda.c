/* A CPU stand-in for libcuda.so.1, so that test_device_cuda runs the cuda
 * backend's whole logic on machines without a GPU
 * (WEFT_CUDA_LIBRARY=.../libweft-emu-cuda.so). One device; "device memory"
 * is host memory the stand-in keeps a list of; each stream is a thread
 * running its queue in order (copies, event records, waits on events, waits
 * on a 32-bit word, host functions), so work after a hold really waits.
 * FAKE_CUDA_WAIT_VALUE=unsupported makes cuStreamWaitValue32_v2 answer
 * CUDA_ERROR_NOT_SUPPORTED (the backend must fall back on host functions).
 * FAKE_CUDA_COPY_DELAY_US=N makes every copy take N us more, so that work a
 * caller forgets to wait for is seen unfinished.
 * It emulates only what the backend and its test call. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define API __attribute__((visibility("default")))
typedef unsigned long long devptr;
enum { OK = 0, INVALID_VALUE = 1, INVALID_DEVICE = 101, INVALID_CONTEXT = 201, NOT_READY = 600, NOT_SUPPORTED = 801 };

/* ---- allocations ---------------------------------------------------------- */
enum { KIND_DEVICE = 2, KIND_HOST = 1, KIND_MANAGED = 5 };
typedef struct alloc {
  struct alloc *next;
  char *base;
  size_t size;
  int kind;
} alloc;
static pthread_mutex_t mem_mu = PTHREAD_MUTEX_INITIALIZER;
static alloc *allocs;

static int mem_add(void **out, size_t size, int kind) {
  alloc *a = calloc(1, sizeof *a);
  a->base = malloc(size ? size : 1);
  a->size = size;
  a->kind = kind;
  pthread_mutex_lock(&mem_mu);
  a->next = allocs;
  allocs = a;
  pthread_mutex_unlock(&mem_mu);
  *out = a->base;
  return OK;
}
/* The allocation holding [p, p+n), or NULL. */
static alloc *mem_find(const void *p, size_t n) {
  pthread_mutex_lock(&mem_mu);
  alloc *a = allocs;
  size_t span = n ? n : 1; /* a pointer alone names its byte: one past the end is outside */
  for (; a; a = a->next)
    if ((const char *)p >= a->base && (const char *)p + span <= a->base + (a->size ? a->size : 1)) break;
  pthread_mutex_unlock(&mem_mu);
  return a;
}
static int mem_del(void *p, int kind) {
  pthread_mutex_lock(&mem_mu);
  for (alloc **pp = &allocs; *pp; pp = &(*pp)->next)
    if ((*pp)->base == p && ((*pp)->kind == kind || (kind == KIND_DEVICE && (*pp)->kind == KIND_MANAGED))) {
      alloc *a = *pp;
      *pp = a->next;
      pthread_mutex_unlock(&mem_mu);
      free(a->base);
      free(a);
      return OK;
    }
  pthread_mutex_unlock(&mem_mu);
  return INVALID_VALUE;
}

/* ---- events ------------------------------------------------------------------ */
static pthread_mutex_t ev_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ev_cv = PTHREAD_COND_INITIALIZER;
typedef struct {
  unsigned long long recorded, completed;
} event;

/* ---- streams -------------------------------------------------------------------- */
enum { OP_COPY, OP_RECORD, OP_WAIT_EVENT, OP_WAIT_VALUE, OP_HOST_FN };
typedef struct op {
  struct op *next;
  int kind;
  void *dst;
  const void *src;
  size_t n;
  event *ev;
  unsigned long long seq;
  volatile uint32_t *word;
  uint32_t value;
  void (*fn)(void *);
  int *done; /* set when run (the caller waits for it) */
} op;
typedef struct stream {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  op *head, *tail;
  int busy, dying;
} stream;

static void pause_us(long us) {
  struct timespec ts = {0, us * 1000};
  nanosleep(&ts, NULL);
}

static long copy_delay_us(void) {
  const char *d = getenv("FAKE_CUDA_COPY_DELAY_US");
  return d ? atol(d) : 0;
}

static void run(op *o) {
  switch (o->kind) {
  case OP_COPY:
    if (copy_delay_us() > 0) pause_us(copy_delay_us());
    memmove(o->dst, o->src, o->n);
    break;
  case OP_RECORD:
    pthread_mutex_lock(&ev_mu);
    if (o->seq > o->ev->completed) o->ev->completed = o->seq;
    pthread_cond_broadcast(&ev_cv);
    pthread_mutex_unlock(&ev_mu);
    break;
  case OP_WAIT_EVENT:
    pthread_mutex_lock(&ev_mu);
    while (o->ev->completed < o->seq) pthread_cond_wait(&ev_cv, &ev_mu);
    pthread_mutex_unlock(&ev_mu);
    break;
  case OP_WAIT_VALUE:
    while (__atomic_load_n(o->word, __ATOMIC_ACQUIRE) < o->value) pause_us(50);
    break;
  case OP_HOST_FN:
    o->fn((void *)o->src);
    break;
  }
}

static void *worker(void *arg) {
  stream *s = arg;
  pthread_mutex_lock(&s->mu);
  for (;;) {
    while (!s->head && !s->dying) pthread_cond_wait(&s->cv, &s->mu);
    if (!s->head) break;
    op *o = s->head;
    s->busy = 1;
    pthread_mutex_unlock(&s->mu);
    run(o);
    pthread_mutex_lock(&s->mu);
    s->head = o->next;
    if (!s->head) s->tail = NULL;
    s->busy = 0;
    if (o->done) *o->done = 1;
    free(o);
    pthread_cond_broadcast(&s->cv);
  }
  pthread_mutex_unlock(&s->mu);
  pthread_cond_destroy(&s->cv);
  pthread_mutex_destroy(&s->mu);
  free(s);
  return NULL;
}

static stream *stream_new(void) {
  stream *s = calloc(1, sizeof *s);
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  pthread_t t;
  pthread_create(&t, NULL, worker, s);
  pthread_detach(t);
  return s;
}

static pthread_once_t legacy_once = PTHREAD_ONCE_INIT;
static stream *legacy;
static void legacy_make(void) { legacy = stream_new(); }
static stream *S(void *handle) {
  if (handle) return handle;
  pthread_once(&legacy_once, legacy_make);
  return legacy;
}

static void push(void *handle, op *o) {
  stream *s = S(handle);
  pthread_mutex_lock(&s->mu);
  if (s->tail) s->tail->next = o;
  else s->head = o;
  s->tail = o;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

/* ---- context ------------------------------------------------------------------- */
static int the_context;
static _Thread_local void *current;

API int cuInit(unsigned f) { return f ? INVALID_VALUE : OK; }
API int cuDriverGetVersion(int *v) { *v = 12000; return OK; }
API int cuGetErrorName(int e, const char **n) {
  *n = e == INVALID_VALUE ? "CUDA_ERROR_INVALID_VALUE" : e == INVALID_CONTEXT ? "CUDA_ERROR_INVALID_CONTEXT"
     : e == NOT_SUPPORTED ? "CUDA_ERROR_NOT_SUPPORTED" : e == NOT_READY ? "CUDA_ERROR_NOT_READY" : "CUDA_ERROR_EMULATED";
  return OK;
}
API int cuGetErrorString(int e, const char **t) { (void)e; *t = "emulated driver"; return OK; }
API int cuDeviceGetCount(int *n) { *n = 1; return OK; }
API int cuDeviceGet(int *d, int ordinal) { if (ordinal != 0) return INVALID_DEVICE; *d = 0; return OK; }
API int cuDeviceGetName(char *name, int len, int d) { (void)d; snprintf(name, (size_t)len, "weft CPU stand-in"); return OK; }
API int cuDeviceGetPCIBusId(char *id, int len, int d) { (void)d; snprintf(id, (size_t)len, "0000:AB:00.0"); return OK; }
API int cuDeviceGetAttribute(int *v, int attr, int d) {
  (void)d;
  *v = attr == 89 ? 1 : 0; /* concurrent managed access; not integrated; no v1 memops */
  return OK;
}
API int cuDevicePrimaryCtxRetain(void **c, int d) { (void)d; *c = &the_context; return OK; }
API int cuDevicePrimaryCtxRelease_v2(int d) { (void)d; return OK; }
API int cuCtxSetCurrent(void *c) { current = c; return OK; }
API int cuCtxGetCurrent(void **c) { *c = current; return OK; }
API int cuCtxGetDevice(int *d) { if (current != &the_context) return INVALID_CONTEXT; *d = 0; return OK; }

API int cuPointerGetAttribute(void *data, int attr, devptr p) {
  alloc *a = mem_find((void *)(uintptr_t)p, 0);
  if (!a) return INVALID_VALUE;
  if (attr == 2) *(unsigned *)data = a->kind == KIND_HOST ? 1u : 2u;
  else if (attr == 8) *(unsigned *)data = a->kind == KIND_MANAGED;
  else if (attr == 4) {
    if (a->kind != KIND_HOST) return INVALID_VALUE;
    *(void **)data = (void *)(uintptr_t)p;
  } else return INVALID_VALUE;
  return OK;
}

API int cuMemAlloc_v2(devptr *p, size_t n) { void *v; mem_add(&v, n, KIND_DEVICE); *p = (uintptr_t)v; return OK; }
API int cuMemAllocManaged(devptr *p, size_t n, unsigned f) { (void)f; void *v; mem_add(&v, n, KIND_MANAGED); *p = (uintptr_t)v; return OK; }
API int cuMemFree_v2(devptr p) { return mem_del((void *)(uintptr_t)p, KIND_DEVICE); }
API int cuMemHostAlloc(void **p, size_t n, unsigned f) { (void)f; return mem_add(p, n, KIND_HOST); }
API int cuMemFreeHost(void *p) { return mem_del(p, KIND_HOST); }
API int cuMemHostGetDevicePointer_v2(devptr *d, void *h, unsigned f) {
  if (f || !mem_find(h, 0)) return INVALID_VALUE;
  *d = (uintptr_t)h;
  return OK;
}

/* As the driver does, a copy to pageable host memory returns only once it
 * is done (so it blocks behind a held stream). */
static int copy(void *dst, const void *src, size_t n, void *s, int dstDev, int srcDev) {
  if ((dstDev && !mem_find(dst, n)) || (srcDev && !mem_find(src, n))) return INVALID_VALUE;
  op *o = calloc(1, sizeof *o);
  o->kind = OP_COPY;
  o->dst = dst;
  o->src = src;
  o->n = n;
  int done = 0, pageable = !dstDev && !mem_find(dst, n);
  if (pageable) o->done = &done;
  push(s, o);
  if (pageable) {
    stream *st = S(s);
    pthread_mutex_lock(&st->mu);
    while (!done) pthread_cond_wait(&st->cv, &st->mu);
    pthread_mutex_unlock(&st->mu);
  }
  return OK;
}
API int cuMemcpyDtoHAsync_v2(void *dst, devptr src, size_t n, void *s) { return copy(dst, (void *)(uintptr_t)src, n, s, 0, 1); }
API int cuMemcpyHtoDAsync_v2(devptr dst, const void *src, size_t n, void *s) { return copy((void *)(uintptr_t)dst, src, n, s, 1, 0); }
API int cuMemcpyDtoDAsync_v2(devptr dst, devptr src, size_t n, void *s) {
  return copy((void *)(uintptr_t)dst, (void *)(uintptr_t)src, n, s, 1, 1);
}

API int cuStreamCreate(void **s, unsigned f) { (void)f; *s = stream_new(); return OK; }
API int cuStreamDestroy_v2(void *h) {
  if (!h) return INVALID_VALUE;
  stream *s = h;
  pthread_mutex_lock(&s->mu);
  s->dying = 1; /* the worker finishes the queue, then frees the stream */
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
  return OK;
}
API int cuStreamSynchronize(void *h) {
  stream *s = S(h);
  pthread_mutex_lock(&s->mu);
  while (s->head) pthread_cond_wait(&s->cv, &s->mu);
  pthread_mutex_unlock(&s->mu);
  return OK;
}

API int cuEventCreate(void **e, unsigned f) { (void)f; *e = calloc(1, sizeof(event)); return OK; }
API int cuEventDestroy_v2(void *e) { free(e); return OK; } /* the backend destroys only finished events */
API int cuEventRecord(void *e, void *s) {
  op *o = calloc(1, sizeof *o);
  o->kind = OP_RECORD;
  o->ev = e;
  pthread_mutex_lock(&ev_mu);
  o->seq = ++o->ev->recorded;
  pthread_mutex_unlock(&ev_mu);
  push(s, o);
  return OK;
}
API int cuEventQuery(void *e) {
  event *ev = e;
  pthread_mutex_lock(&ev_mu);
  int done = ev->completed >= ev->recorded;
  pthread_mutex_unlock(&ev_mu);
  return done ? OK : NOT_READY;
}
API int cuStreamWaitEvent(void *s, void *e, unsigned f) {
  if (f) return INVALID_VALUE;
  op *o = calloc(1, sizeof *o);
  o->kind = OP_WAIT_EVENT;
  o->ev = e;
  pthread_mutex_lock(&ev_mu);
  o->seq = o->ev->recorded;
  pthread_mutex_unlock(&ev_mu);
  push(s, o);
  return OK;
}
API int cuStreamWaitValue32_v2(void *s, devptr addr, unsigned value, unsigned flags) {
  const char *mode = getenv("FAKE_CUDA_WAIT_VALUE");
  if (mode && !strcmp(mode, "unsupported")) return NOT_SUPPORTED;
  if (flags != 0 || !mem_find((void *)(uintptr_t)addr, 4)) return INVALID_VALUE; /* GEQ on a known word only */
  op *o = calloc(1, sizeof *o);
  o->kind = OP_WAIT_VALUE;
  o->word = (volatile uint32_t *)(uintptr_t)addr;
  o->value = value;
  push(s, o);
  return OK;
}
API int cuLaunchHostFunc(void *s, void (*fn)(void *), void *user) {
  op *o = calloc(1, sizeof *o);
  o->kind = OP_HOST_FN;
  o->fn = fn;
  o->src = user;
  push(s, o);
  return OK;
}

/* IPC: a handle is made; opening it in the same process is refused, as the
 * real driver does. */
API int cuIpcGetMemHandle(void *h, devptr p) {
  alloc *a = mem_find((void *)(uintptr_t)p, 0);
  if (!a || a->kind != KIND_DEVICE) return INVALID_VALUE;
  memset(h, 0, 64);
  memcpy(h, "emu-ipc", 7);
  memcpy((char *)h + 8, &p, sizeof p);
  return OK;
}
typedef struct { char b[64]; } ipc_handle;
API int cuIpcOpenMemHandle_v2(devptr *p, ipc_handle h, unsigned f) { (void)p; (void)h; (void)f; return INVALID_CONTEXT; }
API int cuIpcCloseMemHandle(devptr p) { (void)p; return INVALID_VALUE; }
