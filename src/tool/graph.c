/*
 * graph.c — building, trimming and ordering the call graph (see graph.h).
 *
 * The node table maps a g_info_t (hashed field by field; strings are interned, so by address) to
 * its node, and lives as long as the graph: a rebuild with a kept set reuses the nodes, zeroing
 * their values and edges, and treats the nodes not kept as absent, which is what pprof gets by
 * building a new graph restricted to a NodeSet. Each location's nodes (one per line, the inlined
 * ones first) are computed once and kept in the location's aux field.
 */
#include "tool/graph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool/util.h"

/* ------------------------------------------------------------------ nodes --------------------- */

static uint64_t info_hash(const g_info_t *i) {
  uint64_t h = mem_mix((uintptr_t)i->name);
  h = mem_hash_add(h, (uintptr_t)i->orig_name);
  h = mem_hash_add(h, i->address);
  h = mem_hash_add(h, (uintptr_t)i->file);
  h = mem_hash_add(h, (uint64_t)i->start_line);
  h = mem_hash_add(h, (uint64_t)i->lineno);
  return mem_hash_add(h, (uintptr_t)i->objfile);
}

static bool info_eq(const g_info_t *a, const g_info_t *b) {
  return a->name == b->name && a->orig_name == b->orig_name && a->address == b->address &&
         a->file == b->file && a->start_line == b->start_line && a->lineno == b->lineno &&
         a->objfile == b->objfile;
}

static g_node_t *node_lookup(graph_t *g, const g_info_t *info, uint64_t h) {
  mem_tab_it_t it = mem_tab_start(&g->nodemap, h);
  for (int64_t v; (v = mem_tab_next(&g->nodemap, &it)) >= 0;)
    if (info_eq(&g->all[v]->info, info))
      return g->all[v];
  return NULL;
}

g_node_t *graph_node_new(graph_t *g, const g_info_t *info, uint64_t h, g_node_t *tparent) {
  g_node_t *n = mem_zalloc(g->prof->mem, sizeof *n);
  n->info = *info;
  n->tparent = tparent;
  n->kept = true;
  if (g->nall == g->capall) {
    g->capall = g->capall ? g->capall * 2 : 1024;
    g->all = xrealloc(g->all, g->capall * sizeof *g->all);
  }
  g->all[g->nall++] = n;
  mem_tab_put(&g->nodemap, h, (uint32_t)(g->nall - 1));
  return n;
}

static g_node_t *find_or_insert(graph_t *g, const g_info_t *info) {
  uint64_t h = info_hash(info);
  g_node_t *n = node_lookup(g, info, h);
  if (n)
    return n;
  n = graph_node_new(g, info, h, NULL);
  if (info->address == 0 && info->lineno == 0) {
    n->function = n;
  } else {
    g_info_t fi = *info;
    fi.address = 0;
    fi.lineno = 0;
    n->function = find_or_insert(g, &fi);
  }
  return n;
}

typedef struct fcache {
  mem_tab_t tab;
  const char **from, **to;
  size_t n, cap;
} fcache_t;

static const char *clean_file(fcache_t *c, mem_t *m, const char *f) {
  uint64_t h = mem_mix((uintptr_t)f);
  mem_tab_it_t it = mem_tab_start(&c->tab, h);
  for (int64_t v; (v = mem_tab_next(&c->tab, &it)) >= 0;)
    if (c->from[v] == f)
      return c->to[v];
  size_t len = strlen(f);
  char stack[1024];
  char *buf = len + 2 <= sizeof stack ? stack : xmalloc(len + 2);
  const char *r = mem_intern_z(m, path_clean(f, buf, len + 2));
  if (buf != stack)
    free(buf);
  if (c->n == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 256;
    c->from = xrealloc(c->from, c->cap * sizeof *c->from);
    c->to = xrealloc(c->to, c->cap * sizeof *c->to);
  }
  c->from[c->n] = f;
  c->to[c->n] = r;
  mem_tab_put(&c->tab, h, (uint32_t)c->n++);
  return r;
}

static void node_info(graph_t *g, fcache_t *fc, const tp_location_t *l, const tp_line_t *ln,
                      g_info_t *ni) {
  const char *obj = l->mapping ? l->mapping->file : mem_empty;
  memset(ni, 0, sizeof *ni);
  ni->name = ni->orig_name = ni->file = ni->objfile = mem_empty;
  ni->address = l->address;
  if (!ln) {
    ni->objfile = obj;
    return;
  }
  ni->lineno = ln->line;
  ni->name = ln->fn->name;
  if (*ln->fn->filename)
    ni->file = clean_file(fc, g->prof->mem, ln->fn->filename);
  if (g->o.obj_names || !*ni->name) {
    ni->objfile = obj;
    ni->start_line = ln->fn->start_line;
  }
}

/* Each location's nodes, in its aux field: an array of max(nline, 1) nodes. */
static void create_nodes(graph_t *g) {
  tprof_t *p = g->prof;
  fcache_t fc = {0};
  mem_tab_init(&fc.tab, 256);
  for (size_t i = 0; i < p->nlocation; i++) {
    tp_location_t *l = p->location[i];
    uint32_t k = l->nline ? l->nline : 1;
    g_node_t **nodes = mem_alloc(p->mem, k * sizeof *nodes);
    g_info_t ni;
    for (uint32_t j = 0; j < k; j++) {
      node_info(g, &fc, l, l->nline ? &l->line[j] : NULL, &ni);
      nodes[j] = find_or_insert(g, &ni);
    }
    l->aux = nodes;
    l->mark = k;
  }
  mem_tab_free(&fc.tab);
  free(fc.from);
  free(fc.to);
}

/* ------------------------------------------------------------------ edges --------------------- */

static void edge_push(g_edge_t ***arr, uint32_t *n, uint32_t *cap, g_edge_t *e) {
  if (*n == *cap) {
    *cap = *cap ? *cap * 2 : 4;
    *arr = xrealloc(*arr, *cap * sizeof **arr);
  }
  (*arr)[(*n)++] = e;
}

static g_edge_t *edge_find(graph_t *g, g_node_t *src, g_node_t *dst, uint64_t *hp) {
  uint64_t h = mem_hash_add(mem_mix((uintptr_t)src), (uintptr_t)dst);
  *hp = h;
  mem_tab_it_t it = mem_tab_start(&g->edgemap, h);
  for (int64_t v; (v = mem_tab_next(&g->edgemap, &it)) >= 0;)
    if (g->edges[v]->src == src && g->edges[v]->dest == dst)
      return g->edges[v];
  return NULL;
}

static g_edge_t *edge_new(graph_t *g, g_node_t *src, g_node_t *dst, uint64_t h) {
  g_edge_t *e = mem_zalloc(g->prof->mem, sizeof *e);
  e->src = src;
  e->dest = dst;
  if (g->nedges == g->capedges) {
    g->capedges = g->capedges ? g->capedges * 2 : 1024;
    g->edges = xrealloc(g->edges, g->capedges * sizeof *g->edges);
  }
  g->edges[g->nedges++] = e;
  mem_tab_put(&g->edgemap, h, (uint32_t)(g->nedges - 1));
  edge_push(&src->out, &src->nout, &src->capout, e);
  edge_push(&dst->in, &dst->nin, &dst->capin, e);
  return e;
}

static void edge_unlink(g_edge_t ***arr, uint32_t *n, g_edge_t *e) {
  for (uint32_t i = 0; i < *n; i++)
    if ((*arr)[i] == e) {
      (*arr)[i] = (*arr)[--*n];
      return;
    }
}

static void edge_delete(g_edge_t *e) {
  edge_unlink(&e->src->out, &e->src->nout, e);
  edge_unlink(&e->dest->in, &e->dest->nin, e);
}

/* ------------------------------------------------------------------ building ------------------ */


void graph_add_value(g_node_t *n, int64_t dw, int64_t w, bool flat) {
  if (flat) {
    n->flat_div += dw;
    n->flat += w;
  } else {
    n->cum_div += dw;
    n->cum += w;
  }
}

static void build(graph_t *g) {
  tprof_t *p = g->prof;
  for (size_t i = 0; i < g->nall; i++) {
    g_node_t *n = g->all[i];
    n->flat = n->flat_div = n->cum = n->cum_div = 0;
    n->nin = n->nout = 0;
    n->stamp = 0;
    n->last_in = NULL;
    n->label_tags.n = 0;
    n->nnumeric = 0;
  }
  g->nedges = 0;
  mem_tab_free(&g->edgemap);
  mem_tab_init(&g->edgemap, g->nall * 2);
  g->stamp = 0;
  int si = g->o.sample_index, mi = g->o.mean_index;
  for (size_t i = 0; i < p->nsample; i++) {
    const tp_sample_t *s = &p->sample[i];
    int64_t w = s->value[si], dw = mi >= 0 ? s->value[mi] : 0;
    if (dw == 0 && w == 0)
      continue;
    uint32_t stamp = ++g->stamp;
    g_node_t *parent = NULL;
    bool residual = false;
    const char *labels = g->o.tags ? graph_join_labels(p->mem, s) : NULL;
    for (int64_t li = (int64_t)s->nloc - 1; li >= 0; li--) {
      tp_location_t *l = s->loc[li];
      g_node_t **nodes = l->aux;
      int64_t k = l->mark;
      for (int64_t ni = k - 1; ni >= 0; ni--) {
        g_node_t *n = nodes[ni];
        if (g->restricted && !n->kept) {
          residual = true;
          continue;
        }
        if (n->stamp != stamp) {
          n->stamp = stamp;
          graph_add_value(n, dw, w, false);
          if (labels)
            graph_tags_add(g, n, s, labels, dw, w, false);
        }
        if (parent && n != parent) {
          uint64_t h = 0;
          g_edge_t *e =
              n->last_in && n->last_in->src == parent ? n->last_in : edge_find(g, parent, n, &h);
          bool inl = ni != k - 1;
          if (!e) {
            e = edge_new(g, parent, n, h);
            n->last_in = e;
            e->residual = residual;
            e->inl = inl;
            e->stamp = stamp;
            e->weight_div = dw;
            e->weight = w;
          } else if (e->stamp != stamp) {
            n->last_in = e;
            e->stamp = stamp;
            e->weight_div += dw;
            e->weight += w;
            if (residual)
              e->residual = true;
            if (!inl)
              e->inl = false;
          }
        }
        parent = n;
        residual = false;
      }
    }
    if (parent && !residual) {
      graph_add_value(parent, dw, w, true);
      if (labels)
        graph_tags_add(g, parent, s, labels, dw, w, true);
    }
  }
  graph_select_nodes(g);
}

void graph_select_nodes(graph_t *g) {
  g->n = 0;
  for (size_t i = 0; i < g->nall; i++) {
    g_node_t *n = g->all[i];
    n->in_graph = false;
    if (n->cum == 0 && n->flat == 0)
      continue;
    if (g->o.drop_negative && (n->flat < 0 || (n->flat == 0 && n->cum < 0)))
      continue;
    n->in_graph = true;
    g->nodes[g->n++] = n;
  }
}

graph_t *graph_new(tprof_t *p, const graph_opts_t *o) {
  graph_t *g = xcalloc(1, sizeof *g);
  g->prof = p;
  g->o = *o;
  mem_tab_init(&g->nodemap, p->nlocation * 2 + 16);
  mem_tab_init(&g->edgemap, 16);
  if (o->call_tree) {
    graph_tree_build(g);
    return g;
  }
  create_nodes(g);
  g->nodes = xmalloc((g->nall + 1) * sizeof *g->nodes);
  build(g);
  return g;
}

void graph_rebuild_kept(graph_t *g) {
  g->restricted = true;
  build(g);
}

void graph_free(graph_t *g) {
  if (!g)
    return;
  for (size_t i = 0; i < g->nall; i++) {
    free(g->all[i]->in);
    free(g->all[i]->out);
  }
  mem_tab_free(&g->nodemap);
  mem_tab_free(&g->edgemap);
  free(g->all);
  free(g->nodes);
  free(g->edges);
  free(g);
}

/* ------------------------------------------------------------------ names --------------------- */

void graph_name_components(const g_info_t *i, const char *sep, sbuf_t *b) {
  bool first = true;
#define SEP()                                                                                      \
  do {                                                                                             \
    if (!first)                                                                                    \
      sb_puts(b, sep);                                                                             \
    first = false;                                                                                 \
  } while (0)
  if (i->address) {
    SEP();
    sb_printf(b, "%016llx", (unsigned long long)i->address);
  }
  if (*i->name) {
    SEP();
    sb_puts(b, i->name);
  }
  if (i->lineno) {
    SEP();
    sb_printf(b, "%s:%lld", i->file, (long long)i->lineno);
  } else if (*i->file) {
    SEP();
    sb_puts(b, i->file);
  } else if (*i->name) {
  } else if (*i->objfile) {
    SEP();
    char base[512];
    sb_printf(b, "[%s]", path_base(i->objfile, base, sizeof base));
  } else {
    SEP();
    sb_puts(b, "<unknown>");
  }
#undef SEP
}

const char *graph_name(g_node_t *n) {
  if (n->pname)
    return n->pname;
  sbuf_t b = {0};
  graph_name_components(&n->info, " ", &b);
  n->pname = mem_intern(tp_mem(), sb_str(&b), b.len);
  sb_free(&b);
  return n->pname;
}

int64_t graph_flat_sum(const graph_t *g) {
  int64_t s = 0;
  for (size_t i = 0; i < g->n; i++)
    s += g->nodes[i]->flat;
  return s;
}

/* ------------------------------------------------------------------ trimming ------------------ */

static int64_t abs64(int64_t v) { return v < 0 ? -v : v; }

size_t graph_keep_above(graph_t *g, int64_t cutoff) {
  for (size_t i = 0; i < g->nall; i++)
    g->all[i]->kept = false;
  size_t k = 0;
  for (size_t i = 0; i < g->n; i++)
    if (abs64(g->nodes[i]->cum) >= cutoff) {
      g->nodes[i]->kept = true;
      k++;
    }
  return k;
}

static int count_tags(const g_node_t *n) {
  int c = 0;
  for (size_t i = 0; i < n->label_tags.n; i++)
    c += n->label_tags.tag[i]->flat != 0;
  for (size_t i = 0; i < n->nnumeric; i++)
    for (size_t j = 0; j < n->numeric[i].tags.n; j++)
      c += n->numeric[i].tags.tag[j]->flat != 0;
  return c;
}

size_t graph_keep_top(graph_t *g, int max, bool visual) {
  if (max > 0 && visual) {
    int count = 0;
    for (size_t i = 0; i < g->n; i++) {
      int t = count_tags(g->nodes[i]);
      if (t > 4)
        t = 4;
      if ((count += t + 1) >= max) {
        max = (int)i + 1;
        break;
      }
    }
  }
  if (max < 0)
    max = 0;
  if ((size_t)max > g->n)
    max = (int)g->n;
  for (size_t i = 0; i < g->nall; i++)
    g->all[i]->kept = false;
  for (int i = 0; i < max; i++)
    g->nodes[i]->kept = true;
  return (size_t)max;
}

size_t graph_trim_edges(graph_t *g, int64_t cutoff) {
  size_t dropped = 0;
  for (size_t i = 0; i < g->n; i++) {
    g_node_t *n = g->nodes[i];
    for (uint32_t j = 0; j < n->nin;) {
      g_edge_t *e = n->in[j];
      if (abs64(e->weight) < cutoff) {
        edge_delete(e);
        dropped++;
      } else {
        j++;
      }
    }
  }
  return dropped;
}

static bool redundant(g_edge_t *e, g_node_t **queue, size_t cap) {
  g_node_t *src = e->src;
  static uint32_t gen;
  gen++;
  /* seen: a stamp in the node's stamp field would clash with building; use a side mark */
  size_t qh = 0, qt = 0;
  queue[qt++] = e->dest;
  e->dest->stamp = gen | 0x80000000u;
  while (qh < qt) {
    g_node_t *n = queue[qh++];
    for (uint32_t i = 0; i < n->nin; i++) {
      g_edge_t *ie = n->in[i];
      if (ie == e || ie->src->stamp == (gen | 0x80000000u))
        continue;
      if (ie->src == src)
        return true;
      ie->src->stamp = gen | 0x80000000u;
      if (qt < cap)
        queue[qt++] = ie->src;
    }
  }
  return false;
}

void graph_remove_redundant_edges(graph_t *g) {
  g_node_t **queue = xmalloc((g->nall + 1) * sizeof *queue);
  for (size_t i = g->n; i > 0; i--) {
    g_node_t *n = g->nodes[i - 1];
    g_edge_t **in = graph_edges_sorted(n->in, n->nin);
    size_t nin = n->nin;
    for (size_t j = nin; j > 0; j--) {
      g_edge_t *e = in[j - 1];
      if (!e->residual)
        break;
      if (redundant(e, queue, g->nall + 1))
        edge_delete(e);
    }
    free(in);
  }
  free(queue);
  for (size_t i = 0; i < g->nall; i++)
    g->all[i]->stamp = 0;
}

/* ------------------------------------------------------------------ ordering ------------------ */

static void info_sprint(const g_info_t *i, sbuf_t *b) {
  sb_printf(b, "{%s %s %llu %s %lld %lld %s}", i->name, i->orig_name,
            (unsigned long long)i->address, i->file, (long long)i->start_line, (long long)i->lineno,
            i->objfile);
}

static int compare_nodes(const g_node_t *l, const g_node_t *r) {
  sbuf_t a = {0}, b = {0};
  info_sprint(&l->info, &a);
  info_sprint(&r->info, &b);
  int c = strcmp(sb_str(&a), sb_str(&b));
  sb_free(&a);
  sb_free(&b);
  return c;
}

static int sort_order;

static int64_t entropy_score(const g_node_t *n);

static int cmp_nodes(const void *a, const void *b) {
  g_node_t *l = *(g_node_t *const *)a, *r = *(g_node_t *const *)b;
  int64_t x, y;
  int c;
  switch (sort_order) {
  case G_FLAT_NAME:
    if ((x = abs64(l->flat)) != (y = abs64(r->flat)))
      return x > y ? -1 : 1;
    if ((c = strcmp(graph_name(l), graph_name(r))))
      return c;
    if ((x = abs64(l->cum)) != (y = abs64(r->cum)))
      return x > y ? -1 : 1;
    return compare_nodes(l, r);
  case G_CUM_NAME:
    if ((x = abs64(l->cum)) != (y = abs64(r->cum)))
      return x > y ? -1 : 1;
    if ((c = strcmp(graph_name(l), graph_name(r))))
      return c;
    if ((x = abs64(l->flat)) != (y = abs64(r->flat)))
      return x > y ? -1 : 1;
    return compare_nodes(l, r);
  case G_NAME:
    if ((c = strcmp(l->info.name, r->info.name)))
      return c;
    return compare_nodes(l, r);
  case G_FILE:
    if ((c = strcmp(l->info.file, r->info.file)))
      return c;
    if (l->info.start_line != r->info.start_line)
      return l->info.start_line < r->info.start_line ? -1 : 1;
    return compare_nodes(l, r);
  default:
    if (l->info.address != r->info.address)
      return l->info.address < r->info.address ? -1 : 1;
    return compare_nodes(l, r);
  }
}

typedef struct scored {
  g_node_t *n;
  int64_t score;
} scored_t;

static int cmp_scored(const void *a, const void *b) {
  const scored_t *l = a, *r = b;
  int64_t x = abs64(l->score), y = abs64(r->score);
  if (x != y)
    return x > y ? -1 : 1;
  int c = strcmp(graph_name(l->n), graph_name(r->n));
  if (c)
    return c;
  if ((x = abs64(l->n->flat)) != (y = abs64(r->n->flat)))
    return x > y ? -1 : 1;
  return compare_nodes(l->n, r->n);
}

void graph_sort_nodes(g_node_t **nodes, size_t n, int order) {
  for (size_t i = 0; i < n; i++)
    graph_name(nodes[i]);
  if (order == G_ENTROPY) {
    scored_t *s = xmalloc((n + 1) * sizeof *s);
    for (size_t i = 0; i < n; i++)
      s[i] = (scored_t){nodes[i], entropy_score(nodes[i])};
    qsort(s, n, sizeof *s, cmp_scored);
    for (size_t i = 0; i < n; i++)
      nodes[i] = s[i].n;
    free(s);
    return;
  }
  sort_order = order;
  qsort(nodes, n, sizeof *nodes, cmp_nodes);
}

void graph_sort(graph_t *g, int order) { graph_sort_nodes(g->nodes, g->n, order); }

static double edge_entropy(const g_node_t *n, g_edge_t **e, uint32_t ne, int64_t self) {
  (void)n;
  double score = 0;
  int64_t total = self;
  for (uint32_t i = 0; i < ne; i++)
    if (e[i]->weight > 0)
      total += abs64(e[i]->weight);
  if (total != 0) {
    for (uint32_t i = 0; i < ne; i++) {
      double frac = (double)abs64(e[i]->weight) / (double)total;
      score += -frac * log2(frac);
    }
    if (self > 0) {
      double frac = (double)abs64(self) / (double)total;
      score += -frac * log2(frac);
    }
  }
  return score;
}

static int64_t entropy_score(const g_node_t *n) {
  double score = 0;
  if (n->nin == 0)
    score++;
  else
    score += edge_entropy(n, n->in, n->nin, 0);
  if (n->nout == 0)
    score++;
  else
    score += edge_entropy(n, n->out, n->nout, n->flat);
  return (int64_t)(score * (double)n->cum) + n->flat;
}

static int cmp_edges(const void *a, const void *b) {
  g_edge_t *l = *(g_edge_t *const *)a, *r = *(g_edge_t *const *)b;
  if (l->weight != r->weight) {
    int64_t x = abs64(l->weight), y = abs64(r->weight);
    if (x != y)
      return x > y ? -1 : 1;
    return 0;
  }
  int c = strcmp(graph_name(l->src), graph_name(r->src));
  if (c)
    return c;
  return strcmp(graph_name(l->dest), graph_name(r->dest));
}

g_edge_t **graph_edges_sorted(g_edge_t **e, size_t n) {
  g_edge_t **s = xmalloc((n + 1) * sizeof *s);
  memcpy(s, e, n * sizeof *s);
  qsort(s, n, sizeof *s, cmp_edges);
  return s;
}
