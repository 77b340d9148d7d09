#include "topo/hostlist.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_GROUPS 8
#define MAX_DIGITS 9

typedef struct {
  long lo, hi;
  int width; /* of the low bound as written: the padding */
} range;

typedef struct {
  range *r;
  int nr;
} group;

typedef struct {
  const char *lit[MAX_GROUPS + 1]; /* literal before group k (and after the last) */
  size_t litlen[MAX_GROUPS + 1];
  group g[MAX_GROUPS];
  int ng;
} expr;

static int bad(char *err, size_t errlen, const char *text, const char *fmt, const char *arg) {
  char what[160];
  snprintf(what, sizeof what, fmt, arg);
  snprintf(err, errlen, "bad hostlist '%s': %s", text, what);
  return -1;
}

static int name_char(int c) { return isalnum(c) || c == '-' || c == '.' || c == '_'; }

static void expr_free(expr *e) {
  for (int k = 0; k < e->ng; k++) free(e->g[k].r);
}

/* Parses "lo" or "lo-hi" in s[0..len). */
static int parse_item(const char *s, size_t len, range *out, const char *text, char *err, size_t errlen) {
  char item[64];
  snprintf(item, sizeof item, "%.*s", (int)(len < 60 ? len : 60), s);
  if (len == 0) return bad(err, errlen, text, "empty item in brackets%s", "");
  size_t i = 0, a0 = 0;
  while (i < len && isdigit((unsigned char)s[i])) i++;
  size_t a1 = i, b0 = i, b1 = i;
  if (i < len && s[i] == '-') {
    b0 = ++i;
    while (i < len && isdigit((unsigned char)s[i])) i++;
    b1 = i;
    if (b1 == b0) return bad(err, errlen, text, "bad range '%s': expected N or N-M", item);
  }
  if (a1 == a0 || i != len) return bad(err, errlen, text, "bad range '%s': expected N or N-M", item);
  if (a1 - a0 > MAX_DIGITS || b1 - b0 > MAX_DIGITS)
    return bad(err, errlen, text, "number too long in '%s' (at most 9 digits)", item);
  out->lo = strtol(s + a0, NULL, 10);
  out->hi = b1 > b0 ? strtol(s + b0, NULL, 10) : out->lo;
  out->width = (int)(a1 - a0);
  if (out->hi < out->lo) return bad(err, errlen, text, "decreasing range '%s'", item);
  return 0;
}

/* Parses one expression s[0..len) (no commas outside brackets). */
static int parse_expr(const char *s, size_t len, expr *e, const char *text, char *err, size_t errlen) {
  memset(e, 0, sizeof *e);
  if (len == 0) return bad(err, errlen, text, "empty name%s", "");
  size_t i = 0, lit0 = 0;
  while (i < len) {
    char c = s[i];
    if (c == '[') {
      if (e->ng == MAX_GROUPS) return bad(err, errlen, text, "more than 8 bracket groups in one name%s", "");
      e->lit[e->ng] = s + lit0;
      e->litlen[e->ng] = i - lit0;
      size_t j = i + 1;
      while (j < len && s[j] != ']') j++; /* the splitter checked that it closes */
      group *g = &e->g[e->ng++];
      size_t nitems = 1;
      for (size_t k = i + 1; k < j; k++) nitems += s[k] == ',';
      if (j == i + 1) return bad(err, errlen, text, "empty brackets '[]'%s", "");
      g->r = calloc(nitems, sizeof(range));
      if (!g->r) return bad(err, errlen, text, "out of memory%s", "");
      size_t st = i + 1;
      for (size_t k = i + 1; k <= j; k++) {
        if (k == j || s[k] == ',') {
          if (parse_item(s + st, k - st, &g->r[g->nr], text, err, errlen)) return -1;
          g->nr++;
          st = k + 1;
        }
      }
      i = j + 1;
      lit0 = i;
    } else {
      if (!name_char((unsigned char)c)) {
        char cs[8];
        snprintf(cs, sizeof cs, "%c", isprint((unsigned char)c) ? c : '?');
        return bad(err, errlen, text, "bad character '%s' (host names use letters, digits, '-', '.' and '_')",
                   cs);
      }
      i++;
    }
  }
  e->lit[e->ng] = s + lit0;
  e->litlen[e->ng] = len - lit0;
  return 0;
}

static int ndigits(long v) {
  int d = 1;
  while (v >= 10) {
    v /= 10;
    d++;
  }
  return d;
}

static int push(char ***names, size_t *n, size_t *cap, char *name) {
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 16;
    char **p = realloc(*names, nc * sizeof *p);
    if (!p) return -1;
    *names = p;
    *cap = nc;
  }
  (*names)[(*n)++] = name;
  return 0;
}

static int expand_expr(const expr *e, const char *text, size_t limit, char ***names, size_t *n, size_t *cap,
                       char *err, size_t errlen) {
  /* count and longest name first, so that nothing is half done on error */
  uint64_t count = 1;
  size_t maxlen = 0;
  for (int k = 0; k <= e->ng; k++) maxlen += e->litlen[k];
  for (int k = 0; k < e->ng; k++) {
    uint64_t c = 0;
    int w = 0;
    for (int r = 0; r < e->g[k].nr; r++) {
      const range *rg = &e->g[k].r[r];
      c += (uint64_t)(rg->hi - rg->lo) + 1;
      int d = ndigits(rg->hi) > rg->width ? ndigits(rg->hi) : rg->width;
      if (d > w) w = d;
    }
    count *= c;
    maxlen += (size_t)w;
    if (count > limit) break;
  }
  if (count > limit || *n + count > limit) {
    char lim[32];
    snprintf(lim, sizeof lim, "%zu", limit);
    return bad(err, errlen, text, "expands to more than %s names", lim);
  }
  if (maxlen > WEFT_HOSTNAME_MAX) return bad(err, errlen, text, "host name longer than 255 characters%s", "");

  int ri[MAX_GROUPS] = {0};
  long cur[MAX_GROUPS];
  for (int k = 0; k < e->ng; k++) cur[k] = e->g[k].r[0].lo;
  for (;;) {
    char buf[WEFT_HOSTNAME_MAX + 1];
    size_t used = 0;
    for (int k = 0; k <= e->ng; k++) {
      memcpy(buf + used, e->lit[k], e->litlen[k]);
      used += e->litlen[k];
      if (k < e->ng)
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%0*ld", e->g[k].r[ri[k]].width, cur[k]);
    }
    buf[used] = '\0';
    char *dup = strdup(buf);
    if (!dup || push(names, n, cap, dup)) {
      free(dup);
      return bad(err, errlen, text, "out of memory%s", "");
    }
    /* odometer: the last group varies fastest */
    int k = e->ng - 1;
    for (; k >= 0; k--) {
      if (cur[k] < e->g[k].r[ri[k]].hi) {
        cur[k]++;
        break;
      }
      if (ri[k] + 1 < e->g[k].nr) {
        ri[k]++;
        cur[k] = e->g[k].r[ri[k]].lo;
        break;
      }
      ri[k] = 0;
      cur[k] = e->g[k].r[0].lo;
    }
    if (k < 0) return 0;
  }
}

int weft_hostlist_expand(const char *text, size_t limit, char ***names, size_t *n, size_t *cap, char *err,
                         size_t errlen) {
  size_t len = strlen(text);
  /* bracket structure first, over the whole text */
  int depth = 0;
  for (size_t i = 0; i < len; i++) {
    if (text[i] == '[') {
      if (depth) return bad(err, errlen, text, "nested '['%s", "");
      depth = 1;
    } else if (text[i] == ']') {
      if (!depth) return bad(err, errlen, text, "unexpected ']'%s", "");
      depth = 0;
    }
  }
  if (depth) return bad(err, errlen, text, "missing ']'%s", "");
  size_t st = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i < len && text[i] == '[') depth = 1;
    if (i < len && text[i] == ']') depth = 0;
    if (i == len || (text[i] == ',' && !depth)) {
      expr e;
      int rc = parse_expr(text + st, i - st, &e, text, err, errlen);
      if (rc == 0) rc = expand_expr(&e, text, limit, names, n, cap, err, errlen);
      expr_free(&e);
      if (rc) return rc;
      st = i + 1;
    }
  }
  return 0;
}

void weft_hostlist_free(char **names, size_t n) {
  if (!names) return;
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
}

/* ---- compression ---- */

typedef struct {
  size_t pre; /* prefix length */
  size_t dig; /* digits length; 0 = no usable number */
  long val;
} split;

static split split_name(const char *s) {
  split sp = {strlen(s), 0, 0};
  size_t end = strlen(s);
  while (end > 0 && !isdigit((unsigned char)s[end - 1])) end--;
  if (end == 0) return sp;
  size_t beg = end;
  while (beg > 0 && isdigit((unsigned char)s[beg - 1])) beg--;
  if (end - beg > MAX_DIGITS) return sp;
  for (const char *p = s; *p; p++)
    if (!name_char((unsigned char)*p)) return sp; /* not expressible: keep it verbatim */
  sp.pre = beg;
  sp.dig = end - beg;
  sp.val = strtol(s + beg, NULL, 10);
  return sp;
}

static int same_frame(const char *a, split sa, const char *b, split sb) {
  return sa.dig && sb.dig && sa.pre == sb.pre && !strncmp(a, b, sa.pre) &&
         !strcmp(a + sa.pre + sa.dig, b + sb.pre + sb.dig);
}

/* Appends text to a growing string. */
static int cat(char **s, size_t *len, size_t *cap, const char *t, size_t tl) {
  if (tl > 4096 || *len > ((size_t)1 << 30)) return -1;
  if (*len + tl + 1 > *cap) {
    size_t nc = (*cap + tl + 1) * 2;
    char *p = realloc(*s, nc);
    if (!p) return -1;
    *s = p;
    *cap = nc;
  }
  memcpy(*s + *len, t, tl);
  *len += tl;
  (*s)[*len] = '\0';
  return 0;
}

int weft_hostlist_compress(const char *const *names, size_t n, char ***out, size_t *nout) {
  *out = NULL;
  *nout = 0;
  size_t cap = 0;
  size_t i = 0;
  while (i < n) {
    const char *a = names[i];
    split sa = split_name(a);
    size_t j = i + 1;
    while (j < n && same_frame(a, sa, names[j], split_name(names[j]))) j++;
    char *s = NULL;
    size_t sl = 0, sc = 0;
    int fail = 0;
    if (j == i + 1) {
      fail = cat(&s, &sl, &sc, a, strlen(a));
    } else {
      fail |= cat(&s, &sl, &sc, a, sa.pre);
      fail |= cat(&s, &sl, &sc, "[", 1);
      size_t k = i;
      while (k < j && !fail) {
        split sk = split_name(names[k]);
        int w = (int)sk.dig;
        long lo = sk.val, hi = lo;
        size_t m = k + 1;
        while (m < j) {
          split sm = split_name(names[m]);
          char want[16];
          snprintf(want, sizeof want, "%0*ld", w, hi + 1);
          if (sm.val != hi + 1 || strncmp(names[m] + sm.pre, want, sm.dig) || strlen(want) != sm.dig) break;
          hi++;
          m++;
        }
        char item[48];
        int il = hi > lo ? snprintf(item, sizeof item, "%s%.*s-%0*ld", k > i ? "," : "", w, names[k] + sk.pre, w, hi)
                         : snprintf(item, sizeof item, "%s%.*s", k > i ? "," : "", w, names[k] + sk.pre);
        fail |= il < 0 || cat(&s, &sl, &sc, item, strlen(item));
        k = m;
      }
      fail |= cat(&s, &sl, &sc, "]", 1);
      const char *suf = a + sa.pre + sa.dig;
      fail |= cat(&s, &sl, &sc, suf, strlen(suf));
    }
    if (fail || push(out, nout, &cap, s)) {
      free(s);
      weft_hostlist_free(*out, *nout);
      *out = NULL;
      *nout = 0;
      return -1;
    }
    i = j;
  }
  return 0;
}
