/* weftCommInitFromEnv: rank, size and rendezvous from the launcher.
 *
 * Rank/size, first match wins: WEFT_RANK/WEFT_NRANKS, OMPI_COMM_WORLD_RANK/
 * OMPI_COMM_WORLD_SIZE, PMI_RANK/PMI_SIZE, SLURM_PROCID/SLURM_NTASKS,
 * RANK/WORLD_SIZE (torchrun).
 * Rendezvous: WEFT_COMM_ID=host:port, else MASTER_ADDR:MASTER_PORT (under
 * torchrun, whose agent holds MASTER_PORT for its store: MASTER_ADDR and a
 * port derived from the run, see torchrun_port), else, when
 * every rank is on this host (OMPI_COMM_WORLD_LOCAL_SIZE == size, or
 * SLURM_NNODES == 1), 127.0.0.1 with a port derived from the job id.
 * Rank 0 hosts the root there. Secret: WEFT_SECRET (32 hex digits) if set,
 * else derived from the job id and rendezvous address - enough to keep other
 * jobs out by accident, not an adversary; set WEFT_SECRET on shared machines. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootstrap/bootstrap.h"
#include "comm/comm.h"
#include "comm/comm_log.h"
#include "util/param.h"

/* The launcher's rank and size variables: 1 when both are set and valid,
 * 0 when either is unset, -1 (with why) when one is set but refused: a
 * rank must never be guessed. */
static int env_pair(const char *rk, const char *sz, int *rank, int *size, char *why, size_t whylen) {
  const char *a = weft_env(rk), *b = weft_env(sz);
  if (!a || !b) return 0;
  int64_t r, s;
  char e[160];
  if (weft_parse_int(b, 1, 1 << 24, &s, e, sizeof e) != 0) {
    snprintf(why, whylen, "%s: %s", sz, e);
    return -1;
  }
  if (weft_parse_int(a, 0, s - 1, &r, e, sizeof e) != 0) {
    snprintf(why, whylen, "%s: %s (%s=%s)", rk, e, sz, b);
    return -1;
  }
  *rank = (int)r;
  *size = (int)s;
  return 1;
}

static uint64_t fnv1a(uint64_t h, const char *s) {
  for (; s && *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
  return h;
}

static const char *job_id(void) {
  static const char *vars[] = {"WEFT_JOB_ID", "OMPI_MCA_ess_base_jobid", "PMIX_NAMESPACE", "SLURM_JOB_ID",
                               "TORCHELASTIC_RUN_ID", NULL};
  for (int i = 0; vars[i]; i++)
    if (weft_env(vars[i])) return weft_env(vars[i]);
  return NULL;
}

/* torchrun (TORCHELASTIC_RUN_ID set): its agent's store listens on
 * MASTER_PORT, so the root takes one of TORCHRUN_PORTS ports from a base
 * derived from the run id, the restart count and MASTER_PORT: every rank
 * computes the same base, a restarted job a new one. The base lies below
 * Linux's ephemeral range (32768 up), so outgoing connections do not sit on
 * it; rank 0 binds the first free one, the others try each in turn and take
 * the one that greets like a weft root (bootstrap.c). 0: not torchrun. */
#define TORCHRUN_PORTS 8
static unsigned torchrun_port(void) {
  const char *run = weft_env("TORCHELASTIC_RUN_ID"), *mp = weft_env("MASTER_PORT");
  if (!run || !mp) return 0;
  const char *restart = weft_env("TORCHELASTIC_RESTART_COUNT");
  uint64_t h = fnv1a(fnv1a(fnv1a(0xcbf29ce484222325ULL, run), restart ? restart : "0"), mp);
  unsigned base = 20000 + (unsigned)(h % 12000), master = (unsigned)strtoul(mp, NULL, 10);
  if (master >= base && master < base + TORCHRUN_PORTS) base += TORCHRUN_PORTS; /* never the agent's own */
  return base;
}

static int single_host(int size) {
  int local, dummy;
  char why[200];
  if (env_pair("OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE", &dummy, &local, why, sizeof why) == 1)
    return local == size;
  int64_t nodes;
  const char *nn = weft_env("SLURM_NNODES");
  if (nn && weft_parse_int(nn, 1, INT32_MAX, &nodes, why, sizeof why) == 0) return nodes == 1;
  return weft_env_bool("WEFT_SINGLE_HOST", 0);
}

/* Rank 0: the root on id's address, or on the first free one of its
 * derived ports (then id names that one port for rank 0 itself). */
static int start_root(weft_id_internal *id, int timeout_ms, char *err) {
  int n = id->root_ports > 1 ? id->root_ports : 1;
  for (int k = 0; k < n; k++) {
    weft_sockaddr a = id->root;
    uint16_t port = (uint16_t)(ntohs(a.in.sin_port) + k);
    if (a.sa.sa_family == AF_INET6) a.in6.sin6_port = htons(port);
    else a.in.sin_port = htons(port);
    if (weft_root_start(&a, id->secret, timeout_ms, err) == 0) {
      id->root = a;
      id->root_ports = 1;
      return 0;
    }
  }
  return -1;
}

WEFT_API weftResult_t weftCommInitFromEnv(weftComm_t *comm, weftConfig_t *config) {
  if (!comm) return weft_error(NULL, weftInvalidArgument, "weftCommInitFromEnv: comm is NULL");
  *comm = NULL;
  int rank = -1, size = -1, found = 0;
  static const char *const pairs[][2] = {{"WEFT_RANK", "WEFT_NRANKS"},
                                         {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
                                         {"PMI_RANK", "PMI_SIZE"},
                                         {"SLURM_PROCID", "SLURM_NTASKS"},
                                         {"RANK", "WORLD_SIZE"}};
  char why[200];
  for (size_t i = 0; i < sizeof pairs / sizeof pairs[0] && !found; i++) {
    found = env_pair(pairs[i][0], pairs[i][1], &rank, &size, why, sizeof why);
    if (found < 0) return weft_error(NULL, weftInvalidArgument, "weftCommInitFromEnv: %s", why);
  }
  if (!found)
    return weft_error(NULL, weftInvalidArgument,
                      "weftCommInitFromEnv: no rank/size in the environment (WEFT_RANK/WEFT_NRANKS, "
                      "OMPI_COMM_WORLD_*, PMI_*, SLURM_PROCID/SLURM_NTASKS or RANK/WORLD_SIZE)");
  weft_id_internal id;
  memset(&id, 0, sizeof id);
  id.magic = WEFT_ID_MAGIC;
  id.version = WEFT_VERSION_CODE;
  char err[WEFT_SOCK_ERRLEN], hp[300];
  const char *job = job_id();
  const char *fixed = weft_env("WEFT_COMM_ID");
  if (fixed) {
    snprintf(hp, sizeof hp, "%s", fixed);
  } else if (weft_env("MASTER_ADDR") && torchrun_port()) {
    snprintf(hp, sizeof hp, "%s:%u", weft_env("MASTER_ADDR"), torchrun_port());
    id.root_ports = TORCHRUN_PORTS;
  } else if (weft_env("MASTER_ADDR") && weft_env("MASTER_PORT")) {
    snprintf(hp, sizeof hp, "%s:%s", weft_env("MASTER_ADDR"), weft_env("MASTER_PORT"));
  } else if (size == 1) {
    snprintf(hp, sizeof hp, "127.0.0.1:0"); /* a job of one: its own root on any free port */
  } else if (single_host(size) && job) {
    snprintf(hp, sizeof hp, "127.0.0.1:%u", (unsigned)(20000 + fnv1a(0xcbf29ce484222325ULL, job) % 30000));
  } else {
    return weft_error(NULL, weftInvalidArgument,
                      "weftCommInitFromEnv: set WEFT_COMM_ID=host:port (or MASTER_ADDR/MASTER_PORT) "
                      "to the address rank 0 should listen on");
  }
  if (weft_sockaddr_parse(hp, &id.root, err) != 0)
    return weft_error(NULL, weftInvalidArgument, "weftCommInitFromEnv: %s", err);
  const char *sec = weft_env("WEFT_SECRET");
  if (sec) {
    if (strlen(sec) != 32) return weft_error(NULL, weftInvalidArgument, "WEFT_SECRET must be 32 hex digits");
    for (int i = 0; i < 32; i++) {
      int c = sec[i], v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                                          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (v < 0) return weft_error(NULL, weftInvalidArgument, "WEFT_SECRET must be 32 hex digits");
      id.secret[i / 2] = (uint8_t)(id.secret[i / 2] << 4 | v);
    }
  } else if (!weft_sockaddr_is_loopback(&id.root)) {
    /* the fallback secret below is computable by anyone who knows the job id
     * and the address: acceptable where only this host can connect */
    return weft_error(NULL, weftInvalidArgument,
                      "weftCommInitFromEnv: the rendezvous address %s is reachable from other hosts and "
                      "WEFT_SECRET is not set, so anyone who can guess the job id could join the job; set "
                      "WEFT_SECRET to the same 32 hex digits on every rank, e.g. export WEFT_SECRET=$(openssl rand -hex 16)",
                      hp);
  } else {
    uint64_t h1 = fnv1a(0xcbf29ce484222325ULL, job), h2 = fnv1a(h1 ^ 0x5bd1e995, hp);
    memcpy(id.secret, &h1, 8);
    memcpy(id.secret + 8, &h2, 8);
  }
  int timeout_ms;
  if (weft_env_timeout_check(&timeout_ms, err, sizeof err) != 0)
    return weft_error(NULL, weftInvalidArgument, "weftCommInitFromEnv: %s", err);
  if (rank == 0 && start_root(&id, timeout_ms, err) != 0)
    return weft_error(NULL, weftSystemError, "weftCommInitFromEnv: rank 0 cannot host the root at %s%s: %s", hp,
                      id.root_ports > 1 ? " or the 7 ports after it" : "", err);
  weftUniqueId uid;
  memset(&uid, 0, sizeof uid);
  memcpy(uid.internal, &id, sizeof id);
  return weftCommInitRankConfig(comm, size, uid, rank, config);
}
