/* Transport selection and connection setup. Every rank opens the transports
 * it may need, publishes their handles through the bootstrap, and connects to
 * each peer through one transport:
 *   - WEFT_NET (or config netName) forces one transport for every peer;
 *   - peers on the same host use shm (unless WEFT_SHM_DISABLE=1);
 *   - peers on other hosts use, of the transports both ranks have, the one
 *     with the highest nominal bandwidth (getProperties), tcp on a tie;
 *   - a link that must be encrypted (WEFT_CRYPTO, encrypt_links) stays on its
 *     transport when that one encrypts (tcp, ucx, ofi: props.encrypts), and
 *     goes through tcp instead of one that does not (a plugin without it).
 * Both ends of a link compute the same choice from shared data. */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootstrap/bootstrap.h"
#include "bootstrap/keys.h"
#include "comm/comm.h"
#include "comm/comm_log.h"
#include "comm/warm.h"
#include "comm/netreg.h"
#include "util/param.h"
#include "topo/graph.h"

_Static_assert(WEFT_NET_SLOTS <= WEFT_MAX_NETS, "WEFT_MAX_NETS is smaller than the registry");

void weft_comm_close_peers(struct weftComm *c) {
  if (!c->peers) return;
  for (int p = 0; p < c->nranks; p++) {
    weft_peer_conn *pc = &c->peers[p];
    for (int k = 1; k < pc->nstreams; k++) {
      if (pc->xsend && pc->xsend[k - 1]) pc->net->closeSend(pc->xsend[k - 1]);
      if (pc->xrecv && pc->xrecv[k - 1]) pc->net->closeRecv(pc->xrecv[k - 1]);
      if (pc->xsend) pc->xsend[k - 1] = NULL;
      if (pc->xrecv) pc->xrecv[k - 1] = NULL;
    }
    if (pc->send) pc->net->closeSend(pc->send);
    if (pc->recv) pc->net->closeRecv(pc->recv);
    pc->send = pc->recv = NULL;
  }
}

void weft_comm_free_peers(struct weftComm *c) {
  if (!c->peers) return;
  weft_comm_close_peers(c);
  for (int p = 0; p < c->nranks; p++) {
    free(c->peers[p].xsend);
    free(c->peers[p].xrecv);
  }
  free(c->peers);
  c->peers = NULL;
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

/* The address the transports listen on: the NIC nearest the device when the
 * comm chose one (comm/locality.c), else the bootstrap's. */
static void listen_ip(const struct weftComm *c, char *ip, size_t len) {
  const weft_sockaddr *me = &c->bootstrap->peers[c->rank].addr;
  ip[0] = 0;
  inet_ntop(me->sa.sa_family, me->sa.sa_family == AF_INET6 ? (const void *)&me->in6.sin6_addr
                                                           : (const void *)&me->in.sin_addr, ip, (socklen_t)len);
  if (c->net_local_ip[0]) snprintf(ip, len, "%s", c->net_local_ip);
}

static weftResult_t init_net(struct weftComm *c, int k) {
  weft_net_inst *ni = &c->nets[k];
  if (ni->ctx) return weftSuccess;
  const weftNet_t *net = weft_net_at(k);
  char ip[INET6_ADDRSTRLEN];
  listen_ip(c, ip, sizeof ip);
  weftNetInitArgs_t args = {WEFT_NET_ABI_VERSION, net_log, c, ip, weft_env("WEFT_SOCKET_IFNAME")};
  ni->net = net;
  if (net->init(&args, &ni->ctx) != weftSuccess) {
    ni->ctx = NULL;
    return weft_error(NULL, weftSystemError, "transport %s: init failed", net->name);
  }
  weftNetProperties_t props = {0}; /* zeroed: fields a plugin does not know stay 0 */
  int got = net->getProperties && net->getProperties(ni->ctx, 0, &props) == weftSuccess;
  ni->host_local = got && props.hostLocal;
  ni->encrypts = got && props.encrypts;
  ni->connect_retry = got && props.connectRetry;
  return weftSuccess;
}

static weftResult_t listen_net(struct weftComm *c, int k, const weftNetKey_t *key, char *handle) {
  weft_net_inst *ni = &c->nets[k];
  weftResult_t res = init_net(c, k);
  if (res != weftSuccess) return res;
  if ((res = ni->net->listen(ni->ctx, 0, key, handle, &ni->listen)) != weftSuccess) {
    ni->listen = NULL;
    return weft_error(NULL, res, "transport %s: listen failed: %s", ni->net->name, ni->net->lastError(ni->ctx));
  }
  return weftSuccess;
}

/* A rank's scores depend on the process and the address its transports
 * listen on, not on the comm: they are measured once per address and
 * interface filter and kept, so that a split, shrink or grow does not
 * initialize every transport again only to score it (0.1-0.3 s each for ucx
 * and ofi; the losers are closed right after). */
#define SCORE_MEMOS 4
static pthread_mutex_t score_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
  char key[INET6_ADDRSTRLEN + 128];
  float score[WEFT_MAX_NETS];
} score_memo[SCORE_MEMOS];
static int score_memos;

/* Nominal bandwidth of each inter-host candidate on this rank, 0 when the
 * transport is missing or fails to initialize here. */
static void local_scores(struct weftComm *c, float *score) {
  char key[sizeof score_memo[0].key], ip[INET6_ADDRSTRLEN];
  const char *ifname = weft_env("WEFT_SOCKET_IFNAME");
  listen_ip(c, ip, sizeof ip);
  snprintf(key, sizeof key, "%s|%s", ip, ifname ? ifname : "");
  pthread_mutex_lock(&score_mu);
  for (int i = 0; i < score_memos; i++)
    if (strcmp(score_memo[i].key, key) == 0) {
      memcpy(score, score_memo[i].score, sizeof score_memo[i].score);
      pthread_mutex_unlock(&score_mu);
      return;
    }
  pthread_mutex_unlock(&score_mu);
  for (int k = 0; k < WEFT_MAX_NETS; k++) score[k] = 0;
  for (int k = 0; k < weft_net_count(); k++) {
    const weftNet_t *net = weft_net_at(k);
    if (strcmp(net->name, "shm") == 0) continue;
    weftNetProperties_t props = {0};
    if (init_net(c, k) != weftSuccess) continue;
    if (!net->getProperties || net->getProperties(c->nets[k].ctx, 0, &props) != weftSuccess) props.bandwidthGbps = 1;
    score[k] = props.bandwidthGbps > 0 ? (float)props.bandwidthGbps : 1;
  }
  pthread_mutex_lock(&score_mu);
  int slot = score_memos < SCORE_MEMOS ? score_memos++ : 0;
  snprintf(score_memo[slot].key, sizeof score_memo[slot].key, "%s", key);
  memcpy(score_memo[slot].score, score, sizeof score_memo[slot].score);
  pthread_mutex_unlock(&score_mu);
}

/* Picks c->peers[p].net for every peer. */
static weftResult_t choose_all(struct weftComm *c) {
  int n = c->nranks, r = c->rank;
  const weft_rank_info *info = c->bootstrap->peers;
  const weftNet_t *shm = weft_net_find("shm"), *tcp = weft_net_find("tcp");
  int shm_ok = !weft_env_bool("WEFT_SHM_DISABLE", 0);
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
  weftResult_t res = weft_bootstrap_allgather(c->bootstrap, scores, sizeof(float) * WEFT_MAX_NETS, err);
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

const char *weft_comm_crypto_name(int mode) {
  return mode == WEFT_CRYPTO_ON ? "on" : mode == WEFT_CRYPTO_OFF ? "off" : "auto";
}

/* Whether the link to p must be encrypted: never through shared memory or
 * with WEFT_CRYPTO=off; between sites with auto; every other link with on. */
static int link_needs_crypto(const struct weftComm *c, int p) {
  const weft_groups *sites = &c->layout.sites;
  if (c->crypto == WEFT_CRYPTO_OFF || p == c->rank) return 0;
  const weftNet_t *shm = weft_net_find("shm");
  if (c->peers[p].net && c->peers[p].net == shm) return 0;
  if (c->crypto == WEFT_CRYPTO_ON) return 1;
  return sites->group_of && sites->group_of[p] != sites->group_of[c->rank];
}

/* Decides c->encrypt[p] for every peer and moves the links that must be
 * encrypted and whose transport cannot onto one that can (tcp), or fails when
 * the transport is forced. Runs on both ends of every link with the same data. */
static weftResult_t encrypt_links(struct weftComm *c) {
  const weftNet_t *tcp = weft_net_find("tcp");
  if (!(c->encrypt = calloc((size_t)c->nranks, 1))) return weft_error(NULL, weftSystemError, "out of memory");
  int moved = 0;
  for (int p = 0; p < c->nranks; p++) {
    weft_peer_conn *pc = &c->peers[p];
    if (!pc->net || !link_needs_crypto(c, p)) continue;
    c->encrypt[p] = 1;
    int k = weft_net_slot_of(pc->net);
    weftResult_t res = init_net(c, k);
    if (res != weftSuccess) return res;
    if (c->nets[k].encrypts) continue;
    char pn[128];
    weft_comm_peer_name(c, p, pn, sizeof pn);
    if (c->net_force[0] || !tcp || !(init_net(c, weft_net_slot_of(tcp)) == weftSuccess &&
                                     c->nets[weft_net_slot_of(tcp)].encrypts))
      return weft_error(NULL, weftInvalidUsage,
                        "transport %s cannot encrypt the link to %s, which WEFT_CRYPTO=%s requires%s; use "
                        "WEFT_NET=tcp, or set WEFT_CRYPTO=off if the link is trusted (docs/security.md)",
                        pc->net->name, pn, weft_comm_crypto_name(c->crypto), c->net_force[0] ? " (forced by WEFT_NET)" : "");
    if (!moved++)
      WEFT_INFO(c, "links that WEFT_CRYPTO=%s encrypts go through tcp instead of %s, which does not encrypt "
                "(first: %s)", weft_comm_crypto_name(c->crypto), pc->net->name, pn);
    pc->net = tcp;
  }
  return weftSuccess;
}

/* Usable TCP window of one stream on this host: half the autotuning
 * maximum of the smaller of the receive and send buffers. */
static int local_window(void) {
  long best = 0;
  static const char *const files[] = {"/proc/sys/net/ipv4/tcp_rmem", "/proc/sys/net/ipv4/tcp_wmem"};
  for (int i = 0; i < 2; i++) {
    FILE *f = fopen(files[i], "r");
    long lo, def, max = 0;
    if (f && fscanf(f, "%ld %ld %ld", &lo, &def, &max) == 3 && max > 0 && (best == 0 || max < best)) best = max;
    if (f) fclose(f);
  }
  best = best > 0 ? best / 2 : 2L << 20;
  return best > (1L << 30) ? 1 << 30 : (int)best;
}

/* Parallel streams to peer p: one inside a site; across sites WEFT_WAN_STREAMS,
 * else the topology link's `streams`, else enough that the link's
 * bandwidth-delay product fits in the streams' windows (win: the smaller
 * usable window of the two hosts), 1 to 16; at most what the transport says
 * is worth opening. Computed from data both ends share, so they agree (the
 * acceptor checks). */
static int streams_for(struct weftComm *c, int p, int maxs, int win) {
  const weft_groups *sites = &c->layout.sites;
  if (maxs <= 1 || !sites->group_of || sites->group_of[p] == sites->group_of[c->rank]) return 1;
  int s = c->tune.wan_streams;
  weft_link l;
  if (s == 0 && c->layout.graph && weft_graph_link(c->layout.graph, c->rank, p, &l) >= 0) {
    if (l.streams > 0) {
      s = l.streams;
    } else {
      double bdp = l.bw * 2 * l.lat;
      s = (int)(bdp / (win > 0 ? win : 1)) + 1;
      s = s > 16 ? 16 : s;
    }
  }
  if (s <= 0) s = 1;
  return s < maxs ? s : maxs;
}

static weftResult_t plan_streams(struct weftComm *c, int *uses) {
  int maxs[WEFT_MAX_NETS] = {0}, *win = NULL;
  if (c->layout.sites.ngroups > 1) { /* every rank knows this: all or none exchange */
    char err[WEFT_SOCK_ERRLEN];
    if (!(win = calloc((size_t)c->nranks, sizeof *win))) return weft_error(NULL, weftSystemError, "out of memory");
    win[c->rank] = local_window();
    weftResult_t res = weft_bootstrap_allgather(c->bootstrap, win, sizeof *win, err);
    if (res != weftSuccess) {
      free(win);
      return weft_error(NULL, res, "%s", err);
    }
  }
  for (int p = 0; p < c->nranks; p++) {
    weft_peer_conn *pc = &c->peers[p];
    pc->nstreams = 1;
    if (p == c->rank) continue;
    int k = weft_net_slot_of(pc->net);
    if (!maxs[k]) {
      weftNetProperties_t props = {0};
      maxs[k] = 1;
      if (pc->net->getProperties && c->nets[k].ctx && pc->net->getProperties(c->nets[k].ctx, 0, &props) == weftSuccess &&
          props.maxStreams > 1)
        maxs[k] = props.maxStreams < WEFT_MAX_STREAMS ? props.maxStreams : WEFT_MAX_STREAMS;
    }
    pc->nstreams = streams_for(c, p, maxs[k], win ? (win[p] < win[c->rank] ? win[p] : win[c->rank]) : 0);
    uses[k] += pc->nstreams;
    if (pc->nstreams > 1) {
      pc->xsend = calloc((size_t)pc->nstreams - 1, sizeof(void *));
      pc->xrecv = calloc((size_t)pc->nstreams - 1, sizeof(void *));
      if (!pc->xsend || !pc->xrecv) {
        free(win);
        return weft_error(NULL, weftSystemError, "out of memory");
      }
    }
  }
  free(win);
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
    int most = 1;
    for (int p = 0; p < c->nranks; p++) {
      if (c->peers[p].net != weft_net_at(k)) continue;
      if (c->peers[p].nstreams > most) most = c->peers[p].nstreams;
      if (strlen(peers) < sizeof peers - 24)
        snprintf(peers + strlen(peers), sizeof peers - strlen(peers), "%s%d%s", peers[0] ? "," : "", p,
                 c->peers[p].nstreams > 1 ? "*" : "");
    }
    if (most > 1) snprintf(peers + strlen(peers), sizeof peers - strlen(peers), " (*: %d streams)", most);
    const char *plugin = weft_net_origin(k);
    WEFT_INFO(c, "transport %s%s%s%s to ranks %s", weft_net_at(k)->name, plugin ? " from plugin " : "",
              plugin ? plugin : "", c->net_force[0] ? " (forced by WEFT_NET)" : "", peers);
  }
  char enc[256] = "";
  for (int p = 0; p < c->nranks && c->encrypt; p++)
    if (c->encrypt[p] && strlen(enc) < sizeof enc - 16)
      snprintf(enc + strlen(enc), sizeof enc - strlen(enc), "%s%d", enc[0] ? "," : "", p);
  if (enc[0]) WEFT_INFO(c, "links encrypted (AES-256-GCM, WEFT_CRYPTO=%s) to ranks %s", weft_comm_crypto_name(c->crypto), enc);
}

/* What a rank publishes after its handles, checked by every rank before
 * any link opens: ranks that disagree all fail at init with the same reason,
 * instead of the first to notice a link's flags leaving the others with
 * refused connections, or an eager rank waiting for links a lazy one opens
 * only on use. */
enum { ROW_CRYPTO, ROW_EAGER, ROW_WARM, ROW_MODES }; /* ROW_WARM: not checked, see comm/warm.h */

static weftResult_t check_modes(struct weftComm *c, const char *handles, size_t hrow) {
  for (int p = 0; p < c->nranks; p++) {
    const unsigned char *m = (const unsigned char *)handles + (size_t)p * c->net_handle_row + hrow;
    if (m[ROW_CRYPTO] == c->crypto && m[ROW_EAGER] == c->connect_eager) continue;
    char pn[128];
    weft_comm_peer_name(c, p, pn, sizeof pn);
    if (m[ROW_CRYPTO] != c->crypto)
      return weft_error(NULL, weftInvalidUsage, "%s runs with WEFT_CRYPTO=%s, this rank with WEFT_CRYPTO=%s: set "
                        "WEFT_CRYPTO alike on every rank", pn, weft_comm_crypto_name(m[ROW_CRYPTO]), weft_comm_crypto_name(c->crypto));
    return weft_error(NULL, weftInvalidUsage, "%s runs with WEFT_CONNECT=%s, this rank with WEFT_CONNECT=%s: set "
                      "WEFT_CONNECT alike on every rank", pn, m[ROW_EAGER] ? "eager" : "lazy",
                      c->connect_eager ? "eager" : "lazy");
  }
  return weftSuccess;
}

weftResult_t weft_comm_connect(struct weftComm *c) {
  char err[WEFT_SOCK_ERRLEN];
  int n = c->nranks, r = c->rank, nk = weft_net_count();
  int uses[WEFT_MAX_NETS] = {0};
  weftResult_t res = choose_all(c);
  if (res == weftSuccess) res = encrypt_links(c);
  if (res != weftSuccess) return res;
  for (int k = 0; k < nk && res == weftSuccess; k++) {
    int used = 0;
    for (int p = 0; p < n; p++) used |= p != r && c->peers[p].net == weft_net_at(k);
    if (used) res = init_net(c, k);
  }
  if (res == weftSuccess) res = plan_streams(c, uses);
  if (res != weftSuccess) return res;
  /* the transports get the comm's link key, never the job secret; a split
   * child has a key of its own (bootstrap/keys.h) */
  if (weft_key_derive(c->key, WEFT_KEY_LABEL_NET, NULL, 0, c->net_key.bytes) != 0)
    return weft_error(NULL, weftSystemError, "cannot derive the link key (libcrypto)");
  /* each rank's row: its handles, then its modes (check_modes); kept for
   * the links opened on first use */
  size_t hrow = (size_t)nk * WEFT_NET_HANDLE_BYTES;
  c->net_handle_row = hrow + ROW_MODES;
  char *handles = c->net_handles = calloc((size_t)n, c->net_handle_row);
  if (!handles) return weft_error(NULL, weftSystemError, "out of memory");
  for (int k = 0; k < nk; k++)
    if (!uses[k]) close_net(&c->nets[k]); /* initialized only to score it */
  char *mine = handles + (size_t)r * c->net_handle_row;
  for (int k = 0; k < nk && res == weftSuccess; k++)
    if (uses[k]) res = listen_net(c, k, &c->net_key, mine + (size_t)k * WEFT_NET_HANDLE_BYTES);
  mine[hrow + ROW_CRYPTO] = (char)c->crypto;
  mine[hrow + ROW_EAGER] = (char)c->connect_eager;
  mine[hrow + ROW_WARM] = (char)weft_comm_warm_wanted();
  if (res == weftSuccess &&
      (res = weft_bootstrap_allgather(c->bootstrap, handles, c->net_handle_row, err)) != weftSuccess)
    weft_error(NULL, res, "%s", err);
  if (res == weftSuccess) res = check_modes(c, handles, hrow);
  if (res == weftSuccess && c->connect_eager) res = weft_comm_link_all(c);
  if (res == weftSuccess) { /* a WAN link is warmed when both its ends want it (comm/warm.h) */
    unsigned char *warm = malloc((size_t)n);
    if (!warm) return weft_error(NULL, weftSystemError, "out of memory");
    for (int p = 0; p < n; p++) warm[p] = (unsigned char)handles[(size_t)p * c->net_handle_row + hrow + ROW_WARM];
    res = weft_comm_warm_wan(c, warm);
    free(warm);
  }
  if (res != weftSuccess) return res;
  describe_links(c, uses);
  return weftSuccess;
}
