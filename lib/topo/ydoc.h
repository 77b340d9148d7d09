/* Checked access to a libyaml document: every failure writes
 * "file:line:col: message" (1-based, at the offending node) into the
 * context's error buffer and returns -1. */
#ifndef WEFT_TOPO_YDOC_H
#define WEFT_TOPO_YDOC_H

#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

typedef struct {
  const char *file; /* name used in messages */
  yaml_document_t *doc;
  char *err;
  size_t errlen;
  const char *const *algos; /* names tuning rules may use; NULL: any */
} ty_ctx;

int weft_ty_fail(ty_ctx *c, const yaml_node_t *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "a mapping", "a list", "a string", "nothing" */
const char *weft_ty_type_name(const yaml_node_t *n);
/* An empty plain scalar, "~" or "null": a key given no value. */
int weft_ty_is_null(const yaml_node_t *n);
int weft_ty_line(const yaml_node_t *n); /* 1-based */

/* n must be a mapping (what: "wan link", for messages) whose keys are
 * distinct strings from allowed (NULL-terminated). */
int weft_ty_map(ty_ctx *c, const yaml_node_t *n, const char *what, const char *const *allowed);
/* The value of key in a checked mapping, or NULL. */
yaml_node_t *weft_ty_get(ty_ctx *c, const yaml_node_t *map, const char *key);
/* The key node of key, or NULL. */
yaml_node_t *weft_ty_get_key(ty_ctx *c, const yaml_node_t *map, const char *key);

/* n (value of key) must be a list; null counts as an empty list. Gives
 * the item ids and their count. */
int weft_ty_list(ty_ctx *c, const yaml_node_t *n, const char *key, yaml_node_item_t **items, size_t *count);
yaml_node_t *weft_ty_item(ty_ctx *c, yaml_node_item_t id);

/* Scalars, checked and converted; key names the value in messages. */
int weft_ty_scalar(ty_ctx *c, const yaml_node_t *n, const char *key, const char **text);
int weft_ty_string(ty_ctx *c, const yaml_node_t *n, const char *key, char *out, size_t cap);
int weft_ty_choice(ty_ctx *c, const yaml_node_t *n, const char *key, const char *const *set, char *out, size_t cap);
int weft_ty_bandwidth(ty_ctx *c, const yaml_node_t *n, const char *key, double *out);
int weft_ty_latency(ty_ctx *c, const yaml_node_t *n, const char *key, double *out);
int weft_ty_bytes(ty_ctx *c, const yaml_node_t *n, const char *key, uint64_t *out);
int weft_ty_positive(ty_ctx *c, const yaml_node_t *n, const char *key, double *out);
int weft_ty_int(ty_ctx *c, const yaml_node_t *n, const char *key, long min, long max, long *out);
int weft_ty_bool(ty_ctx *c, const yaml_node_t *n, const char *key, int *out);

#endif
