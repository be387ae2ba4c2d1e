/*
 * merge.c — pprof's Merge and its companions (see merge.h).
 *
 * Merge maps every source object to its merged twin once: the twin is remembered in the source
 * object's aux field (functions, mappings) or in the location's aux, so a source profile is
 * walked sample by sample and each location, function and mapping is keyed only the first time
 * it is met. Keys are hashed into mem_tab_t tables of indexes; strings are interned, so a key
 * compares pointers. A new twin reuses the source object itself (the sources are consumed), so
 * merging one big profile allocates little beyond the tables.
 */
#include "tool/merge.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool/measure.h"

typedef struct merger {
  tprof_t *p;
  mem_tab_t samples, locations, functions, mappings;
  size_t samplecap, loccap, fncap, mapcap;
} merger_t;

#define PUSH(arr, n, cap, x)                                                                       \
  do {                                                                                             \
    if ((n) == (cap)) {                                                                            \
      (cap) = (cap) ? (cap)*2 : 64;                                                                \
      (arr) = xrealloc((arr), (cap) * sizeof *(arr));                                              \
    }                                                                                              \
    (arr)[(n)++] = (x);                                                                            \
  } while (0)

/* ------------------------------------------------------------------ keys ---------------------- */

static uint64_t map_size_key(const tp_mapping_t *m) {
  uint64_t size = m->limit - m->start;
  size = size + 0x1000 - 1;
  return size - size % 0x1000;
}

static const char *map_name_key(const tp_mapping_t *m) {
  return *m->build_id ? m->build_id : m->file;
}

static uint64_t map_hash(const tp_mapping_t *m) {
  uint64_t h = mem_mix(map_size_key(m));
  h = mem_hash_add(h, m->offset);
  return mem_hash_add(h, (uintptr_t)map_name_key(m));
}

static tp_mapping_t *map_mapping(merger_t *pm, tp_mapping_t *src, int64_t *offset) {
  *offset = 0;
  if (!src)
    return NULL;
  if (src->aux) {
    *offset = src->auxoff;
    return src->aux;
  }
  uint64_t h = map_hash(src);
  mem_tab_it_t it = mem_tab_start(&pm->mappings, h);
  for (int64_t v; (v = mem_tab_next(&pm->mappings, &it)) >= 0;) {
    tp_mapping_t *m = pm->p->mapping[v];
    if (map_size_key(m) == map_size_key(src) && m->offset == src->offset &&
        map_name_key(m) == map_name_key(src)) {
      src->aux = m;
      src->auxoff = *offset = (int64_t)m->start - (int64_t)src->start;
      return m;
    }
  }
  tp_mapping_t *m = src; /* reused as its own twin */
  m->id = pm->p->nmapping + 1;
  PUSH(pm->p->mapping, pm->p->nmapping, pm->mapcap, m);
  mem_tab_put(&pm->mappings, h, (uint32_t)(pm->p->nmapping - 1));
  m->aux = m;
  m->auxoff = 0;
  return m;
}

static tp_function_t *map_function(merger_t *pm, tp_function_t *src) {
  if (src->aux)
    return src->aux;
  uint64_t h = mem_mix((uint64_t)src->start_line);
  h = mem_hash_add(h, (uintptr_t)src->name);
  h = mem_hash_add(h, (uintptr_t)src->system_name);
  h = mem_hash_add(h, (uintptr_t)src->filename);
  mem_tab_it_t it = mem_tab_start(&pm->functions, h);
  for (int64_t v; (v = mem_tab_next(&pm->functions, &it)) >= 0;) {
    tp_function_t *f = pm->p->function[v];
    if (f->start_line == src->start_line && f->name == src->name &&
        f->system_name == src->system_name && f->filename == src->filename) {
      src->aux = f;
      return f;
    }
  }
  src->id = pm->p->nfunction + 1;
  PUSH(pm->p->function, pm->p->nfunction, pm->fncap, src);
  mem_tab_put(&pm->functions, h, (uint32_t)(pm->p->nfunction - 1));
  src->aux = src;
  return src;
}

static uint64_t loc_hash(const tp_location_t *l) {
  uint64_t addr = l->address, mid = 0;
  if (l->mapping) {
    addr -= l->mapping->start;
    mid = l->mapping->id;
  }
  uint64_t h = mem_mix(addr);
  h = mem_hash_add(h, mid);
  h = mem_hash_add(h, l->is_folded);
  for (uint32_t i = 0; i < l->nline; i++) {
    h = mem_hash_add(h, l->line[i].fn->id);
    h = mem_hash_add(h, (uint64_t)l->line[i].line);
  }
  return h;
}

static bool loc_equal(const tp_location_t *a, const tp_location_t *b) {
  uint64_t aa = a->address, ba = b->address;
  if (a->mapping)
    aa -= a->mapping->start;
  if (b->mapping)
    ba -= b->mapping->start;
  uint64_t am = a->mapping ? a->mapping->id : 0, bm = b->mapping ? b->mapping->id : 0;
  if (aa != ba || am != bm || a->is_folded != b->is_folded || a->nline != b->nline)
    return false;
  for (uint32_t i = 0; i < a->nline; i++)
    if (a->line[i].fn->id != b->line[i].fn->id || a->line[i].line != b->line[i].line)
      return false;
  return true;
}

static tp_location_t *map_location(merger_t *pm, tp_location_t *src) {
  if (src->aux)
    return src->aux;
  int64_t off;
  tp_location_t tmp = *src;
  tmp.mapping = map_mapping(pm, src->mapping, &off);
  tmp.address = (uint64_t)((int64_t)src->address + off);
  tp_line_t lines[16];
  tp_line_t *ln = src->nline <= 16 ? lines : mem_alloc(pm->p->mem, src->nline * sizeof *ln);
  for (uint32_t i = 0; i < src->nline; i++)
    ln[i] = (tp_line_t){map_function(pm, src->line[i].fn), src->line[i].line, src->line[i].column};
  tmp.line = ln;
  uint64_t h = loc_hash(&tmp);
  mem_tab_it_t it = mem_tab_start(&pm->locations, h);
  for (int64_t v; (v = mem_tab_next(&pm->locations, &it)) >= 0;) {
    tp_location_t *l = pm->p->location[v];
    if (loc_equal(l, &tmp)) {
      src->aux = l;
      return l;
    }
  }
  /* the source location becomes its own twin */
  src->mapping = tmp.mapping;
  src->address = tmp.address;
  memcpy(src->line, ln, src->nline * sizeof *ln);
  src->id = pm->p->nlocation + 1;
  PUSH(pm->p->location, pm->p->nlocation, pm->loccap, src);
  mem_tab_put(&pm->locations, h, (uint32_t)(pm->p->nlocation - 1));
  src->aux = src;
  return src;
}

static uint64_t sample_hash(const tp_sample_t *s) {
  uint64_t h = mem_mix(s->nloc);
  for (uint32_t i = 0; i < s->nloc; i++)
    h = mem_hash_add(h, (uintptr_t)s->loc[i]);
  for (uint32_t i = 0; i < s->nlabel; i++) {
    const tp_label_t *l = &s->label[i];
    h = mem_hash_add(h, (uintptr_t)l->key);
    h = mem_hash_add(h, (uintptr_t)l->str);
    h = mem_hash_add(h, (uint64_t)l->num);
    h = mem_hash_add(h, (uintptr_t)l->unit);
  }
  return h;
}

static bool sample_equal(const tp_sample_t *a, const tp_sample_t *b) {
  if (a->nloc != b->nloc || a->nlabel != b->nlabel)
    return false;
  if (memcmp(a->loc, b->loc, a->nloc * sizeof *a->loc) != 0)
    return false;
  for (uint32_t i = 0; i < a->nlabel; i++) {
    const tp_label_t *x = &a->label[i], *y = &b->label[i];
    if (x->key != y->key || x->str != y->str || x->num != y->num || x->unit != y->unit)
      return false;
  }
  return true;
}

static bool zero_sample(const tp_sample_t *s, size_t nv) {
  for (size_t i = 0; i < nv; i++)
    if (s->value[i] != 0)
      return false;
  return true;
}

static void map_sample(merger_t *pm, tp_sample_t *src) {
  for (uint32_t i = 0; i < src->nloc; i++)
    src->loc[i] = map_location(pm, src->loc[i]);
  uint64_t h = sample_hash(src);
  size_t nv = pm->p->nsample_type;
  mem_tab_it_t it = mem_tab_start(&pm->samples, h);
  for (int64_t v; (v = mem_tab_next(&pm->samples, &it)) >= 0;) {
    tp_sample_t *s = &pm->p->sample[v];
    if (sample_equal(s, src)) {
      for (size_t i = 0; i < nv; i++)
        s->value[i] += src->value[i];
      return;
    }
  }
  PUSH(pm->p->sample, pm->p->nsample, pm->samplecap, *src);
  mem_tab_put(&pm->samples, h, (uint32_t)(pm->p->nsample - 1));
}

/* ------------------------------------------------------------------ headers ------------------- */

static void vt_str(char *buf, size_t n, const tprof_t *p) {
  size_t off = (size_t)snprintf(buf, n, "[");
  for (size_t i = 0; i < p->nsample_type && off < n; i++)
    off += (size_t)snprintf(buf + off, n - off, "%s%s/%s", i ? " " : "", p->sample_type[i].type,
                            p->sample_type[i].unit);
  if (off < n)
    snprintf(buf + off, n - off, "]");
}

int merge_compatible(const tprof_t *a, const tprof_t *b, char *err, size_t errlen) {
  if (a->period_type.type != b->period_type.type || a->period_type.unit != b->period_type.unit) {
    snprintf(err, errlen, "incompatible period types %s/%s and %s/%s", a->period_type.type,
             a->period_type.unit, b->period_type.type, b->period_type.unit);
    return -1;
  }
  bool ok = a->nsample_type == b->nsample_type;
  for (size_t i = 0; ok && i < a->nsample_type; i++)
    ok = a->sample_type[i].type == b->sample_type[i].type &&
         a->sample_type[i].unit == b->sample_type[i].unit;
  if (!ok) {
    char x[256], y[256];
    vt_str(x, sizeof x, a);
    vt_str(y, sizeof y, b);
    snprintf(err, errlen, "incompatible sample types %s and %s", x, y);
    return -1;
  }
  return 0;
}

static int combine_headers(tprof_t *p, tprof_t **srcs, size_t n, char *err, size_t errlen) {
  for (size_t i = 1; i < n; i++)
    if (merge_compatible(srcs[0], srcs[i], err, errlen) < 0)
      return -1;
  int64_t t = 0, d = 0, period = 0;
  const char *dst = mem_empty;
  size_t ncom = 0;
  for (size_t i = 0; i < n; i++)
    ncom += srcs[i]->ncomment;
  p->comment = mem_alloc(p->mem, (ncom + 1) * sizeof *p->comment);
  for (size_t i = 0; i < n; i++) {
    tprof_t *s = srcs[i];
    if (t == 0 || s->time_nanos < t)
      t = s->time_nanos;
    d += s->duration_nanos;
    if (period == 0 || period < s->period)
      period = s->period;
    for (size_t j = 0; j < s->ncomment; j++) {
      bool seen = false;
      for (size_t k = 0; k < p->ncomment && !seen; k++)
        seen = p->comment[k] == s->comment[j];
      if (!seen)
        p->comment[p->ncomment++] = s->comment[j];
    }
    if (!*dst)
      dst = s->default_sample_type;
  }
  p->nsample_type = srcs[0]->nsample_type;
  p->sample_type =
      mem_dup(p->mem, srcs[0]->sample_type, p->nsample_type + 1, sizeof *p->sample_type);
  p->drop_frames = srcs[0]->drop_frames;
  p->keep_frames = srcs[0]->keep_frames;
  p->time_nanos = t;
  p->duration_nanos = d;
  p->period_type = srcs[0]->period_type;
  p->period = period;
  p->default_sample_type = dst;
  return 0;
}

tprof_t *merge_profiles(tprof_t **srcs, size_t n, char *err, size_t errlen) {
  if (n == 0) {
    snprintf(err, errlen, "no profiles to merge");
    return NULL;
  }
  tprof_t *p = tp_new();
  if (combine_headers(p, srcs, n, err, errlen) < 0)
    return NULL;
  merger_t pm = {.p = p};
  size_t ns = 0, nl = 0;
  for (size_t i = 0; i < n; i++)
    ns += srcs[i]->nsample, nl += srcs[i]->nlocation;
  mem_tab_init(&pm.samples, ns);
  mem_tab_init(&pm.locations, nl);
  mem_tab_init(&pm.functions, srcs[0]->nfunction);
  mem_tab_init(&pm.mappings, 16);
  for (size_t i = 0; i < n; i++) {
    tprof_t *src = srcs[i];
    for (size_t j = 0; j < src->nlocation; j++)
      src->location[j]->aux = NULL;
    for (size_t j = 0; j < src->nfunction; j++)
      src->function[j]->aux = NULL;
    for (size_t j = 0; j < src->nmapping; j++)
      src->mapping[j]->aux = NULL;
  }
  for (size_t i = 0; i < n; i++) {
    tprof_t *src = srcs[i];
    if (p->nmapping == 0 && src->nmapping > 0) {
      int64_t off;
      map_mapping(&pm, src->mapping[0], &off);
    }
    for (size_t j = 0; j < src->nsample; j++)
      if (!zero_sample(&src->sample[j], p->nsample_type))
        map_sample(&pm, &src->sample[j]);
  }
  mem_tab_free(&pm.samples);
  mem_tab_free(&pm.locations);
  mem_tab_free(&pm.functions);
  mem_tab_free(&pm.mappings);
  /* the vectors were malloc'd; leave them (the command exits soon) but terminate them */
  if (!p->sample)
    p->sample = mem_zalloc(p->mem, sizeof *p->sample);
  if (!p->location)
    p->location = mem_zalloc(p->mem, sizeof *p->location);
  if (!p->function)
    p->function = mem_zalloc(p->mem, sizeof *p->function);
  if (!p->mapping)
    p->mapping = mem_zalloc(p->mem, sizeof *p->mapping);
  tp_reindex(p);
  for (size_t i = 0; i < p->nsample; i++)
    if (zero_sample(&p->sample[i], p->nsample_type)) {
      tprof_t *one[1] = {p};
      return merge_profiles(one, 1, err, errlen);
    }
  return p;
}

/* ------------------------------------------------------------------ scaling ------------------- */

void merge_scale_n(tprof_t *p, const double *ratio) {
  bool ones = true;
  for (size_t i = 0; i < p->nsample_type; i++)
    if (ratio[i] != 1)
      ones = false;
  if (ones)
    return;
  size_t fill = 0;
  for (size_t i = 0; i < p->nsample; i++) {
    tp_sample_t *s = &p->sample[i];
    bool keep = false;
    for (size_t j = 0; j < p->nsample_type; j++)
      if (ratio[j] != 1) {
        int64_t v = (int64_t)round((double)s->value[j] * ratio[j]);
        s->value[j] = v;
        keep = keep || v != 0;
      }
    if (keep)
      p->sample[fill++] = *s;
  }
  p->nsample = fill;
}

void merge_scale(tprof_t *p, double ratio) {
  if (ratio == 1)
    return;
  double *r = xmalloc((p->nsample_type + 1) * sizeof *r);
  for (size_t i = 0; i < p->nsample_type; i++)
    r[i] = ratio;
  merge_scale_n(p, r);
  free(r);
}

int merge_normalize(tprof_t *p, const tprof_t *base, char *err, size_t errlen) {
  if (merge_compatible(p, base, err, errlen) < 0)
    return -1;
  size_t n = p->nsample_type;
  int64_t *bv = xcalloc(n + 1, sizeof *bv), *sv = xcalloc(n + 1, sizeof *sv);
  double *r = xmalloc((n + 1) * sizeof *r);
  for (size_t i = 0; i < base->nsample; i++)
    for (size_t j = 0; j < n; j++)
      bv[j] += base->sample[i].value[j];
  for (size_t i = 0; i < p->nsample; i++)
    for (size_t j = 0; j < n; j++)
      sv[j] += p->sample[i].value[j];
  for (size_t j = 0; j < n; j++)
    r[j] = sv[j] == 0 ? 0.0 : (double)bv[j] / (double)sv[j];
  merge_scale_n(p, r);
  free(bv);
  free(sv);
  free(r);
  return 0;
}

/* pprof's CommonValueType: the finest of compatible types; NULL type when fewer than two. */
static int common_type(const tp_value_type_t *const *ts, size_t n, tp_value_type_t *out, bool *have,
                       char *err, size_t errlen) {
  *have = false;
  if (n <= 1)
    return 0;
  const tp_value_type_t *min = ts[0];
  for (size_t i = 1; i < n; i++) {
    const tp_value_type_t *t = ts[i];
    if (!measure_compatible(min->type, min->unit, t->type, t->unit)) {
      snprintf(err, errlen, "incompatible types: {%s %s} {%s %s}", min->type, min->unit, t->type,
               t->unit);
      return -1;
    }
    if (measure_scale(1, t->unit, min->unit, NULL) < 1)
      min = t;
  }
  *out = *min;
  *have = true;
  return 0;
}

int merge_scale_units(tprof_t **ps, size_t n, char *err, size_t errlen) {
  if (n == 0)
    return 0;
  const tp_value_type_t **ts = xmalloc(n * sizeof *ts);
  for (size_t i = 0; i < n; i++)
    ts[i] = &ps[i]->period_type;
  tp_value_type_t period;
  bool have_period;
  char sub[400];
  if (common_type(ts, n, &period, &have_period, sub, sizeof sub) < 0) {
    snprintf(err, errlen, "period type: %s", sub);
    free(ts);
    return -1;
  }
  size_t nst = ps[0]->nsample_type;
  for (size_t i = 1; i < n; i++)
    if (ps[i]->nsample_type != nst) {
      snprintf(err, errlen, "inconsistent samples type count: %zu != %zu", nst,
               ps[i]->nsample_type);
      free(ts);
      return -1;
    }
  tp_value_type_t *st = xcalloc(nst + 1, sizeof *st);
  bool *have = xcalloc(nst + 1, sizeof *have);
  for (size_t k = 0; k < nst; k++) {
    for (size_t i = 0; i < n; i++)
      ts[i] = &ps[i]->sample_type[k];
    if (common_type(ts, n, &st[k], &have[k], sub, sizeof sub) < 0) {
      snprintf(err, errlen, "sample types: %s", sub);
      free(ts);
      free(st);
      free(have);
      return -1;
    }
  }
  double *r = xmalloc((nst + 1) * sizeof *r);
  for (size_t i = 0; i < n; i++) {
    tprof_t *p = ps[i];
    if (have_period) {
      p->period = (int64_t)measure_scale(p->period, p->period_type.unit, period.unit, NULL);
      p->period_type.unit = period.unit;
    }
    for (size_t k = 0; k < nst; k++) {
      if (!have[k]) {
        r[k] = 1;
        continue;
      }
      r[k] = measure_scale(1, p->sample_type[k].unit, st[k].unit, NULL);
      p->sample_type[k].unit = st[k].unit;
    }
    merge_scale_n(p, r);
  }
  free(r);
  free(ts);
  free(st);
  free(have);
  return 0;
}
