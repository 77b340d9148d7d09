/* ofi: the TCP connection of each endpoint after setup: the receiver's
 * answer (send side), then the peer's bye or its end. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util/sock.h"
#include "util/clock.h"
#include "ofi/ofi_impl.h"

int weft__ofi_av_lookup(ofi_ctx *c, const void *addr, size_t len, fi_addr_t *out) {
  for (int i = 0; i < c->navs; i++)
    if (c->avs[i].len == len && memcmp(c->avs[i].addr, addr, len) == 0) {
      *out = c->avs[i].fa;
      return 0;
    }
  if (len > OFI_ADDR_MAX) return -1;
  if (c->navs == c->cap_avs) {
    int cap = c->cap_avs ? c->cap_avs * 2 : 16;
    av_entry *n = realloc(c->avs, (size_t)cap * sizeof *n);
    if (!n) return -1;
    c->avs = n;
    c->cap_avs = cap;
  }
  fi_addr_t fa = FI_ADDR_NOTAVAIL;
  if (fi_av_insert(c->av, addr, 1, &fa, 0, NULL) != 1) return -1;
  av_entry *a = &c->avs[c->navs++];
  memcpy(a->addr, addr, len);
  a->len = len;
  a->fa = fa;
  *out = fa;
  return 0;
}

/* The peer closed (count: messages it completed in order) or vanished. */
static void peer_lost(ofi_ep *e, uint64_t count, const char *why) {
  if (e->peer_gone) return;
  e->peer_gone = 1;
  e->peer_count = count;
  e->lv_state = 2;
  if (!e->failed) weft_net_obj_err(e, "%s", why);
  if (e->h.type == WEFT_NET_OBJ_SEND)
    for (ofi_req *r = e->head; r; r = r->next)
      if (!r->complete && !r->err && r->seq < count) weft__ofi_req_set_complete(r); /* the peer has it */
}

static void liveness(ofi_ep *e) {
  while (e->lv_state < 2 && e->sock >= 0) {
    size_t want = e->lv_state == 0 ? sizeof(ofi_reply) : sizeof(ofi_bye);
    ssize_t n = recv(e->sock, e->lv + e->lv_got, want - e->lv_got, MSG_DONTWAIT);
    if (n > 0) {
      e->lv_got += (size_t)n;
      if (e->lv_got < want) continue;
      e->lv_got = 0;
      if (e->lv_state == 0) {
        ofi_reply rp;
        memcpy(&rp, e->lv, sizeof rp);
        if (rp.magic != REPLY_MAGIC || rp.epid == 0 || rp.epid > MAX_EPID || rp.addrlen > OFI_ADDR_MAX) {
          peer_lost(e, 0, "ofi: malformed connection answer from the peer");
          return;
        }
        int proved = weft_net_reply_check(&e->key, e->listen_nonce, &e->hello, &rp.auth);
        if (proved && (e->flags & WEFT_NET_CONN_ENCRYPT))
          e->aead = weft_net_seal_new(&e->key, e->listen_nonce, &e->hello, &rp.auth, 1);
        weft_wipe(&e->key, sizeof e->key);
        if (!proved || ((e->flags & WEFT_NET_CONN_ENCRYPT) && !e->aead)) {
          peer_lost(e, 0, proved ? "ofi: cannot set up the encryption of the connection"
                                 : "ofi: the peer's answer does not prove the job key: not the peer weft published");
          return;
        }
        if (!e->have_dest) {
          if (weft__ofi_av_lookup(e->ctx, rp.addr, rp.addrlen, &e->dest) != 0) {
            peer_lost(e, 0, "ofi: cannot insert the peer's fabric address into the address vector");
            return;
          }
          e->have_dest = 1;
        }
        e->epid = rp.epid;
        e->lv_state = 1;
        weft__ofi_post_pending(e);
      } else {
        ofi_bye b;
        memcpy(&b, e->lv, sizeof b);
        peer_lost(e, b.magic == BYE_MAGIC ? b.count : 0,
                  e->h.type == WEFT_NET_OBJ_SEND ? "peer closed its receive endpoint (connection closed by peer)"
                                        : "peer closed its send endpoint (connection closed by peer)");
      }
      continue;
    }
    if (n == 0) {
      peer_lost(e, 0, "connection lost: the peer process exited or closed the connection without notice");
      return;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      char why[WEFT_NET_ERRLEN];
      snprintf(why, sizeof why, "connection lost: %s", strerror(errno));
      peer_lost(e, 0, why);
    }
    return;
  }
}

void weft__ofi_ep_progress(ofi_ep *e) {
  double now = weft_now_us();
  if (e->lv_state == 0 || now >= e->next_check) {
    e->next_check = now + e->ctx->liveness_us;
    liveness(e);
  }
  weft__ofi_post_pending(e);
  weft__ofi_ctx_progress(e->ctx);
}

