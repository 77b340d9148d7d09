#include "util/param.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/log.h"
#include "util/size.h"

const char *weft_env(const char *name) {
  const char *v = getenv(name);
  return (v && *v) ? v : NULL;
}

void weft_env_refused(const char *name, const char *value, const char *why, const char *used) {
  static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  static char said[16][160];
  static int nsaid;
  char key[160];
  snprintf(key, sizeof key, "%s=%s", name, value);
  pthread_mutex_lock(&mu);
  int seen = 0;
  for (int i = 0; i < nsaid && !seen; i++) seen = !strcmp(said[i], key);
  if (!seen && nsaid < 16) snprintf(said[nsaid++], sizeof said[0], "%s", key);
  pthread_mutex_unlock(&mu);
  if (!seen) weft_log_to(NULL, weftLogWarn, "%s='%s' refused (%s): using %s", name, value, why, used);
}

int weft_parse_int(const char *text, int64_t lo, int64_t hi, int64_t *out, char *why, size_t whylen) {
  const char *p = text ? text : "";
  if (*p == '+' || *p == '-') p++;
  int digits = *p != '\0';
  for (const char *q = p; *q; q++) digits &= isdigit((unsigned char)*q) != 0;
  if (!digits) {
    snprintf(why, whylen, "'%s' is not a decimal integer", text ? text : "");
    return -1;
  }
  errno = 0;
  char *end;
  long long v = strtoll(text, &end, 10);
  if (errno == ERANGE || v < lo || v > hi) {
    snprintf(why, whylen, "'%s' is out of range [%lld, %lld]", text, (long long)lo, (long long)hi);
    return -1;
  }
  *out = v;
  return 0;
}

int64_t weft_env_int(const char *name, int64_t dflt, int64_t lo, int64_t hi) {
  const char *v = weft_env(name);
  int64_t x;
  char why[160], used[32];
  if (!v) return dflt;
  if (weft_parse_int(v, lo, hi, &x, why, sizeof why) == 0) return x;
  snprintf(used, sizeof used, "%lld", (long long)dflt);
  weft_env_refused(name, v, why, used);
  return dflt;
}

int weft_env_bool(const char *name, int dflt) {
  static const char *const no[] = {"0", "no", "off", "false"}, *const yes[] = {"1", "yes", "on", "true"};
  const char *v = weft_env(name);
  if (!v) return dflt;
  for (int i = 0; i < 4; i++) {
    if (!strcasecmp(v, no[i])) return 0;
    if (!strcasecmp(v, yes[i])) return 1;
  }
  weft_env_refused(name, v, "expected 0 or 1 (no/yes, off/on, false/true)", dflt ? "1" : "0");
  return dflt;
}

int weft_env_choice(const char *name, const char *const *names, int n, int dflt) {
  const char *v = weft_env(name);
  if (!v) return dflt;
  char why[160] = "expected";
  for (int i = 0; i < n; i++) {
    if (!strcasecmp(v, names[i])) return i;
    size_t at = strlen(why);
    snprintf(why + at, sizeof why - at, "%s %s", i ? (i == n - 1 ? " or" : ",") : "", names[i]);
  }
  weft_env_refused(name, v, why, names[dflt]);
  return dflt;
}

size_t weft_env_size(const char *name, size_t dflt) {
  const char *text = weft_env(name);
  size_t v;
  char why[160], used[32];
  if (!text) return dflt;
  if (weft_parse_size_t(text, &v, why, sizeof why) == 0) return v;
  snprintf(used, sizeof used, "%zu bytes", dflt);
  weft_env_refused(name, text, why, used);
  return dflt;
}

/* WEFT_TIMEOUT into *ms: 1 unset, 0 read, -1 refused (why). */
static int read_timeout(int *ms, char *why, size_t whylen) {
  const char *v = weft_env("WEFT_TIMEOUT");
  *ms = WEFT_TIMEOUT_DEFAULT_MS;
  if (!v) return 1;
  const char *p = v;
  while (isdigit((unsigned char)*p) || *p == '.') p++; /* decimal seconds: no sign, exponent, nan or inf */
  char *end = "";
  double s = p > v && *p == '\0' ? strtod(v, &end) : NAN;
  if (!(s > 0 && s <= 2e6) || *end) {
    snprintf(why, whylen, "expected seconds > 0 and at most 2e6, decimals allowed (e.g. 30, 1.5)");
    return -1;
  }
  *ms = (int)ceil(s * 1000.0);
  return 0;
}

int weft_env_timeout_ms(void) {
  int ms;
  char why[200];
  if (read_timeout(&ms, why, sizeof why) < 0) weft_env_refused("WEFT_TIMEOUT", weft_env("WEFT_TIMEOUT"), why, "300 s");
  return ms;
}

int weft_env_timeout_check(int *ms, char *why, size_t whylen) {
  char e[160];
  if (read_timeout(ms, e, sizeof e) >= 0) return 0;
  snprintf(why, whylen, "WEFT_TIMEOUT='%s' refused: %s", weft_env("WEFT_TIMEOUT"), e);
  return -1;
}
