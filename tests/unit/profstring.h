/*
 * profstring.h — a prof_t printed as pprof's Profile.String() prints it (the layout of google/
 * pprof's profile/testdata/NAME.string goldens and of `go tool pprof -raw`), for tests only.
 *
 * Header-only, shared by tests/unit/legacy_test.c and tests/tools/prof_dump.c. The layout is
 * pprof's current one (locations show line:column). Two liberties, neither reachable from a
 * legacy profile: a non-zero time_nanos prints as "Time: <nanoseconds>" rather than as Go's time,
 * and numeric labels print their units only when every value of the key has one.
 */
#ifndef CPROF_TEST_PROFSTRING_H
#define CPROF_TEST_PROFSTRING_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/profile.h"

/* Go's time.Duration.String(). */
static inline void ps_duration(int64_t d, char *out, size_t n) {
  uint64_t u = d < 0 ? 0 - (uint64_t)d : (uint64_t)d;
  const char *sign = d < 0 ? "-" : "";
  char frac[16] = "";
  if (u == 0) {
    snprintf(out, n, "0s");
    return;
  }
  if (u < 1000000000ull) {
    uint64_t scale = u < 1000 ? 1 : u < 1000000 ? 1000 : 1000000;
    const char *unit = u < 1000 ? "ns" : u < 1000000 ? "\xc2\xb5s" : "ms";
    int digits = scale == 1 ? 0 : scale == 1000 ? 3 : 6;
    uint64_t f = u % scale;
    if (f) {
      snprintf(frac, sizeof frac, ".%0*" PRIu64, digits, f);
      for (size_t k = strlen(frac); frac[k - 1] == '0'; k--)
        frac[k - 1] = '\0';
    }
    snprintf(out, n, "%s%" PRIu64 "%s%s", sign, u / scale, frac, unit);
    return;
  }
  uint64_t f = u % 1000000000ull, s = u / 1000000000ull;
  if (f) {
    snprintf(frac, sizeof frac, ".%09" PRIu64, f);
    for (size_t k = strlen(frac); frac[k - 1] == '0'; k--)
      frac[k - 1] = '\0';
  }
  uint64_t h = s / 3600, m = s / 60 % 60;
  s %= 60;
  if (h)
    snprintf(out, n, "%s%" PRIu64 "h%" PRIu64 "m%" PRIu64 "%ss", sign, h, m, s, frac);
  else if (m)
    snprintf(out, n, "%s%" PRIu64 "m%" PRIu64 "%ss", sign, m, s, frac);
  else
    snprintf(out, n, "%s%" PRIu64 "%ss", sign, s, frac);
}

/* fmt's %.4v of a string: its first four runes. */
static inline void ps_runes(char *s, int keep) {
  unsigned char *p = (unsigned char *)s;
  for (int r = 0; *p; r++) {
    if (r == keep) {
      *p = '\0';
      return;
    }
    p++;
    while ((*p & 0xc0) == 0x80)
      p++;
  }
}

static inline int ps_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* One sample's labels, as pprof's labelsToString and numLabelsToString lines. */
static inline void ps_labels(FILE *f, const prof_t *p, const prof_sample_t *s, int numeric) {
  char *item[64];
  size_t ni = 0;
  for (size_t i = 0; i < s->nlabel && ni < 64; i++) {
    const prof_label_t *l = &s->label[i];
    if ((l->str != 0) == numeric)
      continue;
    int seen = 0;
    for (size_t j = 0; j < i; j++)
      seen |= s->label[j].key == l->key && (s->label[j].str != 0) == !numeric;
    if (seen)
      continue;
    size_t len = 0, all_units = 1;
    char *buf = NULL;
    FILE *m = open_memstream(&buf, &len);
    for (size_t j = i; j < s->nlabel; j++)
      if (s->label[j].key == l->key && (s->label[j].str != 0) == !numeric)
        all_units &= s->label[j].num_unit != 0;
    fprintf(m, "%s:[", prof_str(p, l->key));
    const char *sep = "";
    for (size_t j = i; j < s->nlabel; j++) {
      const prof_label_t *x = &s->label[j];
      if (x->key != l->key || (x->str != 0) != !numeric)
        continue;
      if (!numeric)
        fprintf(m, "%s%s", sep, prof_str(p, x->str));
      else if (all_units)
        fprintf(m, "%s%" PRId64 " %s", sep, x->num, prof_str(p, x->num_unit));
      else
        fprintf(m, "%s%" PRId64, sep, x->num);
      sep = " ";
    }
    fputc(']', m);
    fclose(m);
    item[ni++] = buf;
  }
  if (!ni)
    return;
  qsort(item, ni, sizeof *item, ps_cmp);
  fputs("\n                ", f);
  for (size_t i = 0; i < ni; i++) {
    fprintf(f, "%s%s", i ? " " : "", item[i]);
    free(item[i]);
  }
}

static inline void ps_location(FILE *f, const prof_t *p, const prof_location_t *l) {
  char head[96];
  int n = snprintf(head, sizeof head, "%6" PRIu64 ": 0x%" PRIx64 " ", l->id, l->address);
  if (l->mapping_id)
    n += snprintf(head + n, sizeof head - (size_t)n, "M=%" PRIu64 " ", l->mapping_id);
  if (l->is_folded)
    snprintf(head + n, sizeof head - (size_t)n, "[F] ");
  if (l->nline == 0)
    fprintf(f, "%s\n", head);
  for (size_t i = 0; i < l->nline; i++) {
    const prof_function_t *fn = prof_function_by_id(p, l->line[i].function_id);
    fputs(i ? "             " : head, f);
    if (!fn) {
      fputs("??\n", f);
      continue;
    }
    fprintf(f, "%s %s:%" PRId64 ":%" PRId64 " s=%" PRId64, prof_str(p, fn->name),
            prof_str(p, fn->filename), l->line[i].line, l->line[i].column, fn->start_line);
    if (strcmp(prof_str(p, fn->name), prof_str(p, fn->system_name)) != 0)
      fprintf(f, "(%s)", prof_str(p, fn->system_name));
    fputc('\n', f);
  }
}

/* %#x as Go prints it: 0x0 for zero (C's %#x prints a bare 0). */
static inline void ps_hex(FILE *f, uint64_t v) { fprintf(f, "0x%" PRIx64, v); }

static inline void ps_print(FILE *f, const prof_t *p) {
  for (size_t i = 0; i < p->ncomment; i++)
    fprintf(f, "Comment: %s\n", prof_str(p, p->comment[i]));
  if (p->doc_url)
    fprintf(f, "Doc: %s\n", prof_str(p, p->doc_url));
  if (p->period_type.type || p->period_type.unit)
    fprintf(f, "PeriodType: %s %s\n", prof_str(p, p->period_type.type),
            prof_str(p, p->period_type.unit));
  fprintf(f, "Period: %" PRId64 "\n", p->period);
  if (p->time_nanos)
    fprintf(f, "Time: %" PRId64 "\n", p->time_nanos);
  if (p->duration_nanos) {
    char d[64];
    ps_duration(p->duration_nanos, d, sizeof d);
    ps_runes(d, 4);
    fprintf(f, "Duration: %s\n", d);
  }
  fputs("Samples:\n", f);
  for (size_t i = 0; i < p->nsample_type; i++)
    fprintf(f, "%s%s/%s%s", i ? " " : "", prof_str(p, p->sample_type[i].type),
            prof_str(p, p->sample_type[i].unit),
            strcmp(prof_str(p, p->sample_type[i].type), prof_str(p, p->default_sample_type)) == 0
                ? "[dflt]"
                : "");
  fputc('\n', f);
  for (size_t i = 0; i < p->nsample; i++) {
    const prof_sample_t *s = &p->sample[i];
    for (size_t k = 0; k < s->nvalue; k++)
      fprintf(f, " %10" PRId64, s->value[k]);
    fputs(": ", f);
    for (size_t k = 0; k < s->nlocation; k++)
      fprintf(f, "%" PRIu64 " ", s->location_id[k]);
    ps_labels(f, p, s, 0);
    ps_labels(f, p, s, 1);
    fputc('\n', f);
  }
  fputs("Locations\n", f);
  for (size_t i = 0; i < p->nlocation; i++)
    ps_location(f, p, &p->location[i]);
  fputs("Mappings\n", f);
  for (size_t i = 0; i < p->nmapping; i++) {
    const prof_mapping_t *m = &p->mapping[i];
    fprintf(f, "%" PRIu64 ": ", m->id);
    ps_hex(f, m->memory_start);
    fputc('/', f);
    ps_hex(f, m->memory_limit);
    fputc('/', f);
    ps_hex(f, m->file_offset);
    fprintf(f, " %s %s %s%s%s%s\n", prof_str(p, m->filename), prof_str(p, m->build_id),
            m->has_functions ? "[FN]" : "", m->has_filenames ? "[FL]" : "",
            m->has_line_numbers ? "[LN]" : "", m->has_inline_frames ? "[IN]" : "");
  }
}

#endif /* CPROF_TEST_PROFSTRING_H */
