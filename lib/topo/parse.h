/* Internal: the sections of a topology file. Each returns 0, or -1 with
 * the message in c->err. */
#ifndef WEFT_TOPO_PARSE_H
#define WEFT_TOPO_PARSE_H

#include "topo/file.h"
#include "topo/ydoc.h"

/* A link mapping; wan = 1 allows codec and streams. what names it in
 * messages ("link of site 'east'"). */
int weft_tp_link(ty_ctx *c, const yaml_node_t *n, int wan, const char *what, weft_link_spec *out);
/* The link keys of mapping n (already key-checked by the caller). */
int weft_tp_link_fields(ty_ctx *c, const yaml_node_t *n, int wan, const char *what, weft_link_spec *out);
int weft_tp_device(ty_ctx *c, const yaml_node_t *n, const char *what, weft_device_spec *out);

int weft_tp_sites(ty_ctx *c, const yaml_node_t *n, weft_topo *t);
int weft_tp_nodes(ty_ctx *c, const yaml_node_t *n, weft_topo *t);
int weft_tp_wan(ty_ctx *c, const yaml_node_t *n, weft_topo *t);

#endif
