/*
 * profile.c — the in-memory profile: building it, interning its strings, finding things by id,
 * and freeing it.
 *
 * A prof_t is pprof's Profile with its pointers replaced by ids and string indexes, exactly as on
 * the wire (see profile.h). Next to the public arrays, a private prof_priv_t (behind p->intern)
 * keeps what makes the model fast:
 *
 *  - the string index: an open-addressing table of (string index + 1, 32-bit hash) slots with
 *    linear probing, kept at most half full. It covers strings[0..nindexed); prof_intern first
 *    catches up with strings appended by someone else (a decoded table is indexed only on the
 *    first intern, and a duplicate in it maps to its first occurrence).
 *  - the capacities of the growable arrays, each remembered with the array pointer it belongs to,
 *    so an array the profile did not grow itself (a decoded one) is taken to be full and the next
 *    append reallocs. Callers may shrink an array in place by lowering its count; they must not
 *    free or replace the arrays (a new block at the old address would inherit a stale capacity).
 *  - the pool of a decoded profile: one block holding every sample's location ids, values and
 *    labels and every decoded string (see proto.c). prof_free frees what lies outside the pool and
 *    leaves what lies inside, so a caller may shrink a sample's counts in place or give it a fresh
 *    malloc'd array, but must never realloc or free an array it did not allocate.
 *  - the id indexes. Built profiles have ids index + 1, which lookups check first at no cost. For
 *    other ids, an index maps id to array position: "dense" when every id so far equals its index
 *    + 1 (no table needed), else an open-addressing table. prof_decode builds the indexes eagerly;
 *    otherwise the first lookup that misses the direct position builds or extends them, which is
 *    why a profile must not be looked up from several threads at once unless it came from
 *    prof_decode (or has dense ids). An index assumes ids already indexed are not changed in place.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/profile.h"
#include "format/wire.h"

typedef struct prof_strslot {
  uint32_t idx1; /* string index + 1; 0 = empty */
  uint32_t hash;
} prof_strslot_t;

typedef struct prof_ids {
  const void *arr; /* the array the index describes, and how many of its elements */
  size_t n;
  uint32_t *slot; /* position + 1; NULL while the ids are dense */
  size_t cap;     /* power of two */
} prof_ids_t;

typedef struct prof_priv {
  prof_strslot_t *slot;
  size_t nslot; /* power of two, or 0 */
  size_t nindexed;
  size_t strcap;
  const void *strarr;

  const void *arr[PROF_K_COUNT];
  size_t cap[PROF_K_COUNT];

  uint8_t *pool;
  size_t pool_len;

  prof_ids_t ids[3];
} prof_priv_t;

enum { IDS_MAPPING, IDS_LOCATION, IDS_FUNCTION };

static prof_priv_t *priv_of(const prof_t *p) { return (prof_priv_t *)p->intern; }

static bool in_pool(const prof_priv_t *pv, const void *ptr) {
  return pv->pool && (uintptr_t)ptr - (uintptr_t)pv->pool < pv->pool_len;
}

static void free_unpooled(const prof_priv_t *pv, void *ptr) {
  if (ptr && !in_pool(pv, ptr))
    free(ptr);
}

/* ------------------------------------------------------------------ lifetime ---------------- */

void prof_buf_free(prof_buf_t *b) {
  if (!b)
    return;
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

int wire_reserve(prof_buf_t *b, size_t n) {
  if (b->cap - b->len >= n)
    return 0;
  if (n > SIZE_MAX / 2 - b->len)
    return -ENOMEM;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap - b->len < n)
    cap *= 2;
  uint8_t *d = realloc(b->data, cap);
  if (!d)
    return -ENOMEM;
  b->data = d;
  b->cap = cap;
  return 0;
}

prof_t *prof_new(void) {
  prof_t *p = calloc(1, sizeof *p);
  prof_priv_t *pv = calloc(1, sizeof *pv);
  if (!p || !pv) {
    free(p);
    free(pv);
    return NULL;
  }
  p->intern = pv;
  if (prof_intern_len(p, "", 0) != 0) {
    prof_free(p);
    return NULL;
  }
  return p;
}

void prof_free(prof_t *p) {
  if (!p)
    return;
  prof_priv_t *pv = priv_of(p);
  for (size_t i = 0; i < p->nsample; i++) {
    free_unpooled(pv, p->sample[i].location_id);
    free_unpooled(pv, p->sample[i].value);
    free_unpooled(pv, p->sample[i].label);
  }
  for (size_t i = 0; i < p->nlocation; i++)
    free(p->location[i].line);
  for (size_t i = 0; i < p->nstrings; i++)
    free_unpooled(pv, p->strings[i]);
  free(p->sample_type);
  free(p->sample);
  free(p->mapping);
  free(p->location);
  free(p->function);
  free(p->strings);
  free(p->string_len);
  free(p->comment);
  free(pv->slot);
  free(pv->pool);
  for (int i = 0; i < 3; i++)
    free(pv->ids[i].slot);
  free(pv);
  free(p);
}

void prof_pool_adopt(prof_t *p, uint8_t *pool, size_t len) {
  prof_priv_t *pv = priv_of(p);
  free(pv->pool);
  pv->pool = pool;
  pv->pool_len = len;
}

void prof_strings_adopt(prof_t *p, char **strings, size_t *lens, size_t n) {
  prof_priv_t *pv = priv_of(p);
  for (size_t i = 0; i < p->nstrings; i++)
    free_unpooled(pv, p->strings[i]);
  free(p->strings);
  free(p->string_len);
  p->strings = strings;
  p->string_len = lens;
  p->nstrings = n;
  pv->strarr = strings;
  pv->strcap = n;
  free(pv->slot);
  pv->slot = NULL;
  pv->nslot = pv->nindexed = 0;
}

/* --------------------------------------------------------------- growable arrays ------------- */

/* Grows *arr (of n elements of size sz) so one more fits; the capacity is tracked in slot k. */
static int grow(prof_priv_t *pv, int k, void **arr, size_t n, size_t sz) {
  size_t cap = pv->arr[k] == *arr && *arr ? pv->cap[k] : n;
  if (n < cap)
    return 0;
  size_t ncap = cap < 8 ? 8 : cap * 2;
  if (ncap > SIZE_MAX / sz)
    return -ENOMEM;
  void *a = realloc(*arr, ncap * sz);
  if (!a)
    return -ENOMEM;
  *arr = a;
  pv->arr[k] = a;
  pv->cap[k] = ncap;
  return 0;
}

void *prof_push(prof_t *p, enum prof_kind kind) {
  prof_priv_t *pv = priv_of(p);
  void **arr;
  size_t *n, sz;
  switch (kind) {
  case PROF_K_SAMPLE_TYPE:
    arr = (void **)&p->sample_type, n = &p->nsample_type, sz = sizeof *p->sample_type;
    break;
  case PROF_K_SAMPLE:
    arr = (void **)&p->sample, n = &p->nsample, sz = sizeof *p->sample;
    break;
  case PROF_K_MAPPING:
    arr = (void **)&p->mapping, n = &p->nmapping, sz = sizeof *p->mapping;
    break;
  case PROF_K_LOCATION:
    arr = (void **)&p->location, n = &p->nlocation, sz = sizeof *p->location;
    break;
  case PROF_K_FUNCTION:
    arr = (void **)&p->function, n = &p->nfunction, sz = sizeof *p->function;
    break;
  case PROF_K_COMMENT:
    arr = (void **)&p->comment, n = &p->ncomment, sz = sizeof *p->comment;
    break;
  default:
    return NULL;
  }
  if (grow(pv, kind, arr, *n, sz) < 0)
    return NULL;
  char *e = (char *)*arr + *n * sz;
  memset(e, 0, sz);
  (*n)++;
  return e;
}

/* ------------------------------------------------------------------ strings ----------------- */

static uint64_t str_hash(const char *s, size_t n) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ n, w;
  while (n >= 8) {
    memcpy(&w, s, 8);
    h = (h ^ w) * 0xff51afd7ed558ccdull;
    h ^= h >> 32;
    s += 8;
    n -= 8;
  }
  w = 0;
  memcpy(&w, s, n);
  h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 29);
}

static size_t str_len_at(const prof_t *p, size_t i) {
  return p->string_len ? p->string_len[i] : strlen(p->strings[i]);
}

/* The slot holding string (s, len, h), or the empty slot where it belongs. */
static prof_strslot_t *str_probe(const prof_t *p, const char *s, size_t len, uint32_t h) {
  prof_priv_t *pv = priv_of(p);
  size_t mask = pv->nslot - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    prof_strslot_t *e = &pv->slot[i];
    if (!e->idx1)
      return e;
    size_t j = e->idx1 - 1;
    if (e->hash == h && str_len_at(p, j) == len && memcmp(p->strings[j], s, len) == 0)
      return e;
  }
}

static int str_table_grow(prof_t *p, size_t want) {
  prof_priv_t *pv = priv_of(p);
  if (want * 2 <= pv->nslot)
    return 0;
  size_t n = pv->nslot ? pv->nslot : 64;
  while (n < want * 2)
    n *= 2;
  if (n > ((size_t)1 << 33))
    return -ENOMEM;
  prof_strslot_t *t = calloc(n, sizeof *t);
  if (!t)
    return -ENOMEM;
  for (size_t i = 0; i < pv->nslot; i++) {
    prof_strslot_t e = pv->slot[i];
    if (!e.idx1)
      continue;
    size_t k = e.hash & (n - 1);
    while (t[k].idx1)
      k = (k + 1) & (n - 1);
    t[k] = e;
  }
  free(pv->slot);
  pv->slot = t;
  pv->nslot = n;
  return 0;
}

/* Indexes strings appended behind the index's back (a decoded table, for one). */
static int str_catch_up(prof_t *p) {
  prof_priv_t *pv = priv_of(p);
  if (pv->nindexed > p->nstrings)
    pv->nindexed = 0, pv->nslot = 0, free(pv->slot), pv->slot = NULL;
  if (pv->nindexed == p->nstrings)
    return 0;
  if (p->nstrings >= UINT32_MAX || str_table_grow(p, p->nstrings + 1) < 0)
    return -ENOMEM;
  for (size_t i = pv->nindexed; i < p->nstrings; i++) {
    const char *s = p->strings[i] ? p->strings[i] : "";
    size_t len = p->strings[i] ? str_len_at(p, i) : 0;
    uint32_t h = (uint32_t)str_hash(s, len);
    prof_strslot_t *e = str_probe(p, s, len, h);
    if (!e->idx1)
      e->idx1 = (uint32_t)(i + 1), e->hash = h;
  }
  pv->nindexed = p->nstrings;
  return 0;
}

static int str_append(prof_t *p, const char *s, size_t len) {
  prof_priv_t *pv = priv_of(p);
  size_t n = p->nstrings, cap = pv->strarr == p->strings && p->strings ? pv->strcap : n;
  if (n == cap) {
    size_t ncap = cap < 16 ? 16 : cap * 2;
    char **a = realloc(p->strings, ncap * sizeof *a);
    if (!a)
      return -ENOMEM;
    p->strings = a;
    size_t *l = realloc(p->string_len, ncap * sizeof *l);
    if (!l)
      return -ENOMEM; /* strings grew, string_len did not: cap stays stale, retried next time */
    p->string_len = l;
    pv->strarr = a;
    pv->strcap = ncap;
  }
  char *c = malloc(len + 1);
  if (!c)
    return -ENOMEM;
  if (len)
    memcpy(c, s, len);
  c[len] = '\0';
  p->strings[n] = c;
  p->string_len[n] = len;
  p->nstrings = n + 1;
  return 0;
}

int64_t prof_intern_len(prof_t *p, const char *s, size_t len) {
  if (!s)
    s = "", len = 0;
  if (str_catch_up(p) < 0 || str_table_grow(p, p->nstrings + 1) < 0)
    return -1;
  uint32_t h = (uint32_t)str_hash(s, len);
  prof_strslot_t *e = str_probe(p, s, len, h);
  if (e->idx1)
    return e->idx1 - 1;
  if (p->nstrings >= UINT32_MAX - 1 || str_append(p, s, len) < 0)
    return -1;
  e->idx1 = (uint32_t)p->nstrings;
  e->hash = h;
  priv_of(p)->nindexed = p->nstrings;
  return (int64_t)p->nstrings - 1;
}

int64_t prof_intern(prof_t *p, const char *s) { return prof_intern_len(p, s, s ? strlen(s) : 0); }

const char *prof_str(const prof_t *p, int64_t i) {
  if (!p || i < 0 || (uint64_t)i >= p->nstrings || !p->strings[i])
    return "";
  return p->strings[i];
}

/* ------------------------------------------------------------------- adding ------------------ */

prof_mapping_t *prof_add_mapping(prof_t *p) {
  prof_mapping_t *m = prof_push(p, PROF_K_MAPPING);
  if (m)
    m->id = p->nmapping;
  return m;
}

prof_function_t *prof_add_function(prof_t *p) {
  prof_function_t *f = prof_push(p, PROF_K_FUNCTION);
  if (f)
    f->id = p->nfunction;
  return f;
}

prof_location_t *prof_add_location(prof_t *p) {
  prof_location_t *l = prof_push(p, PROF_K_LOCATION);
  if (l)
    l->id = p->nlocation;
  return l;
}

int prof_location_add_line(prof_location_t *loc, uint64_t function_id, int64_t line) {
  prof_line_t *a = realloc(loc->line, (loc->nline + 1) * sizeof *a);
  if (!a)
    return -ENOMEM;
  a[loc->nline] = (prof_line_t){.function_id = function_id, .line = line};
  loc->line = a;
  loc->nline++;
  return 0;
}

static int intern_pair(prof_t *p, const char *a, const char *b, prof_value_type_t *vt) {
  int64_t x = prof_intern(p, a), y = prof_intern(p, b);
  if (x < 0 || y < 0)
    return -ENOMEM;
  vt->type = x;
  vt->unit = y;
  return 0;
}

int prof_add_sample_type(prof_t *p, const char *type, const char *unit) {
  prof_value_type_t vt;
  if (intern_pair(p, type, unit, &vt) < 0)
    return -ENOMEM;
  prof_value_type_t *e = prof_push(p, PROF_K_SAMPLE_TYPE);
  if (!e)
    return -ENOMEM;
  *e = vt;
  return 0;
}

int prof_set_period_type(prof_t *p, const char *type, const char *unit) {
  return intern_pair(p, type, unit, &p->period_type);
}

int prof_add_comment(prof_t *p, const char *text) {
  int64_t i = prof_intern(p, text);
  if (i < 0)
    return -ENOMEM;
  int64_t *c = prof_push(p, PROF_K_COMMENT);
  if (!c)
    return -ENOMEM;
  *c = i;
  return 0;
}

static void *dup_array(const void *src, size_t n, size_t sz, bool *fail) {
  if (n == 0)
    return NULL;
  void *d = n <= SIZE_MAX / sz ? malloc(n * sz) : NULL;
  if (!d)
    *fail = true;
  else
    memcpy(d, src, n * sz);
  return d;
}

prof_sample_t *prof_add_sample(prof_t *p, const uint64_t *location_id, size_t nlocation,
                               const int64_t *value, size_t nvalue) {
  if (nvalue != p->nsample_type) {
    errno = EINVAL;
    return NULL;
  }
  bool fail = false;
  uint64_t *loc = dup_array(location_id, nlocation, sizeof *loc, &fail);
  int64_t *val = dup_array(value, nvalue, sizeof *val, &fail);
  prof_sample_t *s = fail ? NULL : prof_push(p, PROF_K_SAMPLE);
  if (!s) {
    free(loc);
    free(val);
    errno = ENOMEM;
    return NULL;
  }
  s->location_id = loc;
  s->nlocation = nlocation;
  s->value = val;
  s->nvalue = nvalue;
  return s;
}

static int sample_add_label(prof_t *p, prof_sample_t *s, prof_label_t lab) {
  prof_priv_t *pv = priv_of(p);
  prof_label_t *a;
  if (in_pool(pv, s->label)) {
    a = malloc((s->nlabel + 1) * sizeof *a);
    if (a)
      memcpy(a, s->label, s->nlabel * sizeof *a);
  } else {
    a = realloc(s->label, (s->nlabel + 1) * sizeof *a);
  }
  if (!a)
    return -ENOMEM;
  a[s->nlabel++] = lab;
  s->label = a;
  return 0;
}

int prof_sample_add_label_str(prof_t *p, prof_sample_t *s, const char *key, const char *value) {
  int64_t k = prof_intern(p, key), v = prof_intern(p, value);
  if (k < 0 || v < 0)
    return -ENOMEM;
  return sample_add_label(p, s, (prof_label_t){.key = k, .str = v});
}

int prof_sample_add_label_num(prof_t *p, prof_sample_t *s, const char *key, int64_t num,
                              const char *unit) {
  int64_t k = prof_intern(p, key), u = unit && *unit ? prof_intern(p, unit) : 0;
  if (k < 0 || u < 0)
    return -ENOMEM;
  return sample_add_label(p, s, (prof_label_t){.key = k, .num = num, .num_unit = u});
}

/* ------------------------------------------------------------------ ids ---------------------- */

/* Every element of the three arrays starts with its uint64_t id. */
static uint64_t id_at(const void *arr, size_t size, size_t i) {
  uint64_t id;
  memcpy(&id, (const char *)arr + i * size, sizeof id);
  return id;
}

static size_t id_hash(uint64_t id) {
  id ^= id >> 33;
  id *= 0xff51afd7ed558ccdull;
  id ^= id >> 33;
  return (size_t)id;
}

/* Inserts position i; -EEXIST when its id is 0 or already present (the first one stays). */
static int ids_insert(prof_ids_t *ix, const void *arr, size_t size, size_t i) {
  uint64_t id = id_at(arr, size, i);
  if (id == 0)
    return -EEXIST;
  size_t mask = ix->cap - 1;
  for (size_t k = id_hash(id) & mask;; k = (k + 1) & mask) {
    if (!ix->slot[k]) {
      ix->slot[k] = (uint32_t)(i + 1);
      return 0;
    }
    if (id_at(arr, size, ix->slot[k] - 1) == id)
      return -EEXIST;
  }
}

/* Rehashes positions [0, n) into a table of at least 2n slots. */
static int ids_rehash(prof_ids_t *ix, const void *arr, size_t size, size_t n, size_t *bad) {
  size_t cap = 64;
  while (cap < 2 * n)
    cap *= 2;
  if (n >= UINT32_MAX)
    return -ENOMEM;
  uint32_t *t = calloc(cap, sizeof *t);
  if (!t)
    return -ENOMEM;
  free(ix->slot);
  ix->slot = t;
  ix->cap = cap;
  int rc = 0;
  for (size_t i = 0; i < n; i++)
    if (ids_insert(ix, arr, size, i) < 0 && rc == 0)
      rc = -EEXIST, *bad = i;
  return rc;
}

/*
 * Brings the index up to date with (arr, n), assuming the ids it already covers are unchanged.
 * -EEXIST sets *bad to the position of the first zero or duplicate id.
 */
static int ids_update(prof_ids_t *ix, const void *arr, size_t size, size_t n, size_t *bad) {
  size_t from = ix->n <= n ? ix->n : 0, i;
  if (from == 0) {
    free(ix->slot);
    ix->slot = NULL;
  }
  ix->arr = arr;
  ix->n = n;
  if (!ix->slot) {
    for (i = from; i < n && id_at(arr, size, i) == i + 1; i++)
      ;
    if (i == n)
      return 0;
    return ids_rehash(ix, arr, size, n, bad);
  }
  if (2 * n > ix->cap)
    return ids_rehash(ix, arr, size, n, bad);
  for (i = from; i < n; i++)
    if (ids_insert(ix, arr, size, i) < 0) {
      *bad = i;
      return -EEXIST;
    }
  return 0;
}

static const void *ids_find(const prof_t *p, int which, const void *arr, size_t n, size_t size,
                            uint64_t id) {
  if (id == 0 || n == 0)
    return NULL;
  if (id - 1 < n && id_at(arr, size, id - 1) == id)
    return (const char *)arr + (id - 1) * size;
  prof_ids_t *ix = &priv_of(p)->ids[which];
  size_t bad;
  if ((ix->arr != arr || ix->n != n) && ids_update(ix, arr, size, n, &bad) == -ENOMEM) {
    ix->arr = NULL, ix->n = 0;
    for (size_t i = 0; i < n; i++)
      if (id_at(arr, size, i) == id)
        return (const char *)arr + i * size;
    return NULL;
  }
  if (!ix->slot)
    return NULL;
  size_t mask = ix->cap - 1;
  for (size_t k = id_hash(id) & mask; ix->slot[k]; k = (k + 1) & mask)
    if (id_at(arr, size, ix->slot[k] - 1) == id)
      return (const char *)arr + (ix->slot[k] - 1) * size;
  return NULL;
}

const prof_mapping_t *prof_mapping_by_id(const prof_t *p, uint64_t id) {
  return ids_find(p, IDS_MAPPING, p->mapping, p->nmapping, sizeof *p->mapping, id);
}

const prof_location_t *prof_location_by_id(const prof_t *p, uint64_t id) {
  return ids_find(p, IDS_LOCATION, p->location, p->nlocation, sizeof *p->location, id);
}

const prof_function_t *prof_function_by_id(const prof_t *p, uint64_t id) {
  return ids_find(p, IDS_FUNCTION, p->function, p->nfunction, sizeof *p->function, id);
}

int prof_ids_build(prof_t *p, const char **what, uint64_t *bad_id) {
  static const char *const names[3] = {"mapping", "location", "function"};
  const void *arr[3] = {p->mapping, p->location, p->function};
  size_t n[3] = {p->nmapping, p->nlocation, p->nfunction};
  size_t sz[3] = {sizeof *p->mapping, sizeof *p->location, sizeof *p->function};
  prof_priv_t *pv = priv_of(p);
  for (int k = 0; k < 3; k++) {
    size_t bad = 0;
    pv->ids[k].arr = NULL;
    pv->ids[k].n = 0;
    int rc = ids_update(&pv->ids[k], arr[k], sz[k], n[k], &bad);
    if (rc < 0) {
      *what = names[k];
      *bad_id = rc == -EEXIST ? id_at(arr[k], sz[k], bad) : 0;
      pv->ids[k].arr = NULL; /* rebuilt on the next lookup */
      return rc;
    }
  }
  return 0;
}

/* -------------------------------------------------------------- validation ------------------ */

/* Writes "not a profile: ..." into err and returns rc. */
static int check_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int check_fail(char *err, size_t errlen, int rc, const char *fmt, ...) {
  if (err && errlen) {
    int n = snprintf(err, errlen, "not a profile: ");
    if (n >= 0 && (size_t)n < errlen) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
      va_end(ap);
    }
  }
  return rc;
}

typedef struct check {
  const prof_t *p;
  char *err;
  size_t errlen;
} check_t;

/* Whether string index i exists; else fails naming what held it ("function 3 name"). */
static int chk_str(check_t *c, int64_t i, const char *what, uint64_t which, const char *field) {
  if (i >= 0 && (uint64_t)i < c->p->nstrings)
    return 0;
  char ctx[64] = "";
  if (what)
    snprintf(ctx, sizeof ctx, "%s %" PRIu64 " ", what, which);
  return check_fail(c->err, c->errlen, -EINVAL,
                    "%s%s: string index %" PRId64 " out of range (%zu strings)", ctx, field, i,
                    c->p->nstrings);
}

static int chk_profile_strings(check_t *c) {
  const prof_t *p = c->p;
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < p->nsample_type; i++)
    if ((rc = chk_str(c, p->sample_type[i].type, "sample_type", i, "type")) == 0)
      rc = chk_str(c, p->sample_type[i].unit, "sample_type", i, "unit");
  for (size_t i = 0; rc == 0 && i < p->ncomment; i++)
    rc = chk_str(c, p->comment[i], "comment", i, "text");
  const struct {
    int64_t v;
    const char *name;
  } top[] = {{p->drop_frames, "drop_frames"},
             {p->keep_frames, "keep_frames"},
             {p->period_type.type, "period_type type"},
             {p->period_type.unit, "period_type unit"},
             {p->default_sample_type, "default_sample_type"},
             {p->doc_url, "doc_url"}};
  for (size_t i = 0; rc == 0 && i < sizeof top / sizeof *top; i++)
    rc = chk_str(c, top[i].v, NULL, 0, top[i].name);
  return rc;
}

static int chk_samples(check_t *c) {
  const prof_t *p = c->p;
  int rc = 0;
  for (size_t i = 0; i < p->nsample; i++) {
    const prof_sample_t *s = &p->sample[i];
    if (s->nvalue != p->nsample_type)
      return check_fail(c->err, c->errlen, -EINVAL,
                        "sample %zu has %zu values but there are %zu sample types", i, s->nvalue,
                        p->nsample_type);
    for (size_t j = 0; j < s->nlocation; j++) {
      uint64_t id = s->location_id[j];
      if (id - 1 < p->nlocation && p->location[id - 1].id == id)
        continue; /* the common case, without a call */
      if (!prof_location_by_id(p, id))
        return check_fail(c->err, c->errlen, -EINVAL,
                          "sample %zu refers to location %" PRIu64 ", which does not exist", i, id);
    }
    for (size_t j = 0; rc == 0 && j < s->nlabel; j++) {
      const prof_label_t *l = &s->label[j];
      if ((rc = chk_str(c, l->key, "sample", i, "label key")) == 0 &&
          (rc = chk_str(c, l->str, "sample", i, "label str")) == 0)
        rc = chk_str(c, l->num_unit, "sample", i, "label num_unit");
    }
    if (rc < 0)
      return rc;
  }
  return 0;
}

static int chk_tables(check_t *c) {
  const prof_t *p = c->p;
  int rc = 0;
  for (size_t i = 0; rc == 0 && i < p->nmapping; i++) {
    const prof_mapping_t *m = &p->mapping[i];
    if ((rc = chk_str(c, m->filename, "mapping", m->id, "filename")) == 0)
      rc = chk_str(c, m->build_id, "mapping", m->id, "build_id");
  }
  for (size_t i = 0; rc == 0 && i < p->nfunction; i++) {
    const prof_function_t *f = &p->function[i];
    if ((rc = chk_str(c, f->name, "function", f->id, "name")) == 0 &&
        (rc = chk_str(c, f->system_name, "function", f->id, "system_name")) == 0)
      rc = chk_str(c, f->filename, "function", f->id, "filename");
  }
  for (size_t i = 0; rc == 0 && i < p->nlocation; i++) {
    const prof_location_t *l = &p->location[i];
    if (l->mapping_id && !prof_mapping_by_id(p, l->mapping_id))
      return check_fail(c->err, c->errlen, -EINVAL,
                        "location %" PRIu64 " refers to mapping %" PRIu64 ", which does not exist",
                        l->id, l->mapping_id);
    for (size_t j = 0; j < l->nline; j++)
      if (!prof_function_by_id(p, l->line[j].function_id))
        return check_fail(c->err, c->errlen, -EINVAL,
                          "location %" PRIu64 " line %zu refers to function %" PRIu64
                          ", which does not exist",
                          l->id, j, l->line[j].function_id);
  }
  return rc;
}

int prof_check(prof_t *p, char *err, size_t errlen) {
  check_t c = {p, err, errlen};
  if (p->nstrings == 0 || !p->strings[0] || str_len_at(p, 0) != 0)
    return check_fail(err, errlen, -EINVAL, "the string table does not start with \"\"");
  if (p->nsample && !p->nsample_type)
    return check_fail(err, errlen, -EINVAL, "missing sample type information");
  const char *what = "";
  uint64_t bad = 0;
  int rc = prof_ids_build(p, &what, &bad);
  if (rc == -EEXIST)
    return check_fail(err, errlen, -EINVAL, "%s id %" PRIu64 " is %s", what, bad,
                      bad ? "repeated" : "reserved (0)");
  if (rc < 0)
    return check_fail(err, errlen, rc, "out of memory");
  if ((rc = chk_profile_strings(&c)) < 0 || (rc = chk_tables(&c)) < 0)
    return rc;
  return chk_samples(&c);
}
