/* Transport selection and connection setup. Every rank opens the transports
 * it may need, publishes their handles through the bootstrap, and connects to
 * each peer through one transport:
 *   - WEFT_NET (or config netName) forces one transport for every peer;
 *   - peers on the same host use shm (unless WEFT_SHM_DISABLE=1);
 *   - peers on other hosts use, of the transports both ranks have, the one
 *     with the highest nominal bandwidth (getProperties), tcp on a tie.
 * Both ends of a link compute the same choice from shared data. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootstrap/bootstrap.h"
#include "core/comm.h"
#include "core/log.h"
#include "core/netreg.h"
#include "core/param.h"

_Static_assert(WEFT_NET_SLOTS <= WEFT_MAX_NETS, "WEFT_MAX_NETS is smaller than the registry");

void weft_comm_close_peers(struct weftComm *c) {
  if (!c->peers) return;
  for (int p = 0; p < c->nranks; p++) {
    weft_peer_conn *pc = &c->peers[p];
    if (pc->send) pc->net->closeSend(pc->send);
    if (pc->recv) pc->net->closeRecv(pc->recv);
    pc->send = pc->recv = NULL;
  }
}

static void close_net(weft_net_inst *ni) {
  if (ni->listen) ni->net->closeListen(ni->listen);
  if (ni->ctx) ni->net->finalize(ni->ctx);
  memset(ni, 0, sizeof *ni);
}

void weft_comm_close_nets(struct weftComm *c) {
  for (int k = 0; k < WEFT_MAX_NETS; k++) close_net(&c->nets[k]);
}

static void net_log(void *user, weftLogLevel_t level, const char *msg) { weft_log(user, level, "%s", msg); }

static weftResult_t init_net(struct weftComm *c, int k) {
  weft_net_inst *ni = &c->nets[k];
  if (ni->ctx) return weftSuccess;
  const weftNet_t *net = weft_net_at(k);
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
  return weftSuccess;
}

static weftResult_t listen_net(struct weftComm *c, int k, uint64_t key, char *handle) {
  weft_net_inst *ni = &c->nets[k];
  weftResult_t res = init_net(c, k);
  if (res != weftSuccess) return res;
  if ((res = ni->net->listen(ni->ctx, 0, key, handle, &ni->listen)) != weftSuccess) {
    ni->listen = NULL;
    return weft_error(NULL, res, "transport %s: listen failed: %s", ni->net->name, ni->net->lastError(ni->ctx));
  }
  return weftSuccess;
}

/* Nominal bandwidth of each inter-host candidate on this rank, 0 when the
 * transport is missing or fails to initialize here. */
static void local_scores(struct weftComm *c, float *score) {
  for (int k = 0; k < WEFT_MAX_NETS; k++) score[k] = 0;
  for (int k = 0; k < weft_net_count(); k++) {
    const weftNet_t *net = weft_net_at(k);
    if (strcmp(net->name, "shm") == 0) continue;
    weftNetProperties_t props = {0};
    if (init_net(c, k) != weftSuccess) continue;
    if (!net->getProperties || net->getProperties(c->nets[k].ctx, 0, &props) != weftSuccess) props.bandwidthGbps = 1;
    score[k] = props.bandwidthGbps > 0 ? (float)props.bandwidthGbps : 1;
  }
}

/* Picks c->peers[p].net for every peer. */
static weftResult_t choose_all(struct weftComm *c) {
  int n = c->nranks, r = c->rank;
  const weft_rank_info *info = c->bootstrap->peers;
  const weftNet_t *shm = weft_net_find("shm"), *tcp = weft_net_find("tcp");
  int shm_ok = weft_env_int("WEFT_SHM_DISABLE", 0) == 0;
  if (c->net_force[0]) {
    const weftNet_t *net = weft_net_find(c->net_force);
    for (int p = 0; p < n; p++) c->peers[p].net = p == r ? NULL : net;
    return weftSuccess;
  }
  for (int p = 0; p < n; p++)
    if (p != r && info[p].host_id == info[r].host_id && shm_ok) c->peers[p].net = shm;
  /* Whether some pair is remote is the same on every rank (the layout groups
   * ranks by host id), so all ranks take part in the score exchange or none. */
  if (c->layout.nodes.ngroups <= 1 && shm_ok) return weftSuccess;
  float *scores = calloc((size_t)n, sizeof(float) * WEFT_MAX_NETS);
  if (!scores) return weft_error(NULL, weftSystemError, "out of memory");
  char err[WEFT_SOCK_ERRLEN];
  local_scores(c, scores + (size_t)r * WEFT_MAX_NETS);
  weftResult_t res = bootstrap_allgather(c->bootstrap, scores, sizeof(float) * WEFT_MAX_NETS, err);
  if (res != weftSuccess) {
    free(scores);
    return weft_error(NULL, res, "%s", err);
  }
  for (int p = 0; p < n; p++) {
    if (p == r || c->peers[p].net) continue;
    const float *mine = scores + (size_t)r * WEFT_MAX_NETS, *theirs = scores + (size_t)p * WEFT_MAX_NETS;
    int best = weft_net_slot_of(tcp);
    float best_bw = 0;
    for (int k = 0; k < weft_net_count(); k++) {
      float bw = mine[k] < theirs[k] ? mine[k] : theirs[k];
      if (bw > best_bw) best_bw = bw, best = k;
    }
    c->peers[p].net = weft_net_at(best);
  }
  free(scores);
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

static void describe_links(struct weftComm *c, const int *uses) {
  c->net_desc[0] = 0;
  for (int k = weft_net_count() - 1; k >= 0; k--)
    if (uses[k])
      snprintf(c->net_desc + strlen(c->net_desc), sizeof c->net_desc - strlen(c->net_desc), "%s%s",
               c->net_desc[0] ? "+" : "", weft_net_at(k)->name);
  if (!c->net_desc[0]) snprintf(c->net_desc, sizeof c->net_desc, "self");
  for (int k = 0; k < weft_net_count(); k++) {
    if (!uses[k]) continue;
    char peers[256] = "";
    for (int p = 0; p < c->nranks; p++)
      if (c->peers[p].net == weft_net_at(k) && strlen(peers) < sizeof peers - 16)
        snprintf(peers + strlen(peers), sizeof peers - strlen(peers), "%s%d", peers[0] ? "," : "", p);
    const char *plugin = weft_net_origin(k);
    WEFT_INFO(c, "transport %s%s%s%s to ranks %s", weft_net_at(k)->name, plugin ? " from plugin " : "",
              plugin ? plugin : "", c->net_force[0] ? " (forced by WEFT_NET)" : "", peers);
  }
}

weftResult_t weft_comm_connect(struct weftComm *c) {
  char err[WEFT_SOCK_ERRLEN];
  int n = c->nranks, r = c->rank, nk = weft_net_count();
  int uses[WEFT_MAX_NETS] = {0};
  weftResult_t res = choose_all(c);
  if (res != weftSuccess) return res;
  for (int p = 0; p < n; p++)
    if (p != r) uses[weft_net_slot_of(c->peers[p].net)]++;
  uint64_t key;
  memcpy(&key, c->secret, 8);
  key ^= ((uint64_t)c->split_count << 1) | 1;
  size_t row = (size_t)nk * WEFT_NET_HANDLE_BYTES;
  char *handles = calloc((size_t)n, row);
  if (!handles) return weft_error(NULL, weftSystemError, "out of memory");
  for (int k = 0; k < nk; k++)
    if (!uses[k]) close_net(&c->nets[k]); /* initialized only to score it */
  for (int k = 0; k < nk && res == weftSuccess; k++)
    if (uses[k]) res = listen_net(c, k, key, handles + (size_t)r * row + (size_t)k * WEFT_NET_HANDLE_BYTES);
  if (res == weftSuccess && (res = bootstrap_allgather(c->bootstrap, handles, row, err)) != weftSuccess)
    weft_error(NULL, res, "%s", err);
  for (int i = 1; i < n && res == weftSuccess; i++) {
    int p = (r + i) % n;
    const weftNet_t *net = c->peers[p].net;
    int k = weft_net_slot_of(net);
    res = net->connect(c->nets[k].ctx, 0, handles + (size_t)p * row + (size_t)k * WEFT_NET_HANDLE_BYTES, key,
                       (uint64_t)r, c->timeout_ms, &c->peers[p].send);
    if (res != weftSuccess) {
      char pn[128];
      weft_comm_peer_name(c, p, pn, sizeof pn);
      weft_error(NULL, res, "transport %s: connecting to %s: %s", net->name, pn, net->lastError(c->nets[k].ctx));
    }
  }
  free(handles);
  for (int k = 0; k < nk && res == weftSuccess; k++)
    if (uses[k]) res = accept_peers(c, &c->nets[k], uses[k]);
  if (res != weftSuccess) return res;
  if ((res = bootstrap_barrier(c->bootstrap, err)) != weftSuccess) return weft_error(NULL, res, "%s", err);
  describe_links(c, uses);
  return weftSuccess;
}
