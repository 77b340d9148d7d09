/* Request bookkeeping shared by the built-in transports: an in-order queue of
 * requests still moving data, and a pool that recycles finished requests and
 * frees every one of them when the endpoint closes (so requests abandoned by
 * a failed operation never leak). A request type embeds weft_req_link as its
 * first member. */
#ifndef WEFT_REQ_QUEUE_H
#define WEFT_REQ_QUEUE_H

#include <stdlib.h>
#include <string.h>

typedef struct weft_req_link {
  struct weft_req_link *next;     /* in the queue or the free list */
  struct weft_req_link *all_next; /* every request this pool allocated */
} weft_req_link;

typedef struct {
  weft_req_link *head, *tail; /* queued, oldest first */
  weft_req_link *free_list, *all;
} weft_req_queue;

/* A zeroed request of `size` bytes (first member: weft_req_link), or NULL. */
static inline void *weft_req_get(weft_req_queue *q, size_t size) {
  weft_req_link *r = q->free_list;
  if (r) {
    q->free_list = r->next;
  } else {
    if (!(r = malloc(size))) return NULL;
    r->all_next = q->all;
    q->all = r;
  }
  weft_req_link *keep = r->all_next;
  memset(r, 0, size);
  r->all_next = keep;
  return r;
}

static inline void weft_req_push(weft_req_queue *q, void *req) {
  weft_req_link *r = req;
  r->next = NULL;
  if (q->tail) q->tail->next = r;
  else q->head = r;
  q->tail = r;
}

/* Removes the oldest queued request. */
static inline void weft_req_pop(weft_req_queue *q) {
  weft_req_link *r = q->head;
  q->head = r->next;
  if (!q->head) q->tail = NULL;
  r->next = NULL;
}

/* Returns a request the caller is done with to the pool. */
static inline void weft_req_release(weft_req_queue *q, void *req) {
  weft_req_link *r = req;
  r->next = q->free_list;
  q->free_list = r;
}

static inline void weft_req_destroy(weft_req_queue *q) {
  weft_req_link *r = q->all;
  while (r) {
    weft_req_link *n = r->all_next;
    free(r);
    r = n;
  }
  memset(q, 0, sizeof *q);
}

#endif
