/* Transport selection and connection setup. Every rank opens the transports
 * it may need, publishes their handles through the bootstrap, and connects to
 * each peer through one transport: shared memory for peers on the same host,
 * tcp for the others, unless WEFT_NET forces one for all. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootstrap/bootstrap.h"
#include "core/comm.h"
#include "core/log.h"
#include "core/param.h"
#include "shm/shm.h"
#include "tcp/tcp.h"

/* Slot order is part of the handle exchange: every rank uses the same one. */
static const weftNet_t *const builtin[] = {&weft_net_tcp, &weft_net_shm};
enum { NBUILTIN = sizeof builtin / sizeof *builtin };
_Static_assert(NBUILTIN <= WEFT_MAX_NETS, "too many built-in transports");

const weftNet_t *weft_net_builtin(const char *name) {
  for (int i = 0; i < NBUILTIN; i++)
    if (name && strcmp(builtin[i]->name, name) == 0) return builtin[i];
  return NULL;
}

static int slot_of(const weftNet_t *net) {
  for (int i = 0; i < NBUILTIN; i++)
    if (builtin[i] == net) return i;
  return -1;
}

void weft_comm_close_peers(struct weftComm *c) {
  if (!c->peers) return;
  for (int p = 0; p < c->nranks; p++) {
    weft_peer_conn *pc = &c->peers[p];
    if (pc->send) pc->net->closeSend(pc->send);
    if (pc->recv) pc->net->closeRecv(pc->recv);
    pc->send = pc->recv = NULL;
  }
}

void weft_comm_close_nets(struct weftComm *c) {
  for (int k = 0; k < WEFT_MAX_NETS; k++) {
    weft_net_inst *ni = &c->nets[k];
    if (ni->listen) ni->net->closeListen(ni->listen);
    if (ni->ctx) ni->net->finalize(ni->ctx);
    memset(ni, 0, sizeof *ni);
  }
}

static void net_log(void *user, weftLogLevel_t level, const char *msg) { weft_log(user, level, "%s", msg); }

/* The transport for peer p: forced, else shm on the same host, else tcp. */
static const weftNet_t *choose(struct weftComm *c, int p) {
  if (c->net_force[0]) return weft_net_builtin(c->net_force);
  const weft_rank_info *me = &c->bootstrap->peers[c->rank], *them = &c->bootstrap->peers[p];
  if (me->host_id == them->host_id && weft_env_int("WEFT_SHM_DISABLE", 0) == 0) return &weft_net_shm;
  return &weft_net_tcp;
}

static weftResult_t open_net(struct weftComm *c, const weftNet_t *net, uint64_t key, char *handle) {
  int k = slot_of(net);
  weft_net_inst *ni = &c->nets[k];
  char ip[INET6_ADDRSTRLEN] = "";
  const weft_sockaddr *me = &c->bootstrap->peers[c->rank].addr;
  inet_ntop(me->sa.sa_family, me->sa.sa_family == AF_INET6 ? (const void *)&me->in6.sin6_addr
                                                           : (const void *)&me->in.sin_addr, ip, sizeof ip);
  weftNetInitArgs_t args = {WEFT_NET_ABI_VERSION, net_log, c, ip, weft_env("WEFT_SOCKET_IFNAME")};
  ni->net = net;
  if (net->init(&args, &ni->ctx) != weftSuccess) {
    ni->ctx = NULL;
    return weft_error(NULL, weftSystemError, "transport %s: init failed", net->name);
  }
  weftResult_t res = net->listen(ni->ctx, 0, key, handle, &ni->listen);
  if (res != weftSuccess) {
    ni->listen = NULL;
    return weft_error(NULL, res, "transport %s: listen failed: %s", net->name, net->lastError(ni->ctx));
  }
  return weftSuccess;
}

static weftResult_t accept_peers(struct weftComm *c, weft_net_inst *ni, int expected) {
  for (int i = 0; i < expected; i++) {
    void *rc;
    uint64_t from;
    weftResult_t res = ni->net->accept(ni->listen, c->timeout_ms, &rc, &from);
    if (res != weftSuccess)
      return weft_error(NULL, res, "transport %s: waiting for %d more peers: %s", ni->net->name, expected - i,
                        ni->net->lastError(ni->listen));
    if (from >= (uint64_t)c->nranks || (int)from == c->rank || c->peers[from].recv ||
        c->peers[from].net != ni->net) {
      ni->net->closeRecv(rc);
      return weft_error(NULL, weftInternalError, "transport %s: unexpected connection from rank %llu",
                        ni->net->name, (unsigned long long)from);
    }
    c->peers[from].recv = rc;
  }
  return weftSuccess;
}

weftResult_t weft_comm_connect(struct weftComm *c) {
  char err[WEFT_SOCK_ERRLEN];
  int n = c->nranks, r = c->rank;
  int uses[WEFT_MAX_NETS] = {0};
  for (int p = 0; p < n; p++) {
    if (p == r) continue;
    c->peers[p].net = choose(c, p);
    uses[slot_of(c->peers[p].net)]++;
  }
  uint64_t key;
  memcpy(&key, c->secret, 8);
  key ^= ((uint64_t)c->split_count << 1) | 1;
  size_t row = (size_t)NBUILTIN * WEFT_NET_HANDLE_BYTES;
  char *handles = calloc((size_t)n, row);
  if (!handles) return weft_error(NULL, weftSystemError, "out of memory");
  weftResult_t res = weftSuccess;
  for (int k = 0; k < NBUILTIN && res == weftSuccess; k++)
    if (uses[k]) res = open_net(c, builtin[k], key, handles + (size_t)r * row + (size_t)k * WEFT_NET_HANDLE_BYTES);
  if (res == weftSuccess && (res = bootstrap_allgather(c->bootstrap, handles, row, err)) != weftSuccess)
    weft_error(NULL, res, "%s", err);
  for (int i = 1; i < n && res == weftSuccess; i++) {
    int p = (r + i) % n;
    const weftNet_t *net = c->peers[p].net;
    int k = slot_of(net);
    res = net->connect(c->nets[k].ctx, 0, handles + (size_t)p * row + (size_t)k * WEFT_NET_HANDLE_BYTES, key,
                       (uint64_t)r, c->timeout_ms, &c->peers[p].send);
    if (res != weftSuccess) {
      char pn[128];
      weft_comm_peer_name(c, p, pn, sizeof pn);
      weft_error(NULL, res, "transport %s: connecting to %s: %s", net->name, pn, net->lastError(c->nets[k].ctx));
    }
  }
  free(handles);
  for (int k = 0; k < NBUILTIN && res == weftSuccess; k++)
    if (uses[k]) res = accept_peers(c, &c->nets[k], uses[k]);
  if (res != weftSuccess) return res;
  if ((res = bootstrap_barrier(c->bootstrap, err)) != weftSuccess) return weft_error(NULL, res, "%s", err);
  c->net_desc[0] = 0;
  for (int k = NBUILTIN - 1; k >= 0; k--)
    if (uses[k])
      snprintf(c->net_desc + strlen(c->net_desc), sizeof c->net_desc - strlen(c->net_desc), "%s%s",
               c->net_desc[0] ? "+" : "", builtin[k]->name);
  if (!c->net_desc[0]) snprintf(c->net_desc, sizeof c->net_desc, "self");
  return weftSuccess;
}
