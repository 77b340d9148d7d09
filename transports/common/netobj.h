/* The header every object a built-in transport hands to weft starts with
 * (context, listener, send or receive endpoint): its kind and the text of its
 * last error, so that one lastError() serves every object. */
#ifndef WEFT_NET_OBJ_H
#define WEFT_NET_OBJ_H

#include <stdarg.h>

#define WEFT_NET_ERRLEN 320

enum {
  WEFT_NET_OBJ_CTX = 1,
  WEFT_NET_OBJ_LISTEN,
  WEFT_NET_OBJ_SEND,
  WEFT_NET_OBJ_RECV,
  WEFT_NET_OBJ_PRIVATE /* first kind free for a transport's own objects */
};

typedef struct {
  int type;
  char err[WEFT_NET_ERRLEN];
} weft_net_obj;

/* Sets the error text of obj (any object starting with weft_net_obj). */
void weft_net_obj_err(void *obj, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void weft_net_obj_verr(void *obj, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* weftNet_t.lastError for every built-in transport. */
const char *weft_net_last_error(void *obj);

#endif
