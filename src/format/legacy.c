/*
 * legacy.c — the ground the legacy readers stand on: Go's line scanner, string and number rules,
 * and the profile under construction (lg_t) with its conversion to a prof_t.
 *
 * Go's rules matter because pprof's readers are written with them and their edge cases decide what
 * a file means: a count "010" is octal 8 to strconv.ParseInt(s, 0, 64), a line ending in "\r\n"
 * loses the "\r", a non-breaking space is white space to strings.TrimSpace, a line of 64 KiB stops
 * bufio.Scanner with an error. Each helper here states the Go function it stands for.
 *
 * The lg_t keeps locations as pprof's readers create them (one per distinct address, in order of
 * creation, indexed by an open-addressing table on the address), samples as ranges of a shared
 * array of location indexes, and mappings with their own copies of the file names (the map text
 * may be rewritten by attribute substitution, see maps.c). lg_finish turns it into a prof_t whose
 * ids are positions + 1, with the frame-dropping expressions pprof attaches to legacy profiles.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format/legacy.h"

/* ------------------------------------------------------------------ lines -------------------- */

void lg_scan_init(lg_scan_t *s, const char *data, size_t len) {
  memset(s, 0, sizeof *s);
  s->data = data;
  s->len = len;
  s->line = "";
}

bool lg_scan_next(lg_scan_t *s) {
  s->line = "";
  s->line_len = 0;
  if (s->done || s->pos >= s->len) {
    s->done = true;
    return false;
  }
  const char *start = s->data + s->pos;
  size_t left = s->len - s->pos;
  const char *nl = memchr(start, '\n', left);
  size_t n = nl ? (size_t)(nl - start) : left;
  if (n > LG_MAX_LINE) {
    s->done = s->too_long = true;
    s->lineno++;
    return false;
  }
  s->pos += n + (nl != NULL);
  s->lineno++;
  s->line = start;
  s->line_len = n > 0 && start[n - 1] == '\r' ? n - 1 : n;
  return true;
}

/* ------------------------------------------------------------ Go's helpers ------------------- */

/* The UTF-8 encodings of the white-space code points above ASCII (unicode.IsSpace). */
static const char *const uspace[] = {"\xc2\x85",     "\xc2\xa0",     "\xe1\x9a\x80", "\xe2\x80\x80",
                                     "\xe2\x80\x81", "\xe2\x80\x82", "\xe2\x80\x83", "\xe2\x80\x84",
                                     "\xe2\x80\x85", "\xe2\x80\x86", "\xe2\x80\x87", "\xe2\x80\x88",
                                     "\xe2\x80\x89", "\xe2\x80\x8a", "\xe2\x80\xa8", "\xe2\x80\xa9",
                                     "\xe2\x80\xaf", "\xe2\x81\x9f", "\xe3\x80\x80"};

static bool ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* The length of the white-space rune s starts (at_end: ends) with, or 0. */
static size_t space_len(lg_str_t s, bool at_end) {
  if (s.n == 0)
    return 0;
  if (ascii_space(at_end ? s.s[s.n - 1] : s.s[0]))
    return 1;
  for (size_t i = 0; i < sizeof uspace / sizeof *uspace; i++) {
    size_t k = strlen(uspace[i]);
    if (k <= s.n && memcmp(at_end ? s.s + s.n - k : s.s, uspace[i], k) == 0)
      return k;
  }
  return 0;
}

lg_str_t go_trim_space(lg_str_t s) {
  size_t k;
  while ((k = space_len(s, false)) > 0)
    s.s += k, s.n -= k;
  while ((k = space_len(s, true)) > 0)
    s.n -= k;
  return s;
}

bool go_space_or_comment(lg_str_t s) {
  s = go_trim_space(s);
  return s.n == 0 || s.s[0] == '#';
}

bool go_has_prefix(lg_str_t s, const char *prefix) {
  size_t k = strlen(prefix);
  return s.n >= k && memcmp(s.s, prefix, k) == 0;
}

bool go_contains(lg_str_t s, const char *sub) {
  size_t k = strlen(sub);
  if (k > s.n)
    return false;
  for (size_t i = 0; i + k <= s.n; i++)
    if (s.s[i] == sub[0] && memcmp(s.s + i, sub, k) == 0)
      return true;
  return false;
}

bool go_str_eq(lg_str_t a, lg_str_t b) { return a.n == b.n && memcmp(a.s, b.s, a.n) == 0; }

static char lower(char c) { return (char)(c | ('x' - 'X')); }

/* Go's underscoreOK: underscores only between digits (a base prefix counting as a digit). */
static bool underscore_ok(lg_str_t s) {
  char saw = '^';
  size_t i = 0;
  if (s.n >= 1 && (s.s[0] == '-' || s.s[0] == '+'))
    s.s++, s.n--;
  bool hex = false;
  if (s.n >= 2 && s.s[0] == '0' &&
      (lower(s.s[1]) == 'b' || lower(s.s[1]) == 'o' || lower(s.s[1]) == 'x')) {
    i = 2;
    saw = '0';
    hex = lower(s.s[1]) == 'x';
  }
  for (; i < s.n; i++) {
    char c = s.s[i];
    if ((c >= '0' && c <= '9') || (hex && lower(c) >= 'a' && lower(c) <= 'f')) {
      saw = '0';
    } else if (c == '_') {
      if (saw != '0')
        return false;
      saw = '_';
    } else {
      if (saw == '_')
        return false;
      saw = '!';
    }
  }
  return saw != '_';
}

int go_parse_uint(lg_str_t s, int base, uint64_t *out) {
  lg_str_t s0 = s;
  bool base0 = base == 0, underscores = false;
  if (s.n == 0)
    return -1;
  if (base0) {
    base = 10;
    if (s.s[0] == '0') {
      char p = s.n >= 3 ? lower(s.s[1]) : 0;
      size_t skip = 1;
      base = 8;
      if (p == 'b')
        base = 2, skip = 2;
      else if (p == 'o')
        skip = 2;
      else if (p == 'x')
        base = 16, skip = 2;
      s.s += skip, s.n -= skip;
    }
  }
  uint64_t n = 0, cutoff = UINT64_MAX / (uint64_t)base + 1;
  for (size_t i = 0; i < s.n; i++) {
    char c = s.s[i];
    unsigned d;
    if (c == '_' && base0) {
      underscores = true;
      continue;
    } else if (c >= '0' && c <= '9') {
      d = (unsigned)(c - '0');
    } else if (lower(c) >= 'a' && lower(c) <= 'z') {
      d = (unsigned)(lower(c) - 'a') + 10;
    } else {
      return -1;
    }
    if (d >= (unsigned)base || n >= cutoff)
      return -1;
    n *= (uint64_t)base;
    if (n + d < n)
      return -1;
    n += d;
  }
  if (underscores && !underscore_ok(s0))
    return -1;
  *out = n;
  return 0;
}

int go_parse_int(lg_str_t s, int base, int64_t *out) {
  bool neg = false;
  uint64_t u;
  if (s.n == 0)
    return -1;
  if (s.s[0] == '+' || s.s[0] == '-') {
    neg = s.s[0] == '-';
    s.s++, s.n--;
  }
  if (go_parse_uint(s, base, &u) < 0)
    return -1;
  if ((!neg && u > (uint64_t)INT64_MAX) || (neg && u > (uint64_t)INT64_MAX + 1))
    return -1;
  *out = neg ? (int64_t)(0 - u) : (int64_t)u;
  return 0;
}

int64_t go_f2i(double f) {
  if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0))
    return INT64_MIN;
  return (int64_t)f;
}

bool lg_is_map_sentinel(lg_str_t line) {
  return go_contains(line, "--- Memory map: ---") || go_contains(line, "MAPPED_LIBRARIES:");
}

/* ------------------------------------------------------------ the profile -------------------- */

void lg_init(lg_t *g, char *err, size_t errlen) {
  memset(g, 0, sizeof *g);
  g->err = err;
  g->errlen = errlen;
}

void lg_free(lg_t *g) {
  for (size_t i = 0; i < g->nmap; i++) {
    free(g->map[i].file);
    free(g->map[i].build_id);
  }
  free(g->map);
  free(g->loc);
  free(g->slot);
  free(g->stk);
  free(g->smp);
  free(g->owned_type);
  rx_scratch_free(&g->rx);
  memset(g, 0, sizeof *g);
}

int lg_fail(lg_t *g, int rc, const char *fmt, ...) {
  if (g->err && g->errlen) {
    int n = snprintf(g->err, g->errlen, "not a profile: ");
    if (n >= 0 && (size_t)n < g->errlen) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(g->err + n, g->errlen - (size_t)n, fmt, ap);
      va_end(ap);
    }
  }
  return rc;
}

/* Makes room for one more element of size sz in *arr (n used, *cap allocated). */
static int grow(void **arr, size_t n, size_t *cap, size_t sz) {
  if (n < *cap)
    return 0;
  size_t c = *cap ? *cap * 2 : 64;
  void *a = c <= SIZE_MAX / sz ? realloc(*arr, c * sz) : NULL;
  if (!a)
    return -ENOMEM;
  *arr = a;
  *cap = c;
  return 0;
}

static size_t addr_hash(uint64_t a) {
  a ^= a >> 31;
  a *= 0x9e3779b97f4a7c15ull;
  return (size_t)(a ^ (a >> 29));
}

static int slots_grow(lg_t *g) {
  size_t n = g->nslot ? g->nslot * 2 : 256;
  uint32_t *t = calloc(n, sizeof *t);
  if (!t)
    return -ENOMEM;
  for (size_t i = 0; i < g->nloc; i++) {
    size_t k = addr_hash(g->loc[i].addr) & (n - 1);
    while (t[k])
      k = (k + 1) & (n - 1);
    t[k] = (uint32_t)(i + 1);
  }
  free(g->slot);
  g->slot = t;
  g->nslot = n;
  return 0;
}

int64_t lg_loc(lg_t *g, uint64_t addr) {
  if (2 * (g->nloc + 1) > g->nslot && slots_grow(g) < 0)
    return -1;
  size_t mask = g->nslot - 1, k = addr_hash(addr) & mask;
  for (; g->slot[k]; k = (k + 1) & mask)
    if (g->loc[g->slot[k] - 1].addr == addr)
      return g->slot[k] - 1;
  if (g->nloc >= UINT32_MAX - 1 || grow((void **)&g->loc, g->nloc, &g->loc_cap, sizeof *g->loc) < 0)
    return -1;
  g->loc[g->nloc] = (lg_loc_t){.addr = addr};
  g->slot[k] = (uint32_t)(g->nloc + 1);
  return (int64_t)g->nloc++;
}

lg_sample_t *lg_sample_new(lg_t *g, const int64_t *v, size_t nv) {
  if (grow((void **)&g->smp, g->nsmp, &g->smp_cap, sizeof *g->smp) < 0)
    return NULL;
  lg_sample_t *s = &g->smp[g->nsmp++];
  memset(s, 0, sizeof *s);
  s->off = g->nstk;
  memcpy(s->v, v, nv * sizeof *v);
  return s;
}

int lg_push_loc(lg_t *g, uint32_t li) {
  if (grow((void **)&g->stk, g->nstk, &g->stk_cap, sizeof *g->stk) < 0)
    return -ENOMEM;
  g->stk[g->nstk++] = li;
  g->smp[g->nsmp - 1].n++;
  return 0;
}

int lg_push_addr(lg_t *g, uint64_t addr) {
  int64_t li = lg_loc(g, addr);
  return li < 0 ? -ENOMEM : lg_push_loc(g, (uint32_t)li);
}

static char *dup_str(lg_str_t s) {
  char *c = malloc(s.n + 1);
  if (c) {
    if (s.n)
      memcpy(c, s.s, s.n);
    c[s.n] = '\0';
  }
  return c;
}

lg_map_t *lg_map_add(lg_t *g, lg_str_t file, lg_str_t build_id) {
  char *f = dup_str(file), *b = dup_str(build_id);
  if (!f || !b || grow((void **)&g->map, g->nmap, &g->map_cap, sizeof *g->map) < 0) {
    free(f);
    free(b);
    return NULL;
  }
  lg_map_t *m = &g->map[g->nmap++];
  *m = (lg_map_t){.file = f, .build_id = b, .file_len = file.n, .build_id_len = build_id.n};
  return m;
}

void lg_drop_duplicate_leaf(lg_t *g) {
  for (size_t i = 0; i < g->nsmp; i++) {
    lg_sample_t *s = &g->smp[i];
    uint32_t *k = s->n > 1 ? g->stk + s->off : NULL;
    if (k && g->loc[k[0]].addr == g->loc[k[1]].addr + 1) {
      memmove(k + 1, k + 2, (s->n - 2) * sizeof *k);
      s->n--;
    }
  }
}

static pthread_mutex_t rx_lock = PTHREAD_MUTEX_INITIALIZER;

int lg_find(lg_t *g, lg_rx_t *rx, lg_str_t line, size_t *cap) {
  int state = __atomic_load_n(&rx->state, __ATOMIC_ACQUIRE);
  if (state == 0) {
    pthread_mutex_lock(&rx_lock);
    if ((state = rx->state) == 0) {
      state = rx_compile(&rx->rx, rx->pattern) < 0 ? -1 : 1;
      __atomic_store_n(&rx->state, state, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&rx_lock);
  }
  if (state < 0)
    return lg_fail(g, -EINVAL, "internal error: bad pattern %s", rx->pattern);
  int r = rx_find(&rx->rx, &g->rx, line.s, line.n, cap);
  if (r < 0)
    lg_fail(g, r, "out of memory");
  return r;
}

lg_str_t lg_group(lg_str_t line, const size_t *cap, int k) {
  if (cap[2 * k] == RX_UNSET)
    return (lg_str_t){"", 0};
  return (lg_str_t){line.s + cap[2 * k], cap[2 * k + 1] - cap[2 * k]};
}

/* ---------------------------------------------------------- frames to drop ------------------- */

/*
 * The frames pprof hides in legacy profiles (its addLegacyFrameInfo): allocator frames in heap
 * profiles (except the Go runtime frames that matter), lock internals in contention profiles, the
 * profiler's own signal-handler frames in the others. Kept as pprof spells them, since a profile
 * read here and written back out carries them in drop_frames and keep_frames.
 */
static const char *const drop_alloc[] = {"calloc",
                                         "cfree",
                                         "malloc",
                                         "free",
                                         "memalign",
                                         "do_memalign",
                                         "(__)?posix_memalign",
                                         "pvalloc",
                                         "valloc",
                                         "realloc",
                                         "tcmalloc::.*",
                                         "tc_calloc",
                                         "tc_cfree",
                                         "tc_malloc",
                                         "tc_free",
                                         "tc_memalign",
                                         "tc_posix_memalign",
                                         "tc_pvalloc",
                                         "tc_valloc",
                                         "tc_realloc",
                                         "tc_new",
                                         "tc_delete",
                                         "tc_newarray",
                                         "tc_deletearray",
                                         "tc_new_nothrow",
                                         "tc_newarray_nothrow",
                                         "malloc_zone_malloc",
                                         "malloc_zone_calloc",
                                         "malloc_zone_valloc",
                                         "malloc_zone_realloc",
                                         "malloc_zone_memalign",
                                         "malloc_zone_free",
                                         "runtime\\..*",
                                         "BaseArena::.*",
                                         "(::)?do_malloc_no_errno",
                                         "(::)?do_malloc_pages",
                                         "(::)?do_malloc",
                                         "DoSampledAllocation",
                                         "MallocedMemBlock::MallocedMemBlock",
                                         "_M_allocate",
                                         "__builtin_(vec_)?delete",
                                         "__builtin_(vec_)?new",
                                         "__gnu_cxx::new_allocator::allocate",
                                         "__libc_malloc",
                                         "__malloc_alloc_template::allocate",
                                         "allocate",
                                         "cpp_alloc",
                                         "operator new(\\[\\])?",
                                         "simple_alloc::allocate",
                                         NULL};
static const char *const keep_alloc[] = {"runtime\\.panic", "runtime\\.reflectcall",
                                         "runtime\\.call[0-9]*", NULL};
static const char *const drop_cpu[] = {"ProfileData::Add",
                                       "ProfileData::prof_handler",
                                       "CpuProfiler::prof_handler",
                                       "__pthread_sighandler",
                                       "__restore",
                                       NULL};
static const char *const drop_lock[] = {"RecordLockProfileData",
                                        "(base::)?RecordLockProfileData.*",
                                        "(base::)?SubmitMutexProfileData.*",
                                        "(base::)?SubmitSpinLockProfileData.*",
                                        "(base::Mutex::)?AwaitCommon.*",
                                        "(base::Mutex::)?Unlock.*",
                                        "(base::Mutex::)?UnlockSlow.*",
                                        "(base::Mutex::)?ReaderUnlock.*",
                                        "(base::MutexLock::)?~MutexLock.*",
                                        "(Mutex::)?AwaitCommon.*",
                                        "(Mutex::)?Unlock.*",
                                        "(Mutex::)?UnlockSlow.*",
                                        "(Mutex::)?ReaderUnlock.*",
                                        "(MutexLock::)?~MutexLock.*",
                                        "(SpinLock::)?Unlock.*",
                                        "(SpinLock::)?SlowUnlock.*",
                                        "(SpinLockHolder::)?~SpinLockHolder.*",
                                        NULL};

/* The alternatives joined with '|', interned; the string index or -1. */
static int64_t intern_alternatives(prof_t *p, const char *const *alt) {
  size_t n = 0;
  for (size_t i = 0; alt[i]; i++)
    n += strlen(alt[i]) + 1;
  char *s = malloc(n + 1), *q = s;
  if (!s)
    return -1;
  for (size_t i = 0; alt[i]; i++) {
    if (i)
      *q++ = '|';
    size_t k = strlen(alt[i]);
    memcpy(q, alt[i], k);
    q += k;
  }
  *q = '\0';
  int64_t r = prof_intern(p, s);
  free(s);
  return r;
}

/* Whether the sample types are one of the heap profiles' lists (pprof's heapzSampleTypes). */
static bool heap_types(const lg_t *g) {
  static const char *const lists[][5] = {
      {"allocations", "size"},
      {"objects", "space"},
      {"inuse_objects", "inuse_space"},
      {"alloc_objects", "alloc_space"},
      {"alloc_objects", "alloc_space", "inuse_objects", "inuse_space"}};
  for (size_t l = 0; l < sizeof lists / sizeof *lists; l++) {
    size_t n = 0;
    while (n < 5 && lists[l][n])
      n++;
    if (n != g->ntypes)
      continue;
    size_t i = 0;
    while (i < n && strcmp(g->type[i][0], lists[l][i]) == 0)
      i++;
    if (i == n)
      return true;
  }
  return false;
}

static int set_frames(const lg_t *g, prof_t *p) {
  const char *const *drop = drop_cpu, *const *keep = NULL;
  if (heap_types(g))
    drop = drop_alloc, keep = keep_alloc;
  else if (g->ntypes == 2 && strcmp(g->type[0][0], "contentions") == 0 &&
           strcmp(g->type[1][0], "delay") == 0)
    drop = drop_lock;
  p->drop_frames = intern_alternatives(p, drop);
  p->keep_frames = keep ? intern_alternatives(p, keep) : 0;
  return p->drop_frames < 0 || p->keep_frames < 0 ? -ENOMEM : 0;
}

/* ------------------------------------------------------------------ finish ------------------ */

static int finish_tables(const lg_t *g, prof_t *p) {
  for (size_t i = 0; i < g->nmap; i++) {
    const lg_map_t *m = &g->map[i];
    int64_t f = prof_intern_len(p, m->file, m->file_len);
    int64_t b = prof_intern_len(p, m->build_id, m->build_id_len);
    prof_mapping_t *pm = f < 0 || b < 0 ? NULL : prof_add_mapping(p);
    if (!pm)
      return -ENOMEM;
    pm->memory_start = m->start;
    pm->memory_limit = m->limit;
    pm->file_offset = m->offset;
    pm->filename = f;
    pm->build_id = b;
  }
  for (size_t i = 0; i < g->nloc; i++) {
    prof_location_t *l = prof_add_location(p);
    if (!l)
      return -ENOMEM;
    l->address = g->loc[i].addr;
    l->mapping_id = g->loc[i].map;
  }
  return 0;
}

static int finish_samples(const lg_t *g, prof_t *p) {
  uint64_t *ids = NULL;
  size_t cap = 0;
  int rc = 0;
  for (size_t i = 0; i < g->nsmp && rc == 0; i++) {
    const lg_sample_t *s = &g->smp[i];
    if (s->n > cap) {
      uint64_t *a = realloc(ids, s->n * sizeof *a);
      if (!a) {
        rc = -ENOMEM;
        break;
      }
      ids = a;
      cap = s->n;
    }
    for (size_t k = 0; k < s->n; k++)
      ids[k] = (uint64_t)g->stk[s->off + k] + 1;
    prof_sample_t *ps = prof_add_sample(p, ids, s->n, s->v, g->ntypes);
    if (!ps)
      rc = -ENOMEM;
    else if (s->has_bytes)
      rc = prof_sample_add_label_num(p, ps, "bytes", s->bytes, NULL);
  }
  free(ids);
  return rc;
}

int lg_finish(lg_t *g, prof_t **out) {
  prof_t *p = prof_new();
  int rc = p ? 0 : -ENOMEM;
  for (size_t i = 0; rc == 0 && i < g->ntypes; i++)
    rc = prof_add_sample_type(p, g->type[i][0], g->type[i][1]);
  if (rc == 0)
    rc = prof_set_period_type(p, g->period_type[0], g->period_type[1]);
  if (rc == 0) {
    p->period = g->period;
    p->duration_nanos = g->duration_nanos;
    rc = set_frames(g, p);
  }
  if (rc == 0)
    rc = finish_tables(g, p);
  if (rc == 0)
    rc = finish_samples(g, p);
  if (rc < 0) {
    prof_free(p);
    return lg_fail(g, rc, "out of memory");
  }
  *out = p;
  return 0;
}
