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
      char e[4200];
      snprintf(e, sizeof e, "open %s: %s", path, strerror(errno));
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

int report_list(report_t *r, sbuf_t *out, char *err, size_t errlen) {
  graph_t *g = report_graph(r);
  /* functions: the first node of each matching name, then ordered by name */
  g_node_t **first = xmalloc((g->n + 1) * sizeof *first);
  size_t nf = 0;
  for (size_t i = 0; i < g->n; i++) {
    g_node_t *n = g->nodes[i];
    n->kept = rx_match_interned(r->o.symbol, n->info.name);
    if (!n->kept)
      continue;
    size_t k;
    for (k = 0; k < nf && first[k]->info.name != n->info.name; k++)
      ;
    if (k == nf)
      first[nf++] = n;
  }
  if (nf == 0) {
    free(first);
    graph_free(g);
    snprintf(err, errlen, "no matches found for regexp: %s", rx_pattern(r->o.symbol));
    return -1;
  }
  graph_sort_nodes(first, nf, G_NAME);
  char cwd[4096];
  const char *search = r->o.source_path && *r->o.source_path ? r->o.source_path
                                                               : (getcwd(cwd, sizeof cwd) ? cwd : ".");
  reader_t rd = {search, r->o.trim_path ? r->o.trim_path : "", NULL, 0};
  char tv[64];
  sb_printf(out, "Total: %s\n", report_value(r, r->total, tv, sizeof tv));
  g_node_t **same = xmalloc((g->n + 1) * sizeof *same);
  g_node_t **files = xmalloc((g->n + 1) * sizeof *files);
  for (size_t f = 0; f < nf; f++) {
    const char *name = first[f]->info.name;
    size_t nfile = 0;
    for (size_t i = 0; i < g->n; i++) {
      g_node_t *n = g->nodes[i];
      if (!n->kept || n->info.name != name || !*n->info.file)
        continue;
      size_t k;
      for (k = 0; k < nfile && files[k]->info.file != n->info.file; k++)
        ;
      if (k == nfile)
        files[nfile++] = n;
    }
    if (nfile == 0) {
      sb_printf(out, "No source information for %s\n", name);
      continue;
    }
    graph_sort_nodes(files, nfile, G_FILE);
    for (size_t k = 0; k < nfile; k++) {
      size_t ns = 0;
      for (size_t i = 0; i < g->n; i++) {
        g_node_t *n = g->nodes[i];
        if (n->kept && n->info.name == name && n->info.file == files[k]->info.file)
          same[ns++] = n;
      }
      print_file(r, &rd, name, files[k]->info.file, same, ns, out);
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
  free(files);
  free(first);
  graph_free(g);
  return 0;
}
