/* ofi: closing an endpoint: the bye that tells the peer how far it got. */
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ofi/ofi_impl.h"

static uint64_t done_prefix(ofi_ep *e) {
  for (ofi_req *r = e->head; r; r = r->next)
    if (!r->complete) return r->seq;
  return e->next_seq;
}

weftResult_t weft__ofi_close_ep(void *p) {
  ofi_ep *e = p;
  if (!e) return weftSuccess;
  ofi_ctx *c = e->ctx;
  if (e->sock >= 0) {
    ofi_bye b = {BYE_MAGIC, done_prefix(e)};
    (void)!send(e->sock, &b, sizeof b, MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(e->sock, SHUT_WR);
    char sink[256]; /* unread input would turn the close into a reset */
    while (recv(e->sock, sink, sizeof sink, MSG_DONTWAIT) > 0) {
    }
    close(e->sock);
  }
  for (ofi_req *r = e->head; r; r = r->next) weft__ofi_req_orphan_ops(r);
  weft__ofi_ctx_progress(c); /* reap cancellations */
  for (weft_req_link *l = e->pool.all; l; l = l->all_next) weft__ofi_bounce_put(c, ((ofi_req *)l)->hold);
  weft_req_destroy(&e->pool);
  weft_aead_free(e->aead);
  weft_wipe(&e->key, sizeof e->key);
  free(e);
  return weftSuccess;
}

