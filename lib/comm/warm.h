/* Warming the WAN streams of a new communicator (warm.c). */
#ifndef WEFT_COMM_WARM_H
#define WEFT_COMM_WARM_H

#include "weft.h"

struct weftComm;

/* WEFT_WAN_WARMUP_MS: the longest a link is warmed (0: never). */
#define WEFT_WAN_WARMUP_MS_DEFAULT 2000

/* 1 when this rank warms its WAN links (WEFT_WAN_WARMUP_MS is not 0). */
int weft_comm_warm_wanted(void);

/* Warms the streams between this rank and each peer of another site that
 * the hierarchical allreduce joins to it, where agree[] (per rank, from
 * weft_comm_warm_wanted) is set at both ends; every such peer calls it too.
 * Blocks until done: about the cap plus three round trips. */
weftResult_t weft_comm_warm_wan(struct weftComm *c, const unsigned char *agree);

#endif
