/* <nccl.h> for programs written for NCCL: with -I<prefix>/include/weft on
 * the compiler's path (pkg-config --cflags weft-nccl puts it there) their
 * `#include <nccl.h>` finds this file, and -lweft-nccl replaces -lnccl. */
#ifndef WEFT_NCCL_SHIM_NCCL_H
#define WEFT_NCCL_SHIM_NCCL_H
#include "../weft_nccl.h"
#endif
