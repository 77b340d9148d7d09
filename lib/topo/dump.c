#include "topo/dump.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "topo/graph_impl.h"
#include "topo/hostlist.h"
#include "topo/units.h"

/* A double-quoted YAML string. */
static void qstr(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    unsigned char ch = (unsigned char)*s;
    if (ch == '"' || ch == '\\')
      fprintf(f, "\\%c", ch);
    else if (ch < 0x20 || ch == 0x7f)
      fprintf(f, "\\x%02x", ch);
    else
      fputc(ch, f);
  }
  fputc('"', f);
}

static void link_flow(FILE *f, const weft_link *l, int wan) {
  char bw[64], lat[64];
  weft_format_bandwidth(l->bw, bw, sizeof bw);
  weft_format_latency(l->lat, lat, sizeof lat);
  fprintf(f, "{bandwidth: %s, latency: %s, transport: %s", bw, lat, l->transport);
  if (wan) {
    if (l->streams)
      fprintf(f, ", codec: %s, streams: %d}", l->codec, l->streams);
    else
      fprintf(f, ", codec: %s, streams: auto}", l->codec);
  } else {
    fputc('}', f);
  }
}

static void device_flow(FILE *f, const weft_device *d) {
  char sp[40];
  weft_format_number(d->speed, sp, sizeof sp);
  fprintf(f, "{kind: %s, vendor: ", d->kind);
  qstr(f, d->vendor);
  fputs(", model: ", f);
  qstr(f, d->model);
  fprintf(f, ", speed: %s}", sp);
}

void weft_ranks_describe(const int *ranks, int n, char *buf, size_t len) {
  size_t used = 0;
  buf[0] = '\0';
  for (int i = 0; i < n && used < len;) {
    int j = i;
    while (j + 1 < n && ranks[j + 1] == ranks[j] + 1) j++;
    int w = j > i ? snprintf(buf + used, len - used, "%s%d-%d", i ? "," : "", ranks[i], ranks[j])
                  : snprintf(buf + used, len - used, "%s%d", i ? "," : "", ranks[i]);
    if (w < 0) break;
    used += (size_t)w;
    i = j + 1;
  }
}

void weft_link_describe(const weft_link *l, int wan, char *buf, size_t len) {
  char bw[64], lat[64];
  weft_format_bandwidth(l->bw, bw, sizeof bw);
  weft_format_latency(l->lat, lat, sizeof lat);
  if (!wan) {
    snprintf(buf, len, "%s, %s, %s", bw, lat, l->transport);
  } else if (l->streams) {
    snprintf(buf, len, "%s, %s, %s, codec %s, %d streams", bw, lat, l->transport, l->codec, l->streams);
  } else {
    snprintf(buf, len, "%s, %s, %s, codec %s, streams auto", bw, lat, l->transport, l->codec);
  }
}

void weft_device_describe(const weft_device *d, char *buf, size_t len) {
  char sp[40];
  weft_format_number(d->speed, sp, sizeof sp);
  snprintf(buf, len, "%s %s%s%s speed %s", d->kind, d->vendor, d->model[0] ? " " : "", d->model, sp);
}

/* Host names of a site's nodes, each once, skipping those that an earlier
 * site already lists (possible only with explicit site names). */
static int site_hosts(const weft_graph *g, int s, weft_strmap *seen, const char ***names, size_t *n) {
  const int *nodes;
  int nn = weft_graph_site_nodes(g, s, &nodes);
  *names = malloc(((size_t)nn + 1) * sizeof **names);
  *n = 0;
  if (!*names) return -1;
  for (int i = 0; i < nn; i++) {
    const char *h = g->nodes[nodes[i]].name;
    int prev = weft_strmap_put(seen, h, s);
    if (prev == -2) return -1;
    if (prev < 0) (*names)[(*n)++] = h;
  }
  return 0;
}

static int dump_sites(const weft_graph *g, FILE *f) {
  weft_strmap seen;
  weft_strmap_init(&seen);
  int rc = 0;
  fputs("sites:\n", f);
  for (int s = 0; s < g->nsites && !rc; s++) {
    const weft_gsite *gs = &g->sites[s];
    const int *ranks;
    int nr = weft_graph_site_ranks(g, s, &ranks);
    char rl[256];
    weft_ranks_describe(ranks, nr, rl, sizeof rl);
    fputs("  - name: ", f);
    qstr(f, gs->name);
    fprintf(f, "\n    # ranks %s\n    nodes: [", rl);
    const char **names;
    size_t n;
    char **expr = NULL;
    size_t ne = 0;
    if (site_hosts(g, s, &seen, &names, &n) || weft_hostlist_compress(names, n, &expr, &ne)) rc = -1;
    for (size_t i = 0; i < ne; i++) {
      if (i) fputs(", ", f);
      qstr(f, expr[i]);
    }
    fputs("]\n    link: ", f);
    link_flow(f, &gs->link, 0);
    fputs("\n    node_link: ", f);
    link_flow(f, &gs->node_link, 0);
    fputs("\n    device: ", f);
    device_flow(f, &gs->dev);
    fputc('\n', f);
    free(names);
    weft_hostlist_free(expr, ne);
  }
  weft_strmap_free(&seen);
  return rc;
}

static void dump_nodes(const weft_graph *g, FILE *f) {
  int any = 0;
  for (int i = 0; i < g->nnodes; i++) {
    const weft_gnode *gn = &g->nodes[i];
    const weft_gsite *gs = &g->sites[gn->site];
    int dev = !weft_device_equal(&gn->dev, &gs->dev), link = !weft_link_equal(&gn->link, &gs->link),
        nl = !weft_link_equal(&gn->node_link, &gs->node_link);
    if (!dev && !link && !nl) continue;
    if (!any++) fputs("nodes:\n", f);
    fputs("  - name: ", f);
    qstr(f, gn->name);
    fputc('\n', f);
    if (dev) {
      fputs("    device: ", f);
      device_flow(f, &gn->dev);
      fputc('\n', f);
    }
    if (link) {
      fputs("    link: ", f);
      link_flow(f, &gn->link, 0);
      fputc('\n', f);
    }
    if (nl) {
      fputs("    node_link: ", f);
      link_flow(f, &gn->node_link, 0);
      fputc('\n', f);
    }
  }
}

static void wan_entry(const weft_graph *g, FILE *f, int a, int b, const weft_link *l, int oneway, int *any) {
  if (!(*any)++) fputs("wan:\n", f);
  char bw[64], lat[64];
  weft_format_bandwidth(l->bw, bw, sizeof bw);
  weft_format_latency(l->lat, lat, sizeof lat);
  fputs("  - between: [", f);
  qstr(f, g->sites[a].name);
  fputs(", ", f);
  qstr(f, g->sites[b].name);
  fprintf(f, "]\n%s    bandwidth: %s\n    latency: %s\n    transport: %s\n    codec: %s\n",
          oneway ? "    oneway: true\n" : "", bw, lat, l->transport, l->codec);
  if (l->streams)
    fprintf(f, "    streams: %d\n", l->streams);
  else
    fputs("    streams: auto\n", f);
}

static void dump_wan(const weft_graph *g, FILE *f) {
  int any = 0;
  size_t ns = (size_t)g->nsites;
  const weft_link *dflt = &g->defaults.wan_link;
  for (int a = 0; a < g->nsites; a++)
    for (int b = a + 1; b < g->nsites; b++) {
      const weft_link *ab = &g->wan[(size_t)a * ns + (size_t)b], *ba = &g->wan[(size_t)b * ns + (size_t)a];
      if (weft_link_equal(ab, ba)) {
        if (!weft_link_equal(ab, dflt)) wan_entry(g, f, a, b, ab, 0, &any);
        continue;
      }
      if (!weft_link_equal(ab, dflt)) wan_entry(g, f, a, b, ab, 1, &any);
      if (!weft_link_equal(ba, dflt)) wan_entry(g, f, b, a, ba, 1, &any);
    }
}

static void dump_rules(const weft_graph *g, FILE *f) {
  if (!g->nrules) return;
  fputs("tuning:\n", f);
  for (int i = 0; i < g->nrules; i++) {
    const weft_topo_rule *r = &g->rules[i];
    char mn[32], mx[32];
    weft_format_bytes(r->min_size, mn, sizeof mn);
    fprintf(f, "  - {coll: %s, min_size: %s", r->coll, mn);
    if (r->max_size != UINT64_MAX) {
      weft_format_bytes(r->max_size, mx, sizeof mx);
      fprintf(f, ", max_size: %s", mx);
    }
    fprintf(f, ", algo: %s}\n", r->algo);
  }
}

static void dump_hw(const weft_graph *g, FILE *f) {
  int any = 0;
  for (int i = 0; i < g->nnodes; i++) {
    if (!g->nodes[i].hw) continue;
    if (!any++) fputs("# hardware (discovered, informational):\n", f);
    char d[1024];
    weft_hw_describe(g->nodes[i].hw, d, sizeof d);
    fprintf(f, "#   %s: %s\n", g->nodes[i].name, d);
  }
}

static void dump_where(const weft_graph *g, FILE *f) {
  int any = 0;
  for (int r = 0; r < g->nranks; r++) {
    const char *w = weft_graph_rank_where(g, r);
    if (!w) continue;
    if (!any++) fputs("# devices (reported by each rank, informational):\n", f);
    fprintf(f, "#   rank %d on %s: %s\n", r, g->nodes[g->rank_node[r]].name, w);
  }
}

int weft_topo_dump(const weft_graph *g, FILE *f, char *err, size_t errlen) {
  const weft_topo_defaults *d = &g->defaults;
  fprintf(f, "# weft topology dump: %d rank%s, %d node%s, %d site%s\n", g->nranks, g->nranks == 1 ? "" : "s",
          g->nnodes, g->nnodes == 1 ? "" : "s", g->nsites, g->nsites == 1 ? "" : "s");
  fputs("version: 1\ndefaults:\n  node_link: ", f);
  link_flow(f, &d->node_link, 0);
  fputs("\n  site_link: ", f);
  link_flow(f, &d->site_link, 0);
  fputs("\n  wan_link: ", f);
  link_flow(f, &d->wan_link, 1);
  fputs("\n  device: ", f);
  device_flow(f, &d->device);
  fputc('\n', f);
  if (dump_sites(g, f)) {
    snprintf(err, errlen, "topology dump: out of memory");
    return -1;
  }
  dump_nodes(g, f);
  dump_wan(g, f);
  dump_rules(g, f);
  dump_hw(g, f);
  dump_where(g, f);
  if (fflush(f) || ferror(f)) {
    snprintf(err, errlen, "topology dump: write error: %s", strerror(errno));
    return -1;
  }
  return 0;
}

int weft_topo_dump_path(const weft_graph *g, const char *path, char *err, size_t errlen) {
  /* a fresh file of our own (O_EXCL under an unguessable name), renamed over
   * path once complete: never follows a link planted at a predictable name,
   * and readers see the old dump or the whole new one */
  char tmp[4096];
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= sizeof tmp) {
    snprintf(err, errlen, "topology dump: path too long");
    return -1;
  }
  int fd = mkstemp(tmp);
  if (fd < 0) {
    snprintf(err, errlen, "topology dump: cannot create a file next to %s: %s", path, strerror(errno));
    return -1;
  }
  fchmod(fd, 0644); /* a dump is for people and tools to read; mkstemp makes it 0600 */
  FILE *f = fdopen(fd, "w");
  if (!f) {
    snprintf(err, errlen, "topology dump: %s: %s", tmp, strerror(errno));
    close(fd);
    unlink(tmp);
    return -1;
  }
  int rc = weft_topo_dump(g, f, err, errlen);
  if (fclose(f) && !rc) {
    snprintf(err, errlen, "topology dump: write error on %s: %s", tmp, strerror(errno));
    rc = -1;
  }
  if (!rc && rename(tmp, path)) {
    snprintf(err, errlen, "topology dump: cannot rename %s to %s: %s", tmp, path, strerror(errno));
    rc = -1;
  }
  if (rc) unlink(tmp);
  return rc;
}
