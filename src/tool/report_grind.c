/*
 * report_grind.c — the callgrind report (for KCachegrind): one block per node at address
 * granularity with its callees, names compressed as "(N) name" on first use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool/measure.h"
#include "tool/report.h"

typedef struct names {
  const char **s;
  size_t n;
} names_t;

static void cg_name(names_t *t, const char *name, sbuf_t *out) {
  if (!*name)
    return;
  for (size_t i = 0; i < t->n; i++)
    if (t->s[i] == name) {
      sb_printf(out, "(%zu)", i + 1);
      return;
    }
  t->s = xrealloc(t->s, (t->n + 1) * sizeof *t->s);
  t->s[t->n++] = name;
  sb_printf(out, "(%zu) %s", t->n, name);
}

static void cg_addr(const g_info_t *prev, uint64_t cur, sbuf_t *out) {
  char abs[32];
  snprintf(abs, sizeof abs, cur ? "%#llx" : "0x0", (unsigned long long)cur);
  if (!prev) {
    sb_puts(out, abs);
    return;
  }
  if (prev->address == cur) {
    sb_puts(out, "*");
    return;
  }
  char rel[32];
  snprintf(rel, sizeof rel, "%+lld", (long long)(cur - prev->address));
  sb_puts(out, strlen(rel) < strlen(abs) ? rel : abs);
}

/* pprof's getDisambiguatedNames: "name [i/n]" when several functions share file and name. */
typedef struct group {
  const char *file, *name;
  g_node_t **fn; /* distinct function nodes, in order of first appearance */
  size_t n;
} group_t;

static const char **disambiguate(graph_t *g, mem_t *m) {
  const char **names = xmalloc((g->n + 1) * sizeof *names);
  size_t *gi = xmalloc((g->n + 1) * sizeof *gi);
  size_t *fi = xmalloc((g->n + 1) * sizeof *fi);
  group_t *groups = xcalloc(g->n + 1, sizeof *groups);
  size_t ng = 0;
  mem_tab_t tab;
  mem_tab_init(&tab, g->n);
  for (size_t i = 0; i < g->n; i++) {
    g_node_t *n = g->nodes[i];
    uint64_t h = mem_hash_add(mem_mix((uintptr_t)n->info.file), (uintptr_t)n->info.name);
    mem_tab_it_t it = mem_tab_start(&tab, h);
    int64_t v;
    while ((v = mem_tab_next(&tab, &it)) >= 0 &&
           !(groups[v].file == n->info.file && groups[v].name == n->info.name))
      ;
    if (v < 0) {
      v = (int64_t)ng++;
      groups[v].file = n->info.file;
      groups[v].name = n->info.name;
      mem_tab_put(&tab, h, (uint32_t)v);
    }
    group_t *gr = &groups[v];
    size_t k;
    for (k = 0; k < gr->n && gr->fn[k] != n->function; k++)
      ;
    if (k == gr->n) {
      gr->fn = xrealloc(gr->fn, (gr->n + 1) * sizeof *gr->fn);
      gr->fn[gr->n++] = n->function;
    }
    gi[i] = (size_t)v;
    fi[i] = k;
  }
  for (size_t i = 0; i < g->n; i++) {
    group_t *gr = &groups[gi[i]];
    names[i] = gr->n > 1 ? mem_printf(m, "%s [%zu/%zu]", gr->name, fi[i] + 1, gr->n) : gr->name;
  }
  for (size_t i = 0; i < ng; i++)
    free(groups[i].fn);
  free(groups);
  free(gi);
  free(fi);
  mem_tab_free(&tab);
  return names;
}

int report_callgrind(report_t *r, sbuf_t *out, char *err, size_t errlen) {
  r->o.node_fraction = r->o.edge_fraction = 0;
  r->o.nodecount = 0;
  size_t orig, dn, de;
  graph_t *g = report_trimmed_graph(r, &orig, &dn, &de);
  report_select_unit(r, g);
  const char **names = disambiguate(g, r->prof->mem);
  sb_puts(out, "positions: instr line\n");
  sb_printf(out, "events: %s(%s)\n", r->o.sample_type, r->o.output_unit);
  names_t objs = {0}, files = {0}, fns = {0};
  const g_info_t *prev = NULL;
  for (size_t i = 0; i < g->n; i++)
    g->nodes[i]->pos = (uint32_t)i;
  for (size_t i = 0; i < g->n; i++) {
    g_node_t *n = g->nodes[i];
    if (!prev || n->info.objfile != prev->objfile || n->info.file != prev->file ||
        n->info.name != prev->name) {
      sb_puts(out, "\nob=");
      cg_name(&objs, n->info.objfile, out);
      sb_puts(out, "\nfl=");
      cg_name(&files, n->info.file, out);
      sb_puts(out, "\nfn=");
      cg_name(&fns, n->info.name, out);
      sb_putc(out, '\n');
    }
    cg_addr(prev, n->info.address, out);
    sb_printf(
        out, " %lld %lld\n", (long long)n->info.lineno,
        (long long)(int64_t)measure_scale(g_flat(n), r->o.sample_unit, r->o.output_unit, NULL));
    g_edge_t **o = graph_edges_sorted(n->out, n->nout);
    for (uint32_t j = 0; j < n->nout; j++) {
      g_node_t *c = o[j]->dest;
      size_t ci = c->in_graph && c->pos < g->n && g->nodes[c->pos] == c ? c->pos : g->n;
      sb_puts(out, "cfl=");
      cg_name(&files, c->info.file, out);
      sb_puts(out, "\ncfn=");
      cg_name(&fns, ci < g->n ? names[ci] : c->info.name, out);
      sb_puts(out, "\ncalls=0 ");
      cg_addr(prev, c->info.address, out);
      sb_printf(out, " %lld\n* * %lld\n", (long long)c->info.lineno,
                (long long)(int64_t)measure_scale(o[j]->weight, r->o.sample_unit, r->o.output_unit,
                                                  NULL));
    }
    free(o);
    prev = &n->info;
  }
  free(names);
  free(objs.s);
  free(files.s);
  free(fns.s);
  graph_free(g);
  (void)err;
  (void)errlen;
  return 0;
}
