/*
 * report_text.c — the table reports: text/top, tree and peek, and traces.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool/measure.h"
#include "tool/report.h"

int report_text(report_t *r, sbuf_t *out, char *err, size_t errlen) {
  size_t orig, dn, de;
  graph_t *g = report_trimmed_graph(r, &orig, &dn, &de);
  report_select_unit(r, g);
  report_labels(r, g, orig, dn, 0, false, out);
  sb_printf(out, "%10s %5s%% %5s%% %10s %5s%%\n", "flat", "flat", "sum", "cum", "cum");
  int64_t sum = 0;
  char fv[64], cv[64], p1[32], p2[32], p3[32];
  for (size_t i = 0; i < g->n; i++) {
    g_node_t *n = g->nodes[i];
    int64_t flat = g_flat(n), cum = g_cum(n);
    bool inl = false, noinl = false;
    for (uint32_t j = 0; j < n->nin; j++) {
      if (n->in[j]->inl)
        inl = true;
      else
        noinl = true;
    }
    const char *il = inl ? (noinl ? " (partial-inline)" : " (inline)") : "";
    sum += flat;
    sb_printf(out, "%10s %s %s %10s %s  %s%s\n", report_value(r, flat, fv, sizeof fv),
              measure_pct(p1, sizeof p1, flat, r->total), measure_pct(p2, sizeof p2, sum, r->total),
              report_value(r, cum, cv, sizeof cv), measure_pct(p3, sizeof p3, cum, r->total),
              graph_name(n), il);
  }
  graph_free(g);
  (void)err;
  (void)errlen;
  return 0;
}

int report_tree(report_t *r, sbuf_t *out, char *err, size_t errlen) {
  static const char sep[] =
      "----------------------------------------------------------+-------------";
  size_t orig, dn, de;
  graph_t *g = report_trimmed_graph(r, &orig, &dn, &de);
  report_select_unit(r, g);
  report_labels(r, g, orig, dn, 0, false, out);
  sb_printf(out, "%s\n", sep);
  sb_puts(out, "      flat  flat%   sum%        cum   cum%   calls calls% + context \t \t \n");
  int64_t sum = 0;
  size_t matched = 0;
  char a[64], b[64], p1[32], p2[32], p3[32];
  for (size_t i = 0; i < g->n; i++) {
    g_node_t *n = g->nodes[i];
    const char *name = graph_name(n);
    int64_t flat = g_flat(n), cum = g_cum(n);
    if (r->o.symbol && !regex_match(r->o.symbol, name))
      continue;
    matched++;
    sb_printf(out, "%s\n", sep);
    g_edge_t **in = graph_edges_sorted(n->in, n->nin);
    for (uint32_t j = 0; j < n->nin; j++)
      sb_printf(out, "%50s %s |   %s%s\n", report_value(r, in[j]->weight, a, sizeof a),
                measure_pct(p1, sizeof p1, in[j]->weight, cum), graph_name(in[j]->src),
                in[j]->inl ? " (inline)" : "");
    free(in);
    sum += flat;
    sb_printf(out, "%10s %s %s %10s %s                | %s\n", report_value(r, flat, a, sizeof a),
              measure_pct(p1, sizeof p1, flat, r->total), measure_pct(p2, sizeof p2, sum, r->total),
              report_value(r, cum, b, sizeof b), measure_pct(p3, sizeof p3, cum, r->total), name);
    g_edge_t **o = graph_edges_sorted(n->out, n->nout);
    for (uint32_t j = 0; j < n->nout; j++)
      sb_printf(out, "%50s %s |   %s%s\n", report_value(r, o[j]->weight, a, sizeof a),
                measure_pct(p1, sizeof p1, o[j]->weight, cum), graph_name(o[j]->dest),
                o[j]->inl ? " (inline)" : "");
    free(o);
  }
  if (g->n > 0)
    sb_printf(out, "%s\n", sep);
  graph_free(g);
  if (r->o.symbol && matched == 0) {
    snprintf(err, errlen, "no matches found for regexp: %s", regex_pattern(r->o.symbol));
    return -1;
  }
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Appends the sorted "%10s:  v1 v2\n" lines of the sample's labels of one kind. */
static void trace_labels(report_t *r, const tp_sample_t *s, bool numeric, sbuf_t *out) {
  char **lines = xmalloc((s->nlabel + 1) * sizeof *lines);
  size_t n = 0;
  for (uint32_t i = 0; i < s->nlabel;) {
    const tp_label_t *l = &s->label[i];
    if ((l->str == NULL) != numeric) {
      i++;
      continue;
    }
    sbuf_t b = {0};
    sb_printf(&b, "%10s:  ", l->key);
    uint32_t j = i;
    for (; j < s->nlabel && s->label[j].key == l->key && (s->label[j].str == NULL) == numeric;
         j++) {
      if (j > i)
        sb_putc(&b, ' ');
      if (numeric) {
        char v[64];
        const char *unit = r->o.units ? num_units_get(r->o.units, l->key) : mem_empty;
        sb_puts(&b, measure_label(v, sizeof v, s->label[j].num, unit, "auto"));
      } else {
        sb_puts(&b, s->label[j].str);
      }
    }
    sb_putc(&b, '\n');
    lines[n++] = b.s;
    i = j;
  }
  qsort(lines, n, sizeof *lines, cmp_str);
  for (size_t i = 0; i < n; i++) {
    sb_puts(out, lines[i]);
    free(lines[i]);
  }
  free(lines);
}

int report_traces(report_t *r, sbuf_t *out, char *err, size_t errlen) {
  static const char sep[] = "-----------+-------------------------------------------------------";
  report_profile_labels(r, out);
  tprof_t *p = r->prof;
  /* the nodes of each location with pprof's default options (no object names) */
  graph_opts_t go = {.sample_index = r->o.sample_index, .mean_index = -1};
  graph_t *g = graph_new(p, &go);
  char v[64];
  for (size_t i = 0; i < p->nsample; i++) {
    const tp_sample_t *s = &p->sample[i];
    size_t frames = 0;
    for (uint32_t j = 0; j < s->nloc; j++)
      frames += s->loc[j]->mark;
    if (frames == 0)
      continue;
    sb_printf(out, "%s\n", sep);
    trace_labels(r, s, false, out);
    trace_labels(r, s, true, out);
    int64_t val = s->value[r->o.sample_index];
    if (r->o.mean_index >= 0 && s->value[r->o.mean_index] != 0)
      val /= s->value[r->o.mean_index];
    bool first = true;
    for (uint32_t j = 0; j < s->nloc; j++) {
      const tp_location_t *l = s->loc[j];
      g_node_t **nodes = l->aux;
      for (uint32_t k = 0; k < l->mark; k++) {
        sb_printf(out, "%10s   %s%s\n", first ? report_value(r, val, v, sizeof v) : "",
                  graph_name(nodes[k]), k != l->mark - 1 ? " (inline)" : "");
        first = false;
      }
    }
  }
  sb_printf(out, "%s\n", sep);
  graph_free(g);
  (void)err;
  (void)errlen;
  return 0;
}
