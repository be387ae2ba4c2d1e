/*
 * graph_tags.c — the parts of the graph only some reports need: label and numeric tags on nodes
 * (dot's nodelets), call trees (dot and callgrind with -call_tree), and pprof's short function
 * names.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool/graph.h"
#include "tool/regex.h"
#include "tool/util.h"

static int64_t abs64(int64_t v) { return v < 0 ? -v : v; }

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* pprof's joinLabels: "key:value" of every string label, sorted, joined by a literal \n. */
const char *graph_join_labels(mem_t *m, const tp_sample_t *s) {
  size_t n = 0;
  for (uint32_t i = 0; i < s->nlabel; i++)
    n += s->label[i].str != NULL;
  if (n == 0)
    return mem_empty;
  char **parts = xmalloc(n * sizeof *parts);
  size_t k = 0;
  for (uint32_t i = 0; i < s->nlabel; i++) {
    const tp_label_t *l = &s->label[i];
    if (!l->str)
      continue;
    size_t len = strlen(l->key) + strlen(l->str) + 2;
    parts[k] = xmalloc(len);
    snprintf(parts[k++], len, "%s:%s", l->key, l->str);
  }
  qsort(parts, n, sizeof *parts, cmp_str);
  sbuf_t b = {0};
  for (size_t i = 0; i < n; i++) {
    if (i)
      sb_puts(&b, "\\n");
    sb_puts(&b, parts[i]);
    free(parts[i]);
  }
  free(parts);
  const char *r = mem_intern(m, sb_str(&b), b.len);
  sb_free(&b);
  return r;
}

static g_tag_t *find_or_add(mem_t *m, g_tagmap_t *t, const char *name, const char *unit,
                            int64_t value) {
  for (size_t i = 0; i < t->n; i++)
    if (t->tag[i]->name == name)
      return t->tag[i];
  if (t->n == t->cap) {
    t->cap = t->cap ? t->cap * 2 : 4;
    t->tag = xrealloc(t->tag, t->cap * sizeof *t->tag);
  }
  g_tag_t *x = mem_zalloc(m, sizeof *x);
  x->name = name;
  x->unit = unit;
  x->value = value;
  t->tag[t->n++] = x;
  return x;
}

static void tag_add(g_tag_t *t, int64_t dw, int64_t w, bool flat) {
  if (flat) {
    t->flat_div += dw;
    t->flat += w;
  } else {
    t->cum_div += dw;
    t->cum += w;
  }
}

void graph_tags_add(graph_t *g, g_node_t *n, const tp_sample_t *s, const char *labels, int64_t dw,
                    int64_t w, bool flat) {
  mem_t *m = g->prof->mem;
  if (*labels)
    tag_add(find_or_add(m, &n->label_tags, labels, mem_empty, 0), dw, w, flat);
  g_numtags_t *nt = NULL;
  for (size_t i = 0; i < n->nnumeric && !nt; i++)
    if (n->numeric[i].labels == labels)
      nt = &n->numeric[i];
  if (!nt) {
    n->numeric = xrealloc(n->numeric, (n->nnumeric + 1) * sizeof *n->numeric);
    nt = &n->numeric[n->nnumeric++];
    nt->labels = labels;
    memset(&nt->tags, 0, sizeof nt->tags);
  }
  for (uint32_t i = 0; i < s->nlabel; i++) {
    const tp_label_t *l = &s->label[i];
    if (l->str)
      continue;
    /* pprof uses the label's units when its key has any, else the key as the unit */
    bool has_units = false;
    for (uint32_t j = 0; j < s->nlabel && !has_units; j++)
      has_units = !s->label[j].str && s->label[j].key == l->key && *s->label[j].unit;
    const char *unit = has_units ? l->unit : l->key;
    const char *name;
    if (g->o.format_tag)
      name = g->o.format_tag(g->o.format_ctx, l->num, unit);
    else
      name = mem_printf(m, "%lld", (long long)l->num);
    tag_add(find_or_add(m, &nt->tags, name, unit, l->num), dw, w, flat);
  }
}

static void trim_map(g_tagmap_t *t, int64_t cutoff) {
  size_t k = 0;
  for (size_t i = 0; i < t->n; i++)
    if (abs64(t->tag[i]->flat) >= cutoff || abs64(t->tag[i]->cum) >= cutoff)
      t->tag[k++] = t->tag[i];
  t->n = k;
}

void graph_trim_tags(graph_t *g, int64_t cutoff) {
  for (size_t i = 0; i < g->n; i++) {
    g_node_t *n = g->nodes[i];
    trim_map(&n->label_tags, cutoff);
    for (size_t j = 0; j < n->nnumeric; j++)
      trim_map(&n->numeric[j].tags, cutoff);
  }
}

static bool sort_flat;

static int cmp_tags(const void *a, const void *b) {
  const g_tag_t *l = *(g_tag_t *const *)a, *r = *(g_tag_t *const *)b;
  if (!sort_flat && l->cum != r->cum) {
    int64_t x = abs64(l->cum), y = abs64(r->cum);
    return x > y ? -1 : x < y ? 1 : 0;
  }
  if (l->flat != r->flat) {
    int64_t x = abs64(l->flat), y = abs64(r->flat);
    return x > y ? -1 : x < y ? 1 : 0;
  }
  return strcmp(l->name, r->name);
}

void graph_sort_tags(g_tag_t **t, size_t n, bool flat) {
  sort_flat = flat;
  qsort(t, n, sizeof *t, cmp_tags);
}

/* ------------------------------------------------------------------ short names --------------- */

static regex_pat_t *rx_go, *rx_java, *rx_cpp, *rx_gover;

const char *graph_shorten_name(const char *f, char *buf, size_t n) {
  char err[128];
  if (!rx_go) {
    rx_java =
        regex_compile("^(?:[a-z]\\w*\\.)*([A-Z][\\w\\$]*\\.(?:<init>|[a-z][\\w\\$]*(?:\\$\\d+)?))"
                   "(?:(?:\\()|$)",
                   err, sizeof err);
    rx_go = regex_compile("^(?:[\\w\\-\\.]+\\/)+(.+)", err, sizeof err);
    rx_gover = regex_compile("^(.*?)/v(?:[2-9]|[1-9][0-9]+)([./].*)$", err, sizeof err);
    rx_cpp =
        regex_compile("^(?:[_a-zA-Z]\\w*::)+(_*[A-Z]\\w*::~?[_a-zA-Z]\\w*(?:<.*>)?)", err, sizeof err);
  }
  sbuf_t s = {0};
  if (strncmp(f, "(anonymous namespace)::", 23) == 0)
    f += 23;
  long ov[6];
  size_t len = strlen(f);
  /* goVerRegExp.ReplaceAllString(f, "${1}${2}"): anchored at both ends, so at most once */
  if (regex_exec(rx_gover, f, len, 0, ov, 3) == 3) {
    sb_putn(&s, f + ov[2], (size_t)(ov[3] - ov[2]));
    sb_putn(&s, f + ov[4], (size_t)(ov[5] - ov[4]));
  } else {
    sb_puts(&s, f);
  }
  regex_pat_t *res[3] = {rx_go, rx_java, rx_cpp};
  for (int i = 0; i < 3; i++) {
    if (regex_exec(res[i], sb_str(&s), s.len, 0, ov, 2) == 2 && ov[2] >= 0) {
      snprintf(buf, n, "%.*s", (int)(ov[3] - ov[2]), sb_str(&s) + ov[2]);
      sb_free(&s);
      return buf;
    }
  }
  snprintf(buf, n, "%s", sb_str(&s));
  sb_free(&s);
  return buf;
}
