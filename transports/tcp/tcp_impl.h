/* What tcp.c (connections, plain frames) and tcp_aead.c (encrypted frames)
 * share. */
#ifndef WEFT_TCP_IMPL_H
#define WEFT_TCP_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/hello.h"
#include "common/netobj.h"
#include "common/req_queue.h"
#include "util/crypto.h"

/* Encrypted frames (wire format): a message is a sealed 16-byte header
 * record {tag, size}, then its payload in sealed records of TCP_AEAD_CHUNK
 * bytes (the last one shorter), each followed by its 16-byte GCM tag. Record
 * n of a connection uses nonce n (weft_aead), so nothing can be replayed,
 * reordered or dropped without failing a tag. */
#ifndef TCP_AEAD_CHUNK /* the fuzz build sets a small one: the same code, cheaper multi-chunk inputs */
#define TCP_AEAD_CHUNK ((size_t)256 << 10)
#endif
enum { TCP_REC_HEADER = 1, TCP_REC_DATA = 2 }; /* authenticated with each record */

typedef struct {
  uint64_t tag;
  uint64_t size;
} tcp_frame;

struct tcp_ep;
typedef struct tcp_req {
  weft_req_link link;
  struct tcp_ep *ep;
  char *buf;
  size_t size;   /* posted size */
  tcp_frame hdr; /* sent header, or received header */
  size_t off;    /* plain: bytes of header + payload moved so far */
  int complete;
  /* encrypted: the record in progress (0: header, 1 + j: chunk j) and the
   * bytes of it moved so far */
  size_t rec, rec_off;
  uint8_t hdr_rec[sizeof(tcp_frame) + WEFT_AEAD_TAG]; /* receive: the sealed header */
  uint8_t tag_in[WEFT_AEAD_TAG];                       /* receive: a chunk's tag */
} tcp_req;

typedef struct tcp_ep {
  weft_net_obj h;
  int fd;
  weftResult_t failed;
  weft_req_queue q; /* requests not yet complete, in order */
  weft_aead *aead;  /* encrypted connection; NULL: plain frames */
  /* send side until the acceptor's reply has been checked */
  int awaiting_reply;
  weftNetKey_t key;
  uint8_t listen_nonce[WEFT_NONCE_BYTES];
  weft_net_hello hello;
  weft_net_reply reply;
  size_t reply_got;
  /* send side, encrypted: the sealed record being written */
  uint8_t *stage;
  size_t stage_len, stage_off;
  /* receive side: batching (tcp_rx.c) */
  size_t rx_left;        /* bytes the unit being read still needed at the last read */
  double rx_rate;        /* bytes per µs seen, smoothed; 0: not yet known */
  double rx_last_us;     /* when the last read was tried */
  double rx_hold_until;  /* no read before this (µs; 0: none) */
  int rx_lowat;          /* SO_RCVLOWAT as set (0: the kernel's default) */
} tcp_ep;

weftResult_t weft__tcp_ep_fail(tcp_ep *e, weftResult_t res);
void weft__tcp_req_done(tcp_ep *e);
weftResult_t weft__tcp_aead_send(tcp_ep *e);
weftResult_t weft__tcp_aead_recv(tcp_ep *e);
/* recv() of up to want bytes into dst for the request at the head, whose
 * unit (message or record) needs left >= want more bytes: may hold a read
 * back (-1 with errno EAGAIN) to batch a slow link's packets. */
ssize_t weft__tcp_rx(tcp_ep *e, void *dst, size_t want, size_t left);
/* Before weft sleeps in poll() on a receive endpoint: wake for a batch. */
void weft__tcp_rx_before_poll(tcp_ep *e);

#endif
