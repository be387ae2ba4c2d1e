/*
 * report_list.c — the list report: each function matching the regexp, per source file, its
 * lines with flat and cum values beside the source text. Files are found as pprof finds them:
 * the name after -trim_path, absolute as it is, relative under each -source_path directory (the
 * current directory by default) or any of its parents.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tool/measure.h"
#include "tool/report.h"

typedef struct srcfile {
  const char *path; /* as named by the profile */
  char **lines;     /* lines[1..n] */
  size_t n;
  char *err;
} srcfile_t;

typedef struct reader {
  const char *search, *trim;
  srcfile_t *f;
  size_t n;
} reader_t;

static char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = xmalloc(n);
  memcpy(d, s, n);
  return d;
}

/* filepath.Join(dir, rel) and filepath.Dir(dir). */
static char *join(const char *dir, const char *rel) {
  size_t n = strlen(dir) + strlen(rel) + 3;
  char *tmp = xmalloc(n), *out = xmalloc(n + 2);
  if (!*dir)
    snprintf(tmp, n, "%s", rel);
  else if (!*rel)
    snprintf(tmp, n, "%s", dir);
  else
    snprintf(tmp, n, "%s/%s", dir, rel);
  path_clean(tmp, out, n + 2);
  free(tmp);
  return out;
}

static char *dir_of(const char *p) {
  const char *s = strrchr(p, '/');
  size_t n = s ? (size_t)(s - p) + 1 : 0;
  char *tmp = xmalloc(n + 2), *out = xmalloc(n + 4);
  memcpy(tmp, p, n);
  tmp[n] = '\0';
  path_clean(tmp, out, n + 4);
  free(tmp);
  return out;
}

static FILE *open_source(const char *path, const char *search, const char *trim, char **err) {
  char tb[4096];
  path = report_trim_path(path, trim, search, tb, sizeof tb);
  if (path_is_abs(path)) {
    FILE *f = fopen(path, "r");
    if (!f) {
      char e[4200], eb[128];
      snprintf(e, sizeof e, "open %s: %s", path, go_strerror(errno, eb, sizeof eb));
      *err = xstrdup(e);
    }
    return f;
  }
  const char *d = search;
  while (1) {
    const char *colon = strchr(d, ':');
    size_t len = colon ? (size_t)(colon - d) : strlen(d);
    char *dir = xmalloc(len + 1);
    memcpy(dir, d, len);
    dir[len] = '\0';
    for (;;) {
      char *fn = join(dir, path);
      FILE *f = fopen(fn, "r");
      free(fn);
      if (f) {
        free(dir);
        return f;
      }
      char *parent = dir_of(dir);
      if (!strcmp(parent, dir)) {
        free(parent);
        break;
      }
      free(dir);
      dir = parent;
    }
    free(dir);
    if (!colon)
      break;
    d = colon + 1;
  }
  char e[8400];
  snprintf(e, sizeof e, "could not find file %s on path %s", path, search);
  *err = xstrdup(e);
  return NULL;
}

static srcfile_t *reader_file(reader_t *r, const char *path) {
  for (size_t i = 0; i < r->n; i++)
    if (!strcmp(r->f[i].path, path))
      return &r->f[i];
  r->f = xrealloc(r->f, (r->n + 1) * sizeof *r->f);
  srcfile_t *s = &r->f[r->n++];
  memset(s, 0, sizeof *s);
  s->path = path;
  FILE *f = open_source(path, r->search, r->trim, &s->err);
  if (!f)
    return s;
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, f)) >= 0) {
    if (len > 0 && line[len - 1] == '\n')
      line[--len] = '\0';
    if (len > 0 && line[len - 1] == '\r') /* bufio.ScanLines drops a final \r */
      line[--len] = '\0';
    s->lines = xrealloc(s->lines, (s->n + 2) * sizeof *s->lines);
    s->lines[++s->n] = xstrdup(line);
  }
  free(line);
  fclose(f);
  return s;
}

static const char *value_or_dot(report_t *r, int64_t v, char *buf, size_t n) {
  return v == 0 ? "." : report_value(r, v, buf, n);
}

/* The nodes of one function in one file, printed as pprof's getSourceFromFile. */
static void print_file(report_t *r, reader_t *rd, const char *name, const char *file,
                       g_node_t **fns, size_t n, sbuf_t *out) {
  int64_t flat = 0, cum = 0;
  for (size_t i = 0; i < n; i++)
    flat += fns[i]->flat, cum += fns[i]->cum;
  const int margin = 5;
  int64_t start = fns[0]->info.start_line ? fns[0]->info.start_line : fns[0]->info.lineno - margin;
  int64_t end = fns[0]->info.lineno + margin;
  for (size_t i = 0; i < n; i++) {
    int64_t ln = fns[i]->info.lineno;
    int64_t ns = fns[i]->info.start_line ? fns[i]->info.start_line : ln - margin;
    int64_t ne = ln + margin;
    if (ns < start)
      start = ns;
    else if (ne > end)
      end = ne;
  }
  if (start < 1)
    start = 1;
  srcfile_t *sf = reader_file(rd, file);
  char a[64], b[64], pct[32];
  sb_printf(out, "ROUTINE ======================== %s in %s\n", name, file);
  sb_printf(out, "%10s %10s (flat, cum) %s of Total\n", report_value(r, flat, a, sizeof a),
            report_value(r, cum, b, sizeof b), measure_pct(pct, sizeof pct, cum, r->total));
  if (sf->err) {
    sb_printf(out, " Error: %s\n", sf->err);
    return;
  }
  for (int64_t l = start; l <= end; l++) {
    if (l <= 0 || (size_t)l > sf->n)
      break;
    int64_t f = 0, c = 0;
    for (size_t i = 0; i < n; i++)
      if (fns[i]->info.lineno == l)
        f += fns[i]->flat, c += fns[i]->cum;
    sb_printf(out, "%10s %10s %6lld:%s\n", value_or_dot(r, f, a, sizeof a),
              value_or_dot(r, c, b, sizeof b), (long long)l, sf->lines[l]);
  }
}

typedef struct member {
  g_node_t *n;
  uint32_t name, file; /* group numbers: of the name, of (name, file) */
  size_t pos;
} member_t;

static int cmp_member(const void *a, const void *b) {
  const member_t *x = a, *y = b;
  if (x->name != y->name)
    return x->name < y->name ? -1 : 1;
  if (x->file != y->file)
    return x->file < y->file ? -1 : 1;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Group number of (a, b) in tab (which keys its values into firsts), a new one when unseen. */
static uint32_t group_of(mem_tab_t *tab, const void ***firsts, size_t *n, const void *a,
                         const void *b) {
  uint64_t h = mem_hash_add(mem_mix((uintptr_t)a), (uintptr_t)b);
  mem_tab_it_t it = mem_tab_start(tab, h);
  for (int64_t v; (v = mem_tab_next(tab, &it)) >= 0;)
    if ((*firsts)[2 * v] == a && (*firsts)[2 * v + 1] == b)
      return (uint32_t)v;
  *firsts = xrealloc(*firsts, (*n + 1) * 2 * sizeof **firsts);
  (*firsts)[2 * *n] = a;
  (*firsts)[2 * *n + 1] = b;
  mem_tab_put(tab, h, (uint32_t)*n);
  return (uint32_t)(*n)++;
}

int report_list(report_t *r, sbuf_t *out, char *err, size_t errlen) {
  graph_t *g = report_graph(r);
  /* the matching nodes, grouped by name, then by file within a name */
  member_t *m = xmalloc((g->n + 1) * sizeof *m);
  size_t nm = 0, nnames = 0, nfiles = 0;
  const void **names = NULL, **files = NULL;
  mem_tab_t ntab, ftab;
  mem_tab_init(&ntab, 64);
  mem_tab_init(&ftab, 64);
  g_node_t **first = xmalloc((g->n + 1) * sizeof *first);
  for (size_t i = 0; i < g->n; i++) {
    g_node_t *n = g->nodes[i];
    if (!regex_match_interned(r->o.symbol, n->info.name))
      continue;
    size_t before = nnames;
    uint32_t ng = group_of(&ntab, &names, &nnames, n->info.name, NULL);
    if (nnames != before)
      first[ng] = n;
    uint32_t fg =
        *n->info.file ? group_of(&ftab, &files, &nfiles, n->info.name, n->info.file) : UINT32_MAX;
    m[nm++] = (member_t){n, ng, fg, i};
  }
  mem_tab_free(&ntab);
  mem_tab_free(&ftab);
  free(names);
  free(files);
  if (nnames == 0) {
    free(first);
    free(m);
    graph_free(g);
    snprintf(err, errlen, "no matches found for regexp: %s", regex_pattern(r->o.symbol));
    return -1;
  }
  qsort(m, nm, sizeof *m, cmp_member);
  /* where each name's members start */
  size_t *start = xmalloc((nnames + 1) * sizeof *start);
  for (size_t i = nm; i-- > 0;)
    start[m[i].name] = i;
  start[nnames] = nm;
  for (size_t i = 0; i < nnames; i++)
    first[i]->pos = (uint32_t)i;
  g_node_t **order = xmalloc((nnames + 1) * sizeof *order);
  memcpy(order, first, nnames * sizeof *order);
  graph_sort_nodes(order, nnames, G_NAME);
  char cwd[4096];
  const char *search = r->o.source_path && *r->o.source_path
                           ? r->o.source_path
                           : (getcwd(cwd, sizeof cwd) ? cwd : ".");
  reader_t rd = {search, r->o.trim_path ? r->o.trim_path : "", NULL, 0};
  char tv[64];
  sb_printf(out, "Total: %s\n", report_value(r, r->total, tv, sizeof tv));
  g_node_t **filefirst = xmalloc((nm + 1) * sizeof *filefirst);
  g_node_t **same = xmalloc((nm + 1) * sizeof *same);
  for (size_t f = 0; f < nnames; f++) {
    uint32_t ng = order[f]->pos;
    const char *name = order[f]->info.name;
    size_t b = start[ng], e = b;
    while (e < nm && m[e].name == ng)
      e++;
    size_t nfile = 0;
    for (size_t i = b; i < e; i++)
      if (m[i].file != UINT32_MAX && (i == b || m[i].file != m[i - 1].file))
        filefirst[nfile++] = m[i].n;
    if (nfile == 0) {
      sb_printf(out, "No source information for %s\n", name);
      continue;
    }
    graph_sort_nodes(filefirst, nfile, G_FILE);
    for (size_t k = 0; k < nfile; k++) {
      size_t ns = 0;
      for (size_t i = b; i < e; i++)
        if (m[i].file != UINT32_MAX && m[i].n->info.file == filefirst[k]->info.file)
          same[ns++] = m[i].n;
      print_file(r, &rd, name, filefirst[k]->info.file, same, ns, out);
    }
  }
  for (size_t i = 0; i < rd.n; i++) {
    for (size_t j = 1; j <= rd.f[i].n; j++)
      free(rd.f[i].lines[j]);
    free(rd.f[i].lines);
    free(rd.f[i].err);
  }
  free(rd.f);
  free(same);
  free(filefirst);
  free(order);
  free(start);
  free(first);
  free(m);
  graph_free(g);
  return 0;
}
