/* Loading a topology: libyaml document, top level, defaults, tuning. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topo/parse.h"

static const char *const top_keys[] = {"version", "defaults", "sites", "nodes", "wan", "tuning", NULL};
static const char *const defaults_keys[] = {"node_link", "site_link", "wan_link", "device", NULL};
static const char *const rule_keys[] = {"coll", "min_size", "max_size", "algo", NULL};

/* A topology file of thousands of nodes is a few hundred KiB: the caps keep
 * a hostile or broken file from costing minutes or gigabytes in libyaml,
 * whose work per token grows with the nesting depth. */
#define MAX_FILE_BYTES (16u << 20)
#define MAX_DEPTH 32

static int parse_defaults(ty_ctx *c, const yaml_node_t *n, weft_topo *t) {
  if (weft_ty_is_null(n)) return 0;
  if (weft_ty_map(c, n, "defaults", defaults_keys)) return -1;
  weft_topo_defaults builtin;
  weft_topo_builtin_defaults(&builtin);
  weft_link_spec ls;
  weft_device_spec ds;
  yaml_node_t *v;
  if ((v = weft_ty_get(c, n, "node_link"))) {
    if (weft_tp_link(c, v, 0, "node_link", &ls)) return -1;
    weft_link_apply(&t->defaults.node_link, &ls);
  }
  if ((v = weft_ty_get(c, n, "site_link"))) {
    if (weft_tp_link(c, v, 0, "site_link", &ls)) return -1;
    weft_link_apply(&t->defaults.site_link, &ls);
  }
  if ((v = weft_ty_get(c, n, "wan_link"))) {
    if (weft_tp_link(c, v, 1, "wan_link", &ls)) return -1;
    weft_link_apply(&t->defaults.wan_link, &ls);
  }
  if ((v = weft_ty_get(c, n, "device"))) {
    if (weft_tp_device(c, v, "device", &ds)) return -1;
    weft_device_apply(&t->defaults.device, &ds, &builtin.device);
  }
  return 0;
}

static int one_rule(ty_ctx *c, const yaml_node_t *e, weft_topo_rule *r) {
  if (weft_ty_map(c, e, "tuning rule", rule_keys)) return -1;
  r->line = weft_ty_line(e);
  r->max_size = UINT64_MAX;
  yaml_node_t *v = weft_ty_get(c, e, "coll");
  if (!v) return weft_ty_fail(c, e, "tuning rule is missing 'coll'");
  if (weft_ty_choice(c, v, "coll", weft_topo_colls, r->coll, sizeof r->coll)) return -1;
  if (!(v = weft_ty_get(c, e, "algo"))) return weft_ty_fail(c, e, "tuning rule is missing 'algo'");
  /* an empty name (a block scalar gives one) would be dumped as a missing value */
  const char *name = NULL;
  if (weft_ty_scalar(c, v, "algo", &name)) return -1;
  if (!name[0]) return weft_ty_fail(c, v, "'algo' is empty: name an algorithm");
  if (c->algos ? weft_ty_choice(c, v, "algo", c->algos, r->algo, sizeof r->algo)
               : weft_ty_string(c, v, "algo", r->algo, sizeof r->algo))
    return -1;
  /* unchecked against a list, a name is still a name (the dump writes it bare) */
  for (const char *p = r->algo; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
      return weft_ty_fail(c, v, "'algo' must be a name of letters, digits, '_' and '-', got '%s'", r->algo);
  if ((v = weft_ty_get(c, e, "min_size")) && weft_ty_bytes(c, v, "min_size", &r->min_size)) return -1;
  if ((v = weft_ty_get(c, e, "max_size"))) {
    if (weft_ty_bytes(c, v, "max_size", &r->max_size)) return -1;
    if (r->max_size < r->min_size)
      return weft_ty_fail(c, v, "max_size (%llu bytes) is smaller than min_size (%llu bytes)",
                     (unsigned long long)r->max_size, (unsigned long long)r->min_size);
  }
  return 0;
}

static int parse_tuning(ty_ctx *c, const yaml_node_t *n, weft_topo *t) {
  yaml_node_item_t *items;
  size_t count;
  if (weft_ty_list(c, n, "tuning", &items, &count)) return -1;
  if (!count) return 0;
  t->rules = calloc(count, sizeof *t->rules);
  if (!t->rules) return weft_ty_fail(c, n, "out of memory");
  for (size_t i = 0; i < count; i++, t->nrules++)
    if (one_rule(c, weft_ty_item(c, items[i]), &t->rules[i])) return -1;
  return 0;
}

static int parse_root(ty_ctx *c, const yaml_node_t *root, weft_topo *t) {
  if (weft_ty_map(c, root, "the top level", top_keys)) return -1;
  yaml_node_t *v = weft_ty_get(c, root, "version");
  if (!v) return weft_ty_fail(c, root, "missing 'version' (add 'version: %d' at the top)", WEFT_TOPO_VERSION);
  long ver;
  if (weft_ty_int(c, v, "version", 0, 1000000, &ver)) return -1;
  if (ver != WEFT_TOPO_VERSION)
    return weft_ty_fail(c, v, "unsupported version %ld (this weft reads version %d)", ver, WEFT_TOPO_VERSION);
  t->version = (int)ver;
  if ((v = weft_ty_get(c, root, "defaults")) && parse_defaults(c, v, t)) return -1;
  if ((v = weft_ty_get(c, root, "sites")) && weft_tp_sites(c, v, t)) return -1;
  if ((v = weft_ty_get(c, root, "nodes")) && weft_tp_nodes(c, v, t)) return -1;
  if ((v = weft_ty_get(c, root, "wan")) && weft_tp_wan(c, v, t)) return -1;
  if ((v = weft_ty_get(c, root, "tuning")) && parse_tuning(c, v, t)) return -1;
  return 0;
}

static void yaml_error(const yaml_parser_t *p, const char *file, char *err, size_t errlen) {
  if (p->error == YAML_MEMORY_ERROR) {
    snprintf(err, errlen, "%s: out of memory", file);
  } else if (p->error == YAML_READER_ERROR) {
    snprintf(err, errlen, "%s: invalid text at byte %zu: %s", file, p->problem_offset,
             p->problem ? p->problem : "unreadable");
  } else {
    char ctx[160] = "";
    if (p->context)
      snprintf(ctx, sizeof ctx, " (%s started at line %zu)", p->context, p->context_mark.line + 1);
    const char *hint = p->context && strstr(p->context, "flow sequence")
                           ? "; hostlists inside [...] must be quoted: [\"gpu[01-16]\"]"
                           : "";
    snprintf(err, errlen, "%s:%zu:%zu: YAML syntax error: %s%s%s", file, p->problem_mark.line + 1,
             p->problem_mark.column + 1, p->problem ? p->problem : "unknown problem", ctx, hint);
  }
}

/* A first pass over the YAML events, before any document is built: refuses
 * nesting deeper than MAX_DEPTH (stopping libyaml early) and NUL characters
 * in scalars (which the document would silently cut short). 0, or -1 with
 * err at file:line:col; syntax errors are left to the loader. */
static int prescan(const char *text, size_t len, const char *name, char *err, size_t errlen) {
  yaml_parser_t p;
  if (!yaml_parser_initialize(&p)) {
    snprintf(err, errlen, "%s: cannot initialize the YAML parser", name);
    return -1;
  }
  yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
  int depth = 0, rc = 0, done = 0;
  while (!done && rc == 0) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&p, &ev)) break; /* the loader reports it */
    const yaml_mark_t *m = &ev.start_mark;
    switch (ev.type) {
      case YAML_SEQUENCE_START_EVENT:
      case YAML_MAPPING_START_EVENT:
        if (++depth > MAX_DEPTH) {
          snprintf(err, errlen, "%s:%zu:%zu: nesting deeper than %d levels", name, m->line + 1, m->column + 1,
                   MAX_DEPTH);
          rc = -1;
        }
        break;
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT: depth--; break;
      case YAML_SCALAR_EVENT:
        if (memchr(ev.data.scalar.value, 0, ev.data.scalar.length)) {
          snprintf(err, errlen, "%s:%zu:%zu: a NUL character inside a value", name, m->line + 1, m->column + 1);
          rc = -1;
        }
        break;
      case YAML_STREAM_END_EVENT: done = 1; break;
      default: break;
    }
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&p);
  return rc;
}

int weft_topo_parse_string(const char *text, size_t len, const char *name, const char *const *algos, weft_topo **out,
                           char *err, size_t errlen) {
  *out = NULL;
  if (!name) name = "<string>";
  if (len > MAX_FILE_BYTES) {
    snprintf(err, errlen, "%s: too large (%zu bytes, at most %u MiB)", name, len, MAX_FILE_BYTES >> 20);
    return -1;
  }
  if (prescan(text, len, name, err, errlen)) return -1;
  weft_topo *t = calloc(1, sizeof *t);
  if (!t) {
    snprintf(err, errlen, "%s: out of memory", name);
    return -1;
  }
  snprintf(t->source, sizeof t->source, "%s", name);
  weft_topo_builtin_defaults(&t->defaults);
  weft_strmap_init(&t->site_by_name);
  weft_strmap_init(&t->site_by_host);
  weft_strmap_init(&t->node_by_host);

  yaml_parser_t parser;
  yaml_document_t doc, extra;
  int rc = -1, have_doc = 0;
  if (!yaml_parser_initialize(&parser)) {
    snprintf(err, errlen, "%s: cannot initialize the YAML parser", name);
    weft_topo_free(t);
    return -1;
  }
  yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
  ty_ctx c = {t->source, &doc, err, errlen, algos};
  if (!yaml_parser_load(&parser, &doc)) {
    yaml_error(&parser, name, err, errlen);
    goto done;
  }
  have_doc = 1;
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  if (!root || weft_ty_is_null(root)) {
    snprintf(err, errlen, "%s:1:1: empty topology (expected at least 'version: %d')", name, WEFT_TOPO_VERSION);
    goto done;
  }
  if (!yaml_parser_load(&parser, &extra)) {
    yaml_error(&parser, name, err, errlen);
    goto done;
  }
  yaml_node_t *second = yaml_document_get_root_node(&extra);
  if (second) {
    ty_ctx c2 = {t->source, &extra, err, errlen, algos};
    weft_ty_fail(&c2, second, "a second YAML document; a topology file holds one document");
    yaml_document_delete(&extra);
    goto done;
  }
  yaml_document_delete(&extra);
  rc = parse_root(&c, root, t);
done:
  if (have_doc) yaml_document_delete(&doc);
  yaml_parser_delete(&parser);
  if (rc) {
    weft_topo_free(t);
    return -1;
  }
  *out = t;
  return 0;
}

int weft_topo_parse_file(const char *path, const char *const *algos, weft_topo **out, char *err, size_t errlen) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    return -1;
  }
  size_t cap = 4096, len = 0;
  char *buf = malloc(cap);
  int rc = -1;
  while (buf) {
    if (len == cap) {
      if (cap >= MAX_FILE_BYTES) {
        snprintf(err, errlen, "%s: file too large (more than %u MiB)", path, MAX_FILE_BYTES >> 20);
        goto done;
      }
      char *nb = realloc(buf, cap * 2);
      if (!nb) break;
      buf = nb;
      cap *= 2;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0) {
      if (ferror(f)) {
        snprintf(err, errlen, "%s: read error: %s", path, strerror(errno));
        goto done;
      }
      rc = weft_topo_parse_string(buf, len, path, algos, out, err, errlen);
      goto done;
    }
  }
  snprintf(err, errlen, "%s: out of memory", path);
done:
  free(buf);
  fclose(f);
  return rc;
}
