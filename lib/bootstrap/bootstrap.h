/* Bootstrap: out-of-band TCP rendezvous and small collectives used while
 * communicators are built (address exchange, split). Peers prove that they
 * know the bootstrap key (derived from the secret of the unique id,
 * bootstrap/keys.h) by challenge-response; a connection that cannot is
 * dropped. Neither the secret nor a key is ever sent. */
#ifndef WEFT_BOOTSTRAP_H
#define WEFT_BOOTSTRAP_H

#include <stddef.h>
#include <stdint.h>

#include "util/sock.h"
#include "weft.h"

#define WEFT_ID_MAGIC 0x57454654u /* "WEFT" */

typedef struct {
  uint32_t magic;
  uint32_t version;
  uint8_t secret[16];
  weft_sockaddr root;
  uint16_t root_ports; /* > 1: the root listens on one of the root_ports ports from root's port
                        * up (derived ports, weftCommInitFromEnv under torchrun): ranks try each
                        * and take the one that greets like a weft root. 0 or 1: root's port */
} weft_id_internal;

typedef struct {
  weft_sockaddr addr; /* bootstrap listen address of the rank */
  char host[64];
  int32_t pid;
  int32_t rank;
  uint64_t host_id; /* equal for ranks that can share memory (see weft_host_id) */
  uint8_t nonce[16]; /* fresh for this listener: the ring hellos prove the key over it */
} weft_rank_info;

/* Links of the bootstrap: link k goes to rank + 2^k and comes from rank -
 * 2^k (mod nranks), for every 2^k < nranks; link 0 is the ring. Allgather
 * and barrier take ceil(log2 n) steps over them (Bruck's algorithm): 14 at
 * 10,000 ranks, where the ring took 9,999. */
#define WEFT_BOOT_LINKS 31

typedef struct bootstrap {
  int rank, nranks;
  int timeout_ms;
  uint8_t key[32]; /* the bootstrap key (keys.h) */
  int listen_fd;
  int nlinks;                      /* links built: ceil(log2 nranks), 0 for one rank */
  int up_fd[WEFT_BOOT_LINKS];      /* link k: to rank + 2^k */
  int down_fd[WEFT_BOOT_LINKS];    /* link k: from rank - 2^k */
  uint64_t sent[WEFT_BOOT_LINKS], received[WEFT_BOOT_LINKS]; /* messages so far per link, in their MACs */
  weft_rank_info *peers; /* nranks entries */
} bootstrap_t;

/* Starts a detached root thread listening on addr (port 0 = ephemeral; addr
 * gets the real port) that gathers all ranks' info and hands out the table. */
int weft_root_start(weft_sockaddr *addr, const uint8_t secret[16], int timeout_ms, char *err);

/* Joins through the root of id. */
weftResult_t weft_bootstrap_init(const weft_id_internal *id, int rank, int nranks, int timeout_ms,
                            bootstrap_t **out, char *err);
/* Creates a fresh listener for a future weft_bootstrap_from_table. */
int weft_bootstrap_prepare_listener(const weft_sockaddr *toward, weft_rank_info *info, int *lfd,
                               char *err);
/* Builds the ring from an already known table (used by CommSplit). Takes
 * ownership of listen_fd. */
weftResult_t weft_bootstrap_from_table(int listen_fd, const weft_rank_info *table, int rank,
                                  int nranks, const uint8_t comm_key[32], int timeout_ms,
                                  bootstrap_t **out, char *err);
/* data holds nranks slots of size bytes; this rank's slot is filled in.
 * ceil(log2 nranks) steps; every message is authenticated (its link, its
 * number on the link and its sender in the MAC). */
weftResult_t weft_bootstrap_allgather(bootstrap_t *b, void *data, size_t size, char *err);
weftResult_t weft_bootstrap_barrier(bootstrap_t *b, char *err);
/* Collective: another ring of authenticated sockets over the same listeners
 * (the comm's fault links, comm/fault.c), told apart from the bootstrap's
 * own by magic. The caller owns the two sockets (-1 on a 1-rank comm). */
weftResult_t weft_bootstrap_side_ring(bootstrap_t *b, uint32_t magic, int *next_fd, int *prev_fd, char *err);
void weft_bootstrap_close(bootstrap_t *b);

/* Identifies what this process can share memory with: the kernel instance
 * (boot id), hostname, and the IPC, PID and network namespaces (shared
 * memory, cross-memory attach and the shm transport's Unix socket need them).
 * WEFT_HOST_ID overrides it. */
uint64_t weft_host_id(void);

#endif
