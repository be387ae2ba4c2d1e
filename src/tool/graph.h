/*
 * graph.h — the call graph pprof's reports are built on (its internal/graph package).
 *
 * A node is one place at the report's granularity, named by a g_info_t (function name, file,
 * line, address, object file: what the profile kept after Aggregate). Its flat value is what
 * samples ending there weigh, its cum value what samples passing through it weigh (once per
 * sample). An edge from caller to callee carries the weight of the samples that took that call;
 * it is "residual" when nodes between the two were left out, "inline" when the call was inlined.
 *
 * graph_build runs over every sample once, with no allocation per sample: the nodes of each
 * location are found once up front, per-sample "seen" sets are stamps on nodes and edges, and
 * edges are found through a hash of (caller, callee). A graph_t keeps its node table across
 * rebuilds, so the report can rebuild with a kept set (graph_keep_*) as pprof does when trimming.
 * Nodes, edges and names live in the profile's arena.
 */
#ifndef CPROF_TOOL_GRAPH_H
#define CPROF_TOOL_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tool/model.h"

typedef struct g_info {
  const char *name, *orig_name; /* interned */
  uint64_t address;
  const char *file; /* cleaned, interned */
  int64_t start_line, lineno;
  const char *objfile; /* interned */
} g_info_t;

typedef struct g_node g_node_t;

typedef struct g_edge {
  g_node_t *src, *dest;
  int64_t weight, weight_div;
  bool residual, inl;
  uint32_t stamp;
} g_edge_t;

typedef struct g_tag {
  const char *name, *unit;
  int64_t value;
  int64_t flat, flat_div, cum, cum_div;
} g_tag_t;

/* A map from names to tags (a node's label tags, or one group of numeric tags). */
typedef struct g_tagmap {
  g_tag_t **tag;
  size_t n, cap;
} g_tagmap_t;

typedef struct g_numtags {
  const char *labels; /* the joined string labels of the samples these came from */
  g_tagmap_t tags;
} g_numtags_t;

struct g_node {
  g_info_t info;
  g_node_t *function; /* the node of the function this line or address belongs to */
  g_node_t *tparent;  /* call trees: the caller context the node belongs to */
  int64_t flat, flat_div, cum, cum_div;
  g_edge_t **in, **out;
  uint32_t nin, nout, capin, capout;
  const char *pname; /* PrintableName, interned, made on demand by graph_name */
  uint32_t stamp;
  uint32_t pos;      /* scratch for reports */
  g_edge_t *last_in; /* the in-edge found last: callers repeat, so it saves a hash lookup */
  bool kept, in_graph;
  g_tagmap_t label_tags;
  g_numtags_t *numeric; /* groups keyed by labels */
  size_t nnumeric;
};

typedef struct graph_opts {
  int sample_index;   /* the value to use */
  int mean_index;     /* -1, or the divisor's index (mean) */
  bool obj_names;     /* always keep the object file name */
  bool call_tree;     /* build a tree (contexts kept apart) */
  bool drop_negative; /* leave out nodes with negative values */
  bool tags;          /* collect label and numeric tags (for dot) */
  /* formats a numeric tag value; NULL: decimal */
  const char *(*format_tag)(void *ctx, int64_t v, const char *unit);
  void *format_ctx;
} graph_opts_t;

typedef struct graph {
  tprof_t *prof;
  graph_opts_t o;
  g_node_t **nodes; /* the graph: nodes with a non-zero value, in no particular order until
                       sorted */
  size_t n;
  /* private */
  g_node_t **all;
  size_t nall, capall;
  mem_tab_t nodemap, edgemap;
  g_edge_t **edges;
  size_t nedges, capedges;
  bool restricted; /* built with a kept set */
  uint32_t stamp;
} graph_t;

/* Builds the graph of p (graph_new), or rebuilds it keeping only nodes marked kept. */
graph_t *graph_new(tprof_t *p, const graph_opts_t *o);
void graph_rebuild_kept(graph_t *g);

/* Frees the graph's vectors (nodes and edges are in the arena). */
void graph_free(graph_t *g);

/* pprof's PrintableName, cached on the node. */
const char *graph_name(g_node_t *n);
/* NameComponents joined by sep, into b. */
struct sbuf;
void graph_name_components(const g_info_t *i, const char *sep, struct sbuf *b);

/* Values with their divisor applied. */
static inline int64_t g_flat(const g_node_t *n) {
  return n->flat_div ? n->flat / n->flat_div : n->flat;
}
static inline int64_t g_cum(const g_node_t *n) { return n->cum_div ? n->cum / n->cum_div : n->cum; }
static inline int64_t g_weight(const g_edge_t *e) {
  return e->weight_div ? e->weight / e->weight_div : e->weight;
}

/* Sum of flat values of the graph's nodes. */
int64_t graph_flat_sum(const graph_t *g);

/* Marks kept the nodes whose |cum| >= cutoff; returns how many. */
size_t graph_keep_above(graph_t *g, int64_t cutoff);
/* Marks kept the first max nodes (in the current order; visual mode counts tags as pprof). */
size_t graph_keep_top(graph_t *g, int max, bool visual);

enum { G_FLAT_NAME, G_CUM_NAME, G_ENTROPY, G_NAME, G_FILE, G_ADDRESS };
void graph_sort(graph_t *g, int order);
void graph_sort_nodes(g_node_t **nodes, size_t n, int order);

/* Drops edges lighter than cutoff; returns how many. */
size_t graph_trim_edges(graph_t *g, int64_t cutoff);
/* Drops tags lighter than cutoff. */
void graph_trim_tags(graph_t *g, int64_t cutoff);
/* Removes residual edges already implied by another path (pprof's RemoveRedundantEdges). */
void graph_remove_redundant_edges(graph_t *g);
/* TrimTree for call trees: splices out nodes not marked kept. */
void graph_trim_tree(graph_t *g);

/* The edges into (in) or out of a node, sorted as pprof's EdgeMap.Sort; a malloc'd array. */
g_edge_t **graph_edges_sorted(g_edge_t **e, size_t n);

/* Tags sorted as pprof's SortTags (by flat, or cum then flat, then name); in place. */
void graph_sort_tags(g_tag_t **t, size_t n, bool flat);

/* pprof's ShortenFunctionName. */
const char *graph_shorten_name(const char *name, char *buf, size_t n);

/* ------------------------------------------------------------ between the graph's own files -- */

/* A new kept node for info, whose hash is h, appended to g->all and the node map; tparent is its
 * parent in a call tree (NULL in a graph). The caller links its function node. (graph.c) */
g_node_t *graph_node_new(graph_t *g, const g_info_t *info, uint64_t h, g_node_t *tparent);
/* Adds a sample's weight to n's flat or cumulative value. (graph.c) */
void graph_add_value(g_node_t *n, int64_t dw, int64_t w, bool flat);
/* Fills g->nodes with the nodes that have a value (the negative ones dropped when asked). */
void graph_select_nodes(graph_t *g);
/* Builds g as a call tree (graph_tree.c). */
void graph_tree_build(graph_t *g);
/* The sample's labels joined for tags, and the tags of a node (graph_tags.c). */
const char *graph_join_labels(mem_t *m, const tp_sample_t *s);
void graph_tags_add(graph_t *g, g_node_t *n, const tp_sample_t *s, const char *labels, int64_t dw,
                    int64_t w, bool flat);

#endif /* CPROF_TOOL_GRAPH_H */
