/*
 * mem.c — the command's arena, string interner and hash table (see mem.h).
 *
 * The arena is a list of chunks; an allocation larger than a quarter chunk gets a chunk of its
 * own so big arrays do not waste the tail of the current one. The interner is an open-addressing
 * table of string pointers with their full hashes, at most half full, its strings copied into the
 * arena.
 */
#include "tool/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK ((size_t)1 << 20)

typedef struct chunk {
  struct chunk *next;
  size_t used, cap;
  _Alignas(16) unsigned char data[];
} chunk_t;

typedef struct islot {
  const char *s;
  uint64_t h;
  size_t len;
} islot_t;

struct mem {
  chunk_t *cur;  /* the chunk being bumped */
  chunk_t *full; /* the others */
  islot_t *slot;
  size_t nslot, nstr;
};

const char mem_empty[1] = "";

_Noreturn void mem_oom(void) {
  fputs("cprof: out of memory\n", stderr);
  exit(2);
}

void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p)
    mem_oom();
  return p;
}

void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q)
    mem_oom();
  return q;
}

void *xcalloc(size_t n, size_t sz) {
  void *p = calloc(n ? n : 1, sz ? sz : 1);
  if (!p)
    mem_oom();
  return p;
}

mem_t *mem_new(void) { return xcalloc(1, sizeof(mem_t)); }

void mem_free(mem_t *m) {
  if (!m)
    return;
  for (chunk_t *c = m->full, *n; c; c = n) {
    n = c->next;
    free(c);
  }
  free(m->cur);
  free(m->slot);
  free(m);
}

static chunk_t *chunk_new(size_t cap) {
  chunk_t *c = xmalloc(sizeof *c + cap);
  c->next = NULL;
  c->used = 0;
  c->cap = cap;
  return c;
}

void *mem_alloc(mem_t *m, size_t n) {
  n = (n + 7) & ~(size_t)7;
  if (n > CHUNK / 4) {
    chunk_t *c = chunk_new(n);
    c->used = n;
    c->next = m->full;
    m->full = c;
    return c->data;
  }
  if (!m->cur || m->cur->cap - m->cur->used < n) {
    if (m->cur) {
      m->cur->next = m->full;
      m->full = m->cur;
    }
    m->cur = chunk_new(CHUNK);
  }
  void *p = m->cur->data + m->cur->used;
  m->cur->used += n;
  return p;
}

void *mem_zalloc(mem_t *m, size_t n) {
  void *p = mem_alloc(m, n);
  memset(p, 0, n);
  return p;
}

void *mem_dup(mem_t *m, const void *src, size_t n, size_t sz) {
  if (n == 0)
    return NULL;
  void *p = mem_alloc(m, n * sz);
  memcpy(p, src, n * sz);
  return p;
}

uint64_t mem_hash_bytes(const void *p, size_t n) {
  /* FNV-1a over 8-byte words, then mixed: fast enough for names. */
  const unsigned char *b = p;
  uint64_t h = 0xcbf29ce484222325ULL ^ n;
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, b, 8);
    h = (h ^ w) * 0x100000001b3ULL;
    h ^= h >> 29;
    b += 8;
    n -= 8;
  }
  uint64_t w = 0;
  memcpy(&w, b, n);
  h = (h ^ w) * 0x100000001b3ULL;
  return mem_mix(h);
}

static void intern_grow(mem_t *m) {
  size_t ncap = m->nslot ? m->nslot * 2 : 1024;
  islot_t *ns = xcalloc(ncap, sizeof *ns);
  for (size_t i = 0; i < m->nslot; i++) {
    if (!m->slot[i].s)
      continue;
    size_t k = m->slot[i].h & (ncap - 1);
    while (ns[k].s)
      k = (k + 1) & (ncap - 1);
    ns[k] = m->slot[i];
  }
  free(m->slot);
  m->slot = ns;
  m->nslot = ncap;
}

const char *mem_intern(mem_t *m, const char *s, size_t len) {
  if (len == 0)
    return mem_empty;
  if (2 * (m->nstr + 1) > m->nslot)
    intern_grow(m);
  uint64_t h = mem_hash_bytes(s, len);
  size_t k = h & (m->nslot - 1);
  for (; m->slot[k].s; k = (k + 1) & (m->nslot - 1))
    if (m->slot[k].h == h && m->slot[k].len == len && memcmp(m->slot[k].s, s, len) == 0)
      return m->slot[k].s;
  char *c = mem_alloc(m, len + 1);
  memcpy(c, s, len);
  c[len] = '\0';
  m->slot[k] = (islot_t){c, h, len};
  m->nstr++;
  return c;
}

const char *mem_intern_z(mem_t *m, const char *s) { return mem_intern(m, s, s ? strlen(s) : 0); }

const char *mem_printf(mem_t *m, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0)
    return mem_empty;
  if ((size_t)n < sizeof buf)
    return mem_intern(m, buf, (size_t)n);
  char *big = xmalloc((size_t)n + 1);
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  const char *r = mem_intern(m, big, (size_t)n);
  free(big);
  return r;
}

/* ------------------------------------------------------------------ hash table ---------------- */

void mem_tab_init(mem_tab_t *t, size_t expect) {
  size_t cap = 16;
  while (cap < expect * 2)
    cap *= 2;
  t->hash = xcalloc(cap, sizeof *t->hash);
  t->val = xmalloc(cap * sizeof *t->val);
  t->cap = cap;
  t->n = 0;
}

void mem_tab_free(mem_tab_t *t) {
  free(t->hash);
  free(t->val);
  t->hash = NULL;
  t->val = NULL;
  t->cap = t->n = 0;
}

static inline uint64_t fix(uint64_t h) { return h ? h : 1; }

mem_tab_it_t mem_tab_start(const mem_tab_t *t, uint64_t h) {
  h = fix(h);
  return (mem_tab_it_t){h & (t->cap - 1), h};
}

int64_t mem_tab_next(const mem_tab_t *t, mem_tab_it_t *it) {
  while (t->hash[it->pos]) {
    size_t k = it->pos;
    it->pos = (it->pos + 1) & (t->cap - 1);
    if (t->hash[k] == it->h)
      return t->val[k];
  }
  return -1;
}

static void tab_grow(mem_tab_t *t) {
  mem_tab_t n;
  mem_tab_init(&n, t->cap);
  for (size_t i = 0; i < t->cap; i++) {
    if (!t->hash[i])
      continue;
    size_t k = t->hash[i] & (n.cap - 1);
    while (n.hash[k])
      k = (k + 1) & (n.cap - 1);
    n.hash[k] = t->hash[i];
    n.val[k] = t->val[i];
  }
  n.n = t->n;
  mem_tab_free(t);
  *t = n;
}

void mem_tab_put(mem_tab_t *t, uint64_t h, uint32_t v) {
  if (2 * (t->n + 1) > t->cap)
    tab_grow(t);
  h = fix(h);
  size_t k = h & (t->cap - 1);
  while (t->hash[k])
    k = (k + 1) & (t->cap - 1);
  t->hash[k] = h;
  t->val[k] = v;
  t->n++;
}
