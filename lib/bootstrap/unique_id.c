#include <stdio.h>
#include <string.h>

#include "bootstrap/bootstrap.h"
#include "util/log.h"
#include "util/random.h"
#include "util/param.h"

_Static_assert(sizeof(weft_id_internal) <= WEFT_UNIQUE_ID_BYTES, "unique id too small");

WEFT_API weftResult_t weftGetUniqueId(weftUniqueId *uniqueId) {
  if (!uniqueId) return weft_error_to(NULL, weftInvalidArgument, "weftGetUniqueId: uniqueId is NULL");
  weft_id_internal id;
  memset(&id, 0, sizeof id);
  id.magic = WEFT_ID_MAGIC;
  id.version = WEFT_VERSION_CODE;
  char err[WEFT_SOCK_ERRLEN];
  if (weft_random_bytes(id.secret, sizeof id.secret) != 0)
    return weft_error_to(NULL, weftSystemError, "weftGetUniqueId: no random bytes from the kernel");
  const char *fixed = weft_env("WEFT_COMM_ID");
  if (fixed) {
    if (weft_sockaddr_parse(fixed, &id.root, err) != 0)
      return weft_error_to(NULL, weftInvalidArgument, "WEFT_COMM_ID: %s", err);
  } else if (weft_sock_local_addr(NULL, &id.root, err) != 0) {
    return weft_error_to(NULL, weftSystemError, "weftGetUniqueId: %s", err);
  }
  int timeout_ms;
  if (weft_env_timeout_check(&timeout_ms, err, sizeof err) != 0)
    return weft_error_to(NULL, weftInvalidArgument, "weftGetUniqueId: %s", err);
  if (weft_root_start(&id.root, id.secret, timeout_ms, err) != 0)
    return weft_error_to(NULL, weftSystemError, "weftGetUniqueId: %s", err);
  memset(uniqueId, 0, sizeof *uniqueId);
  memcpy(uniqueId->internal, &id, sizeof id);
  char as[80];
  weft_sockaddr_str(&id.root, as, sizeof as);
  weft_log_to(NULL, weftLogInfo, "bootstrap root listening on %s", as);
  return weftSuccess;
}

WEFT_API weftResult_t weftUniqueIdToString(const weftUniqueId *uniqueId, char *buf, size_t len) {
  if (!uniqueId || !buf || len < 2 * WEFT_UNIQUE_ID_BYTES + 1)
    return weft_error_to(NULL, weftInvalidArgument,
                      "weftUniqueIdToString: need a buffer of %d bytes", 2 * WEFT_UNIQUE_ID_BYTES + 1);
  static const char hex[] = "0123456789abcdef";
  const unsigned char *p = (const unsigned char *)uniqueId->internal;
  for (int i = 0; i < WEFT_UNIQUE_ID_BYTES; i++) {
    buf[2 * i] = hex[p[i] >> 4];
    buf[2 * i + 1] = hex[p[i] & 15];
  }
  buf[2 * WEFT_UNIQUE_ID_BYTES] = 0;
  return weftSuccess;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

WEFT_API weftResult_t weftUniqueIdFromString(weftUniqueId *uniqueId, const char *text) {
  if (!uniqueId || !text || strlen(text) != 2 * WEFT_UNIQUE_ID_BYTES)
    return weft_error_to(NULL, weftInvalidArgument,
                      "weftUniqueIdFromString: expected %d hex digits", 2 * WEFT_UNIQUE_ID_BYTES);
  weftUniqueId tmp;
  for (int i = 0; i < WEFT_UNIQUE_ID_BYTES; i++) {
    int hi = hexval(text[2 * i]), lo = hexval(text[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return weft_error_to(NULL, weftInvalidArgument, "weftUniqueIdFromString: not a hex digit at %d",
                        2 * i);
    tmp.internal[i] = (char)(hi * 16 + lo);
  }
  weft_id_internal id;
  memcpy(&id, tmp.internal, sizeof id);
  if (id.magic != WEFT_ID_MAGIC)
    return weft_error_to(NULL, weftInvalidArgument, "weftUniqueIdFromString: not a weft unique id");
  *uniqueId = tmp;
  return weftSuccess;
}
