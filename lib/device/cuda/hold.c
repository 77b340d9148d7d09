/* Holds: later work on a stream waits until weft releases the hold.
 *
 * Where the driver has stream memory operations (cuStreamWaitValue32_v2, or
 * v1 enabled in the kernel module), a hold is a word of pinned host memory
 * the stream waits on (>= 1) and holdRelease writes: the GPU waits, no
 * thread does. Otherwise a hold is a host function enqueued on the stream
 * (cuLaunchHostFunc) that blocks on a condition variable until released.
 * That costs a blocked driver thread per hold: the driver runs the host
 * functions of a process on its own thread(s), so while a hold blocks, other
 * host functions (the application's too) may wait behind it. The host
 * function therefore gives up after WEFT_TIMEOUT (the stream goes on and
 * holdRelease reports the timeout) so that nothing can hang for ever.
 *
 * A released word stays in use until the stream has passed the wait (an
 * event recorded after it completes); finalize lets every pending hold go
 * and frees the pinned words only once the streams passed them. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "cuda_private.h"
#include "util/clock.h"

#define SLAB_WORDS 1024

struct weft__cuda_hold_slab {
  weft__cuda_hold_slab *next;
  uint32_t *words; /* pinned, mapped into the device's address space */
  CUdeviceptr devWords;
  unsigned char busy[SLAB_WORDS];
};

struct weft__cuda_hold {
  weft__cuda_hold *next; /* in ctx's pending or retired list */
  int byWait;
  /* stream wait value */
  weft__cuda_hold_slab *slab;
  int slot;
  CUevent passed; /* recorded after the wait: done once the stream went past */
  /* host function */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int released, timedOut, refs, timeoutMs;
};

/* 1 when h was in list (and is now out of it). */
static int list_remove(weft__cuda_hold **list, weft__cuda_hold *h) {
  for (weft__cuda_hold **p = list; *p; p = &(*p)->next)
    if (*p == h) {
      *p = h->next;
      h->next = NULL;
      return 1;
    }
  return 0;
}

/* ---- stream wait value ------------------------------------------------------ */

/* A free word (c->mu held), a new slab when all are busy. */
static weftResult_t take_word(weft__cuda_ctx *c, weft__cuda_hold *h) {
  for (weft__cuda_hold_slab *s = c->slabs; s; s = s->next)
    for (int i = 0; i < SLAB_WORDS; i++)
      if (!s->busy[i]) {
        s->busy[i] = 1;
        h->slab = s;
        h->slot = i;
        return weftSuccess;
      }
  weft__cuda_hold_slab *s = calloc(1, sizeof *s);
  if (!s) return weft__cuda_error(c, weftSystemError, "cuda: out of memory for hold words");
  void *words = NULL;
  CUresult r = c->cu->MemHostAlloc(&words, SLAB_WORDS * sizeof(uint32_t),
                                   CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_DEVICEMAP);
  if (r == CUDA_SUCCESS) {
    s->words = words;
    r = c->cu->MemHostGetDevicePointer(&s->devWords, words, 0);
    if (r != CUDA_SUCCESS) c->cu->MemFreeHost(words);
  }
  if (r != CUDA_SUCCESS) {
    free(s);
    return weft__cuda_fail(c, r, "cuMemHostAlloc (hold words)");
  }
  s->next = c->slabs;
  c->slabs = s;
  s->busy[0] = 1;
  h->slab = s;
  h->slot = 0;
  return weftSuccess;
}

/* Frees the retired holds the streams have passed (c->mu held). */
static void reap(weft__cuda_ctx *c) {
  weft__cuda_hold **p = &c->retired;
  while (*p) {
    weft__cuda_hold *h = *p;
    CUresult r = c->cu->EventQuery(h->passed);
    if (r == CUDA_ERROR_NOT_READY) {
      p = &h->next;
      continue;
    }
    /* passed, or the stream is broken (then it reads nothing any more) */
    *p = h->next;
    c->cu->EventDestroy(h->passed);
    h->slab->busy[h->slot] = 0;
    free(h);
  }
}

static weftResult_t enqueue_wait(weft__cuda_ctx *c, CUstream s, weft__cuda_hold *h) {
  pthread_mutex_lock(&c->mu);
  reap(c);
  weftResult_t res = take_word(c, h);
  pthread_mutex_unlock(&c->mu);
  if (res != weftSuccess) return res;
  __atomic_store_n(&h->slab->words[h->slot], 0u, __ATOMIC_SEQ_CST);
  CUdeviceptr word = h->slab->devWords + (CUdeviceptr)h->slot * sizeof(uint32_t);
  CUresult r = c->cu->StreamWaitValue32(s, word, 1, CU_STREAM_WAIT_VALUE_GEQ);
  if (r == CUDA_SUCCESS) {
    r = c->cu->EventCreate(&h->passed, CU_EVENT_DISABLE_TIMING);
    if (r == CUDA_SUCCESS && (r = c->cu->EventRecord(h->passed, s)) != CUDA_SUCCESS)
      c->cu->EventDestroy(h->passed);
    if (r == CUDA_SUCCESS) return weftSuccess;
    /* the wait is queued but cannot be tracked: let it go, keep the word */
    __atomic_store_n(&h->slab->words[h->slot], 1u, __ATOMIC_SEQ_CST);
    return weft__cuda_fail(c, r, "cuEventRecord (after a hold)");
  }
  pthread_mutex_lock(&c->mu);
  h->slab->busy[h->slot] = 0;
  pthread_mutex_unlock(&c->mu);
  return r == CUDA_ERROR_NOT_SUPPORTED ? weftInProgress /* caller falls back */
                                       : weft__cuda_fail(c, r, "cuStreamWaitValue32");
}

/* ---- host function ------------------------------------------------------------- */

static void unref(weft__cuda_hold *h) {
  pthread_mutex_lock(&h->mu);
  int last = --h->refs == 0;
  pthread_mutex_unlock(&h->mu);
  if (!last) return;
  pthread_cond_destroy(&h->cv);
  pthread_mutex_destroy(&h->mu);
  free(h);
}

/* Runs on the driver's thread: no CUDA calls here, and a bounded wait. */
static void hold_host_fn(void *arg) {
  weft__cuda_hold *h = arg;
  struct timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += h->timeoutMs / 1000;
  deadline.tv_nsec += (long)(h->timeoutMs % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&h->mu);
  while (!h->released)
    if (pthread_cond_timedwait(&h->cv, &h->mu, &deadline) == ETIMEDOUT) {
      h->timedOut = !h->released;
      break;
    }
  pthread_mutex_unlock(&h->mu);
  unref(h);
}

static weftResult_t enqueue_host_fn(weft__cuda_ctx *c, CUstream s, weft__cuda_hold *h) {
  if (!c->cu->LaunchHostFunc)
    return weft__cuda_error(c, weftUnhandledDeviceError,
                            "cuda: cannot hold a stream: the driver has neither cuStreamWaitValue32 nor "
                            "cuLaunchHostFunc (CUDA 10 or newer)");
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&h->cv, &attr);
  pthread_condattr_destroy(&attr);
  pthread_mutex_init(&h->mu, NULL);
  h->refs = 2; /* holdRelease's and the host function's */
  h->timeoutMs = c->timeoutMs;
  CUresult r = c->cu->LaunchHostFunc(s, hold_host_fn, h);
  if (r != CUDA_SUCCESS) {
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    return weft__cuda_fail(c, r, "cuLaunchHostFunc (hold)");
  }
  return weftSuccess;
}

/* ---- the entry points ------------------------------------------------------------ */

weftResult_t weft__cuda_hold_enqueue(void *ctx, void *stream, void **hold) {
  weft__cuda_ctx *c = ctx;
  weft__cuda_stream *s = stream;
  if (!c || !s || !hold) return weftInvalidArgument;
  weftResult_t res = weft__cuda_enter(c);
  if (res != weftSuccess) return res;
  weft__cuda_hold *h = calloc(1, sizeof *h);
  if (!h) return weft__cuda_error(c, weftSystemError, "cuda: out of memory for a hold");
  h->byWait = c->holdByWaitValue;
  if (h->byWait && (res = enqueue_wait(c, s->s, h)) == weftInProgress) {
    weft__cuda_log(c, weftLogInfo, "cuda: the device refuses cuStreamWaitValue32: holds by host function");
    c->holdByWaitValue = h->byWait = 0;
  }
  if (!h->byWait) res = enqueue_host_fn(c, s->s, h);
  if (res != weftSuccess) {
    free(h);
    return res;
  }
  pthread_mutex_lock(&c->mu);
  h->next = c->pending;
  c->pending = h;
  pthread_mutex_unlock(&c->mu);
  *hold = h;
  return weftSuccess;
}

/* Lets the stream go (h already out of the pending list). */
static weftResult_t release(weft__cuda_ctx *c, weft__cuda_hold *h) {
  if (h->byWait) {
    __atomic_store_n(&h->slab->words[h->slot], 1u, __ATOMIC_SEQ_CST);
    pthread_mutex_lock(&c->mu);
    h->next = c->retired;
    c->retired = h;
    pthread_mutex_unlock(&c->mu);
    return weftSuccess;
  }
  pthread_mutex_lock(&h->mu);
  h->released = 1;
  int late = h->timedOut;
  pthread_cond_signal(&h->cv);
  pthread_mutex_unlock(&h->mu);
  int timeoutMs = h->timeoutMs;
  unref(h);
  if (late)
    return weft__cuda_error(c, weftTimeout,
                            "cuda: a hold gave up after %d ms (WEFT_TIMEOUT): the stream went on before "
                            "weft released it",
                            timeoutMs);
  return weftSuccess;
}

weftResult_t weft__cuda_hold_release(void *ctx, void *hold, int failed) {
  weft__cuda_ctx *c = ctx;
  weft__cuda_hold *h = hold;
  if (!c || !h) return weftInvalidArgument;
  pthread_mutex_lock(&c->mu);
  int pending = list_remove(&c->pending, h);
  pthread_mutex_unlock(&c->mu);
  if (!pending)
    return weft__cuda_error(c, weftInvalidUsage, "cuda: holdRelease of a hold already released (or not this device's)");
  if (failed) weft__cuda_log(c, weftLogTrace, "cuda: releasing a hold of a failed collective");
  return release(c, h);
}

weftResult_t weft__cuda_holds_free(weft__cuda_ctx *c) {
  pthread_mutex_lock(&c->mu);
  weft__cuda_hold *pending = c->pending;
  c->pending = NULL;
  pthread_mutex_unlock(&c->mu);
  while (pending) {
    weft__cuda_hold *h = pending;
    pending = h->next;
    h->next = NULL;
    release(c, h);
  }
  long long deadline = weft_now_ms() + c->timeoutMs;
  for (;;) {
    pthread_mutex_lock(&c->mu);
    reap(c);
    int left = c->retired != NULL;
    pthread_mutex_unlock(&c->mu);
    if (!left) break;
    if (weft_now_ms() > deadline) {
      /* a stream still waits on a word: leave the pinned memory to it */
      return weft__cuda_error(c, weftTimeout,
                              "cuda: finalize: a held stream did not go on within %d ms; its hold words "
                              "are left allocated",
                              c->timeoutMs);
    }
    struct timespec ts = {0, 200000};
    nanosleep(&ts, NULL);
  }
  while (c->slabs) {
    weft__cuda_hold_slab *s = c->slabs;
    c->slabs = s->next;
    c->cu->MemFreeHost(s->words);
    free(s);
  }
  return weftSuccess;
}
