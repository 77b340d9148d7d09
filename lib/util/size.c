#include "util/size.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int fail(char *why, size_t whylen, const char *fmt, ...) {
  if (why && whylen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* The spellings named in messages and hints. */
static const char *const preferred[] = {"K", "M", "G", "T", "KiB", "MiB", "GiB", "TiB"};

/* log2 of the unit's multiplier, or -1: "", B, K/M/G/T in either case
 * followed by nothing, B, b or iB. */
static int unit_shift(const char *u) {
  if (!*u) return 0;
  if (!strcmp(u, "B") || !strcmp(u, "b")) return 0;
  const char *p = strchr("KMGT", toupper((unsigned char)u[0])); /* u[0] is not NUL here */
  if (!p) return -1;
  const char *rest = u + 1;
  if (*rest && strcmp(rest, "B") && strcmp(rest, "b") && strcmp(rest, "iB")) return -1;
  return 10 * (int)(p - "KMGT" + 1);
}

/* Length of the decimal number at s ("12", "1.5", ".5", "1e3"), and whether
 * it is a plain integer, which is then read exactly rather than as a double. */
static size_t number_length(const char *s, int *integral) {
  const char *p = s;
  while (isdigit((unsigned char)*p)) p++;
  *integral = 1;
  if (*p == '.') {
    *integral = 0;
    p++;
    while (isdigit((unsigned char)*p)) p++;
  }
  const char *e = p;
  if (*e == 'e' || *e == 'E') {
    e++;
    if (*e == '+' || *e == '-') e++;
    if (isdigit((unsigned char)*e)) {
      while (isdigit((unsigned char)*e)) e++;
      *integral = 0;
      p = e;
    }
  }
  return (size_t)(p - s);
}

int weft_parse_size(const char *text, uint64_t *bytes, char *why, size_t whylen) {
  if (!text) return fail(why, whylen, "no size given");
  const char *p = text;
  while (isspace((unsigned char)*p)) p++;
  int negative = *p == '-';
  if (*p == '+' || *p == '-') p++;
  if (!isdigit((unsigned char)*p) && !(*p == '.' && isdigit((unsigned char)p[1])))
    return fail(why, whylen, "bad size '%s': expected a number followed by a unit", text);
  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
    return fail(why, whylen, "bad size '%s': expected a decimal number", text);
  int integral;
  size_t nlen = number_length(p, &integral);

  char unit[32];
  const char *u = p + nlen;
  while (isspace((unsigned char)*u)) u++;
  snprintf(unit, sizeof unit, "%s", u);
  size_t ulen = strlen(unit);
  while (ulen && isspace((unsigned char)unit[ulen - 1])) unit[--ulen] = '\0';
  int shift = unit_shift(unit);
  if (shift < 0) {
    for (size_t i = 0; i < sizeof preferred / sizeof *preferred; i++)
      if (!strcasecmp(unit, preferred[i]))
        return fail(why, whylen, "unknown size unit '%s' in '%s'; did you mean '%s'?", unit, text,
                    preferred[i]);
    return fail(why, whylen, "unknown size unit '%s' in '%s' (use K, M, G, T or KiB, MiB, GiB, TiB)", unit,
                text);
  }

  const uint64_t limit = (uint64_t)INT64_MAX;
  errno = 0;
  if (integral) {
    unsigned long long n = strtoull(p, NULL, 10);
    if (negative && n) return fail(why, whylen, "size must not be negative, got '%s'", text);
    if (errno == ERANGE || n > (limit >> shift)) return fail(why, whylen, "size '%s' is too large", text);
    *bytes = (uint64_t)n << shift;
    return 0;
  }
  double x = strtod(p, NULL);
  if (errno == ERANGE || !isfinite(x)) return fail(why, whylen, "size '%s' is out of range", text);
  if (negative && x != 0) return fail(why, whylen, "size must not be negative, got '%s'", text);
  double v = ldexp(x, shift);
  if (v >= 9223372036854775808.0) return fail(why, whylen, "size '%s' is too large", text);
  if (v != floor(v)) return fail(why, whylen, "size '%s' is not a whole number of bytes", text);
  *bytes = (uint64_t)v;
  return 0;
}

int weft_parse_size_t(const char *text, size_t *bytes, char *why, size_t whylen) {
  uint64_t v;
  if (weft_parse_size(text, &v, why, whylen)) return -1;
  if (v > SIZE_MAX) return fail(why, whylen, "size '%s' is too large", text);
  *bytes = (size_t)v;
  return 0;
}
