/* Shared by the hierarchical algorithms: this rank's place in the groups of
 * the slow level. Chunk or block j of a group of s ranks is owned by local
 * rank j % s. */
#ifndef WEFT_HIER_H
#define WEFT_HIER_H

#include "coll/coll.h"
#include "coll/cost_model.h"

typedef struct {
  const weft_groups *gr;
  int g, me, s;       /* my group, my index in it, its size */
  const int *members; /* ranks of my group, in local order */
  int k;              /* size of the largest group */
} hier_layout;

static inline int hier_size(const weft_groups *gr, int g) { return gr->start[g + 1] - gr->start[g]; }
/* The rank of group g that owns chunk j. */
static inline int hier_owner(const weft_groups *gr, int g, int j) {
  return gr->members[gr->start[g] + j % hier_size(gr, g)];
}

static inline hier_layout hier_layout_of(const weft_groups *gr, int rank) {
  hier_layout l = {.gr = gr, .g = gr->group_of[rank], .me = gr->index_in[rank]};
  l.s = hier_size(gr, l.g);
  l.members = gr->members + gr->start[l.g];
  for (int g = 0; g < gr->ngroups; g++)
    if (hier_size(gr, g) > l.k) l.k = hier_size(gr, g);
  return l;
}

/* 1 when ranks a and b, in different groups, own a common chunk of the
 * hierarchical allreduce (so step 2 joins them over the slow link): chunk j
 * is owned by local index j % size in each group, and chunks run over whole
 * multiples of every group size once pipelined, so a pair shares one iff
 * their local indices agree modulo the gcd of their groups' sizes (equal
 * groups: the same local index). Symmetric; 0 within a group. */
int weft_hier_slow_pair(const weft_groups *gr, int a, int b);

/* Whether the groups make a hierarchy worth using (else: the flat algorithm). */
static inline int hier_usable(const weft_groups *gr, int n) { return gr && gr->ngroups > 1 && gr->ngroups < n; }

/* Cost of the hierarchical broadcast, allgather or reduce-scatter
 * (hier_move.c) moving s bytes per rank; the groups make a hierarchy. */
void weft_hier_move_cost(const weft_cost_model *m, weft_coll_kind kind, double s, weft_cost_acc *a);

#endif
