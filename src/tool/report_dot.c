/*
 * report_dot.c — the dot report: the trimmed graph in Graphviz's language, as pprof's
 * ComposeDot writes it (node labels with short names, sizes from flat values, colours from cum
 * values, tag nodelets, residual edges dotted, a legend box with the report's labels).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool/measure.h"
#include "tool/report.h"

static int64_t abs64(int64_t v) { return v < 0 ? -v : v; }

static void escape(const char *s, sbuf_t *out) {
  for (; *s; s++) {
    if (*s == '\\')
      sb_puts(out, "\\\\");
    else if (*s == '"')
      sb_puts(out, "\\\"");
    else if (*s == '\n')
      sb_puts(out, "\\l");
    else
      sb_putc(out, *s);
  }
}

static void replace_all(sbuf_t *b, const char *from, const char *to) {
  sbuf_t o = {0};
  const char *s = sb_str(b), *p;
  size_t fl = strlen(from);
  while ((p = strstr(s, from))) {
    sb_putn(&o, s, (size_t)(p - s));
    sb_puts(&o, to);
    s = p + fl;
  }
  sb_puts(&o, s);
  sb_free(b);
  *b = o;
}

static void color(double score, bool bg, char *buf, size_t n) {
  double sat = bg ? 0.1 : 1.0, val = bg ? 0.93 : 0.7;
  score = fmax(-1.0, fmin(1.0, score));
  if (fabs(score) < 0.2)
    sat *= fabs(score) / 0.2;
  if (score > 0.0)
    score = pow(score, 1.0 - 0.7);
  if (score < 0.0)
    score = -pow(-score, 1.0 - 0.7);
  double r, g, b;
  if (score < 0.0) {
    g = val;
    r = val * (1 + sat * score);
  } else {
    r = val;
    g = val * (1 - sat * score);
  }
  b = val * (1 - sat);
  snprintf(buf, n, "#%02x%02x%02x", (unsigned)(uint8_t)(r * 255.0), (unsigned)(uint8_t)(g * 255.0),
           (unsigned)(uint8_t)(b * 255.0));
}

static void multiline_name(const g_info_t *i, sbuf_t *out) {
  g_info_t c = *i;
  char sbuf[4096];
  sbuf_t n = {0};
  escape(graph_shorten_name(c.name, sbuf, sizeof sbuf), &n);
  replace_all(&n, "::", "\\n");
  replace_all(&n, "[...]", "[\xe2\x80\xa6]");
  replace_all(&n, ".", "\\n");
  c.name = sb_str(&n);
  char base[1024];
  if (*c.file)
    c.file = path_base(c.file, base, sizeof base);
  graph_name_components(&c, "\\n", out);
  sb_puts(out, "\\n");
  sb_free(&n);
}

static const char *pct_trim(int64_t v, int64_t t, char *buf, size_t n) {
  measure_pct(buf, n, v, t);
  const char *p = buf;
  while (*p == ' ')
    p++;
  return p;
}

static void add_node(report_t *r, g_node_t *n, int id, double max_flat, sbuf_t *out) {
  int64_t flat = g_flat(n), cum = g_cum(n);
  sbuf_t label = {0};
  multiline_name(&n->info, &label);
  char fv[64], cv[64], pct[32];
  report_value(r, flat, fv, sizeof fv);
  if (flat != 0)
    sb_printf(&label, "%s (%s)", fv, pct_trim(flat, r->total, pct, sizeof pct));
  else
    sb_puts(&label, "0");
  const char *cumv = fv;
  if (cum != flat) {
    sb_puts(&label, flat != 0 ? "\\n" : " ");
    cumv = report_value(r, cum, cv, sizeof cv);
    sb_printf(&label, "of %s (%s)", cumv, pct_trim(cum, r->total, pct, sizeof pct));
  }
  int fs = 8;
  if (max_flat != 0 && flat != 0 && (double)abs64(flat) <= max_flat)
    fs += (int)ceil(16.0 * sqrt((double)abs64(flat) / max_flat));
  sbuf_t tip = {0};
  escape(graph_name(n), &tip);
  char c1[16], c2[16];
  double score = (double)cum / (double)abs64(r->total);
  color(score, false, c1, sizeof c1);
  color(score, true, c2, sizeof c2);
  sb_printf(out,
            "N%d [label=\"%s\" id=\"node%d\" fontsize=%d shape=box tooltip=\"%s (%s)\" "
            "color=\"%s\" fillcolor=\"%s\"]\n",
            id, sb_str(&label), id, fs, sb_str(&tip), cumv, c1, c2);
  sb_free(&label);
  sb_free(&tip);
}

static int64_t tflat(const g_tag_t *t) { return t->flat_div ? t->flat / t->flat_div : t->flat; }
static int64_t tcum(const g_tag_t *t) { return t->cum_div ? t->cum / t->cum_div : t->cum; }

static double tag_distance(const g_tag_t *t, const g_tag_t *u) {
  double v = measure_scale(u->value, u->unit, t->unit, NULL);
  return v < (double)t->value ? (double)t->value - v : v - (double)t->value;
}

/* pprof's collapsedTags: at most count tags, the rest grouped with their nearest. */
static size_t collapsed(report_t *r, g_tag_t **ts, size_t n, size_t count, bool flat,
                        g_tag_t **outv) {
  graph_sort_tags(ts, n, flat);
  if (n <= count) {
    memcpy(outv, ts, n * sizeof *ts);
    return n;
  }
  size_t *grp = xmalloc(n * sizeof *grp);
  for (size_t i = 0; i < count; i++)
    grp[i] = i;
  for (size_t i = count; i < n; i++) {
    size_t g = 0;
    double d = tag_distance(ts[i], ts[0]);
    for (size_t k = 1; k < count; k++) {
      double nd = tag_distance(ts[i], ts[k]);
      if (nd < d)
        g = k, d = nd;
    }
    grp[i] = g;
  }
  for (size_t k = 0; k < count; k++) {
    g_tag_t *t = mem_zalloc(r->prof->mem, sizeof *t);
    size_t members = 0;
    g_tag_t *min = ts[k], *max = ts[k];
    int64_t f = 0, df = 0, c = 0, dc = 0;
    for (size_t i = 0; i < n; i++) {
      if (grp[i] != k)
        continue;
      members++;
      g_tag_t *x = ts[i];
      if (i != k) {
        if ((int64_t)measure_scale(x->value, x->unit, min->unit, NULL) < min->value)
          min = x;
        if ((int64_t)measure_scale(x->value, x->unit, max->unit, NULL) > max->value)
          max = x;
      }
      f += x->flat, df += x->flat_div, c += x->cum, dc += x->cum_div;
    }
    char a[64], b[64];
    if (members == 1) {
      t->name =
          mem_intern_z(r->prof->mem, measure_label(a, sizeof a, ts[k]->value, ts[k]->unit, "auto"));
      t->flat = tflat(ts[k]);
      t->cum = tcum(ts[k]);
    } else {
      t->name = mem_printf(r->prof->mem, "%s..%s",
                           measure_label(a, sizeof a, min->value, min->unit, "auto"),
                           measure_label(b, sizeof b, max->value, max->unit, "auto"));
      t->flat = df ? f / df : f;
      t->cum = dc ? c / dc : c;
    }
    outv[k] = t;
  }
  free(grp);
  graph_sort_tags(outv, count, flat);
  return count;
}

static void numeric_nodelets(report_t *r, g_tag_t **nts, size_t n, bool flat_tags,
                             const char *source, sbuf_t *out) {
  g_tag_t **c = xmalloc((n + 4) * sizeof *c);
  size_t k = collapsed(r, nts, n, 4, flat_tags, c);
  char wv[64];
  for (size_t j = 0; j < k; j++) {
    g_tag_t *t = c[j];
    int64_t w = tcum(t);
    const char *attr = " style=\"dotted\"";
    if (flat_tags || tflat(t) == tcum(t))
      w = tflat(t), attr = "";
    if (w == 0)
      continue;
    report_value(r, w, wv, sizeof wv);
    sb_printf(out,
              "N%s_%zu [label = \"%s\" id=\"N%s_%zu\" fontsize=8 shape=box3d tooltip=\"%s\"]\n",
              source, j, t->name, source, j, wv);
    sb_printf(out,
              "%s -> N%s_%zu [label=\" %s\" weight=100 tooltip=\"%s\" labeltooltip=\"%s\"%s]\n",
              source, source, j, wv, wv, wv, attr);
  }
  free(c);
}

static g_tagmap_t *numeric_for(g_node_t *n, const char *labels) {
  for (size_t i = 0; i < n->nnumeric; i++)
    if (n->numeric[i].labels == labels)
      return &n->numeric[i].tags;
  return NULL;
}

static bool add_nodelets(report_t *r, g_node_t *n, int id, sbuf_t *out) {
  sbuf_t nl = {0};
  bool flat_tags = n->nout > 0;
  g_tag_t **ts = xmalloc((n->label_tags.n + 1) * sizeof *ts);
  memcpy(ts, n->label_tags.tag, n->label_tags.n * sizeof *ts);
  size_t nts = n->label_tags.n;
  graph_sort_tags(ts, nts, flat_tags);
  if (nts > 4)
    nts = 4;
  char wv[64], src[64];
  for (size_t i = 0; i < nts; i++) {
    g_tag_t *t = ts[i];
    int64_t w = flat_tags ? tflat(t) : tcum(t);
    if (w == 0)
      continue;
    report_value(r, w, wv, sizeof wv);
    sb_printf(&nl,
              "N%d_%zu [label = \"%s\" id=\"N%d_%zu\" fontsize=8 shape=box3d tooltip=\"%s\"]\n", id,
              i, t->name, id, i, wv);
    sb_printf(&nl, "N%d -> N%d_%zu [label=\" %s\" weight=100 tooltip=\"%s\" labeltooltip=\"%s\"]\n",
              id, id, i, wv, wv, wv);
    g_tagmap_t *m = numeric_for(n, t->name);
    if (m && m->n) {
      snprintf(src, sizeof src, "N%d_%zu", id, i);
      g_tag_t **c = xmalloc(m->n * sizeof *c);
      memcpy(c, m->tag, m->n * sizeof *c);
      numeric_nodelets(r, c, m->n, flat_tags, src, &nl);
      free(c);
    }
  }
  free(ts);
  g_tagmap_t *m = numeric_for(n, mem_empty);
  if (m && m->n) {
    snprintf(src, sizeof src, "N%d", id);
    g_tag_t **c = xmalloc(m->n * sizeof *c);
    memcpy(c, m->tag, m->n * sizeof *c);
    numeric_nodelets(r, c, m->n, flat_tags, src, &nl);
    free(c);
  }
  sb_putn(out, sb_str(&nl), nl.len);
  bool any = nl.len > 0;
  sb_free(&nl);
  return any;
}

static void add_edge(report_t *r, g_edge_t *e, int from, int to, bool nodelets, sbuf_t *out) {
  char w[64], c[16];
  int64_t wv = g_weight(e);
  report_value(r, wv, w, sizeof w);
  sbuf_t a = {0};
  sb_printf(&a, "label=\" %s%s\"", w, e->inl ? "\\n (inline)" : "");
  if (r->total != 0) {
    int64_t x = abs64(wv * 100 / r->total);
    int weight = 1 + (int)(x < 100 ? x : 100);
    if (weight > 1)
      sb_printf(&a, " weight=%d", weight);
    x = abs64(wv * 5 / r->total);
    int width = 1 + (int)(x < 5 ? x : 5);
    if (width > 1)
      sb_printf(&a, " penwidth=%d", width);
    color((double)wv / (double)abs64(r->total), false, c, sizeof c);
    sb_printf(&a, " color=\"%s\"", c);
  }
  sbuf_t tip = {0};
  sb_putc(&tip, '"');
  escape(graph_name(e->src), &tip);
  sb_printf(&tip, " %s ", e->residual ? "..." : "->");
  escape(graph_name(e->dest), &tip);
  sb_printf(&tip, " (%s)\"", w);
  sb_printf(&a, " tooltip=%s labeltooltip=%s", sb_str(&tip), sb_str(&tip));
  if (e->residual)
    sb_puts(&a, " style=\"dotted\"");
  if (nodelets)
    sb_puts(&a, " minlen=2");
  sb_printf(out, "N%d -> N%d [%s]\n", from, to, sb_str(&a));
  sb_free(&a);
  sb_free(&tip);
}

int report_dot(report_t *r, sbuf_t *out, char *err, size_t errlen) {
  size_t orig, dn, de;
  graph_t *g = report_trimmed_graph(r, &orig, &dn, &de);
  report_select_unit(r, g);
  sbuf_t labels = {0};
  report_labels(r, g, orig, dn, de, true, &labels);
  sb_printf(out, "digraph \"%s\" {\n", r->o.title && *r->o.title ? r->o.title : "unnamed");
  sb_puts(out, "node [style=filled fillcolor=\"#f8f8f8\"]\n");
  /* the legend: labels are lines of labels, the last one ending in a newline */
  size_t ll = labels.len;
  const char *ls = sb_str(&labels);
  if (ll && ls[ll - 1] == '\n')
    ll--;
  const char *nl = memchr(ls, '\n', ll);
  sbuf_t title = {0}, body = {0};
  sb_putn(&title, ls, nl ? (size_t)(nl - ls) : ll);
  for (size_t i = 0; i < ll; i++) {
    if (ls[i] == '\n')
      sb_puts(&body, "\\l");
    else if (ls[i] == '\\')
      sb_puts(&body, "\\\\");
    else if (ls[i] == '"')
      sb_puts(&body, "\\\"");
    else
      sb_putc(&body, ls[i]);
  }
  sbuf_t et = {0};
  escape(sb_str(&title), &et);
  sb_printf(out, "subgraph cluster_L { \"%s\" [shape=box fontsize=16 label=\"%s\\l\"", sb_str(&et),
            sb_str(&body));
  if (r->o.title && *r->o.title)
    sb_printf(out, " tooltip=\"%s\"", r->o.title);
  sb_puts(out, "] }\n");
  sb_free(&et);
  sb_free(&title);
  sb_free(&body);
  sb_free(&labels);
  if (g->n > 0) {
    double max_flat = (double)abs64(g_flat(g->nodes[0]));
    for (size_t i = 0; i < g->n; i++) {
      g->nodes[i]->pos = (uint32_t)i + 1;
      if ((double)abs64(g_flat(g->nodes[i])) > max_flat)
        max_flat = (double)abs64(g_flat(g->nodes[i]));
    }
    bool *has = xcalloc(g->n + 1, sizeof *has);
    size_t ne = 0;
    for (size_t i = 0; i < g->n; i++) {
      add_node(r, g->nodes[i], (int)i + 1, max_flat, out);
      has[i] = add_nodelets(r, g->nodes[i], (int)i + 1, out);
      ne += g->nodes[i]->nout;
    }
    g_edge_t **edges = xmalloc((ne + 1) * sizeof *edges);
    size_t k = 0;
    for (size_t i = 0; i < g->n; i++)
      for (uint32_t j = 0; j < g->nodes[i]->nout; j++)
        edges[k++] = g->nodes[i]->out[j];
    g_edge_t **sorted = graph_edges_sorted(edges, k);
    for (size_t i = 0; i < k; i++) {
      g_edge_t *e = sorted[i];
      int from = e->src->in_graph ? (int)e->src->pos : 0;
      int to = e->dest->in_graph ? (int)e->dest->pos : 0;
      add_edge(r, e, from, to, from > 0 && has[from - 1], out);
    }
    free(sorted);
    free(edges);
    free(has);
  }
  sb_puts(out, "}\n");
  graph_free(g);
  (void)err;
  (void)errlen;
  return 0;
}
