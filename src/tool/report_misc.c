/*
 * report_misc.c — the reports that are not tables of the graph: tags, comments, raw (pprof's
 * Profile.String), proto (the filtered profile, gzipped) and topproto (the top table as a
 * profile).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tool/measure.h"
#include "tool/report.h"
#include "tool/tabwriter.h"

/* ------------------------------------------------------------------ tags ---------------------- */

typedef struct tval {
  const char *name;
  int64_t flat;
} tval_t;

typedef struct tkey {
  const char *key;
  tval_t *v;
  size_t n, cap;
  int64_t total;
} tkey_t;

typedef struct tagtab {
  mem_tab_t keys; /* key -> index in keys */
  mem_tab_t vals; /* (key, value) -> index in ref */
  struct {
    uint32_t k, v;
  } * ref;
  size_t nref;
} tagtab_t;

static void tag_add(tagtab_t *tt, tkey_t **keys, size_t *nk, const char *key, const char *val,
                    int64_t w) {
  uint64_t h = mem_mix((uintptr_t)key);
  mem_tab_it_t it = mem_tab_start(&tt->keys, h);
  int64_t ki;
  while ((ki = mem_tab_next(&tt->keys, &it)) >= 0 && (*keys)[ki].key != key)
    ;
  if (ki < 0) {
    *keys = xrealloc(*keys, (*nk + 1) * sizeof **keys);
    ki = (int64_t)(*nk)++;
    memset(&(*keys)[ki], 0, sizeof **keys);
    (*keys)[ki].key = key;
    mem_tab_put(&tt->keys, h, (uint32_t)ki);
  }
  tkey_t *k = &(*keys)[ki];
  k->total += w;
  uint64_t vh = mem_hash_add(h, (uintptr_t)val);
  it = mem_tab_start(&tt->vals, vh);
  for (int64_t r; (r = mem_tab_next(&tt->vals, &it)) >= 0;)
    if (tt->ref[r].k == (uint32_t)ki && k->v[tt->ref[r].v].name == val) {
      k->v[tt->ref[r].v].flat += w;
      return;
    }
  if (k->n == k->cap) {
    k->cap = k->cap ? k->cap * 2 : 8;
    k->v = xrealloc(k->v, k->cap * sizeof *k->v);
  }
  k->v[k->n++] = (tval_t){val, w};
  if ((tt->nref & (tt->nref - 1)) == 0)
    tt->ref = xrealloc(tt->ref, (tt->nref ? tt->nref * 2 : 8) * sizeof *tt->ref);
  tt->ref[tt->nref].k = (uint32_t)ki;
  tt->ref[tt->nref].v = (uint32_t)(k->n - 1);
  mem_tab_put(&tt->vals, vh, (uint32_t)tt->nref++);
}

static int cmp_tkey(const void *a, const void *b) {
  return strcmp(((const tkey_t *)a)->key, ((const tkey_t *)b)->key);
}

static int cmp_tval(const void *a, const void *b) {
  const tval_t *x = a, *y = b;
  if (x->flat != y->flat) {
    int64_t p = x->flat < 0 ? -x->flat : x->flat, q = y->flat < 0 ? -y->flat : y->flat;
    if (p != q)
      return p > q ? -1 : 1;
  }
  return strcmp(x->name, y->name);
}

int report_tags(report_t *r, sbuf_t *out, char *err, size_t errlen) {
  tprof_t *p = r->prof;
  tkey_t *keys = NULL;
  size_t nk = 0;
  char buf[128];
  tagtab_t tt = {0};
  mem_tab_init(&tt.keys, 16);
  mem_tab_init(&tt.vals, 64);
  for (size_t i = 0; i < p->nsample; i++) {
    const tp_sample_t *s = &p->sample[i];
    int64_t w = s->value[r->o.sample_index];
    for (uint32_t j = 0; j < s->nlabel; j++) {
      const tp_label_t *l = &s->label[j];
      const char *val = l->str;
      if (!val) {
        const char *unit = r->o.units ? num_units_get(r->o.units, l->key) : mem_empty;
        val = mem_intern_z(p->mem, measure_label(buf, sizeof buf, l->num, unit, r->o.output_unit));
      }
      tag_add(&tt, &keys, &nk, l->key, val, w);
    }
  }
  mem_tab_free(&tt.keys);
  mem_tab_free(&tt.vals);
  free(tt.ref);
  qsort(keys, nk, sizeof *keys, cmp_tkey);
  sbuf_t t = {0};
  char a[64], b[64], pct[32];
  int64_t total = r->total;
  for (size_t i = 0; i < nk; i++) {
    tkey_t *k = &keys[i];
    qsort(k->v, k->n, sizeof *k->v, cmp_tval);
    if (total > 0)
      sb_printf(&t, "%s:\t Total %s of %s (%s)\n", k->key, report_value(r, k->total, a, sizeof a),
                report_value(r, total, b, sizeof b), measure_pct(pct, sizeof pct, k->total, total));
    else
      sb_printf(&t, "%s:\t Total %s of %s\n", k->key, report_value(r, k->total, a, sizeof a),
                report_value(r, total, b, sizeof b));
    for (size_t j = 0; j < k->n; j++) {
      if (total > 0)
        sb_printf(&t, " \t%s (%s):\t %s\n", report_value(r, k->v[j].flat, a, sizeof a),
                  measure_pct(pct, sizeof pct, k->v[j].flat, total), k->v[j].name);
      else
        sb_printf(&t, " \t%s:\t %s\n", report_value(r, k->v[j].flat, a, sizeof a), k->v[j].name);
    }
    sb_putc(&t, '\n');
    free(k->v);
  }
  free(keys);
  tabwriter_format(sb_str(&t), t.len, 0, 1, true, out);
  sb_free(&t);
  (void)err;
  (void)errlen;
  return 0;
}

int report_comments(report_t *r, sbuf_t *out, char *err, size_t errlen) {
  for (size_t i = 0; i < r->prof->ncomment; i++)
    sb_printf(out, "%s\n", r->prof->comment[i]);
  (void)err;
  (void)errlen;
  return 0;
}

/* ------------------------------------------------------------------ raw ----------------------- */

/* Go's time.Time.String() in local time. */
static void go_time(int64_t ns, sbuf_t *out) {
  time_t t = (time_t)(ns / 1000000000);
  int64_t frac = ns % 1000000000;
  if (frac < 0) {
    frac += 1000000000;
    t--;
  }
  struct tm tm;
  localtime_r(&t, &tm);
  char b[64];
  strftime(b, sizeof b, "%Y-%m-%d %H:%M:%S", &tm);
  sb_puts(out, b);
  if (frac) {
    char f[16];
    snprintf(f, sizeof f, ".%09lld", (long long)frac);
    size_t n = strlen(f);
    while (f[n - 1] == '0')
      f[--n] = '\0';
    sb_puts(out, f);
  }
  long off = tm.tm_gmtoff;
  char sign = off < 0 ? '-' : '+';
  if (off < 0)
    off = -off;
  sb_printf(out, " %c%02ld%02ld %s", sign, off / 3600, (off / 60) % 60, tm.tm_zone);
}

/* Go's time.Duration.String(). */
static void go_duration(int64_t d, char *buf, size_t n) {
  char tmp[64];
  int w = sizeof tmp - 1;
  tmp[w] = '\0';
  uint64_t u = d < 0 ? (uint64_t)(-d) : (uint64_t)d;
  bool neg = d < 0;
  if (u < 1000000000ULL) {
    int prec;
    const char *unit;
    if (u == 0) {
      snprintf(buf, n, "0s");
      return;
    } else if (u < 1000) {
      prec = 0;
      unit = "ns";
    } else if (u < 1000000) {
      prec = 3;
      unit = "\xc2\xb5s";
    } else {
      prec = 6;
      unit = "ms";
    }
    size_t ul = strlen(unit);
    w -= (int)ul;
    memcpy(tmp + w, unit, ul);
    /* fractional part */
    bool print = false;
    for (int i = 0; i < prec; i++) {
      int digit = (int)(u % 10);
      print = print || digit != 0;
      if (print)
        tmp[--w] = (char)('0' + digit);
      u /= 10;
    }
    if (print)
      tmp[--w] = '.';
    if (u == 0)
      tmp[--w] = '0';
    while (u > 0) {
      tmp[--w] = (char)('0' + u % 10);
      u /= 10;
    }
  } else {
    tmp[--w] = 's';
    bool print = false;
    for (int i = 0; i < 9; i++) {
      int digit = (int)(u % 10);
      print = print || digit != 0;
      if (print)
        tmp[--w] = (char)('0' + digit);
      u /= 10;
    }
    if (print)
      tmp[--w] = '.';
    uint64_t secs = u % 60;
    u /= 60;
    if (secs == 0)
      tmp[--w] = '0';
    while (secs > 0) {
      tmp[--w] = (char)('0' + secs % 10);
      secs /= 10;
    }
    if (u > 0) {
      tmp[--w] = 'm';
      uint64_t mins = u % 60;
      u /= 60;
      if (mins == 0)
        tmp[--w] = '0';
      while (mins > 0) {
        tmp[--w] = (char)('0' + mins % 10);
        mins /= 10;
      }
      if (u > 0) {
        tmp[--w] = 'h';
        while (u > 0) {
          tmp[--w] = (char)('0' + u % 10);
          u /= 10;
        }
      }
    }
  }
  if (neg)
    tmp[--w] = '-';
  snprintf(buf, n, "%s", tmp + w);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void raw_labels(const tp_sample_t *s, bool numeric, sbuf_t *out) {
  char **parts = xmalloc((s->nlabel + 1) * sizeof *parts);
  size_t n = 0;
  for (uint32_t i = 0; i < s->nlabel;) {
    const tp_label_t *l = &s->label[i];
    if ((l->str == NULL) != numeric) {
      i++;
      continue;
    }
    uint32_t j = i;
    bool units = false;
    while (j < s->nlabel && s->label[j].key == l->key && (s->label[j].str == NULL) == numeric) {
      units |= numeric && *s->label[j].unit;
      j++;
    }
    sbuf_t b = {0};
    sb_printf(&b, "%s:[", l->key);
    for (uint32_t k = i; k < j; k++) {
      if (k > i)
        sb_putc(&b, ' ');
      if (!numeric)
        sb_puts(&b, s->label[k].str);
      else if (units)
        sb_printf(&b, "%lld %s", (long long)s->label[k].num, s->label[k].unit);
      else
        sb_printf(&b, "%lld", (long long)s->label[k].num);
    }
    sb_putc(&b, ']');
    parts[n++] = b.s;
    i = j;
  }
  if (n) {
    qsort(parts, n, sizeof *parts, cmp_str);
    sb_puts(out, "\n                ");
    for (size_t i = 0; i < n; i++) {
      if (i)
        sb_putc(out, ' ');
      sb_puts(out, parts[i]);
      free(parts[i]);
    }
  }
  free(parts);
}

int report_raw(report_t *r, sbuf_t *out, char *err, size_t errlen) {
  tprof_t *p = r->prof;
  for (size_t i = 0; i < p->ncomment; i++)
    sb_printf(out, "Comment: %s\n", p->comment[i]);
  sb_printf(out, "PeriodType: %s %s\n", p->period_type.type, p->period_type.unit);
  sb_printf(out, "Period: %lld\n", (long long)p->period);
  if (p->time_nanos) {
    sb_puts(out, "Time: ");
    go_time(p->time_nanos, out);
    sb_putc(out, '\n');
  }
  if (p->duration_nanos) {
    char d[64];
    go_duration(p->duration_nanos, d, sizeof d);
    /* %.4v: the first four runes */
    size_t k = 0, runes = 0;
    while (d[k] && runes < 4) {
      k++;
      while (((unsigned char)d[k] & 0xc0) == 0x80)
        k++;
      runes++;
    }
    d[k] = '\0';
    sb_printf(out, "Duration: %s\n", d);
  }
  sb_puts(out, "Samples:\n");
  sbuf_t h = {0};
  for (size_t i = 0; i < p->nsample_type; i++)
    sb_printf(&h, "%s/%s%s ", p->sample_type[i].type, p->sample_type[i].unit,
              p->sample_type[i].type == p->default_sample_type ? "[dflt]" : "");
  const char *hs = sb_str(&h);
  size_t hl = h.len;
  while (hl && hs[hl - 1] == ' ')
    hl--;
  while (hl && *hs == ' ')
    hs++, hl--;
  sb_putn(out, hs, hl);
  sb_putc(out, '\n');
  sb_free(&h);
  for (size_t i = 0; i < p->nsample; i++) {
    const tp_sample_t *s = &p->sample[i];
    for (size_t j = 0; j < p->nsample_type; j++)
      sb_printf(out, " %10lld", (long long)s->value[j]);
    sb_puts(out, ": ");
    for (uint32_t j = 0; j < s->nloc; j++)
      sb_printf(out, "%llu ", (unsigned long long)s->loc[j]->id);
    raw_labels(s, false, out);
    raw_labels(s, true, out);
    sb_putc(out, '\n');
  }
  sb_puts(out, "Locations\n");
  for (size_t i = 0; i < p->nlocation; i++) {
    const tp_location_t *l = p->location[i];
    sbuf_t ls = {0};
    sb_printf(&ls, "%6llu: %#llx ", (unsigned long long)l->id, (unsigned long long)l->address);
    if (l->address == 0) {
      ls.len = 0;
      sb_printf(&ls, "%6llu: 0x0 ", (unsigned long long)l->id);
    }
    if (l->mapping)
      sb_printf(&ls, "M=%llu ", (unsigned long long)l->mapping->id);
    if (l->is_folded)
      sb_puts(&ls, "[F] ");
    if (l->nline == 0)
      sb_puts(out, sb_str(&ls));
    for (uint32_t j = 0; j < l->nline; j++) {
      const tp_function_t *f = l->line[j].fn;
      if (j)
        sb_putc(out, '\n');
      sb_puts(out, j ? "             " : sb_str(&ls));
      sb_printf(out, "%s %s:%lld s=%lld", f->name, f->filename, (long long)l->line[j].line,
                (long long)f->start_line);
      if (f->name != f->system_name)
        sb_printf(out, "(%s)", f->system_name);
    }
    sb_putc(out, '\n');
    sb_free(&ls);
  }
  sb_puts(out, "Mappings\n");
  for (size_t i = 0; i < p->nmapping; i++) {
    const tp_mapping_t *m = p->mapping[i];
    char a[24], b[24], c[24];
    snprintf(a, sizeof a, m->start ? "%#" PRIx64 : "0x0", m->start);
    snprintf(b, sizeof b, m->limit ? "%#" PRIx64 : "0x0", m->limit);
    snprintf(c, sizeof c, m->offset ? "%#" PRIx64 : "0x0", m->offset);
    sb_printf(out, "%llu: %s/%s/%s %s %s %s%s%s%s\n", (unsigned long long)m->id, a, b, c, m->file,
              m->build_id, m->has_functions ? "[FN]" : "", m->has_filenames ? "[FL]" : "",
              m->has_line_numbers ? "[LN]" : "", m->has_inline_frames ? "[IN]" : "");
  }
  (void)err;
  (void)errlen;
  return 0;
}

/* ------------------------------------------------------------------ proto --------------------- */

static int write_gz(const tprof_t *p, sbuf_t *out, char *err, size_t errlen) {
  prof_t *q = tp_to_prof(p);
  prof_buf_t raw = {0}, gz = {0};
  if (prof_encode(q, &raw) < 0 || prof_gzip(raw.data, raw.len, 6, &gz) < 0) {
    prof_free(q);
    prof_buf_free(&raw);
    snprintf(err, errlen, "encoding the profile: out of memory");
    return -1;
  }
  sb_putn(out, (const char *)gz.data, gz.len);
  prof_free(q);
  prof_buf_free(&raw);
  prof_buf_free(&gz);
  return 0;
}

int report_proto(report_t *r, sbuf_t *out, char *err, size_t errlen) {
  tprof_t *p = r->prof;
  if (r->o.ratio > 0 && r->o.ratio != 1)
    for (size_t i = 0; i < p->nsample; i++)
      for (size_t j = 0; j < p->nsample_type; j++)
        p->sample[i].value[j] = (int64_t)((double)p->sample[i].value[j] * r->o.ratio);
  return write_gz(p, out, err, errlen);
}

int report_topproto(report_t *r, sbuf_t *out, char *err, size_t errlen) {
  tprof_t *p = r->prof;
  size_t orig, dn, de;
  graph_t *g = report_trimmed_graph(r, &orig, &dn, &de);
  report_select_unit(r, g);
  tprof_t *q = tp_new();
  mem_t *m = q->mem;
  const char *unit = mem_intern_z(m, r->o.output_unit);
  q->nsample_type = 2;
  q->sample_type = mem_alloc(m, 2 * sizeof *q->sample_type);
  q->sample_type[0] = (tp_value_type_t){mem_intern_z(m, "cum"), unit};
  q->sample_type[1] = (tp_value_type_t){mem_intern_z(m, "flat"), unit};
  q->time_nanos = p->time_nanos;
  q->duration_nanos = p->duration_nanos;
  q->period_type = p->period_type;
  q->period = p->period;
  q->function = mem_alloc(m, (g->n + 1) * sizeof *q->function);
  q->location = mem_alloc(m, (g->n + 1) * sizeof *q->location);
  q->sample = mem_zalloc(m, (g->n + 1) * sizeof *q->sample);
  for (size_t i = 0; i < g->n; i++) {
    const g_info_t *ni = &g->nodes[i]->info;
    tp_function_t *f = NULL;
    for (size_t j = 0; j < q->nfunction && !f; j++) {
      tp_function_t *x = q->function[j];
      if (x->name == ni->name && x->system_name == ni->orig_name && x->filename == ni->file &&
          x->start_line == ni->start_line)
        f = x;
    }
    if (!f) {
      f = mem_zalloc(m, sizeof *f);
      f->id = q->nfunction + 1;
      f->name = ni->name;
      f->system_name = ni->orig_name;
      f->filename = ni->file;
      f->start_line = ni->start_line;
      q->function[q->nfunction++] = f;
    }
    tp_location_t *l = mem_zalloc(m, sizeof *l);
    l->id = i + 1;
    l->address = ni->address;
    l->line = mem_alloc(m, sizeof *l->line);
    l->line[0] = (tp_line_t){f, ni->lineno, 0};
    l->nline = 1;
    q->location[q->nlocation++] = l;
    tp_sample_t *s = &q->sample[q->nsample++];
    s->loc = mem_alloc(m, sizeof *s->loc);
    s->loc[0] = l;
    s->nloc = 1;
    s->value = mem_alloc(m, 2 * sizeof *s->value);
    s->value[0] =
        (int64_t)measure_scale(g_cum(g->nodes[i]), r->o.sample_unit, r->o.output_unit, NULL);
    s->value[1] =
        (int64_t)measure_scale(g_flat(g->nodes[i]), r->o.sample_unit, r->o.output_unit, NULL);
  }
  graph_free(g);
  return write_gz(q, out, err, errlen);
}
