/* The algorithm table: one entry per algorithm says everything the layers
 * above need of it (its names, the collectives it builds, its cost and when
 * it may run), so adding an algorithm is one entry plus its builder file. */
#ifndef WEFT_ALGO_H
#define WEFT_ALGO_H

#include <stddef.h>

#include "coll/cost_model.h"
#include "coll/sched.h"
#include "util/call.h"

/* Appends the schedule of call c to s for rank of n (coll/coll.h). */
typedef int (*weft_call_builder)(weft_sched *s, const weft_call *c, int rank, int n);
/* Adds the predicted time of kind moving `bytes` per rank to a; -1 when the
 * algorithm has no formula for kind on this model (see cost_model.h). */
typedef int (*weft_cost_hook)(const weft_cost_model *m, weft_coll_kind kind, double bytes, weft_cost_acc *a);

/* What an algorithm may need of a communicator to say if it can run a call. */
typedef struct {
  int nranks;
  size_t seg_max_bytes; /* node segment: largest payload of a slot; 0 = no segment */
  int seg_ranks;        /* ranks sharing the segment */
  size_t box_max_bytes; /* largest send through the segment's boxes; 0 = no boxes */
} weft_algo_env;
/* Whether the algorithm can run kind of `bytes` per rank there. */
typedef int (*weft_eligible_hook)(const weft_algo_env *env, weft_coll_kind kind, size_t bytes);

typedef struct {
  weft_algo id;
  const char *name;      /* in logs, `weft-topo explain` and WEFT_ALGO */
  const char *alias;     /* also accepted by WEFT_ALGO, or NULL */
  const char *rule_name; /* how tuning rules of topology files name it; NULL: they cannot */
  weft_call_builder build[WEFT_COLL_KINDS]; /* per collective; NULL: not that one */
  weft_cost_hook cost;          /* NULL: the cost model does not pick it */
  weft_eligible_hook eligible;  /* NULL: wherever it builds */
} weft_algo_info;

/* Every algorithm, in the order the cost model prefers on equal predictions
 * (and `weft-topo explain` lists them). */
extern const weft_algo_info weft_algos[];
extern const int weft_nalgos;

/* The entry of a, or NULL for ALGO_NONE or an invalid id. */
const weft_algo_info *weft_algo_info_of(weft_algo a);
/* "ring", "tree", ...; "none" for ALGO_NONE. */
const char *weft_algo_name(weft_algo a);
/* An algorithm by name or alias (any case); ALGO_NONE if unknown. */
weft_algo weft_algo_parse(const char *name);
/* An algorithm by the name tuning rules use; ALGO_NONE if unknown. */
weft_algo weft_algo_by_rule_name(const char *name);
/* The names tuning rules may use, NULL-terminated (what the topology
 * parser validates rules against). */
const char *const *weft_algo_rule_names(void);
/* "direct, tree, ..., or slots": every name, for messages. */
void weft_algo_names(char *buf, size_t len);
/* Whether the library has algorithm a for collective k. */
int weft_algo_supported(weft_coll_kind k, weft_algo a);
/* Whether a can run kind of `bytes` per rank on env (supported or not). */
int weft_algo_eligible(weft_algo a, const weft_algo_env *env, weft_coll_kind kind, size_t bytes);

/* Cost hooks and eligibility of the entries, beside their builders. */
int weft_ring_cost(const weft_cost_model *m, weft_coll_kind kind, double s, weft_cost_acc *a);
int weft_tree_cost(const weft_cost_model *m, weft_coll_kind kind, double s, weft_cost_acc *a);
int weft_direct_cost(const weft_cost_model *m, weft_coll_kind kind, double s, weft_cost_acc *a);
int weft_rhd_cost(const weft_cost_model *m, weft_coll_kind kind, double s, weft_cost_acc *a);
int weft_hier_cost(const weft_cost_model *m, weft_coll_kind kind, double s, weft_cost_acc *a);
int weft_pairwise_cost(const weft_cost_model *m, weft_coll_kind kind, double s, weft_cost_acc *a);
int weft_rhd_eligible(const weft_algo_env *env, weft_coll_kind kind, size_t bytes);
int weft_slots_eligible(const weft_algo_env *env, weft_coll_kind kind, size_t bytes);
int weft_box_eligible(const weft_algo_env *env, weft_coll_kind kind, size_t bytes);

#endif
