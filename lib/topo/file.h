/* A parsed topology file (docs/topology.md), as plain C structs.
 * Nothing here depends on a communicator. */
#ifndef WEFT_TOPO_FILE_H
#define WEFT_TOPO_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "topo/strmap.h"
#include "topo/types.h"

#define WEFT_TOPO_VERSION 1
#define WEFT_TOPO_MAX_NODES 65536 /* host names in one file, all sites together */
#define WEFT_SITE_NAME_MAX 63

typedef struct {
  char name[WEFT_SITE_NAME_MAX + 1];
  int line;                 /* of the entry, 1-based */
  char **nodes;             /* host names, expanded, in file order */
  size_t nnodes;
  weft_link_spec link;      /* over defaults.site_link, between nodes of this site */
  weft_link_spec node_link; /* over defaults.node_link, between ranks of one node */
  weft_device_spec device;  /* over defaults.device */
} weft_topo_site;

/* One entry of `nodes:` per host (hostlist entries are expanded). */
typedef struct {
  char *name;
  int line;
  weft_link_spec link;      /* over the site's link: this node's attachment */
  weft_link_spec node_link; /* over the site's node_link */
  weft_device_spec device;  /* over the site's device */
} weft_topo_node;

typedef struct {
  int a, b;            /* site indices */
  int oneway;          /* 1: the entry is for a -> b only */
  weft_link_spec link; /* over defaults.wan_link */
  int line;
} weft_topo_wan;

typedef struct {
  char coll[16];               /* a collective, or "all" */
  uint64_t min_size, max_size; /* bytes, inclusive; max_size UINT64_MAX when not given */
  char algo[16];
  int line;
} weft_topo_rule;

typedef struct weft_topo {
  char source[256]; /* file name used in messages, "<string>" for text */
  int version;
  weft_topo_defaults defaults; /* built-in defaults with the file's `defaults` applied */
  weft_topo_site *sites;
  int nsites;
  weft_topo_node *nodes;
  int nnodes;
  weft_topo_wan *wans;
  int nwans;
  weft_topo_rule *rules;
  int nrules;
  /* lookups */
  weft_strmap site_by_name, site_by_host, node_by_host;
} weft_topo;

/* Parse a file, or text (name NULL = "<string>"). algos: the algorithm
 * names tuning rules may use (the layer above knows them: coll/algo.h's
 * weft_algo_rule_names), NULL-terminated; NULL accepts any name. Returns 0
 * and *out, or -1 with "file:line:col: message" in err. */
int weft_topo_parse_file(const char *path, const char *const *algos, weft_topo **out, char *err, size_t errlen);
int weft_topo_parse_string(const char *text, size_t len, const char *name, const char *const *algos, weft_topo **out,
                           char *err, size_t errlen);
void weft_topo_free(weft_topo *t);

/* Lookups; -1 / NULL when absent. */
int weft_topo_find_site(const weft_topo *t, const char *name);
int weft_topo_site_of_host(const weft_topo *t, const char *host);
const weft_topo_node *weft_topo_node_entry(const weft_topo *t, const char *host);
/* The wan entry that covers a -> b, or NULL (defaults.wan_link applies). */
const weft_topo_wan *weft_topo_wan_entry(const weft_topo *t, int a, int b);
/* Distinct host names in sites and node entries. */
size_t weft_topo_count_hosts(const weft_topo *t);

/* The algorithm the first matching rule forces for coll at this byte size,
 * or NULL. A rule matches when its coll is coll or "all" and
 * min_size <= bytes <= max_size. */
const char *weft_topo_rules_match(const weft_topo_rule *rules, int nrules, const char *coll, uint64_t bytes);

#endif
