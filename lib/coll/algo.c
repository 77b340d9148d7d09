#include "coll/algo.h"

#include <pthread.h>
#include <stdio.h>
#include <strings.h>

#include "coll/coll.h"

#define ROOTED_AND_ALL(x) \
  [COLL_ALLREDUCE] = weft_##x##_allreduce, [COLL_BROADCAST] = weft_##x##_broadcast, [COLL_REDUCE] = weft_##x##_reduce

/* Order: the cost model's preference on ties (latency-bound ones first). */
const weft_algo_info weft_algos[] = {
    {ALGO_DIRECT, "direct", NULL, "direct",
     {[COLL_ALLREDUCE] = weft_direct_allreduce, [COLL_GATHER] = weft_direct_gather,
      [COLL_SCATTER] = weft_direct_scatter},
     weft_direct_cost, NULL},
    {ALGO_TREE, "tree", NULL, "tree", {ROOTED_AND_ALL(tree)}, weft_tree_cost, NULL},
    {ALGO_RHD, "rhd", NULL, "rhd",
     {[COLL_ALLREDUCE] = weft_rhd_allreduce, [COLL_ALLGATHER] = weft_rhd_allgather,
      [COLL_REDUCESCATTER] = weft_rhd_reducescatter},
     weft_rhd_cost, weft_rhd_eligible},
    {ALGO_RING, "ring", NULL, "ring",
     {ROOTED_AND_ALL(ring), [COLL_ALLGATHER] = weft_ring_allgather, [COLL_REDUCESCATTER] = weft_ring_reducescatter,
      [COLL_ALLGATHERV] = weft_ring_allgatherv, [COLL_REDUCESCATTERV] = weft_ring_reducescatterv},
     weft_ring_cost, NULL},
    {ALGO_HIER, "hier", "hierarchical", "hierarchical",
     {[COLL_ALLREDUCE] = weft_hier_allreduce, [COLL_BROADCAST] = weft_hier_broadcast,
      [COLL_ALLGATHER] = weft_hier_allgather, [COLL_REDUCESCATTER] = weft_hier_reducescatter},
     weft_hier_cost, NULL},
    {ALGO_PAIRWISE, "pairwise", NULL, "pairwise", {[COLL_ALLTOALL] = weft_pairwise_alltoall, [COLL_ALLTOALLV] = weft_pairwise_alltoallv},
     weft_pairwise_cost, NULL},
    {ALGO_P2P, "p2p", NULL, NULL, {[COLL_SEND] = weft_p2p_build, [COLL_RECV] = weft_p2p_build}, NULL, NULL},
    {ALGO_SLOTS, "slots", NULL, "slots",
     {[COLL_ALLREDUCE] = weft_slots_build, [COLL_ALLGATHER] = weft_slots_build,
      [COLL_REDUCESCATTER] = weft_slots_build, [COLL_BROADCAST] = weft_slots_build, [COLL_REDUCE] = weft_slots_build,
      [COLL_ALLTOALL] = weft_slots_build},
     NULL, weft_slots_eligible},
    {ALGO_DISSEM, "dissemination", NULL, NULL, {[COLL_BARRIER] = weft_dissem_barrier}, NULL, NULL},
    {ALGO_BOX, "box", NULL, NULL, {[COLL_SEND] = weft_box_build, [COLL_RECV] = weft_box_build}, NULL,
     weft_box_eligible},
};
const int weft_nalgos = (int)(sizeof weft_algos / sizeof *weft_algos);

const weft_algo_info *weft_algo_info_of(weft_algo a) {
  for (int i = 0; i < weft_nalgos; i++)
    if (weft_algos[i].id == a) return &weft_algos[i];
  return NULL;
}

const char *weft_algo_name(weft_algo a) {
  const weft_algo_info *e = weft_algo_info_of(a);
  return e ? e->name : "none";
}

weft_algo weft_algo_parse(const char *name) {
  for (int i = 0; name && i < weft_nalgos; i++)
    if (!strcasecmp(name, weft_algos[i].name) || (weft_algos[i].alias && !strcasecmp(name, weft_algos[i].alias)))
      return weft_algos[i].id;
  return ALGO_NONE;
}

weft_algo weft_algo_by_rule_name(const char *name) {
  for (int i = 0; name && i < weft_nalgos; i++)
    if (weft_algos[i].rule_name && !strcasecmp(name, weft_algos[i].rule_name)) return weft_algos[i].id;
  return ALGO_NONE;
}

static const char *rule_names[sizeof weft_algos / sizeof *weft_algos + 1];
static pthread_once_t rule_names_once = PTHREAD_ONCE_INIT;

static void fill_rule_names(void) {
  int k = 0;
  for (int i = 0; i < weft_nalgos; i++)
    if (weft_algos[i].rule_name) rule_names[k++] = weft_algos[i].rule_name;
  rule_names[k] = NULL;
}

const char *const *weft_algo_rule_names(void) {
  pthread_once(&rule_names_once, fill_rule_names);
  return rule_names;
}

int weft_algo_supported(weft_coll_kind k, weft_algo a) {
  const weft_algo_info *e = weft_algo_info_of(a);
  return e && (unsigned)k < WEFT_COLL_KINDS && e->build[k] != NULL;
}

int weft_algo_eligible(weft_algo a, const weft_algo_env *env, weft_coll_kind kind, size_t bytes) {
  const weft_algo_info *e = weft_algo_info_of(a);
  return !e || !e->eligible || e->eligible(env, kind, bytes);
}

void weft_algo_names(char *buf, size_t len) {
  size_t at = 0;
  buf[0] = '\0';
  for (int i = 0; i < weft_nalgos && at < len; i++) {
    const char *sep = i == 0 ? "" : i == weft_nalgos - 1 ? " or " : ", ";
    int w = snprintf(buf + at, len - at, "%s%s", sep, weft_algos[i].name);
    if (w < 0) break;
    at += (size_t)w;
  }
}
