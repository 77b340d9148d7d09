/* Device buffers for the collective matrix (test_coll_matrix -D).
 *
 * The matrix keeps building its inputs and checking its results in host
 * buffers (with guards); around each weft call, the host arguments are
 * swapped for buffers of the comm's device holding the same bytes, and the
 * device's bytes are copied back afterwards, so every check of the matrix
 * applies to what the device buffers held. A comm on host memory (or with
 * no device) keeps its host arguments. */
#ifndef WEFT_TEST_MATRIX_DEV_H
#define WEFT_TEST_MATRIX_DEV_H

#include <stddef.h>

#include "weft.h"

struct weft_dev;

typedef struct {
  struct weft_dev *dev; /* NULL: host arguments kept */
  void *hs, *hr;        /* the host buffers the call named (NULL: none) */
  size_t sbytes, rbytes;
  void *ds, *dr;        /* their device twins; one buffer when in place */
} mx_dev_call;

/* Replaces *s (sbytes) and *r (rbytes), the host arguments of a call on comm,
 * with device buffers holding the same bytes. In place (one range inside
 * the other) both arguments name one device buffer covering the larger
 * range: the device data path places the blocks as NCCL does. NULL or empty
 * arguments stay as they are. Returns 0, or -1 with err. */
int mx_dev_begin(mx_dev_call *a, weftComm_t comm, const void **s, size_t sbytes, void **r, size_t rbytes, char *err,
                 size_t errlen);
/* Copies the device buffers back into the host ones and frees them.
 * Returns 0, or -1 with err. */
int mx_dev_end(mx_dev_call *a, char *err, size_t errlen);

#endif
