/*
 * filter.c — pprof's filters (see filter.h).
 *
 * Per-location decisions are taken once per location and kept in its mark field, so a pass over
 * a million samples only reads marks. Location line arrays are shrunk in place; a sample's
 * location array is compacted in place.
 */
#include "tool/filter.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool/measure.h"

enum { M_FOCUS = 1, M_IGNORE = 2, M_HIDDEN = 4, M_SEEN = 8 };

static bool fn_matches(regex_pat_t *r, const tp_function_t *f) {
  return regex_match_interned(r, f->name) || regex_match_interned(r, f->filename);
}

static bool loc_matches(regex_pat_t *r, const tp_location_t *l) {
  for (uint32_t i = 0; i < l->nline; i++)
    if (fn_matches(r, l->line[i].fn))
      return true;
  return l->mapping && regex_match_interned(r, l->mapping->file);
}

void filter_by_name(tprof_t *p, regex_pat_t *focus, regex_pat_t *ignore, regex_pat_t *hide, regex_pat_t *show, bool *fm,
                    bool *im, bool *hm, bool *hnm) {
  *fm = *im = *hm = *hnm = false;
  bool any_hidden = false;
  for (size_t i = 0; i < p->nlocation; i++) {
    tp_location_t *l = p->location[i];
    l->mark = 0;
    if (ignore && loc_matches(ignore, l)) {
      *im = true;
      l->mark |= M_IGNORE;
    } else if (!focus || loc_matches(focus, l)) {
      *fm = true;
      l->mark |= M_FOCUS;
    }
    if (hide && loc_matches(hide, l)) {
      *hm = true;
      uint32_t k = 0;
      if (!(l->mapping && regex_match_interned(hide, l->mapping->file)))
        for (uint32_t j = 0; j < l->nline; j++)
          if (!fn_matches(hide, l->line[j].fn))
            l->line[k++] = l->line[j];
      l->nline = k;
      if (k == 0) {
        l->mark |= M_HIDDEN;
        any_hidden = true;
      }
    }
    if (show) {
      uint32_t k = 0;
      if (l->mapping && regex_match_interned(show, l->mapping->file))
        k = l->nline;
      else
        for (uint32_t j = 0; j < l->nline; j++)
          if (fn_matches(show, l->line[j].fn))
            l->line[k++] = l->line[j];
      l->nline = k;
      if (k == 0) {
        l->mark |= M_HIDDEN;
        any_hidden = true;
      } else {
        *hnm = true;
      }
    }
  }
  size_t fill = 0;
  for (size_t i = 0; i < p->nsample; i++) {
    tp_sample_t *s = &p->sample[i];
    bool f = false, drop = false;
    for (uint32_t j = 0; j < s->nloc && !drop; j++) {
      uint32_t m = s->loc[j]->mark;
      if (m & M_IGNORE)
        drop = true;
      else if (m & M_FOCUS)
        f = true;
    }
    if (drop || !f)
      continue;
    if (any_hidden) {
      uint32_t k = 0;
      for (uint32_t j = 0; j < s->nloc; j++)
        if (!(s->loc[j]->mark & M_HIDDEN))
          s->loc[k++] = s->loc[j];
      if (k == 0)
        continue;
      s->nloc = k;
    }
    p->sample[fill++] = *s;
  }
  p->nsample = fill;
}

bool filter_show_from(tprof_t *p, regex_pat_t *rx) {
  if (!rx)
    return false;
  bool matched = false;
  for (size_t i = 0; i < p->nlocation; i++) {
    tp_location_t *l = p->location[i];
    l->mark = 0;
    if (l->mapping && regex_match_interned(rx, l->mapping->file)) {
      l->mark = 1;
    } else {
      for (int64_t j = (int64_t)l->nline - 1; j >= 0; j--)
        if (fn_matches(rx, l->line[j].fn)) {
          l->nline = (uint32_t)j + 1;
          l->mark = 1;
          break;
        }
    }
    matched |= l->mark != 0;
  }
  size_t fill = 0;
  for (size_t i = 0; i < p->nsample; i++) {
    tp_sample_t *s = &p->sample[i];
    for (int64_t j = (int64_t)s->nloc - 1; j >= 0; j--)
      if (s->loc[j]->mark) {
        s->nloc = (uint32_t)j + 1;
        p->sample[fill++] = *s;
        break;
      }
  }
  p->nsample = fill;
  return matched;
}

const char *filter_simplify_func(const char *name, char *buf, size_t n) {
  if (*name == '.')
    name++;
  size_t len = strlen(name), i = 0;
  while (i < len) {
    if (strncmp(name + i, "(anonymous namespace)", 21) == 0)
      i += 21;
    else if (strncmp(name + i, "operator()", 10) == 0)
      i += 10;
    else if (name[i] == '(')
      break;
    else
      i++;
  }
  if (i >= n)
    i = n - 1;
  memcpy(buf, name, i);
  buf[i] = '\0';
  return buf;
}

static bool simple_matches(regex_pat_t *r, const char *name) {
  char stack[512];
  size_t n = strlen(name) + 1;
  char *buf = n <= sizeof stack ? stack : xmalloc(n);
  bool m = regex_match(r, filter_simplify_func(name, buf, n));
  if (buf != stack)
    free(buf);
  return m;
}

void filter_prune_from(tprof_t *p, regex_pat_t *rx) {
  for (size_t i = 0; i < p->nlocation; i++) {
    tp_location_t *l = p->location[i];
    l->mark = 0;
    for (uint32_t j = 0; j < l->nline; j++) {
      const char *name = l->line[j].fn->name;
      if (*name && simple_matches(rx, name)) {
        l->mark = 1;
        memmove(l->line, l->line + j, (l->nline - j) * sizeof *l->line);
        l->nline -= j;
        break;
      }
    }
  }
  for (size_t i = 0; i < p->nsample; i++) {
    tp_sample_t *s = &p->sample[i];
    for (uint32_t j = 0; j < s->nloc; j++)
      if (s->loc[j]->mark) {
        memmove(s->loc, s->loc + j, (s->nloc - j) * sizeof *s->loc);
        s->nloc -= j;
        break;
      }
  }
}

enum { P_PRUNE = 1, P_BENEATH = 2 };

int filter_drop_frames(tprof_t *p, char *err, size_t errlen) {
  if (!*p->drop_frames)
    return 0;
  char *pat = xmalloc(strlen(p->drop_frames) + strlen(p->keep_frames) + 8);
  sprintf(pat, "^(%s)$", p->drop_frames);
  char sub[256];
  regex_pat_t *drop = regex_compile(pat, sub, sizeof sub), *keep = NULL;
  if (!drop) {
    snprintf(err, errlen, "failed to compile regexp %s: %s", p->drop_frames, sub);
    free(pat);
    return -1;
  }
  if (*p->keep_frames) {
    sprintf(pat, "^(%s)$", p->keep_frames);
    if (!(keep = regex_compile(pat, sub, sizeof sub))) {
      snprintf(err, errlen, "failed to compile regexp %s: %s", p->keep_frames, sub);
      regex_free(drop);
      free(pat);
      return -1;
    }
  }
  free(pat);
  for (size_t i = 0; i < p->nlocation; i++) {
    tp_location_t *l = p->location[i];
    l->mark = 0;
    int64_t j;
    for (j = (int64_t)l->nline - 1; j >= 0; j--) {
      const char *name = l->line[j].fn->name;
      if (*name && simple_matches(drop, name) && !(keep && simple_matches(keep, name)))
        break;
    }
    if (j >= 0) {
      l->mark = P_BENEATH;
      if (j == (int64_t)l->nline - 1) {
        l->mark |= P_PRUNE;
      } else {
        memmove(l->line, l->line + j + 1, (l->nline - (size_t)j - 1) * sizeof *l->line);
        l->nline -= (uint32_t)j + 1;
      }
    }
  }
  for (size_t i = 0; i < p->nsample; i++) {
    tp_sample_t *s = &p->sample[i];
    bool user = false;
    for (int64_t j = (int64_t)s->nloc - 1; j >= 0; j--) {
      uint32_t m = s->loc[j]->mark;
      if (!m) {
        user = true;
        continue;
      }
      if (!user)
        continue;
      size_t from = (m & P_PRUNE) ? (size_t)j + 1 : (size_t)j;
      memmove(s->loc, s->loc + from, (s->nloc - from) * sizeof *s->loc);
      s->nloc -= (uint32_t)from;
      break;
    }
  }
  regex_free(drop);
  regex_free(keep);
  return 0;
}

/* ------------------------------------------------------------------ label units --------------- */

const char *num_units_get(const num_units_t *u, const char *key) {
  for (size_t i = 0; i < u->n; i++)
    if (u->key[i] == key || strcmp(u->key[i], key) == 0)
      return u->unit[i];
  return mem_empty;
}

static ssize_t units_find(const num_units_t *u, const char *key) {
  for (size_t i = 0; i < u->n; i++)
    if (u->key[i] == key)
      return (ssize_t)i;
  return -1;
}

void filter_num_units(const tprof_t *p, num_units_t *u, void (*note)(const char *msg)) {
  size_t cap = 8;
  u->n = 0;
  u->key = xmalloc(cap * sizeof *u->key);
  u->unit = xmalloc(cap * sizeof *u->unit);
  const char *conflict_key[16], *conflict_unit[16];
  size_t nconf = 0;
  for (size_t i = 0; i < p->nsample; i++) {
    const tp_sample_t *s = &p->sample[i];
    for (uint32_t j = 0; j < s->nlabel; j++) {
      const tp_label_t *l = &s->label[j];
      if (l->str)
        continue;
      ssize_t k = units_find(u, l->key);
      if (k < 0) {
        if (u->n == cap) {
          cap *= 2;
          u->key = xrealloc(u->key, cap * sizeof *u->key);
          u->unit = xrealloc(u->unit, cap * sizeof *u->unit);
        }
        k = (ssize_t)u->n++;
        u->key[k] = l->key;
        u->unit[k] = mem_empty;
      }
      if (!*l->unit)
        continue;
      if (!*u->unit[k]) {
        u->unit[k] = l->unit;
      } else if (u->unit[k] != l->unit) {
        bool seen = false;
        for (size_t c = 0; c < nconf && !seen; c++)
          seen = conflict_key[c] == l->key && conflict_unit[c] == l->unit;
        if (!seen && nconf < 16) {
          conflict_key[nconf] = l->key;
          conflict_unit[nconf++] = l->unit;
        }
      }
    }
  }
  for (size_t i = 0; i < nconf && note; i++) {
    char msg[512];
    snprintf(msg, sizeof msg, "For tag %s used unit %s, also encountered unit(s) %s",
             conflict_key[i], num_units_get(u, conflict_key[i]), conflict_unit[i]);
    note(msg);
  }
  for (size_t i = 0; i < u->n; i++)
    if (!*u->unit[i])
      u->unit[i] =
          (!strcmp(u->key[i], "alignment") || !strcmp(u->key[i], "request")) ? "bytes" : u->key[i];
}

/* ------------------------------------------------------------------ tag filters --------------- */

enum { R_EQ, R_GE, R_LE, R_RANGE };

struct tag_filter {
  const char *want_key; /* NULL: any key */
  bool numeric;
  int kind;
  double lo, hi;
  const char *unit;
  const num_units_t *units;
  regex_pat_t **rx;
  size_t nrx;
};

/* One match of ([+-]?[[:digit:]]+)([[:alpha:]]+)? at or after *pos. */
typedef struct rmatch {
  size_t start, end;
  char num[32];
  char unit[32];
} rmatch_t;

static bool range_next(const char *s, size_t *pos, rmatch_t *m) {
  size_t n = strlen(s);
  for (size_t i = *pos; i < n; i++) {
    size_t j = i;
    if ((s[j] == '+' || s[j] == '-') && j + 1 < n && isdigit((unsigned char)s[j + 1]))
      j++;
    else if (!isdigit((unsigned char)s[j]))
      continue;
    while (j < n && isdigit((unsigned char)s[j]))
      j++;
    size_t dend = j;
    while (j < n && isalpha((unsigned char)s[j]))
      j++;
    m->start = i;
    m->end = j;
    snprintf(m->num, sizeof m->num, "%.*s", (int)(dend - i), s + i);
    snprintf(m->unit, sizeof m->unit, "%.*s", (int)(j - dend), s + dend);
    *pos = j;
    return true;
  }
  return false;
}

/* pprof's parseTagFilterRange: true when filter is a numeric range. */
static bool parse_range(const char *filter, tag_filter_t *f) {
  rmatch_t r[2];
  size_t pos = 0, n = 0;
  while (n < 2 && range_next(filter, &pos, &r[n]))
    n++;
  if (n == 0)
    return false;
  errno = 0;
  long long v = strtoll(r[0].num, NULL, 10);
  if (errno)
    return false;
  const char *u0;
  f->lo = measure_scale(v, r[0].unit, r[0].unit, &u0);
  f->unit = mem_intern_z(tp_mem(), u0);
  size_t l0 = r[0].end - r[0].start;
  size_t fl = strlen(filter);
  if (n == 1) {
    if (fl == l0)
      f->kind = R_EQ;
    else if (fl == l0 + 1 && filter[l0] == ':')
      f->kind = R_GE;
    else if (fl == l0 + 1 && filter[0] == ':')
      f->kind = R_LE;
    else
      return false;
    return true;
  }
  size_t l1 = r[1].end - r[1].start;
  if (!(r[0].start == 0 && filter[r[0].end] == ':' && r[1].start == r[0].end + 1 &&
        r[1].end == fl && fl == l0 + 1 + l1))
    return false;
  errno = 0;
  v = strtoll(r[1].num, NULL, 10);
  if (errno)
    return false;
  const char *u1;
  f->hi = measure_scale(v, r[1].unit, f->unit, &u1);
  if (strcmp(u1, f->unit) != 0)
    return false;
  f->kind = R_RANGE;
  return true;
}

tag_filter_t *filter_tag_compile(const char *name, const char *value, const num_units_t *units,
                                 void (*note)(const char *msg), char *err, size_t errlen,
                                 bool *failed) {
  *failed = false;
  if (!value || !*value)
    return NULL;
  tag_filter_t *f = xcalloc(1, sizeof *f);
  f->units = units;
  const char *eq = strchr(value, '=');
  if (eq) {
    f->want_key = mem_intern(tp_mem(), value, (size_t)(eq - value));
    value = eq + 1;
  }
  if (parse_range(value, f)) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s:Interpreted '%s' as range, not regexp", name, value);
    if (note)
      note(msg);
    f->numeric = true;
    return f;
  }
  const char *s = value;
  for (;;) {
    const char *comma = strchr(s, ',');
    size_t len = comma ? (size_t)(comma - s) : strlen(s);
    char *pat = xmalloc(len + 1);
    memcpy(pat, s, len);
    pat[len] = '\0';
    char sub[256];
    regex_pat_t *r = regex_compile(pat, sub, sizeof sub);
    free(pat);
    if (!r) {
      snprintf(err, errlen, "parsing %s regexp: %s", name, sub);
      filter_tag_free(f);
      *failed = true;
      return NULL;
    }
    f->rx = xrealloc(f->rx, (f->nrx + 1) * sizeof *f->rx);
    f->rx[f->nrx++] = r;
    if (!comma)
      break;
    s = comma + 1;
  }
  return f;
}

void filter_tag_free(tag_filter_t *f) {
  if (!f)
    return;
  for (size_t i = 0; i < f->nrx; i++)
    regex_free(f->rx[i]);
  free(f->rx);
  free(f);
}

static bool num_ok(const tag_filter_t *f, int64_t v, const char *unit) {
  const char *su;
  double sv = measure_scale(v, unit, f->unit, &su);
  if (strcmp(su, f->unit) != 0)
    return false;
  switch (f->kind) {
  case R_EQ:
    return sv == f->lo;
  case R_GE:
    return sv >= f->lo;
  case R_LE:
    return sv <= f->lo;
  default:
    return sv >= f->lo && sv <= f->hi;
  }
}

static bool tag_matches(const tag_filter_t *f, const tp_sample_t *s) {
  if (f->numeric) {
    for (uint32_t i = 0; i < s->nlabel; i++) {
      const tp_label_t *l = &s->label[i];
      if (l->str || (f->want_key && l->key != f->want_key))
        continue;
      if (num_ok(f, l->num, num_units_get(f->units, l->key)))
        return true;
    }
    return false;
  }
  char stack[512];
  if (!f->want_key) {
    for (size_t r = 0; r < f->nrx; r++) {
      bool any = false;
      for (uint32_t i = 0; i < s->nlabel && !any; i++) {
        const tp_label_t *l = &s->label[i];
        if (!l->str)
          continue;
        size_t n = strlen(l->key) + strlen(l->str) + 2;
        char *b = n <= sizeof stack ? stack : xmalloc(n);
        size_t kl = strlen(l->key);
        memcpy(b, l->key, kl);
        b[kl] = ':';
        memcpy(b + kl + 1, l->str, n - kl - 1);
        any = regex_match(f->rx[r], b);
        if (b != stack)
          free(b);
      }
      if (!any)
        return false;
    }
    return true;
  }
  bool has = false;
  for (uint32_t i = 0; i < s->nlabel; i++)
    has |= s->label[i].str && s->label[i].key == f->want_key;
  if (!has)
    return false;
  for (size_t r = 0; r < f->nrx; r++)
    for (uint32_t i = 0; i < s->nlabel; i++)
      if (s->label[i].str && s->label[i].key == f->want_key &&
          regex_match_interned(f->rx[r], s->label[i].str))
        return true;
  return false;
}

void filter_by_tag(tprof_t *p, tag_filter_t *focus, tag_filter_t *ignore, bool *fm, bool *im) {
  *fm = *im = false;
  size_t fill = 0;
  for (size_t i = 0; i < p->nsample; i++) {
    tp_sample_t *s = &p->sample[i];
    bool focused = focus ? tag_matches(focus, s) : true;
    bool ignored = ignore ? tag_matches(ignore, s) : false;
    *fm |= focused;
    *im |= ignored;
    if (focused && !ignored)
      p->sample[fill++] = *s;
  }
  p->nsample = fill;
}

void filter_tags_by_name(tprof_t *p, regex_pat_t *show, regex_pat_t *hide, bool *sm, bool *hm) {
  *sm = *hm = false;
  for (size_t i = 0; i < p->nsample; i++) {
    tp_sample_t *s = &p->sample[i];
    uint32_t k = 0;
    for (uint32_t j = 0; j < s->nlabel; j++) {
      const char *key = s->label[j].key;
      bool ms = !show || regex_match_interned(show, key);
      bool mh = hide && regex_match_interned(hide, key);
      *sm |= ms;
      *hm |= mh;
      if (ms && !mh)
        s->label[k++] = s->label[j];
    }
    s->nlabel = k;
  }
}

/* ------------------------------------------------------------------ aggregate ----------------- */

void filter_aggregate(tprof_t *p, bool inline_frame, bool function, bool filename, bool linenumber,
                      bool address) {
  for (size_t i = 0; i < p->nmapping; i++) {
    tp_mapping_t *m = p->mapping[i];
    m->has_inline_frames = m->has_inline_frames && inline_frame;
    m->has_functions = m->has_functions && function;
    m->has_filenames = m->has_filenames && filename;
    m->has_line_numbers = m->has_line_numbers && linenumber;
  }
  if (!function || !filename)
    for (size_t i = 0; i < p->nfunction; i++) {
      tp_function_t *f = p->function[i];
      if (!function)
        f->name = f->system_name = mem_empty;
      if (!filename)
        f->filename = mem_empty;
    }
  if (!inline_frame || !address || !linenumber)
    for (size_t i = 0; i < p->nlocation; i++) {
      tp_location_t *l = p->location[i];
      if (!inline_frame && l->nline > 1) {
        l->line += l->nline - 1;
        l->nline = 1;
      }
      if (!linenumber)
        for (uint32_t j = 0; j < l->nline; j++)
          l->line[j].line = 0;
      if (!address)
        l->address = 0;
    }
}
