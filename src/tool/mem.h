/*
 * mem.h — memory for the cprof command: an arena, a string interner and a hash of 64-bit keys.
 *
 * The command builds one profile, reports on it and exits, so nothing it makes is freed one piece
 * at a time: every node, edge, sample copy and string lives in a mem_t arena (chunks of at least
 * 1 MiB, bump-allocated, freed together). Strings are interned: equal strings are the same pointer,
 * so the layers above compare names with == and hash them by address, and sort them with strcmp.
 * Allocation failure is fatal here (the command reports "out of memory" and exits 2): a profile
 * analysis that ran out of memory has nothing sensible left to do.
 */
#ifndef CPROF_TOOL_MEM_H
#define CPROF_TOOL_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct mem mem_t;

/* A new arena with its interner. Never NULL (exits on failure). */
mem_t *mem_new(void);
void mem_free(mem_t *m);

/* n bytes aligned to 8, zeroed when zero is set. Never NULL. */
void *mem_alloc(mem_t *m, size_t n);
void *mem_zalloc(mem_t *m, size_t n);
/* A copy of n elements of size sz. */
void *mem_dup(mem_t *m, const void *src, size_t n, size_t sz);

/* The interned copy of s[0..len) (NUL-terminated); "" is the same pointer as mem_empty. */
const char *mem_intern(mem_t *m, const char *s, size_t len);
const char *mem_intern_z(mem_t *m, const char *s);
/* printf into a fresh interned string. */
const char *mem_printf(mem_t *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
extern const char mem_empty[];

/* Exits with "cprof: out of memory". */
_Noreturn void mem_oom(void);
/* malloc/realloc that exit on failure, for the growable vectors outside the arena. */
void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
void *xcalloc(size_t n, size_t sz);

/* 64-bit hash mixing (splitmix64 finalizer). */
static inline uint64_t mem_mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}
static inline uint64_t mem_hash_add(uint64_t h, uint64_t v) {
  return mem_mix(h ^ (v + 0x9e3779b97f4a7c15ULL + (h << 6)));
}
uint64_t mem_hash_bytes(const void *p, size_t n);

/*
 * A table from 64-bit hashes to 32-bit values (indexes into the caller's array). The caller
 * resolves collisions: mem_tab_find walks every slot with that hash through a cursor.
 */
typedef struct mem_tab {
  uint64_t *hash; /* 0 = empty (hashes are forced non-zero) */
  uint32_t *val;
  size_t cap, n;
} mem_tab_t;

void mem_tab_init(mem_tab_t *t, size_t expect);
void mem_tab_free(mem_tab_t *t);
/* Starts a lookup of h; then mem_tab_next returns each candidate value, or -1 at the end. */
typedef struct mem_tab_it {
  size_t pos;
  uint64_t h;
} mem_tab_it_t;
mem_tab_it_t mem_tab_start(const mem_tab_t *t, uint64_t h);
int64_t mem_tab_next(const mem_tab_t *t, mem_tab_it_t *it);
void mem_tab_put(mem_tab_t *t, uint64_t h, uint32_t v);

#endif /* CPROF_TOOL_MEM_H */
