/* Bootstrap wire messages (host byte order: all ranks of a job share an ABI). */
#ifndef WEFT_BOOT_WIRE_H
#define WEFT_BOOT_WIRE_H

#include <stdint.h>

#include "bootstrap/bootstrap.h"

/* Root replies. A refused rank (BOOT_BAD_NRANKS, BOOT_DUP_RANK) fails the
 * whole job: every rank waiting on the root gets BOOT_JOB_FAILED with the
 * same reason at once, and BOOT_TIMEOUT names the ranks that never came. */
enum { BOOT_OK = 0, BOOT_BAD_NRANKS = 1, BOOT_DUP_RANK = 2, BOOT_JOB_FAILED = 3, BOOT_TIMEOUT = 4 };
#define BOOT_REASON_LEN 320

typedef struct {
  uint32_t magic;
  uint8_t secret[16];
  int32_t rank;
  int32_t nranks;
  weft_rank_info info;
} boot_hello;

typedef struct {
  uint32_t magic;
  uint8_t secret[16];
  int32_t status;
  int32_t nranks;
  char reason[BOOT_REASON_LEN]; /* why, when status is not BOOT_OK (NUL-terminated by the reader) */
} boot_reply;

/* First message on a ring link. */
typedef struct {
  uint32_t magic;
  uint8_t secret[16];
  int32_t rank;
} boot_ring_hello;

#endif
