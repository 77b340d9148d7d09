#include "util/call.h"

#include <stdlib.h>

const char *weft_coll_name(weft_coll_kind k) {
  switch (k) {
    case COLL_ALLREDUCE: return "allreduce";
    case COLL_ALLGATHER: return "allgather";
    case COLL_REDUCESCATTER: return "reducescatter";
    case COLL_BROADCAST: return "broadcast";
    case COLL_REDUCE: return "reduce";
    case COLL_ALLTOALL: return "alltoall";
    case COLL_SEND: return "send";
    case COLL_RECV: return "recv";
    case COLL_BARRIER: return "barrier";
    case COLL_GATHER: return "gather";
    case COLL_SCATTER: return "scatter";
    case COLL_ALLGATHERV: return "allgatherv";
    case COLL_REDUCESCATTERV: return "reducescatterv";
    case COLL_ALLTOALLV: return "alltoallv";
  }
  return "?";
}

static const size_t dtype_sizes[weftNumTypes] = {
    [weftInt8] = 1,    [weftUint8] = 1,   [weftInt32] = 4,   [weftUint32] = 4,
    [weftInt64] = 8,   [weftUint64] = 8,  [weftFloat16] = 2, [weftFloat32] = 4,
    [weftFloat64] = 8, [weftBfloat16] = 2,
};

static const char *const dtype_names[weftNumTypes] = {
    [weftInt8] = "int8",     [weftUint8] = "uint8",   [weftInt32] = "int32",
    [weftUint32] = "uint32", [weftInt64] = "int64",   [weftUint64] = "uint64",
    [weftFloat16] = "half",  [weftFloat32] = "float", [weftFloat64] = "double",
    [weftBfloat16] = "bfloat16",
};

const char *weft_dtype_name(weftDataType_t dt) {
  return (unsigned)dt < (unsigned)weftNumTypes ? dtype_names[dt] : "?";
}

size_t weft_dtype_size(weftDataType_t dt) {
  return (unsigned)dt < (unsigned)weftNumTypes ? dtype_sizes[dt] : 0;
}

typedef struct {
  uint64_t key;
  int rank;
} keyed_rank;

static int keyed_cmp(const void *a, const void *b) {
  const keyed_rank *x = a, *y = b;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  return (x->rank > y->rank) - (x->rank < y->rank);
}

/* group_of[r] for every rank, groups numbered by their lowest rank; returns
 * how many. Sorted by key (n log n: at 10,000 single-rank nodes a scan of
 * the earlier ranks is 50 million compares); without memory, that scan. */
static int number_groups(const uint64_t *key, int n, int *group_of) {
  keyed_rank *kr = malloc(sizeof *kr * (size_t)(n > 0 ? n : 1));
  int ng = 0;
  if (!kr) {
    for (int r = 0; r < n; r++) {
      int q = 0;
      while (q < r && key[q] != key[r]) q++;
      group_of[r] = q < r ? group_of[q] : ng++;
    }
    return ng;
  }
  for (int r = 0; r < n; r++) kr[r] = (keyed_rank){key[r], r};
  qsort(kr, (size_t)n, sizeof *kr, keyed_cmp);
  /* each rank points at its group's lowest rank (the first of its run) ... */
  for (int i = 0, lead = 0; i < n; i++) {
    if (i == 0 || kr[i].key != kr[i - 1].key) lead = kr[i].rank;
    group_of[kr[i].rank] = lead;
  }
  /* ... and the leaders, in rank order, take the numbers 0, 1, ... */
  for (int r = 0; r < n; r++) group_of[r] = group_of[r] == r ? ng++ : group_of[group_of[r]];
  free(kr);
  return ng;
}

void weft_groups_from_keys(weft_groups *g, const uint64_t *key, int n, int *mem) {
  int *group_of = mem, *index_in = mem + n, *members = mem + 2 * n, *start = mem + 3 * n;
  int ng = number_groups(key, n, group_of);
  /* counting sort by group keeps rank order inside each group */
  for (int k = 0; k <= ng; k++) start[k] = 0;
  for (int r = 0; r < n; r++) start[group_of[r] + 1]++;
  for (int k = 0; k < ng; k++) start[k + 1] += start[k];
  int *fill = calloc((size_t)ng + 1, sizeof *fill);
  for (int r = 0; r < n; r++) {
    int k = group_of[r], at = start[k] + (fill ? fill[k]++ : 0);
    members[at] = r;
    index_in[r] = at - start[k];
  }
  free(fill);
  g->ngroups = ng;
  g->group_of = group_of;
  g->index_in = index_in;
  g->members = members;
  g->start = start;
}

uint64_t weft_vcall_hash(const size_t *v, size_t len) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < len; i++) {
    uint64_t x = (uint64_t)v[i];
    for (int b = 0; b < 8; b++, x >>= 8) h = (h ^ (x & 0xff)) * 0x100000001b3ULL;
  }
  return h ^ (h >> 32);
}
