/* Encrypted frames of the tcp transport (tcp_impl.h has the format). The
 * sender seals one record at a time into a staging buffer and writes it while
 * the kernel is still sending the previous ones; the receiver reads each
 * chunk straight into the posted buffer and opens it in place. A record that
 * fails its tag fails the endpoint: the receive never completes, so its data
 * is never delivered. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "tcp/tcp_impl.h"

static size_t chunk_len(const tcp_req *r, size_t j) {
  size_t at = j * TCP_AEAD_CHUNK;
  return r->hdr.size - at < TCP_AEAD_CHUNK ? (size_t)r->hdr.size - at : TCP_AEAD_CHUNK;
}

static size_t nchunks(const tcp_req *r) { return (size_t)((r->hdr.size + TCP_AEAD_CHUNK - 1) / TCP_AEAD_CHUNK); }

/* Seals record rec of r into the staging buffer. */
static int seal_record(tcp_ep *e, tcp_req *r) {
  size_t n;
  int rc;
  if (r->rec == 0) {
    n = sizeof r->hdr;
    rc = weft_aead_seal(e->aead, TCP_REC_HEADER, &r->hdr, e->stage, n, e->stage + n);
  } else {
    size_t j = r->rec - 1;
    n = chunk_len(r, j);
    rc = weft_aead_seal(e->aead, TCP_REC_DATA, r->buf + j * TCP_AEAD_CHUNK, e->stage, n, e->stage + n);
  }
  e->stage_len = n + WEFT_AEAD_TAG;
  e->stage_off = 0;
  return rc;
}

weftResult_t weft__tcp_aead_send(tcp_ep *e) {
  while (e->q.head) {
    tcp_req *r = (tcp_req *)e->q.head;
    if (e->stage_off == e->stage_len) { /* nothing staged: seal the next record */
      if (r->rec > nchunks(r)) {
        weft__tcp_req_done(e);
        continue;
      }
      if (seal_record(e, r) != 0) {
        weft_net_obj_err(e, "tcp: encrypting a frame failed");
        return weft__tcp_ep_fail(e, weftSystemError);
      }
    }
    ssize_t w = send(e->fd, e->stage + e->stage_off, e->stage_len - e->stage_off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return weftSuccess;
      weft_net_obj_err(e, "send failed: %s", strerror(errno));
      return weft__tcp_ep_fail(e, weftRemoteError);
    }
    e->stage_off += (size_t)w;
    if (e->stage_off == e->stage_len) r->rec++;
  }
  return weftSuccess;
}

static weftResult_t forged(tcp_ep *e, const char *what) {
  weft_net_obj_err(e,
                   "tcp: %s from the peer failed authentication (record %llu of the connection: tampered with, "
                   "replayed, reordered or cut short on the way); its data was discarded",
                   what, (unsigned long long)weft_aead_count(e->aead) - 1);
  return weft__tcp_ep_fail(e, weftRemoteError);
}

/* Reads into dst until *have reaches want: 1 when it does, 0 when the socket
 * has no more for now, -1 when the endpoint failed. after: the bytes that
 * follow in the same record (its tag), for the batching (tcp_rx.c). */
static int read_upto(tcp_ep *e, char *dst, size_t *have, size_t want, size_t after) {
  while (*have < want) {
    ssize_t got = weft__tcp_rx(e, dst + *have, want - *have, want - *have + after);
    if (got <= 0) {
      if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return 0;
      weft_net_obj_err(e, "%s", got == 0 ? "connection closed by peer" : strerror(errno));
      weft__tcp_ep_fail(e, weftRemoteError);
      return -1;
    }
    *have += (size_t)got;
  }
  return 1;
}

weftResult_t weft__tcp_aead_recv(tcp_ep *e) {
  while (e->q.head) {
    tcp_req *r = (tcp_req *)e->q.head;
    int k;
    if (r->rec == 0) {
      if ((k = read_upto(e, (char *)r->hdr_rec, &r->rec_off, sizeof r->hdr_rec, 0)) <= 0) return k ? e->failed : weftSuccess;
      if (weft_aead_open(e->aead, TCP_REC_HEADER, r->hdr_rec, &r->hdr, sizeof r->hdr, r->hdr_rec + sizeof r->hdr) != 0)
        return forged(e, "a frame header");
      if (r->hdr.size > r->size) {
        weft_net_obj_err(e, "incoming message of %llu bytes does not fit the posted %zu bytes",
                         (unsigned long long)r->hdr.size, r->size);
        return weft__tcp_ep_fail(e, weftInvalidUsage);
      }
      r->rec = 1;
      r->rec_off = 0;
    }
    while (r->rec <= nchunks(r)) {
      size_t j = r->rec - 1, n = chunk_len(r, j);
      char *dst = r->buf + j * TCP_AEAD_CHUNK;
      /* the chunk straight into the posted buffer, then its tag */
      if ((k = read_upto(e, dst, &r->rec_off, n, WEFT_AEAD_TAG)) <= 0) return k ? e->failed : weftSuccess;
      size_t tag_have = r->rec_off - n;
      k = read_upto(e, (char *)r->tag_in, &tag_have, WEFT_AEAD_TAG, 0);
      r->rec_off = n + tag_have;
      if (k <= 0) return k ? e->failed : weftSuccess;
      if (weft_aead_open(e->aead, TCP_REC_DATA, dst, dst, n, r->tag_in) != 0) return forged(e, "a frame's data");
      r->rec++;
      r->rec_off = 0;
    }
    weft__tcp_req_done(e);
  }
  return weftSuccess;
}
