#include "tune/graph_model.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"

void weft_graph_groups(const weft_graph *g, weft_groups *nodes, weft_groups *sites, int *mem) {
  int n = weft_graph_nranks(g);
  uint64_t *key = malloc(sizeof *key * (size_t)(n ? n : 1));
  uint64_t one = 0;
  if (!key) key = &one, n = n ? 1 : 0; /* degrade: cannot happen for sane n */
  for (int r = 0; r < n; r++) key[r] = (uint64_t)weft_graph_node_of_rank(g, r);
  weft_groups_from_keys(nodes, key, n, mem);
  for (int r = 0; r < n; r++) key[r] = (uint64_t)weft_graph_site_of_rank(g, r);
  weft_groups_from_keys(sites, key, n, mem + 4 * n + 1);
  if (key != &one) free(key);
}

static int graph_link(const void *ctx, int a, int b, weft_link_cost *out) {
  weft_link l;
  if (weft_graph_link(ctx, a, b, &l) < 0) return -1;
  out->bw = l.bw;
  out->lat = l.lat;
  return 0;
}

void weft_graph_cost_model(const weft_graph *g, const weft_groups *nodes, const weft_groups *sites,
                           weft_cost_model *m) {
  weft_cost_defaults(m);
  const weft_topo_defaults *d = weft_graph_defaults(g);
  m->link[WEFT_LC_NODE] = (weft_link_cost){d->node_link.lat, d->node_link.bw};
  m->link[WEFT_LC_SITE] = (weft_link_cost){d->site_link.lat, d->site_link.bw};
  m->link[WEFT_LC_WAN] = (weft_link_cost){d->wan_link.lat, d->wan_link.bw};
  m->n = weft_graph_nranks(g);
  m->nodes = nodes;
  m->sites = sites;
  m->link_of = graph_link;
  m->link_ctx = g;
  m->pipe_bytes = (size_t)4 << 20; /* WEFT_HIER_PIPE's default */
  char codec[16], why[64];
  weft_codec_id id;
  weft_codec_params p;
  weft_codec_params_default(&p);
  weft_graph_wan_codec(g, codec, sizeof codec, why, sizeof why);
  if (codec[0] && weft_codec_parse(codec, &id) == 0 && id) {
    m->wan_ratio = weft_codec_ratio(id, &p, weftFloat);
    m->codec_bw = weft_codec_throughput(id);
  }
}

/* The codec the topology file gives the WAN links, "" when none. */
void weft_graph_wan_codec(const weft_graph *g, char *out, size_t len, char *why, size_t wlen) {
  out[0] = 0;
  int ns = weft_graph_nsites(g);
  double best = 2;
  weft_codec_params p;
  weft_codec_params_default(&p);
  for (int a = 0; a < ns; a++)
    for (int b = a + 1; b < ns; b++) {
      weft_link l;
      weft_codec_id id;
      if (weft_graph_site_link(g, a, b, &l) < 0 || !l.codec[0] || !strcmp(l.codec, "none")) continue;
      if (!strcmp(l.codec, "auto")) {
        if (!out[0]) snprintf(out, len, "auto"), snprintf(why, wlen, "topology file");
        continue;
      }
      if (weft_codec_parse(l.codec, &id) != 0 || !weft_codec_available(id)) continue;
      double r = weft_codec_ratio(id, &p, weftFloat);
      if (r < best) {
        best = r;
        snprintf(out, len, "%s", l.codec);
        snprintf(why, wlen, "topology file, link %s-%s", weft_graph_site_name(g, a), weft_graph_site_name(g, b));
      }
    }
}
