#include <stdlib.h>
#include <string.h>

#include "common/netobj.h"
#include "common/seal.h"
#include "util/clock.h"

void (*weft_net_tamper_hook)(uint64_t pos, size_t wire_len, weft_net_tamper *t);

weft_aead *weft_net_seal_new(const weftNetKey_t *key, const uint8_t listen_nonce[WEFT_NONCE_BYTES],
                             const weft_net_hello *h, const weft_net_reply *r, int seal) {
  uint8_t k[WEFT_KEY_BYTES], iv[WEFT_AEAD_IV];
  weft_aead *a = weft_net_link_keys(key, listen_nonce, h, r, k, iv) == 0 ? weft_aead_new(k, iv, seal) : NULL;
  weft_wipe(k, sizeof k);
  return a;
}

/* Additional data: the label, the weft tag and the message's length (little-endian). */
static void msg_ad(uint8_t ad[24], uint64_t tag, size_t len) {
  static const char label[8] = "weftmsg2";
  memcpy(ad, label, 8);
  for (int i = 0; i < 8; i++) {
    ad[8 + i] = (uint8_t)(tag >> (8 * i));
    ad[16 + i] = (uint8_t)((uint64_t)len >> (8 * i));
  }
}

int weft_net_seal_msg(weft_aead *a, uint64_t pos, uint64_t tag, const void *in, size_t len, void *out) {
  weft_net_tamper t = {pos, -1, 0};
  if (weft_net_tamper_hook) weft_net_tamper_hook(pos, len + WEFT_NET_SEAL_BYTES, &t);
  uint8_t ad[24];
  msg_ad(ad, tag, len);
  if (weft_aead_seal_at(a, t.seal_as, ad, sizeof ad, in, out, len, (uint8_t *)out + len) != 0) return -1;
  if (t.flip >= 0 && (size_t)t.flip < len + WEFT_NET_SEAL_BYTES) ((uint8_t *)out)[t.flip] ^= 0x20;
  return t.drop ? 1 : 0;
}

int weft_net_open_msg(weft_aead *a, uint64_t pos, uint64_t tag, const void *in, size_t wire_len, void *out) {
  if (wire_len < WEFT_NET_SEAL_BYTES) return -1;
  size_t len = wire_len - WEFT_NET_SEAL_BYTES;
  uint8_t ad[24];
  msg_ad(ad, tag, len);
  return weft_aead_open_at(a, pos, ad, sizeof ad, in, out, len, (const uint8_t *)in + len);
}

/* Each buffer starts with its capacity. */
typedef struct {
  size_t cap;
  max_align_t align[];
} bounce_hdr;

void *weft_net_bounce_get(weft_net_bounce_pool *p, size_t len) {
  for (int i = p->n - 1; i >= 0; i--) {
    bounce_hdr *h = (bounce_hdr *)p->buf[i] - 1;
    if (h->cap < len) continue;
    p->buf[i] = p->buf[--p->n];
    return h + 1;
  }
  bounce_hdr *h = malloc(sizeof *h + (len ? len : 1));
  if (!h) return NULL;
  h->cap = len;
  return h + 1;
}

void weft_net_bounce_put(weft_net_bounce_pool *p, void *b) {
  if (!b) return;
  if (p->n < WEFT_NET_BOUNCE_KEEP) {
    p->buf[p->n++] = b;
    return;
  }
  /* full: keep the larger of b and the smallest kept */
  int small = 0;
  for (int i = 1; i < p->n; i++)
    if (((bounce_hdr *)p->buf[i] - 1)->cap < ((bounce_hdr *)p->buf[small] - 1)->cap) small = i;
  if (((bounce_hdr *)p->buf[small] - 1)->cap < ((bounce_hdr *)b - 1)->cap) {
    void *t = p->buf[small];
    p->buf[small] = b;
    b = t;
  }
  free((bounce_hdr *)b - 1);
}

void weft_net_bounce_free(weft_net_bounce_pool *p) {
  while (p->n) free((bounce_hdr *)p->buf[--p->n] - 1);
}

void weft_net_seal_forged(void *obj, const char *transport, uint64_t pos) {
  weft_net_obj_err(obj,
                   "%s: a message from the peer failed authentication (message %llu of the connection: tampered "
                   "with, replayed, reordered or cut short on the way); its data was discarded",
                   transport, (unsigned long long)pos);
}

int weft_net_gap_check(weft_net_gap *g, void *obj, const char *transport, uint64_t pos, size_t bytes, int later) {
  if (!later) {
    g->since = 0;
    return 0;
  }
  long long now = weft_now_ms();
  if (!g->since || g->pos != pos) { /* a new gap: its clock starts */
    g->since = now;
    g->pos = pos;
    return 0;
  }
  long long allowed = WEFT_NET_GAP_MS + (long long)(bytes / WEFT_NET_GAP_FLOOR_KBPS), waited = now - g->since;
  if (waited <= allowed) return 0;
  weft_net_obj_err(obj,
                   "%s: message %llu of the connection never arrived, while a later one arrived at least %lld ms ago "
                   "(more than the %lld ms any reordering explains): dropped on the way",
                   transport, (unsigned long long)pos, waited, allowed);
  return 1;
}
