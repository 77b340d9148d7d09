/* The comm's device table: every rank's device as the tuner sees it (its
 * kind, its copy bandwidth to and from the host, its reduce kernel's), and
 * the decisions taken from it: into how many pieces a call is split so that
 * the staging ranks overlap their copies with the network, and whether a
 * staging rank's reductions would run faster on its device. Every rank holds
 * the same table (exchanged at init), so every rank takes the same
 * decisions: they change what goes on the wire. */
#ifndef WEFT_TUNE_DEVTABLE_H
#define WEFT_TUNE_DEVTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "util/call.h"

#define WEFT_DEV_BACKEND_LEN 16
#define WEFT_DEV_WIRE_BYTES 32 /* one rank's entry in the init exchange */
#define WEFT_DEV_MAX_PIECES 8

typedef enum {
  WEFT_DEVK_HOST = 0,    /* host memory: nothing to stage */
  WEFT_DEVK_UNIFIED = 1, /* device memory the host maps: no copy */
  WEFT_DEVK_DISCRETE = 2 /* device memory staged through host buffers */
} weft_dev_kind;

typedef struct {
  char backend[WEFT_DEV_BACKEND_LEN]; /* "host", "opencl", "cuda", a plugin's name */
  int kind;                           /* weft_dev_kind */
  double copy_gbps;                   /* device<->host, GB/s; 0 unknown */
  double reduce_gbps;                 /* the device's reduce kernel, GB/s; 0 none/unknown */
} weft_dev_entry;

typedef struct {
  int n;
  weft_dev_entry *e;  /* n entries, by rank; NULL: every rank on host memory */
  double host_reduce_gbps; /* weft's host kernels on this rank, GB/s */
} weft_devtable;

const char *weft_dev_kind_name(int kind);
/* Entry <-> its WEFT_DEV_WIRE_BYTES on the wire (integers, little endian).
 * unpack checks what a peer sent: 0, or -1 with why. */
void weft_dev_entry_pack(const weft_dev_entry *e, unsigned char *wire);
int weft_dev_entry_unpack(const unsigned char *wire, weft_dev_entry *e, char *why, size_t len);
/* Parses "BACKEND:KIND[:COPY_GBPS[:REDUCE_GBPS]]" (weft-topo explain
 * --devices); 0 or -1. */
int weft_dev_entry_parse(const char *s, weft_dev_entry *e);

/* Ranks that stage (discrete devices), and the slowest copy among them
 * (GB/s; 0 when one of them is unknown: then WEFT_DEV_DEFAULT_COPY_GBPS). */
int weft_devtable_stagers(const weft_devtable *t, double *slowest_copy_gbps);

/* Staging pipeline: pieces (1 .. WEFT_DEV_MAX_PIECES) a call of kind moving
 * bytes is split into, given net_s, the predicted network time of a piece
 * size (callback over bytes). *t1 and *tp get the predicted times unsplit
 * and split (may be NULL). 1 when no rank stages or kind is not contiguous
 * (allreduce, broadcast, reduce only). */
typedef double (*weft_net_time_fn)(const void *user, size_t bytes);
int weft_devtable_pieces(const weft_devtable *t, weft_coll_kind kind, size_t bytes, weft_net_time_fn net,
                         const void *user, double *t1, double *tp);

/* Device reduce kernels: 1 when some staging or unified rank's kernel
 * beats the host kernels once its copies are paid; why says so either way. */
int weft_devtable_reduce_on_device(const weft_devtable *t, char *why, size_t len);
/* Whether rank's own kernel (with its copies) beats this rank's host kernels. */
int weft_devtable_rank_reduces(const weft_devtable *t, int rank);

/* "rank 0 opencl unified copy 12.0 GB/s, rank 1 host" into buf. */
void weft_devtable_describe(const weft_devtable *t, char *buf, size_t len);

/* Measures weft's host reduce kernel (float sum), GB/s: a few hundred us. */
double weft_devtable_measure_host_reduce(void);

#endif
