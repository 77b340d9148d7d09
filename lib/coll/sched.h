/* Schedules: a collective as a dependency graph of primitive steps (send,
 * receive, reduce, copy, average). Algorithms only build schedules; the
 * progress engine runs them. Messages to one peer are issued in the order
 * their send steps were added, and receives from one peer are posted in the
 * order their receive steps were added, so both sides of a link match by
 * order. Builders must therefore add steps in a topological order that both
 * ends of every link agree on. */
#ifndef WEFT_SCHED_H
#define WEFT_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "weft.h"

typedef enum {
  ST_SEND, ST_RECV, ST_REDUCE, ST_COPY, ST_AVG, ST_ENCODE, ST_DECODE, ST_DECODE_ADD, ST_SLOTS,
  ST_BOX_SEND, ST_BOX_RECV /* a small send or receive through the node segment's box (msg payload) */
} weft_step_kind;

/* Each kind of step has its own payload; no field serves two meanings. */
typedef struct {      /* ST_SEND, ST_RECV, ST_BOX_SEND, ST_BOX_RECV */
  int32_t peer;       /* rank at the other end */
  const void *src;    /* send: the data */
  void *dst;          /* recv: where it lands */
  size_t n;           /* bytes (send: updated from *len when it is set) */
  size_t cap;         /* capacity by which both ends split a message over
                       * streams (0: n) */
  size_t *len;        /* encoded data of variable size (NULL: exactly n bytes):
                       * send reads n from it, recv writes the bytes received */
  uint64_t tag;       /* signature of the call (see sig.h) */
} weft_step_msg;

typedef struct {      /* ST_REDUCE: dst = a op b */
  uint8_t dt, op;     /* weftDataType_t, weftRedOp_t */
  void *dst;
  const void *a, *b;
  size_t count;       /* elements */
} weft_step_reduce;

typedef struct {      /* ST_COPY (n 0: a step that does nothing) */
  void *dst;
  const void *src;
  size_t n;           /* bytes */
} weft_step_copy;

typedef struct {      /* ST_AVG: buf /= nranks */
  uint8_t dt;         /* weftDataType_t */
  int32_t nranks;     /* the divisor */
  void *buf;
  size_t count;       /* elements */
} weft_step_avg;

typedef struct {      /* ST_ENCODE, ST_DECODE, ST_DECODE_ADD (lib/codec) */
  uint8_t codec, dt;  /* weft_codec_id, weftDataType_t of the decoded data */
  const void *src;    /* encode: count elements; decode: the encoded bytes */
  void *dst;          /* encode: the encoded bytes; decode: count elements */
  size_t count;       /* elements */
  size_t cap;         /* encoded bytes at most */
  size_t *len;        /* encoded bytes (NULL: exactly cap): encode writes it,
                       * decode reads it */
  float *resid;       /* encode: error-feedback residual, count floats, or NULL */
  const void *params; /* encode: weft_codec_params */
} weft_step_codec;

typedef struct {      /* ST_SLOTS: a whole collective through the node segment */
  uint8_t coll;       /* weft_coll_kind */
  uint8_t dt, op;     /* weftDataType_t, weftRedOp_t */
  int32_t root;
  const void *src;
  void *dst;
  size_t count;       /* elements */
  uint64_t tag;       /* signature of the call (see sig.h) */
} weft_step_slots;

typedef struct {
  uint8_t kind;      /* weft_step_kind */
  uint8_t state;     /* runtime */
  int32_t npending;  /* unfinished dependencies */
  int32_t npending0; /* dependencies as built (weft_sched_rearm restores them) */
  int32_t succ;      /* first outgoing edge, -1 if none */
  union {            /* by kind */
    weft_step_msg msg;
    weft_step_reduce reduce;
    weft_step_copy copy;
    weft_step_avg avg;
    weft_step_codec codec;
    weft_step_slots slots;
  };
} weft_step;

typedef struct {
  int32_t to, next;
} weft_edge;

/* A schedule: the steps of one op, their dependency edges and its scratch
 * memory, plus the builders' state. Which call it was built for is kept by
 * the op's plan cache (exec/plancache.h), what the executor derives from it
 * by the op too (exec/run.h). */
typedef struct {
  weft_step *steps;
  int nsteps, cap;
  weft_edge *edges;
  int nedges, ecap;
  void **allocs;     /* scratch memory owned by the schedule, kept across */
  size_t *alloc_cap; /* resets so repeated calls reuse warm, faulted-in pages */
  int nallocs, nkept, acap;
  uint32_t gen;        /* changes whenever steps are added or the schedule is
                        * emptied: what the executor derived from the steps
                        * (exec/run.h) holds while it is unchanged */
  const int *peer_map; /* builders' peer indices -> ranks (NULL: identity) */
  int base_dep;        /* dependency of steps added without any (sub-schedules) */
  int slots_last;      /* builders: the last slots step, the next one runs after it */
  size_t call_count;   /* the count of the last call built into it, for mismatch messages */
  size_t fresh_bytes;  /* scratch allocated since the executor last counted it (weftCommGetStats) */
  int oom;
} weft_sched;

#define NODEP (-1)

void weft_sched_init(weft_sched *s);
void weft_sched_free(weft_sched *s);
/* Empties s for reuse, keeping its arrays (scratch memory is freed). */
void weft_sched_reset(weft_sched *s);
/* Makes a schedule that ran ready to run again for an identical call whose
 * messages carry `tag` (a plan cache: no rebuilding for repeated calls);
 * tag 0 keeps every step's tag (a group of point-to-point calls, whose tags
 * do not change from one repetition to the next). */
void weft_sched_rearm(weft_sched *s, uint64_t tag);
/* Empties s and frees its large scratch buffers (kept arrays stay). */
void weft_sched_drop_scratch(weft_sched *s);
/* After a run: keeps the schedule (and its scratch) for weft_sched_rearm if
 * `keep` and its scratch is not too large to hold on to, else resets it.
 * Returns whether it was kept (the plan cache: exec/plancache.h). */
int weft_sched_park(weft_sched *s, int keep);
/* Scratch memory freed with the schedule; NULL (and oom set) on failure. */
void *weft_sched_alloc(weft_sched *s, size_t bytes);
/* Appends a step depending on up to three earlier steps (NODEP = none).
 * Returns its index, or NODEP once out of memory (sched.oom is set and
 * later calls are no-ops, so builders need not check every call). */
int weft_sched_add(weft_sched *s, const weft_step *st, int d0, int d1, int d2);
/* Adds a dependency edge from -> to (both existing; NODEP ignored). */
void weft_sched_dep(weft_sched *s, int from, int to);

/* Convenience constructors. */
int weft_sched_send(weft_sched *s, int peer, const void *src, size_t bytes, uint64_t tag, int d0, int d1);
int weft_sched_recv(weft_sched *s, int peer, void *dst, size_t bytes, uint64_t tag, int d0, int d1);
int weft_sched_reduce(weft_sched *s, void *dst, const void *a, const void *b, size_t count,
                 weftDataType_t dt, weftRedOp_t op, int d0, int d1, int d2);
int weft_sched_copy(weft_sched *s, void *dst, const void *src, size_t bytes, int d0, int d1);
int weft_sched_avg(weft_sched *s, void *buf, size_t count, weftDataType_t dt, int nranks, int d0);
/* Codec steps (lib/codec): encode count elements of src into at most cap
 * bytes of dst, and decode them back; send_enc/recv_enc move such data (len:
 * see weft_step; NULL for codecs of fixed size). */
int weft_sched_encode(weft_sched *s, int codec, const void *params, weftDataType_t dt, const void *src, size_t count,
                 void *dst, size_t cap, size_t *len, float *resid, int d0, int d1);
int weft_sched_decode(weft_sched *s, int codec, weftDataType_t dt, const void *src, size_t cap, size_t *len, void *dst,
                 size_t count, int d0, int d1);
/* dst (count floats) += the decoded data, in one pass (weft_codec_decode_add). */
int weft_sched_decode_add(weft_sched *s, int codec, weftDataType_t dt, const void *src, size_t cap, size_t *len,
                     void *dst, size_t count, int d0, int d1);
int weft_sched_send_enc(weft_sched *s, int peer, const void *src, size_t cap, size_t *len, uint64_t tag, int d0, int d1);
int weft_sched_recv_enc(weft_sched *s, int peer, void *dst, size_t cap, size_t *len, uint64_t tag, int d0, int d1);
/* A whole small collective through the node segment (nodeseg/slots_run.h), run
 * synchronously by the executor; slots steps of one schedule run in the
 * order they were added, as every rank must take them in the same order. */
int weft_sched_slots(weft_sched *s, int kind, const void *src, void *dst, size_t count, weftDataType_t dt, weftRedOp_t op,
                int root, uint64_t tag);
/* A step that does nothing; completes once its dependencies have. */
int weft_sched_nop(weft_sched *s, int d0, int d1);

/* Runs a builder for a subset of the ranks: builder peer i is rank map[i],
 * this rank is index r of n, every step of the sub-schedule runs after step
 * `after`. Returns a step that completes when the whole sub-schedule has. */
typedef int (*weft_builder)(weft_sched *s, const void *call, int r, int n);
int weft_sched_sub(weft_sched *s, weft_builder build, const void *call, const int *map, int r, int n, int after);

#endif
