/* Bootstrap wire messages (host byte order: all ranks of a job share an ABI). */
#ifndef WEFT_BOOT_WIRE_H
#define WEFT_BOOT_WIRE_H

#include <stdint.h>

#include "bootstrap/bootstrap.h"

enum { BOOT_OK = 0, BOOT_BAD_NRANKS = 1, BOOT_DUP_RANK = 2 };

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
} boot_reply;

/* First message on a ring link. */
typedef struct {
  uint32_t magic;
  uint8_t secret[16];
  int32_t rank;
} boot_ring_hello;

#endif
