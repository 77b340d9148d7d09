#include "topo/units.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topo/hint.h"

/* value = number * mul / div: both exact, so that "0.5us" is the double
 * nearest to 5e-7 and "100Gbit/s" exactly 12.5e9. */
typedef struct {
  const char *name;
  double mul, div;
} unit;

/* Preferred spellings first: the formatter uses the entries before the
 * first NULL-named separator, the parser all of them. */
static const unit bw_units[] = {
    {"Gbit/s", 1e9, 8},     {"Mbit/s", 1e6, 8},    {"Tbit/s", 1e12, 8},   {"GB/s", 1e9, 1},
    {"MB/s", 1e6, 1},       {"TB/s", 1e12, 1},     {"Kbit/s", 1e3, 8},    {"KB/s", 1e3, 1},
    {"bit/s", 1, 8},        {"B/s", 1, 1},         {"GiB/s", 1073741824.0, 1}, {"MiB/s", 1048576.0, 1},
    {"TiB/s", 1099511627776.0, 1}, {"KiB/s", 1024.0, 1}, {NULL, 0, 0},   {"kbit/s", 1e3, 8},
    {"kB/s", 1e3, 1},       {"bps", 1, 8},  {"Kbps", 1e3, 8},      {"kbps", 1e3, 8},
    {"Mbps", 1e6, 8},       {"Gbps", 1e9, 8},      {"Tbps", 1e12, 8},     {"b/s", 1, 8},
    {"Kb/s", 1e3, 8},       {"kb/s", 1e3, 8},      {"Mb/s", 1e6, 8},      {"Gb/s", 1e9, 8},
    {"Tb/s", 1e12, 8},      {NULL, 0, 0}};

static const unit lat_units[] = {{"us", 1, 1e6}, {"ms", 1, 1e3},         {"ns", 1, 1e9},  {"s", 1, 1},
                                 {NULL, 0, 0},   {"\xc2\xb5s", 1, 1e6}, {"sec", 1, 1}, {NULL, 0, 0}};

static double apply(const unit *u, double x) { return x * u->mul / u->div; }

static const unit *find_unit(const unit *tab, const char *name) {
  for (int pass = 0; pass < 2; pass++) {
    for (; tab->name; tab++)
      if (!strcmp(tab->name, name)) return tab;
    tab++; /* past the separator */
  }
  return NULL;
}

/* Hints name only the preferred spellings. */
static const char *unit_hint(const unit *tab, const char *name) {
  const char *cands[64];
  int n = 0;
  for (; tab->name && n < 63; tab++)
    if (tab->name[0]) cands[n++] = tab->name;
  cands[n] = NULL;
  return weft_hint(name, cands);
}

/* Splits "12.5 GB/s" into its number and unit. */
static int split_number(const char *text, double *x, const char **unit_out, char *why, size_t whylen,
                        const char *what) {
  const char *p = text;
  while (isspace((unsigned char)*p)) p++;
  const char *q = p;
  if (*q == '+' || *q == '-') q++;
  if (!isdigit((unsigned char)*q) && !(*q == '.' && isdigit((unsigned char)q[1]))) {
    snprintf(why, whylen, "bad %s '%s': expected a number followed by a unit", what, text);
    return -1;
  }
  if (q[0] == '0' && (q[1] == 'x' || q[1] == 'X')) {
    snprintf(why, whylen, "bad %s '%s': expected a decimal number", what, text);
    return -1;
  }
  char *end;
  errno = 0;
  *x = strtod(p, &end);
  if (errno == ERANGE || !isfinite(*x)) {
    snprintf(why, whylen, "%s '%s' is out of range", what, text);
    return -1;
  }
  while (isspace((unsigned char)*end)) end++;
  *unit_out = end;
  return 0;
}

/* Strips trailing blanks of the unit into buf. */
static void unit_text(const char *u, char *buf, size_t len) {
  snprintf(buf, len, "%s", u);
  size_t n = strlen(buf);
  while (n && isspace((unsigned char)buf[n - 1])) buf[--n] = '\0';
}

int weft_parse_bandwidth(const char *text, double *out, char *why, size_t whylen) {
  double x;
  const char *u;
  if (split_number(text, &x, &u, why, whylen, "bandwidth")) return -1;
  char ub[32];
  unit_text(u, ub, sizeof ub);
  if (!ub[0]) {
    snprintf(why, whylen, "missing unit in bandwidth '%s' (e.g. 100Gbit/s or 12.5GB/s)", text);
    return -1;
  }
  const unit *un = find_unit(bw_units, ub);
  if (!un) {
    const char *h = unit_hint(bw_units, ub);
    if (h)
      snprintf(why, whylen, "unknown bandwidth unit '%s' in '%s'; did you mean '%s'?", ub, text, h);
    else
      snprintf(why, whylen,
               "unknown bandwidth unit '%s' in '%s' (use bit/s, Kbit/s, Mbit/s, Gbit/s, Tbit/s, B/s, KB/s, "
               "MB/s, GB/s, TB/s or KiB/s, MiB/s, GiB/s, TiB/s)",
               ub, text);
    return -1;
  }
  if (!(x > 0)) {
    snprintf(why, whylen, "bandwidth must be positive, got '%s'", text);
    return -1;
  }
  double v = apply(un, x);
  if (!isfinite(v)) {
    snprintf(why, whylen, "bandwidth '%s' is out of range", text);
    return -1;
  }
  *out = v;
  return 0;
}

int weft_parse_latency(const char *text, double *out, char *why, size_t whylen) {
  double x;
  const char *u;
  if (split_number(text, &x, &u, why, whylen, "latency")) return -1;
  char ub[32];
  unit_text(u, ub, sizeof ub);
  if (!ub[0]) {
    snprintf(why, whylen, "missing unit in latency '%s' (e.g. 2us, 1.5ms or 20ms)", text);
    return -1;
  }
  const unit *un = find_unit(lat_units, ub);
  if (!un) {
    const char *h = unit_hint(lat_units, ub);
    if (h)
      snprintf(why, whylen, "unknown latency unit '%s' in '%s'; did you mean '%s'?", ub, text, h);
    else
      snprintf(why, whylen, "unknown latency unit '%s' in '%s' (use ns, us, ms or s)", ub, text);
    return -1;
  }
  if (x < 0) {
    snprintf(why, whylen, "latency must not be negative, got '%s'", text);
    return -1;
  }
  *out = apply(un, x) + 0.0; /* + 0.0 turns -0 into 0 */
  return 0;
}

int weft_parse_number(const char *text, double *out) {
  const char *p = text;
  if (*p == '+' || *p == '-') p++;
  if (!isdigit((unsigned char)*p) && !(*p == '.' && isdigit((unsigned char)p[1]))) return -1;
  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) return -1;
  char *end;
  errno = 0;
  double x = strtod(text, &end);
  while (isspace((unsigned char)*end)) end++;
  if (errno == ERANGE || *end || !isfinite(x)) return -1;
  *out = x;
  return 0;
}

/* Shortest "%.*g" text of v in unit u (without exponent) that the parser
 * turns back into exactly v; its precision, or 0. */
static int shortest(double v, const unit *u, char *buf, size_t len) {
  double q = v * u->div / u->mul;
  for (int p = 1; p <= 17; p++) {
    snprintf(buf, len, "%.*g", p, q);
    if (strchr(buf, 'e')) continue;
    if (apply(u, strtod(buf, NULL)) == v) return p;
  }
  return 0;
}

/* Significant digits of a decimal text: "200" and "0.5" have 1. */
static int sig_digits(const char *t) {
  char d[64];
  int n = 0;
  for (; *t && n < 63; t++)
    if (*t >= '0' && *t <= '9') d[n++] = *t;
  int a = 0;
  while (a < n && d[a] == '0') a++;
  while (n > a && d[n - 1] == '0') n--;
  return n - a;
}

/* The unit in which v reads best: a number of at least 1, then the fewest
 * significant digits, then the shortest text, then the table order. */
static int format_with(const unit *tab, double v, char *out, size_t len) {
  char num[64], cand[96];
  int best_p = 99, best_ge1 = 0;
  size_t best_len = 999;
  out[0] = '\0';
  for (const unit *u = tab; u->name; u++) {
    if (!shortest(v, u, num, sizeof num)) continue;
    int p = sig_digits(num);
    int ge1 = fabs(strtod(num, NULL)) >= 1.0 || v == 0;
    snprintf(cand, sizeof cand, "%s%s", num, u->name);
    size_t cl = strlen(cand);
    if (ge1 > best_ge1 || (ge1 == best_ge1 && (p < best_p || (p == best_p && cl < best_len)))) {
      best_p = p;
      best_ge1 = ge1;
      best_len = cl;
      snprintf(out, len, "%s", cand);
    }
  }
  return out[0] ? 0 : -1;
}

void weft_format_bandwidth(double v, char *buf, size_t len) {
  if (format_with(bw_units, v, buf, len)) snprintf(buf, len, "%.17gB/s", v);
}

void weft_format_latency(double v, char *buf, size_t len) {
  if (format_with(lat_units, v, buf, len)) snprintf(buf, len, "%.17gs", v);
}

void weft_format_bytes(uint64_t b, char *buf, size_t len) {
  static const char *const suf[] = {"", "K", "M", "G", "T"};
  int i = 0;
  while (i < 4 && b != 0 && b % 1024 == 0) {
    b /= 1024;
    i++;
  }
  snprintf(buf, len, "%llu%s", (unsigned long long)b, suf[i]);
}

void weft_format_number(double x, char *buf, size_t len) {
  for (int p = 1; p <= 17; p++) {
    snprintf(buf, len, "%.*g", p, x);
    if (strtod(buf, NULL) == x) return;
  }
  snprintf(buf, len, "%.17g", x);
}
