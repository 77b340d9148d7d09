#include "topo/ydoc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "topo/hint.h"
#include "topo/types.h"
#include "topo/units.h"
#include "util/size.h"

int weft_ty_fail(ty_ctx *c, const yaml_node_t *at, const char *fmt, ...) {
  char msg[400];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (at)
    snprintf(c->err, c->errlen, "%s:%zu:%zu: %s", c->file, at->start_mark.line + 1, at->start_mark.column + 1,
             msg);
  else
    snprintf(c->err, c->errlen, "%s: %s", c->file, msg);
  return -1;
}

int weft_ty_line(const yaml_node_t *n) { return (int)n->start_mark.line + 1; }

int weft_ty_is_null(const yaml_node_t *n) {
  if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
  const char *v = (const char *)n->data.scalar.value;
  return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

const char *weft_ty_type_name(const yaml_node_t *n) {
  if (!n || weft_ty_is_null(n)) return "nothing";
  switch (n->type) {
    case YAML_MAPPING_NODE: return "a mapping";
    case YAML_SEQUENCE_NODE: return "a list";
    case YAML_SCALAR_NODE: return "a string";
    default: return "nothing";
  }
}

static const char *key_text(const yaml_node_t *k) {
  return k && k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : NULL;
}

int weft_ty_map(ty_ctx *c, const yaml_node_t *n, const char *what, const char *const *allowed) {
  if (n->type != YAML_MAPPING_NODE) return weft_ty_fail(c, n, "%s must be a mapping, got %s", what, weft_ty_type_name(n));
  for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
    yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
    const char *kt = key_text(k);
    if (!kt) return weft_ty_fail(c, k, "keys in %s must be strings, got %s", what, weft_ty_type_name(k));
    if (!weft_name_in(kt, allowed)) {
      const char *h = weft_hint(kt, allowed);
      if (h) return weft_ty_fail(c, k, "unknown key '%s' in %s; did you mean '%s'?", kt, what, h);
      char list[256];
      weft_name_list(allowed, list, sizeof list);
      return weft_ty_fail(c, k, "unknown key '%s' in %s (expected %s)", kt, what, list);
    }
    for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
      yaml_node_t *k2 = yaml_document_get_node(c->doc, q->key);
      if (!strcmp(kt, key_text(k2)))
        return weft_ty_fail(c, k, "duplicate key '%s' in %s (first at line %d)", kt, what, weft_ty_line(k2));
    }
  }
  return 0;
}

static yaml_node_pair_t *find_pair(ty_ctx *c, const yaml_node_t *map, const char *key) {
  if (!map || map->type != YAML_MAPPING_NODE) return NULL;
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
    const char *kt = key_text(yaml_document_get_node(c->doc, p->key));
    if (kt && !strcmp(kt, key)) return p;
  }
  return NULL;
}

yaml_node_t *weft_ty_get(ty_ctx *c, const yaml_node_t *map, const char *key) {
  yaml_node_pair_t *p = find_pair(c, map, key);
  return p ? yaml_document_get_node(c->doc, p->value) : NULL;
}

yaml_node_t *weft_ty_get_key(ty_ctx *c, const yaml_node_t *map, const char *key) {
  yaml_node_pair_t *p = find_pair(c, map, key);
  return p ? yaml_document_get_node(c->doc, p->key) : NULL;
}

int weft_ty_list(ty_ctx *c, const yaml_node_t *n, const char *key, yaml_node_item_t **items, size_t *count) {
  *items = NULL;
  *count = 0;
  if (weft_ty_is_null(n)) return 0;
  if (n->type != YAML_SEQUENCE_NODE) return weft_ty_fail(c, n, "'%s' must be a list, got %s", key, weft_ty_type_name(n));
  *items = n->data.sequence.items.start;
  *count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
  return 0;
}

yaml_node_t *weft_ty_item(ty_ctx *c, yaml_node_item_t id) { return yaml_document_get_node(c->doc, id); }

int weft_ty_scalar(ty_ctx *c, const yaml_node_t *n, const char *key, const char **text) {
  if (weft_ty_is_null(n)) return weft_ty_fail(c, n, "missing value for '%s'", key);
  if (n->type != YAML_SCALAR_NODE)
    return weft_ty_fail(c, n, "'%s' must be a single value, got %s", key, weft_ty_type_name(n));
  *text = (const char *)n->data.scalar.value;
  return 0;
}

int weft_ty_string(ty_ctx *c, const yaml_node_t *n, const char *key, char *out, size_t cap) {
  const char *s = NULL;
  if (weft_ty_scalar(c, n, key, &s)) return -1;
  if (strlen(s) >= cap) return weft_ty_fail(c, n, "'%s' is too long (at most %zu characters)", key, cap - 1);
  for (const char *p = s; *p; p++)
    if ((unsigned char)*p < 0x20 || *p == '"' || *p == '\\' || (unsigned char)*p == 0x7f)
      return weft_ty_fail(c, n, "'%s' must not contain control characters, quotes or backslashes", key);
  snprintf(out, cap, "%s", s);
  return 0;
}

int weft_ty_choice(ty_ctx *c, const yaml_node_t *n, const char *key, const char *const *set, char *out, size_t cap) {
  const char *s = NULL;
  if (weft_ty_scalar(c, n, key, &s)) return -1;
  if (!weft_name_in(s, set)) {
    const char *h = weft_hint(s, set);
    if (h) return weft_ty_fail(c, n, "unknown %s '%s'; did you mean '%s'?", key, s, h);
    char list[256];
    weft_name_list(set, list, sizeof list);
    return weft_ty_fail(c, n, "unknown %s '%s' (expected %s)", key, s, list);
  }
  snprintf(out, cap, "%s", s);
  return 0;
}

typedef int (*unit_parser)(const char *, double *, char *, size_t);

static int with_units(ty_ctx *c, const yaml_node_t *n, const char *key, unit_parser fn, double *out) {
  const char *s = NULL;
  char why[300];
  if (weft_ty_scalar(c, n, key, &s)) return -1;
  if (fn(s, out, why, sizeof why)) return weft_ty_fail(c, n, "%s", why);
  return 0;
}

int weft_ty_bandwidth(ty_ctx *c, const yaml_node_t *n, const char *key, double *out) {
  return with_units(c, n, key, weft_parse_bandwidth, out);
}

int weft_ty_latency(ty_ctx *c, const yaml_node_t *n, const char *key, double *out) {
  return with_units(c, n, key, weft_parse_latency, out);
}

int weft_ty_bytes(ty_ctx *c, const yaml_node_t *n, const char *key, uint64_t *out) {
  const char *s = NULL;
  char why[300];
  if (weft_ty_scalar(c, n, key, &s)) return -1;
  if (weft_parse_size(s, out, why, sizeof why)) return weft_ty_fail(c, n, "%s: %s", key, why);
  return 0;
}

int weft_ty_positive(ty_ctx *c, const yaml_node_t *n, const char *key, double *out) {
  const char *s = NULL;
  if (weft_ty_scalar(c, n, key, &s)) return -1;
  if (weft_parse_number(s, out) || !(*out > 0))
    return weft_ty_fail(c, n, "'%s' must be a positive number, got '%s'", key, s);
  return 0;
}

int weft_ty_int(ty_ctx *c, const yaml_node_t *n, const char *key, long min, long max, long *out) {
  const char *s = NULL;
  if (weft_ty_scalar(c, n, key, &s)) return -1;
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end) return weft_ty_fail(c, n, "'%s' must be an integer, got '%s'", key, s);
  if (v < min || v > max) return weft_ty_fail(c, n, "'%s' must be between %ld and %ld, got %ld", key, min, max, v);
  *out = v;
  return 0;
}

int weft_ty_bool(ty_ctx *c, const yaml_node_t *n, const char *key, int *out) {
  const char *s = NULL;
  if (weft_ty_scalar(c, n, key, &s)) return -1;
  static const char *const t[] = {"true", "yes", "on"}, *const f[] = {"false", "no", "off"};
  for (int i = 0; i < 3; i++) {
    if (!strcasecmp(s, t[i])) return *out = 1, 0;
    if (!strcasecmp(s, f[i])) return *out = 0, 0;
  }
  return weft_ty_fail(c, n, "'%s' must be true or false, got '%s'", key, s);
}
