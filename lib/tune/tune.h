/* Algorithm and chunk selection. Inside one node, size and rank-count rules
 * calibrated on shared memory; across nodes and sites, the alpha-beta cost
 * model (cost.h) over the comm's layout, tabulated per power-of-two size at
 * init; then the topology file's tuning rules, resolved to algorithms once
 * at init. WEFT_ALGO / config algo override all of them.
 *
 * The tuner's state is plain data the communicator embeds (struct weftComm's
 * `tune`): what the settings say, the layout's groups, the node segment's
 * limits, the tables built at init, the WAN codec policy and the
 * error-feedback residuals. */
#ifndef WEFT_TUNE_H
#define WEFT_TUNE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "codec/codec.h"
#include "coll/algo.h"
#include "tune/cost.h"
#include "tune/devtable.h"
#include "util/call.h"
#include "util/log.h"

#define WEFT_TUNE_BUCKETS 40 /* sizes 1 B .. 512 GiB by powers of two */
#define WEFT_EF_SHAPES 16    /* call shapes with error-feedback residuals */

struct weft_graph;

/* A tuning rule of the topology file, resolved: the first rule that matches
 * a call (its kind, or every kind, and min_bytes <= bytes <= max_bytes)
 * forces algo, where the collective has it. */
typedef struct {
  weft_coll_kind kind; /* 0: every collective */
  uint64_t min_bytes, max_bytes;
  weft_algo algo; /* ALGO_NONE: a name no algorithm has (the rule matches, forces nothing) */
} weft_tune_rule;

/* WAN codec policy (codec_policy.c). */
typedef struct {
  int id;              /* weft_codec_id between sites, or the auto table below decides */
  int is_auto;         /* WEFT_CODEC=auto: per size from the cost model */
  char want[16];       /* WEFT_CODEC / config codec, "" = from the topology file */
  char source[48];     /* where the choice came from, for the log */
  size_t min_bytes;    /* WEFT_CODEC_MIN: smaller messages go uncoded */
  weft_codec_params params;
  uint8_t table[WEFT_TUNE_BUCKETS]; /* auto: codec per log2 size */
} weft_codec_policy;

typedef struct {
  /* settings, read once at init so every call sees the same values (a
   * split comm takes its parent's: weft_tune_inherit) */
  size_t direct_threshold; /* WEFT_DIRECT_THRESHOLD: bytes x (n-1) for one-shot allreduce */
  size_t tree_threshold;   /* WEFT_TREE_THRESHOLD */
  size_t rooted_threshold; /* WEFT_TREE_THRESHOLD_ROOTED */
  size_t chunk_bytes;      /* WEFT_CHUNK_SIZE, 0 = per-algorithm default */
  double spin_us;          /* WEFT_SPIN_US: busy-wait before sleeping */
  double yield_after_us;   /* of that, pure spinning before yielding the CPU
                            * every round: 0 when this node has more ranks of
                            * the comm than CPUs to run them */
  int oversubscribed;      /* this node has more ranks of the comm than CPUs */
  size_t stripe_min;       /* WEFT_STRIPE_MIN: smallest part of a message split over streams */
  int wan_streams;         /* WEFT_WAN_STREAMS: streams per inter-site peer, 0 = from the link */
  int forced;              /* weft_algo of WEFT_ALGO / config algo, 0 = none */
  size_t pipe_bytes;       /* WEFT_HIER_PIPE: pipeline piece of the hierarchical allreduce */

  /* the comm's shape (weft_tune_init, weft_tune_segment) */
  weft_algo_env env;                /* ranks, node segment */
  const weft_groups *nodes, *sites; /* the layout's, which outlives the tuner's use */

  /* decisions built at init */
  int use_model; /* several nodes: the cost model's table decides */
  uint8_t table[WEFT_COLL_KINDS][WEFT_TUNE_BUCKETS]; /* weft_algo per collective kind and log2 size */
  uint8_t coded[WEFT_TUNE_BUCKETS]; /* allreduces the WAN codec would compress: weft_algo per log2 size,
                                     * with the codec's ratio and cost in the model */
  weft_cost_model model;
  weft_tune_rule *rules; /* the topology file's, in its order */
  int nrules;
  weft_codec_policy codec;
  weft_devtable dev; /* every rank's device (devtable.h) */
  int dev_pieces;    /* WEFT_DEVICE_PIECES: pieces of a staged call, 0 = the cost model's */
  int dev_reduce;    /* this rank reduces its device buffers with its backend's kernels
                      * (WEFT_DEVICE_REDUCE, else the device table's decision) */
  int dev_mode;      /* weft_devred_mode read at init */

  struct { /* error-feedback residuals per call shape (topk) */
    pthread_mutex_t mu;
    int ready; /* mu initialized */
    int n;
    struct weft_ef_entry {
      size_t count;
      int dt;
      float *resid;
    } e[WEFT_EF_SHAPES];
  } ef;
} weft_tuner;

/* What weft_tune_init builds from. */
typedef struct {
  int rank, nranks;
  const weft_groups *nodes, *sites; /* must outlive the tuner's use */
  const struct weft_graph *graph;   /* layout graph: link costs, WAN codec, tuning rules */
  weft_log_sink *log;               /* where lines go, or NULL (util/log.h) */
  const weft_dev_entry *devs;       /* nranks entries, every rank's device, or NULL: all host */
} weft_tune_inputs;

/* The settings from the environment (WEFT_DIRECT_THRESHOLD, ...; before
 * weft_tune_init). */
void weft_tune_settings_env(weft_tuner *t);
/* The settings of a parent comm, for a split one (before weft_tune_init). */
void weft_tune_inherit(weft_tuner *t, const weft_tuner *parent);
/* Builds the cost model of the layout, its decision table, the resolved
 * tuning rules and the codec policy (after the settings, before the first
 * call). Returns 0, or -1 when out of memory. */
int weft_tune_init(weft_tuner *t, const weft_tune_inputs *in);
/* The node segment the comm has (0 bytes: none): its largest payload and
 * the ranks sharing it, for the algorithms that run through it, and the
 * largest send its point-to-point boxes take (0: no boxes). */
void weft_tune_segment(weft_tuner *t, size_t max_bytes, int ranks, size_t box_max_bytes);
/* Sends and receives of up to this many bytes go through the boxes (what
 * weft_tune decides for them, without a call to tune); 0: none do. */
size_t weft_tune_box_max(const weft_tuner *t);
/* Frees what init and the calls allocated (also after a failed init). */
void weft_tune_free(weft_tuner *t);

/* The device table of the inputs, copied (devtune.c); 0 or -1 (memory). */
int weft_tune_devices_init(weft_tuner *t, const weft_tune_inputs *in);
/* Pieces of call c (algorithm chosen) from the device table: 1 unless some
 * rank stages and splitting is predicted to win (or WEFT_DEVICE_PIECES). */
int weft_tune_pieces(const weft_tuner *t, const weft_call *c);
/* Logs the device table and its decisions (init, INFO). */
void weft_tune_log_devices(const weft_tuner *t, weft_log_sink *log);
/* WEFT_DEVICE_REDUCE: auto (the device table decides), on, off. */
typedef enum { WEFT_DEVRED_AUTO, WEFT_DEVRED_ON, WEFT_DEVRED_OFF } weft_devred_mode;
weft_devred_mode weft_tune_device_reduce_mode(void);

/* Sets c->algo, c->chunk_bytes, c->groups, c->pieces and the codec fields for call c.
 * An override (WEFT_ALGO / config algo) wins when the collective supports it. */
void weft_tune(const weft_tuner *t, weft_call *c);

/* WAN codec (codec_policy.c): resolved at init; per call, the codec of c's
 * links between sites (where c runs the hierarchical algorithm). */
void weft_codec_policy_init(weft_tuner *t, const weft_tune_inputs *in);
void weft_codec_choose(const weft_tuner *t, weft_call *c);
/* The codec an allreduce or reduce-scatter of c's kind, type, op and size
 * carries between sites when it runs hierarchically; 0: none. */
int weft_codec_for(const weft_tuner *t, const weft_call *c);
/* Error-feedback residuals (count floats, zero at first) kept with the tuner
 * for calls of this shape; NULL when out of memory or shapes. */
float *weft_ef_get(weft_tuner *t, size_t count, weftDataType_t dt, weft_log_sink *log);
/* Copies src's residuals into t, a comm made from src's by shrink or grow
 * (after weft_tune_init): they belong to this rank, not to the layout.
 * 0, or -1 when out of memory. */
int weft_ef_copy(weft_tuner *t, weft_tuner *src);

/* Bucket of a message size in the decision table: ceil(log2(bytes)). */
int weft_tune_bucket(size_t bytes);

/* Tuning rules (rules.c): the graph's, resolved to algorithms (*out NULL
 * when there are none). Returns 0, or -1 when out of memory. */
int weft_tune_rules_resolve(const struct weft_graph *g, weft_tune_rule **out, int *n);
/* The algorithm the rules force on kind at bytes, where the collective has
 * it (rules apply to the collectives the cost model tabulates); ALGO_NONE
 * when no rule does. */
weft_algo weft_tune_rule_algo(const weft_tune_rule *rules, int n, weft_coll_kind kind, size_t bytes);

#endif
