/*
 * graph_tree.c — pprof's call tree (Options.CallTree, for dot and callgrind with -call_tree):
 * a node per distinct path from the root, so contexts stay apart, and TrimTree, which splices
 * removed nodes out of it.
 */
#include <stdlib.h>
#include <string.h>

#include "tool/graph.h"
#include "tool/util.h"

/* A child of parent with this info: the per-parent node maps are one table keyed by parent too. */
static g_node_t *child(graph_t *g, g_node_t *parent, const g_info_t *info) {
  uint64_t h = mem_mix((uintptr_t)parent);
  h = mem_hash_add(h, (uintptr_t)info->name);
  h = mem_hash_add(h, (uintptr_t)info->orig_name);
  h = mem_hash_add(h, info->address);
  h = mem_hash_add(h, (uintptr_t)info->file);
  h = mem_hash_add(h, (uint64_t)info->start_line);
  h = mem_hash_add(h, (uint64_t)info->lineno);
  h = mem_hash_add(h, (uintptr_t)info->objfile);
  mem_tab_it_t it = mem_tab_start(&g->nodemap, h);
  for (int64_t v; (v = mem_tab_next(&g->nodemap, &it)) >= 0;) {
    g_node_t *n = g->all[v];
    if (n->tparent == parent && !memcmp(&n->info, info, sizeof *info))
      return n;
  }
  g_node_t *n = graph_node_new(g, info, h, parent);
  if (info->address == 0 && info->lineno == 0) {
    n->function = n;
  } else {
    g_info_t fi = *info;
    fi.address = 0;
    fi.lineno = 0;
    n->function = child(g, parent, &fi);
  }
  return n;
}

static void add_edge(graph_t *g, g_node_t *src, g_node_t *dst, int64_t dw, int64_t w, bool inl) {
  for (uint32_t i = 0; i < src->nout; i++)
    if (src->out[i]->dest == dst) {
      g_edge_t *e = src->out[i];
      e->weight_div += dw;
      e->weight += w;
      if (!inl)
        e->inl = false;
      return;
    }
  g_edge_t *e = mem_zalloc(g->prof->mem, sizeof *e);
  e->src = src;
  e->dest = dst;
  e->weight = w;
  e->weight_div = dw;
  e->inl = inl;
  src->out = xrealloc(src->out, (src->nout + 1) * sizeof *src->out);
  src->out[src->nout++] = e;
  dst->in = xrealloc(dst->in, (dst->nin + 1) * sizeof *dst->in);
  dst->in[dst->nin++] = e;
}

void graph_tree_build(graph_t *g) {
  tprof_t *p = g->prof;
  int si = g->o.sample_index, mi = g->o.mean_index;
  for (size_t i = 0; i < p->nsample; i++) {
    const tp_sample_t *s = &p->sample[i];
    int64_t w = s->value[si], dw = mi >= 0 ? s->value[mi] : 0;
    if (dw == 0 && w == 0)
      continue;
    g_node_t *parent = NULL;
    const char *labels = g->o.tags ? graph_join_labels(p->mem, s) : NULL;
    for (int64_t li = (int64_t)s->nloc - 1; li >= 0; li--) {
      tp_location_t *l = s->loc[li];
      uint32_t k = l->nline ? l->nline : 1;
      for (int64_t j = (int64_t)k - 1; j >= 0; j--) {
        g_info_t ni = {mem_empty, mem_empty, l->address, mem_empty, 0, 0, mem_empty};
        const char *obj = l->mapping ? l->mapping->file : mem_empty;
        if (!l->nline) {
          ni.objfile = obj;
        } else {
          const tp_line_t *ln = &l->line[j];
          ni.lineno = ln->line;
          ni.name = ln->fn->name;
          if (*ln->fn->filename) {
            size_t len = strlen(ln->fn->filename);
            char *buf = xmalloc(len + 2);
            ni.file = mem_intern_z(p->mem, path_clean(ln->fn->filename, buf, len + 2));
            free(buf);
          }
          if (g->o.obj_names || !*ni.name) {
            ni.objfile = obj;
            ni.start_line = ln->fn->start_line;
          }
        }
        g_node_t *n = child(g, parent, &ni);
        graph_add_value(n, dw, w, false);
        if (labels)
          graph_tags_add(g, n, s, labels, dw, w, false);
        if (parent)
          add_edge(g, parent, n, dw, w, j != (int64_t)k - 1);
        parent = n;
      }
    }
    if (parent) {
      graph_add_value(parent, dw, w, true);
      if (labels)
        graph_tags_add(g, parent, s, labels, dw, w, true);
    }
  }
  g->nodes = xmalloc((g->nall + 1) * sizeof *g->nodes);
  graph_select_nodes(g);
}

static void unlink_edge(g_edge_t ***arr, uint32_t *n, g_edge_t *e) {
  for (uint32_t i = 0; i < *n; i++)
    if ((*arr)[i] == e) {
      (*arr)[i] = (*arr)[--*n];
      return;
    }
}

void graph_trim_tree(graph_t *g) {
  size_t k = 0;
  for (size_t i = 0; i < g->n; i++) {
    g_node_t *cur = g->nodes[i];
    if (cur->kept) {
      g->nodes[k++] = cur;
      continue;
    }
    if (cur->nin == 0) {
      for (uint32_t j = 0; j < cur->nout; j++)
        unlink_edge(&cur->out[j]->dest->in, &cur->out[j]->dest->nin, cur->out[j]);
      cur->nout = 0;
      continue;
    }
    g_edge_t *pe = cur->in[0];
    g_node_t *parent = pe->src;
    bool pinl = pe->inl;
    unlink_edge(&parent->out, &parent->nout, pe);
    for (uint32_t j = 0; j < cur->nout; j++) {
      g_edge_t *oe = cur->out[j];
      g_node_t *c = oe->dest;
      /* child.In: cur's edge now comes from parent */
      oe->src = parent;
      oe->residual = true;
      oe->inl = pinl && oe->inl;
      parent->out = xrealloc(parent->out, (parent->nout + 1) * sizeof *parent->out);
      parent->out[parent->nout++] = oe;
      (void)c;
    }
    cur->nout = 0;
    cur->nin = 0;
  }
  g->n = k;
  graph_remove_redundant_edges(g);
}
