/*
 * tagroot.c — pprof's -tagroot and -tagleaf: pseudo frames made from label values, added at the
 * root or at the leaf of every sample, so a report can be split by label. Each pseudo frame is a
 * location without a mapping whose one line is a function named by the sample's values of that
 * key (joined by commas; numeric values scaled to -unit) in a "file" named after the key.
 */
#include "tool/tagroot.h"

#include <stdlib.h>
#include <string.h>

#include "tool/measure.h"
#include "tool/util.h"

typedef struct adder {
  tprof_t *p;
  mem_tab_t tab;
  uint64_t next_loc, next_fn;
  size_t loccap, fncap;
} adder_t;

static tp_location_t *intern_loc(adder_t *a, const char *fname, const char *file) {
  tprof_t *p = a->p;
  uint64_t h = mem_hash_add(mem_mix((uintptr_t)fname), (uintptr_t)file);
  mem_tab_it_t it = mem_tab_start(&a->tab, h);
  for (int64_t v; (v = mem_tab_next(&a->tab, &it)) >= 0;) {
    tp_location_t *l = p->location[v];
    if (l->line[0].fn->name == fname && l->line[0].fn->filename == file)
      return l;
  }
  tp_function_t *f = mem_zalloc(p->mem, sizeof *f);
  f->id = a->next_fn++;
  f->name = fname;
  f->system_name = f->filename = mem_empty;
  f->filename = file;
  if (p->nfunction + 1 >= a->fncap) {
    a->fncap = (p->nfunction + 1) * 2 + 16;
    tp_function_t **nf = mem_alloc(p->mem, a->fncap * sizeof *nf);
    memcpy(nf, p->function, p->nfunction * sizeof *nf);
    p->function = nf;
  }
  p->function[p->nfunction++] = f;
  tp_location_t *l = mem_zalloc(p->mem, sizeof *l);
  l->id = a->next_loc++;
  l->line = mem_alloc(p->mem, sizeof *l->line);
  l->line[0] = (tp_line_t){f, 0, 0};
  l->nline = 1;
  if (p->nlocation + 1 >= a->loccap) {
    a->loccap = (p->nlocation + 1) * 2 + 16;
    tp_location_t **nl = mem_alloc(p->mem, a->loccap * sizeof *nl);
    memcpy(nl, p->location, p->nlocation * sizeof *nl);
    p->location = nl;
  }
  l->idx = (uint32_t)p->nlocation;
  p->location[p->nlocation++] = l;
  mem_tab_put(&a->tab, h, l->idx);
  return l;
}

/* pprof's formatLabelValues: the sample's string values of key, then its numeric ones. */
static const char *label_values(tprof_t *p, const tp_sample_t *s, const char *key, const char *unit,
                                bool *any) {
  sbuf_t b = {0};
  size_t n = 0, nnum = 0, nunits = 0;
  for (uint32_t i = 0; i < s->nlabel; i++)
    if (s->label[i].key == key && s->label[i].str) {
      sb_puts(&b, n++ ? "," : "");
      sb_puts(&b, s->label[i].str);
    } else if (s->label[i].key == key) {
      nnum++;
      nunits += *s->label[i].unit != '\0';
    }
  for (uint32_t i = 0; i < s->nlabel; i++) {
    const tp_label_t *l = &s->label[i];
    if (l->key != key || l->str)
      continue;
    char v[64];
    if (nunits)
      measure_label(v, sizeof v, l->num, l->unit, unit);
    else
      measure_label(v, sizeof v, l->num, "", "");
    sb_puts(&b, n++ ? "," : "");
    sb_puts(&b, v);
  }
  (void)nnum;
  *any = n > 0;
  const char *r = mem_intern(p->mem, sb_str(&b), b.len);
  sb_free(&b);
  return r;
}

static size_t split_keys(tprof_t *p, const char *list, const char **keys, size_t max) {
  size_t n = 0;
  while (list && *list && n < max) {
    const char *c = strchr(list, ',');
    size_t len = c ? (size_t)(c - list) : strlen(list);
    if (len)
      keys[n++] = mem_intern(p->mem, list, len);
    list = c ? c + 1 : NULL;
  }
  return n;
}

void tagroot_add(tprof_t *p, const char *roots, const char *leaves, const char *unit, bool *rootm,
                 bool *leafm) {
  const char *rk[64], *lk[64];
  size_t nr = split_keys(p, roots, rk, 64), nl = split_keys(p, leaves, lk, 64);
  *rootm = *leafm = false;
  if (nr == 0 && nl == 0)
    return;
  adder_t a = {.p = p, .next_loc = 1, .next_fn = 1};
  for (size_t i = 0; i < p->nlocation; i++)
    if (p->location[i]->id >= a.next_loc)
      a.next_loc = p->location[i]->id + 1;
  for (size_t i = 0; i < p->nfunction; i++)
    if (p->function[i]->id >= a.next_fn)
      a.next_fn = p->function[i]->id + 1;
  mem_tab_init(&a.tab, 64);
  for (size_t i = 0; i < p->nsample; i++) {
    tp_sample_t *s = &p->sample[i];
    tp_location_t **nlocs = mem_alloc(p->mem, (s->nloc + nr + nl + 1) * sizeof *nlocs);
    size_t k = 0;
    for (size_t j = 0; j < nl; j++) {
      bool any;
      const char *v = label_values(p, s, lk[nl - 1 - j], unit, &any);
      *leafm |= any;
      nlocs[k++] = intern_loc(&a, v, lk[nl - 1 - j]);
    }
    memcpy(nlocs + k, s->loc, s->nloc * sizeof *nlocs);
    k += s->nloc;
    for (size_t j = 0; j < nr; j++) {
      bool any;
      const char *v = label_values(p, s, rk[nr - 1 - j], unit, &any);
      *rootm |= any;
      nlocs[k++] = intern_loc(&a, v, rk[nr - 1 - j]);
    }
    s->loc = nlocs;
    s->nloc = (uint32_t)k;
  }
  mem_tab_free(&a.tab);
}
