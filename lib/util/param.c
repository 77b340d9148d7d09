#include "util/param.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

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

int weft_parse_size(const char *text, size_t *out) {
  if (!text || !*text) return -1;
  char *end;
  errno = 0;
  double x = strtod(text, &end);
  if (errno || end == text || x < 0) return -1;
  double mul = 1;
  switch (toupper((unsigned char)*end)) {
    case 'K': mul = 1024.0; end++; break;
    case 'M': mul = 1024.0 * 1024; end++; break;
    case 'G': mul = 1024.0 * 1024 * 1024; end++; break;
    default: break;
  }
  if (*end == 'B' || *end == 'b') end++;
  if (*end) return -1;
  x *= mul;
  if (x > 1.8e19) return -1;
  *out = (size_t)x;
  return 0;
}

size_t weft_env_size(const char *name, size_t dflt) {
  size_t v;
  return weft_parse_size(weft_env(name), &v) == 0 ? v : dflt;
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
