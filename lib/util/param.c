#include "util/param.h"

#include <errno.h>
#include <stdlib.h>

#include "util/size.h"

const char *weft_env(const char *name) {
  const char *v = getenv(name);
  return (v && *v) ? v : NULL;
}

int64_t weft_env_int(const char *name, int64_t dflt) {
  const char *v = weft_env(name);
  if (!v) return dflt;
  char *end;
  errno = 0;
  long long x = strtoll(v, &end, 0);
  if (errno || *end) return dflt;
  return x;
}

size_t weft_env_size(const char *name, size_t dflt) {
  const char *text = weft_env(name);
  size_t v;
  return text && weft_parse_size_t(text, &v, NULL, 0) == 0 ? v : dflt;
}

int weft_env_timeout_ms(void) {
  const char *v = weft_env("WEFT_TIMEOUT");
  if (!v) return 300000;
  char *end;
  double s = strtod(v, &end);
  if (*end || s <= 0) return 300000;
  if (s > 2e6) s = 2e6;
  return (int)(s * 1000.0);
}
