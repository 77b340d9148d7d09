#include "util/log.h"
#include "weft.h"

WEFT_API weftResult_t weftGetVersion(int *version) {
  if (!version) return weft_error_to(NULL, weftInvalidArgument, "weftGetVersion: version is NULL");
  *version = WEFT_VERSION_CODE;
  return weftSuccess;
}
