/*
 * report.c — what pprof's reports share: the total, value formatting, the trimmed graph, the
 * output unit, the header lines, source path trimming, and the dispatch on the format.
 */
#include "tool/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tool/measure.h"

static int64_t abs64(int64_t v) { return v < 0 ? -v : v; }

report_t *report_new(tprof_t *p, const report_opts_t *o) {
  report_t *r = xcalloc(1, sizeof *r);
  r->prof = p;
  r->o = *o;
  const char *base = mem_intern_z(p->mem, "pprof::base"), *t = mem_intern_z(p->mem, "true");
  int64_t div = 0, total = 0, ddiv = 0, dtotal = 0;
  for (size_t i = 0; i < p->nsample; i++) {
    const tp_sample_t *s = &p->sample[i];
    int64_t v = s->value[o->sample_index], d = o->mean_index >= 0 ? s->value[o->mean_index] : 0;
    if (v < 0)
      v = -v;
    total += v;
    div += d;
    if (tp_sample_has_label(s, base, t)) {
      dtotal += v;
      ddiv += d;
    }
  }
  if (dtotal > 0) {
    total = dtotal;
    div = ddiv;
  }
  r->total = div != 0 ? total / div : total;
  return r;
}

const char *report_value(report_t *r, int64_t v, char *buf, size_t n) {
  if (r->o.ratio > 0 && r->o.ratio != 1)
    v = (int64_t)((double)v * r->o.ratio);
  return measure_label(buf, n, v, r->o.sample_unit, r->o.output_unit);
}

const char *report_trim_path(const char *path, const char *trim, const char *search, char *buf,
                             size_t n) {
  if (!*trim && *search) {
    /* each search dir: "/<base of dir>/" found in path cuts everything up to it */
    const char *d = search;
    while (1) {
      const char *colon = strchr(d, ':');
      size_t len = colon ? (size_t)(colon - d) : strlen(d);
      char dir[4096], b[1024];
      snprintf(dir, sizeof dir, "%.*s", (int)len, d);
      char want[1100];
      snprintf(want, sizeof want, "/%s/", path_base(dir, b, sizeof b));
      const char *f = strstr(path, want);
      if (f) {
        snprintf(buf, n, "%s", f + strlen(want));
        return buf;
      }
      if (!colon)
        break;
      d = colon + 1;
    }
  }
  const char *t = trim;
  while (1) {
    const char *colon = *t ? strchr(t, ':') : NULL;
    size_t len = colon ? (size_t)(colon - t) : strlen(t);
    char pre[4096];
    if (*t || colon) {
      snprintf(pre, sizeof pre, "%.*s", (int)len, t);
      if (len == 0 || pre[len - 1] != '/')
        strncat(pre, "/", sizeof pre - strlen(pre) - 1);
      if (strncmp(path, pre, strlen(pre)) == 0) {
        snprintf(buf, n, "%s", path + strlen(pre));
        return buf;
      }
    }
    if (!colon)
      break;
    t = colon + 1;
  }
  static const char *const fixed[] = {"/proc/self/cwd/./", "/proc/self/cwd/"};
  for (int i = 0; i < 2; i++)
    if (strncmp(path, fixed[i], strlen(fixed[i])) == 0) {
      snprintf(buf, n, "%s", path + strlen(fixed[i]));
      return buf;
    }
  return path;
}

/* pprof's newGraph changes the profile before building: file names trimmed, numeric labels
 * other than "bytes" dropped (and "bytes" given its unit), the diff base label removed. */
static void prepare(report_t *r) {
  if (r->prepared)
    return;
  r->prepared = true;
  tprof_t *p = r->prof;
  for (size_t i = 0; i < p->nfunction; i++) {
    tp_function_t *f = p->function[i];
    char buf[4096];
    const char *t = report_trim_path(f->filename, r->o.trim_path ? r->o.trim_path : "",
                                     r->o.source_path ? r->o.source_path : "", buf, sizeof buf);
    if (t != f->filename)
      f->filename = mem_intern_z(p->mem, t);
  }
  const char *bytes = mem_intern_z(p->mem, "bytes");
  const char *unit = r->o.units ? num_units_get(r->o.units, "bytes") : mem_empty;
  unit = mem_intern_z(p->mem, unit);
  for (size_t i = 0; i < p->nsample; i++) {
    tp_sample_t *s = &p->sample[i];
    uint32_t k = 0;
    for (uint32_t j = 0; j < s->nlabel; j++) {
      tp_label_t l = s->label[j];
      if (!l.str) {
        if (l.key != bytes)
          continue;
        l.unit = unit;
      }
      s->label[k++] = l;
    }
    s->nlabel = k;
  }
  tp_remove_label(p, "pprof::base");
}

static const char *format_tag(void *ctx, int64_t v, const char *unit) {
  report_t *r = ctx;
  char buf[64];
  measure_label(buf, sizeof buf, v, unit, r->o.output_unit);
  return mem_intern_z(r->prof->mem, buf);
}

graph_t *report_graph(report_t *r) {
  prepare(r);
  graph_opts_t go = {
      .sample_index = r->o.sample_index,
      .mean_index = r->o.mean_index,
      .call_tree = r->o.call_tree && (r->o.format == R_DOT || r->o.format == R_CALLGRIND),
      .drop_negative = r->o.drop_negative,
      .tags = r->o.format == R_DOT,
      .format_tag = format_tag,
      .format_ctx = r,
  };
  switch (r->o.format) {
  case R_RAW:
  case R_LIST:
  case R_WEBLIST:
  case R_DIS:
  case R_CALLGRIND:
    go.obj_names = true;
    break;
  }
  return graph_new(r->prof, &go);
}

graph_t *report_trimmed_graph(report_t *r, size_t *orig_count, size_t *dropped_nodes,
                              size_t *dropped_edges) {
  bool visual = r->o.format == R_DOT;
  bool call_tree = r->o.call_tree && (r->o.format == R_DOT || r->o.format == R_CALLGRIND);
  int order = visual ? G_ENTROPY : r->o.cum_sort ? G_CUM_NAME : G_FLAT_NAME;
  graph_t *g = report_graph(r);
  int64_t total = graph_flat_sum(g);
  int64_t node_cut = abs64((int64_t)((double)total * r->o.node_fraction));
  int64_t edge_cut = abs64((int64_t)((double)total * r->o.edge_fraction));
  *dropped_nodes = *dropped_edges = 0;
  if (node_cut > 0) {
    size_t kept = graph_keep_above(g, node_cut);
    if (kept != g->n) {
      *dropped_nodes = g->n - kept;
      if (call_tree)
        graph_trim_tree(g);
      else
        graph_rebuild_kept(g);
    }
  }
  *orig_count = g->n;
  graph_sort(g, order);
  if (r->o.nodecount > 0) {
    graph_trim_tags(g, node_cut);
    graph_trim_edges(g, edge_cut);
    size_t kept = graph_keep_top(g, r->o.nodecount, visual);
    if (kept != g->n) {
      if (call_tree)
        graph_trim_tree(g);
      else
        graph_rebuild_kept(g);
      graph_sort(g, order);
    }
  }
  graph_trim_tags(g, node_cut);
  *dropped_edges = graph_trim_edges(g, edge_cut);
  if (visual)
    graph_remove_redundant_edges(g);
  return g;
}

void report_select_unit(report_t *r, const graph_t *g) {
  if (strcmp(r->o.output_unit, "minimum") != 0 || g->n == 0)
    return;
  int64_t minv = 0;
  for (size_t i = 0; i < g->n; i++) {
    int64_t m = abs64(g_flat(g->nodes[i]));
    if (m == 0)
      m = abs64(g_cum(g->nodes[i]));
    if (m > 0 && (minv == 0 || m < minv))
      minv = m;
  }
  int64_t maxv = r->total;
  if (minv == 0)
    minv = maxv;
  if (r->o.ratio > 0 && r->o.ratio != 1) {
    minv = (int64_t)((double)minv * r->o.ratio);
    maxv = (int64_t)((double)maxv * r->o.ratio);
  }
  const char *minu, *maxu, *unit;
  measure_scale(minv, r->o.sample_unit, "minimum", &minu);
  measure_scale(maxv, r->o.sample_unit, "minimum", &maxu);
  unit = minu;
  if (strcmp(minu, maxu) != 0 && minv * 100 < maxv && r->o.format != R_CALLGRIND)
    measure_scale(100 * minv, r->o.sample_unit, "minimum", &unit);
  r->o.output_unit = *unit ? unit : r->o.sample_unit;
}

static void fmt_time(int64_t ns, char *buf, size_t n) {
  time_t t = (time_t)(ns / 1000000000);
  if (ns < 0 && ns % 1000000000)
    t--;
  struct tm tm;
  localtime_r(&t, &tm);
  static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int h = tm.tm_hour % 12;
  if (h == 0)
    h = 12;
  snprintf(buf, n, "%s %d, %d at %d:%02d%s (%s)", mon[tm.tm_mon], tm.tm_mday, tm.tm_year + 1900, h,
           tm.tm_min, tm.tm_hour < 12 ? "am" : "pm", tm.tm_zone ? tm.tm_zone : "UTC");
}

void report_profile_labels(report_t *r, sbuf_t *out) {
  tprof_t *p = r->prof;
  char buf[512];
  if (p->nmapping > 0) {
    if (*p->mapping[0]->file)
      sb_printf(out, "File: %s\n", path_base(p->mapping[0]->file, buf, sizeof buf));
    if (*p->mapping[0]->build_id)
      sb_printf(out, "Build ID: %s\n", p->mapping[0]->build_id);
  }
  for (size_t i = 0; i < p->ncomment; i++)
    if (p->comment[i][0] != '#')
      sb_printf(out, "%s\n", p->comment[i]);
  if (*r->o.sample_type)
    sb_printf(out, "Type: %s\n", r->o.sample_type);
  if (p->time_nanos) {
    fmt_time(p->time_nanos, buf, sizeof buf);
    sb_printf(out, "Time: %s\n", buf);
  }
  if (p->duration_nanos) {
    char d[64], tv[64], pct[32];
    measure_label(d, sizeof d, p->duration_nanos, "nanoseconds", "auto");
    const char *u;
    double tn = measure_scale(r->total, r->o.sample_unit, "nanoseconds", &u);
    char ratio[48] = "";
    if (strcmp(u, "ns") == 0 && tn != 0)
      snprintf(ratio, sizeof ratio, "(%s)",
               measure_pct(pct, sizeof pct, (int64_t)tn, p->duration_nanos));
    sb_printf(out, "Duration: %s, Total samples = %s %s\n", d,
              report_value(r, r->total, tv, sizeof tv), ratio);
  }
}

void report_labels(report_t *r, const graph_t *g, size_t orig, size_t dropped_nodes,
                   size_t dropped_edges, bool full, sbuf_t *out) {
  if (full || !r->o.compact_labels)
    report_profile_labels(r, out);
  int64_t flat = 0;
  for (size_t i = 0; i < g->n; i++)
    flat += g_flat(g->nodes[i]);
  if (r->o.nfilters) {
    sb_puts(out, "Active filters:\n");
    for (size_t i = 0; i < r->o.nfilters; i++) {
      const char *f = r->o.active_filters[i];
      if (strlen(f) > 80)
        sb_printf(out, "   %.80s\xe2\x80\xa6\n", f);
      else
        sb_printf(out, "   %s\n", f);
    }
  }
  char a[64], b[64], pct[32];
  measure_pct(pct, sizeof pct, flat, r->total);
  const char *pp = pct;
  while (*pp == ' ')
    pp++;
  sb_printf(out, "Showing nodes accounting for %s, %s of %s total\n",
            report_value(r, flat, a, sizeof a), pp, report_value(r, r->total, b, sizeof b));
  if (r->total != 0) {
    if (dropped_nodes > 0)
      sb_printf(
          out, "Dropped %zu node%s (cum <= %s)\n", dropped_nodes, dropped_nodes > 1 ? "s" : "",
          report_value(r, abs64((int64_t)((double)r->total * r->o.node_fraction)), a, sizeof a));
    if (dropped_edges > 0)
      sb_printf(
          out, "Dropped %zu edge%s (freq <= %s)\n", dropped_edges, dropped_edges > 1 ? "s" : "",
          report_value(r, abs64((int64_t)((double)r->total * r->o.edge_fraction)), a, sizeof a));
    if (g->n > 0 && g->n < orig)
      sb_printf(out, "Showing top %zu nodes out of %zu\n", g->n, orig);
  }
  if (full)
    sb_puts(out, "\nSee https://git.io/JfYMW for how to read the graph\n");
}

typedef int (*gen_fn)(report_t *, sbuf_t *, char *, size_t);

int report_generate(report_t *r, sbuf_t *out, char *err, size_t errlen) {
  static const struct {
    int format;
    gen_fn fn;
  } table[] = {
      {R_COMMENTS, report_comments},   {R_DOT, report_dot},
      {R_TREE, report_tree},           {R_TEXT, report_text},
      {R_TRACES, report_traces},       {R_RAW, report_raw},
      {R_TAGS, report_tags},           {R_PROTO, report_proto},
      {R_TOPPROTO, report_topproto},   {R_LIST, report_list},
      {R_CALLGRIND, report_callgrind},
  };
  for (size_t i = 0; i < sizeof table / sizeof *table; i++)
    if (table[i].format == r->o.format)
      return table[i].fn(r, out, err, errlen);
  snprintf(err, errlen, "unexpected output format");
  return -1;
}
