/*
 * model.c — converting between the wire model (prof_t) and the command's model (tprof_t), and
 * the small label operations pprof's Profile has (SetLabel, RemoveLabel, HasLabel).
 *
 * tp_from_prof interns every string of the table once, then resolves ids into pointers through
 * prof_*_by_id. Samples get their arrays from the arena: one block per sample for locations,
 * values and labels. tp_to_prof adds strings in the order pprof's preEncode does, so a profile
 * cprof writes has its strings where pprof would put them.
 */
#include "tool/model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mem_t *the_mem;

static void mem_at_exit(void) { mem_free(the_mem); }

mem_t *tp_mem(void) {
  if (!the_mem) {
    the_mem = mem_new();
    atexit(mem_at_exit);
  }
  return the_mem;
}

tprof_t *tp_new(void) {
  mem_t *m = tp_mem();
  tprof_t *p = mem_zalloc(m, sizeof *p);
  p->mem = m;
  p->default_sample_type = p->drop_frames = p->keep_frames = p->doc_url = mem_empty;
  p->period_type.type = p->period_type.unit = mem_empty;
  return p;
}

void tp_reindex(tprof_t *p) {
  for (size_t i = 0; i < p->nlocation; i++)
    p->location[i]->idx = (uint32_t)i;
}

static int label_cmp(const void *a, const void *b) {
  const tp_label_t *x = a, *y = b;
  bool xn = x->str == NULL, yn = y->str == NULL;
  if (xn != yn)
    return xn ? 1 : -1;
  int c = strcmp(x->key, y->key);
  if (c)
    return c;
  return x < y ? -1 : x > y; /* stable: the input order among one key's values */
}

void tp_labels_canon(tp_label_t *l, size_t n) {
  if (n < 2)
    return;
  bool sorted = true;
  for (size_t i = 1; i < n && sorted; i++)
    sorted = label_cmp(&l[i - 1], &l[i]) < 0;
  if (sorted)
    return;
  /* qsort is not stable; sort (label, position) pairs. */
  typedef struct {
    tp_label_t l;
    size_t pos;
  } lp_t;
  lp_t stackbuf[16];
  lp_t *t = n <= 16 ? stackbuf : xmalloc(n * sizeof *t);
  for (size_t i = 0; i < n; i++)
    t[i] = (lp_t){l[i], i};
  /* insertion sort: label lists are short */
  for (size_t i = 1; i < n; i++) {
    lp_t v = t[i];
    size_t j = i;
    while (j > 0) {
      const tp_label_t *a = &t[j - 1].l, *b = &v.l;
      bool an = a->str == NULL, bn = b->str == NULL;
      int c = an != bn ? (an ? 1 : -1) : strcmp(a->key, b->key);
      if (c < 0 || (c == 0 && t[j - 1].pos < v.pos))
        break;
      t[j] = t[j - 1];
      j--;
    }
    t[j] = v;
  }
  for (size_t i = 0; i < n; i++)
    l[i] = t[i].l;
  if (t != stackbuf)
    free(t);
}

tprof_t *tp_from_prof(const prof_t *src) {
  tprof_t *p = tp_new();
  mem_t *m = p->mem;
  const char **str = xmalloc((src->nstrings ? src->nstrings : 1) * sizeof *str);
  for (size_t i = 0; i < src->nstrings; i++)
    str[i] = mem_intern(m, src->strings[i],
                        src->string_len ? src->string_len[i] : strlen(src->strings[i]));
#define S(ix) ((ix) >= 0 && (size_t)(ix) < src->nstrings ? str[(ix)] : mem_empty)

  p->nsample_type = src->nsample_type;
  p->sample_type = mem_zalloc(m, (src->nsample_type + 1) * sizeof *p->sample_type);
  for (size_t i = 0; i < src->nsample_type; i++)
    p->sample_type[i] = (tp_value_type_t){S(src->sample_type[i].type), S(src->sample_type[i].unit)};
  p->default_sample_type = S(src->default_sample_type);
  p->drop_frames = S(src->drop_frames);
  p->keep_frames = S(src->keep_frames);
  p->doc_url = S(src->doc_url);
  p->time_nanos = src->time_nanos;
  p->duration_nanos = src->duration_nanos;
  p->period = src->period;
  p->period_type = (tp_value_type_t){S(src->period_type.type), S(src->period_type.unit)};
  p->ncomment = src->ncomment;
  p->comment = mem_alloc(m, (src->ncomment + 1) * sizeof *p->comment);
  for (size_t i = 0; i < src->ncomment; i++)
    p->comment[i] = S(src->comment[i]);

  p->nmapping = src->nmapping;
  p->mapping = mem_alloc(m, (src->nmapping + 1) * sizeof *p->mapping);
  tp_mapping_t *maps = mem_zalloc(m, (src->nmapping + 1) * sizeof *maps);
  for (size_t i = 0; i < src->nmapping; i++) {
    const prof_mapping_t *x = &src->mapping[i];
    maps[i] = (tp_mapping_t){.id = x->id,
                             .start = x->memory_start,
                             .limit = x->memory_limit,
                             .offset = x->file_offset,
                             .file = S(x->filename),
                             .build_id = S(x->build_id),
                             .has_functions = x->has_functions,
                             .has_filenames = x->has_filenames,
                             .has_line_numbers = x->has_line_numbers,
                             .has_inline_frames = x->has_inline_frames};
    p->mapping[i] = &maps[i];
  }
  p->nfunction = src->nfunction;
  p->function = mem_alloc(m, (src->nfunction + 1) * sizeof *p->function);
  tp_function_t *fns = mem_zalloc(m, (src->nfunction + 1) * sizeof *fns);
  for (size_t i = 0; i < src->nfunction; i++) {
    const prof_function_t *x = &src->function[i];
    fns[i] =
        (tp_function_t){x->id, S(x->name), S(x->system_name), S(x->filename), x->start_line, NULL};
    p->function[i] = &fns[i];
  }
  p->nlocation = src->nlocation;
  p->location = mem_alloc(m, (src->nlocation + 1) * sizeof *p->location);
  tp_location_t *locs = mem_zalloc(m, (src->nlocation + 1) * sizeof *locs);
  for (size_t i = 0; i < src->nlocation; i++) {
    const prof_location_t *x = &src->location[i];
    tp_location_t *l = &locs[i];
    l->id = x->id;
    l->address = x->address;
    l->is_folded = x->is_folded;
    l->idx = (uint32_t)i;
    if (x->mapping_id) {
      const prof_mapping_t *pm = prof_mapping_by_id(src, x->mapping_id);
      l->mapping = pm ? &maps[pm - src->mapping] : NULL;
    }
    l->nline = (uint32_t)x->nline;
    l->line = x->nline ? mem_alloc(m, x->nline * sizeof *l->line) : NULL;
    uint32_t k = 0;
    for (size_t j = 0; j < x->nline; j++) {
      const prof_function_t *pf = prof_function_by_id(src, x->line[j].function_id);
      if (!pf) /* a line without a function: pprof keeps it with a nil function; we drop it */
        continue;
      l->line[k++] = (tp_line_t){&fns[pf - src->function], x->line[j].line, x->line[j].column};
    }
    l->nline = k;
    p->location[i] = l;
  }

  p->nsample = src->nsample;
  p->sample = mem_alloc(m, (src->nsample + 1) * sizeof *p->sample);
  size_t nv = src->nsample_type;
  /* location id -> position, for the common dense case without a lookup */
  for (size_t i = 0; i < src->nsample; i++) {
    const prof_sample_t *x = &src->sample[i];
    tp_sample_t *s = &p->sample[i];
    size_t nl = 0;
    for (size_t j = 0; j < x->nlabel; j++)
      if (x->label[j].str || x->label[j].num || x->label[j].num_unit)
        nl++;
    size_t bytes =
        x->nlocation * sizeof(tp_location_t *) + nv * sizeof(int64_t) + nl * sizeof(tp_label_t);
    char *b = mem_alloc(m, bytes ? bytes : 8);
    s->loc = (tp_location_t **)b;
    s->value = (int64_t *)(b + x->nlocation * sizeof(tp_location_t *));
    s->label = (tp_label_t *)(b + x->nlocation * sizeof(tp_location_t *) + nv * sizeof(int64_t));
    s->nloc = (uint32_t)x->nlocation;
    for (size_t j = 0; j < x->nlocation; j++) {
      uint64_t id = x->location_id[j];
      size_t pos;
      if (id - 1 < src->nlocation && src->location[id - 1].id == id)
        pos = id - 1;
      else
        pos = (size_t)(prof_location_by_id(src, id) - src->location);
      s->loc[j] = &locs[pos];
    }
    for (size_t j = 0; j < nv; j++)
      s->value[j] = j < x->nvalue ? x->value[j] : 0;
    uint32_t k = 0;
    for (size_t j = 0; j < x->nlabel; j++) {
      const prof_label_t *l = &x->label[j];
      if (l->str)
        s->label[k++] = (tp_label_t){S(l->key), S(l->str), 0, mem_empty};
      else if (l->num || l->num_unit)
        s->label[k++] = (tp_label_t){S(l->key), NULL, l->num, S(l->num_unit)};
    }
    s->nlabel = k;
    tp_labels_canon(s->label, k);
  }
#undef S
  free(str);
  return p;
}

/* ------------------------------------------------------------------ back to the wire ---------- */

static int64_t put(prof_t *q, const char *s) {
  int64_t i = prof_intern(q, s);
  if (i < 0)
    mem_oom();
  return i;
}

prof_t *tp_to_prof(const tprof_t *p) {
  prof_t *q = prof_new();
  if (!q)
    mem_oom();
  for (size_t i = 0; i < p->nsample_type; i++)
    if (prof_add_sample_type(q, p->sample_type[i].type, p->sample_type[i].unit) < 0)
      mem_oom();
  uint64_t *ids = NULL;
  size_t idcap = 0;
  for (size_t i = 0; i < p->nsample; i++) {
    const tp_sample_t *s = &p->sample[i];
    if (s->nloc > idcap) {
      idcap = s->nloc * 2;
      ids = xrealloc(ids, idcap * sizeof *ids);
    }
    for (uint32_t j = 0; j < s->nloc; j++)
      ids[j] = s->loc[j]->id;
    prof_sample_t *x = prof_add_sample(q, ids, s->nloc, s->value, p->nsample_type);
    if (!x)
      mem_oom();
    for (uint32_t j = 0; j < s->nlabel; j++) {
      const tp_label_t *l = &s->label[j];
      int rc = l->str ? prof_sample_add_label_str(q, x, l->key, l->str)
                      : prof_sample_add_label_num(q, x, l->key, l->num, l->unit);
      if (rc < 0)
        mem_oom();
    }
  }
  free(ids);
  for (size_t i = 0; i < p->nmapping; i++) {
    const tp_mapping_t *m = p->mapping[i];
    prof_mapping_t *x = prof_add_mapping(q);
    if (!x)
      mem_oom();
    x->id = m->id;
    x->memory_start = m->start;
    x->memory_limit = m->limit;
    x->file_offset = m->offset;
    x->filename = put(q, m->file);
    x->build_id = put(q, m->build_id);
    x->has_functions = m->has_functions;
    x->has_filenames = m->has_filenames;
    x->has_line_numbers = m->has_line_numbers;
    x->has_inline_frames = m->has_inline_frames;
  }
  for (size_t i = 0; i < p->nlocation; i++) {
    const tp_location_t *l = p->location[i];
    prof_location_t *x = prof_add_location(q);
    if (!x)
      mem_oom();
    x->id = l->id;
    x->mapping_id = l->mapping ? l->mapping->id : 0;
    x->address = l->address;
    x->is_folded = l->is_folded;
    for (uint32_t j = 0; j < l->nline; j++) {
      if (prof_location_add_line(x, l->line[j].fn->id, l->line[j].line) < 0)
        mem_oom();
      x->line[x->nline - 1].column = l->line[j].column;
    }
  }
  for (size_t i = 0; i < p->nfunction; i++) {
    const tp_function_t *f = p->function[i];
    prof_function_t *x = prof_add_function(q);
    if (!x)
      mem_oom();
    x->id = f->id;
    x->name = put(q, f->name);
    x->system_name = put(q, f->system_name);
    x->filename = put(q, f->filename);
    x->start_line = f->start_line;
  }
  q->drop_frames = put(q, p->drop_frames);
  q->keep_frames = put(q, p->keep_frames);
  if (*p->period_type.type || *p->period_type.unit)
    if (prof_set_period_type(q, p->period_type.type, p->period_type.unit) < 0)
      mem_oom();
  for (size_t i = 0; i < p->ncomment; i++)
    if (prof_add_comment(q, p->comment[i]) < 0)
      mem_oom();
  q->default_sample_type = put(q, p->default_sample_type);
  q->time_nanos = p->time_nanos;
  q->duration_nanos = p->duration_nanos;
  q->period = p->period;
  return q;
}

/* ------------------------------------------------------------------ labels -------------------- */

bool tp_sample_has_label(const tp_sample_t *s, const char *key, const char *value) {
  for (uint32_t i = 0; i < s->nlabel; i++)
    if (s->label[i].str && s->label[i].key == key && s->label[i].str == value)
      return true;
  return false;
}

void tp_set_label(tprof_t *p, const char *key, const char *value) {
  key = mem_intern_z(p->mem, key);
  value = mem_intern_z(p->mem, value);
  for (size_t i = 0; i < p->nsample; i++) {
    tp_sample_t *s = &p->sample[i];
    tp_label_t *nl = mem_alloc(p->mem, (s->nlabel + 1) * sizeof *nl);
    uint32_t k = 0;
    for (uint32_t j = 0; j < s->nlabel; j++)
      if (!(s->label[j].str && s->label[j].key == key))
        nl[k++] = s->label[j];
    nl[k++] = (tp_label_t){key, value, 0, mem_empty};
    tp_labels_canon(nl, k);
    s->label = nl;
    s->nlabel = k;
  }
}

void tp_remove_label(tprof_t *p, const char *key) {
  key = mem_intern_z(p->mem, key);
  for (size_t i = 0; i < p->nsample; i++) {
    tp_sample_t *s = &p->sample[i];
    uint32_t k = 0;
    for (uint32_t j = 0; j < s->nlabel; j++)
      if (!(s->label[j].str && s->label[j].key == key))
        s->label[k++] = s->label[j];
    s->nlabel = k;
  }
}

int tp_sample_index(const tprof_t *p, const char *si, char *err, size_t errlen) {
  int n = (int)p->nsample_type;
  if (!si || !*si) {
    if (*p->default_sample_type)
      for (int i = 0; i < n; i++)
        if (p->sample_type[i].type == p->default_sample_type)
          return i;
    return n - 1;
  }
  char *end;
  errno = 0;
  long v = strtol(si, &end, 10);
  bool numeric = *end == '\0' && errno == 0 &&
                 (si[0] == '-' || si[0] == '+' || (si[0] >= '0' && si[0] <= '9'));
  if (numeric) {
    if (v < 0 || v >= n) {
      snprintf(err, errlen, "sample_index %s is outside the range [0..%d]", si, n - 1);
      return -1;
    }
    return (int)v;
  }
  const char *noinuse = strncmp(si, "inuse_", 6) == 0 ? si + 6 : si;
  for (int i = 0; i < n; i++)
    if (strcmp(p->sample_type[i].type, si) == 0 || strcmp(p->sample_type[i].type, noinuse) == 0)
      return i;
  size_t off = (size_t)snprintf(err, errlen, "sample_index \"%s\" must be one of: [", si);
  for (int i = 0; i < n && off < errlen; i++)
    off += (size_t)snprintf(err + off, errlen - off, "%s%s", i ? " " : "", p->sample_type[i].type);
  if (off < errlen)
    snprintf(err + off, errlen - off, "]");
  return -1;
}
