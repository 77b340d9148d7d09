/* ucx: the setup socket of a connection after connect() and accept(). The
 * sender reads the receiver's reply and resolves its UCP endpoint; both sides
 * then watch it for the bye or the end of the connection. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "util/param.h"
#include "ucx/ucx_impl.h"

/* UCP may still report an error on an endpoint after ucp_ep_close_nbx (seen
 * with tcp lanes), so its error handler gets a token that outlives our
 * endpoint: closing clears it, finalize frees it. */
static void ep_err_cb(void *arg, ucp_ep_h uep, ucs_status_t status) {
  ucx_token *t = arg;
  ucx_ep *e = t->ep;
  (void)uep;
  if (!e) return;
  weft__ucx_ep_fail(e, weftRemoteError, "ucx: connection to the peer lost (%s)", ucs_status_string(status));
}



/* Whether the endpoint to a peer on host `host` asks UCP for peer error
 * handling. In this UCX, shared-memory transports (posix, sysv) cannot
 * report a failed peer, so UCP leaves them out of such endpoints and a link
 * within one host would run over tcp. Our socket already tells us when a
 * peer goes away, so within a host we do without UCP's error handling
 * (WEFT_UCX_ERR_MODE=peer|none overrides; default auto). */
static int peer_mode(ucx_ctx *c, uint64_t host) {
  const char *m = weft_env("WEFT_UCX_ERR_MODE");
  if (m && !strcmp(m, "peer")) return 1;
  if (m && !strcmp(m, "none")) return 0;
  return host != c->host || !c->has_shm;
}

/* The reply arrived: create the UCP endpoint and send what was queued. */
static void send_resolve(ucx_ctx *c, ucx_ep *e) {
  ucp_ep_params_t p;
  memset(&p, 0, sizeof p);
  p.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                 UCP_EP_PARAM_FIELD_ERR_HANDLER;
  p.address = (const ucp_address_t *)e->addr;
  p.err_mode = peer_mode(c, e->reply.host) ? UCP_ERR_HANDLING_MODE_PEER : UCP_ERR_HANDLING_MODE_NONE;
  ucx_token *t = calloc(1, sizeof *t);
  if (!t) {
    weft__ucx_ep_fail(e, weftSystemError, "ucx: out of memory");
    return;
  }
  t->ep = e;
  t->next = c->tokens;
  c->tokens = t;
  e->token = t;
  p.err_handler.cb = ep_err_cb;
  p.err_handler.arg = t;
  ucs_status_t st = ucp_ep_create(c->worker, &p, &e->ep);
  free(e->addr);
  e->addr = NULL;
  if (st != UCS_OK) {
    e->ep = NULL;
    weft__ucx_ep_fail(e, weftRemoteError, "ucx: creating the endpoint to the peer failed: %s", ucs_status_string(st));
    return;
  }
  while (e->q.head && !e->failed) {
    ucx_req *r = (ucx_req *)e->q.head;
    weft_req_pop(&e->q);
    weft__ucx_send_issue(e, r);
  }
}

/* The answer's reply and proof have arrived: checks the proof, sets up the
 * encryption and makes room for the address. 0 on success. */
static int answer_check(ucx_ctx *c, ucx_ep *e) {
  const char *why = NULL;
  if (e->reply.magic != UCX_MAGIC || e->reply.len == 0 || e->reply.len > MAX_ADDR)
    why = "ucx: bad reply from the peer";
  else if (!weft_net_reply_check(&e->key, e->listen_nonce, &e->hello.h, &e->auth))
    why = "ucx: the peer's answer does not prove the job key: not the peer weft published";
  else if ((e->flags & WEFT_NET_CONN_ENCRYPT) &&
           !(e->aead = weft_net_seal_new(&e->key, e->listen_nonce, &e->hello.h, &e->auth, 1)))
    why = "ucx: cannot set up the encryption of the connection";
  else if (!(e->addr = malloc(e->reply.len)))
    why = "ucx: out of memory";
  weft_wipe(&e->key, sizeof e->key);
  if (!why) return 0;
  weft__ucx_ep_fail(e, weftRemoteError, "%s", why);
  weft__ucx_sock_close(c, &e->fd);
  return -1;
}

/* Reads the peer's answer ({magic, length, host}, the proof of the key, the
 * worker address), or notices that the receiver went away. */
void weft__ucx_send_sock(ucx_ctx *c, ucx_ep *e) {
  const size_t head = sizeof e->reply + sizeof e->auth;
  for (;;) {
    char *dst;
    size_t want;
    char junk[64];
    if (e->got < sizeof e->reply) {
      dst = (char *)&e->reply + e->got;
      want = sizeof e->reply - e->got;
    } else if (e->got < head) {
      dst = (char *)&e->auth + (e->got - sizeof e->reply);
      want = head - e->got;
    } else if (!e->ep && e->addr) {
      dst = e->addr + (e->got - head);
      want = head + e->reply.len - e->got;
    } else {
      dst = junk;
      want = sizeof junk;
    }
    ssize_t n = recv(e->fd, dst, want, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (n <= 0) {
      if (e->ep || e->got >= head)
        weft__ucx_ep_fail(e, weftRemoteError, "ucx: the receiving peer closed the connection or exited");
      else
        weft__ucx_ep_fail(e, weftRemoteError, "ucx: the peer dropped the connection (a different job key?)");
      weft__ucx_sock_close(c, &e->fd);
      return;
    }
    if (dst == junk) continue;
    e->got += (size_t)n;
    if (e->got == head) {
      if (answer_check(c, e) != 0) return;
    } else if (e->got > head && e->got == head + e->reply.len) {
      send_resolve(c, e);
    }
  }
}

/* Reads a bye, or notices that the sender went away. */
void weft__ucx_recv_sock(ucx_ctx *c, ucx_ep *e) {
  for (;;) {
    char *dst = (char *)&e->reply + e->got; /* the bye is read into the reply buffer */
    ssize_t n = recv(e->fd, dst, sizeof e->reply - e->got, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
    if (n > 0) {
      e->got += (size_t)n;
      if (e->got < sizeof e->reply) continue;
      e->got = 0;
      if (e->reply.magic == UCX_BYE) {
        e->bye = 1;
        e->limit = e->reply.len;
        continue;
      }
    }
    if (!e->bye) weft__ucx_ep_fail(e, weftRemoteError, "ucx: the sending peer closed the connection or exited");
    weft__ucx_sock_close(c, &e->fd);
    return;
  }
}

