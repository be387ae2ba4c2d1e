/*
 * stacktab.c — the stack → values hash table (see stacktab.h).
 *
 * Buckets double when the load passes one entry per bucket; the old bucket array stays in the
 * arena until the table is reset (it is small next to the entries).
 */
#include "runtime/stacktab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t stack_hash(uint32_t labels, const uintptr_t *pcs, uint32_t depth) {
  uint64_t h = (0xcbf29ce484222325ull ^ depth ^ (uint64_t)labels << 32) * 0x100000001b3ull;
  for (uint32_t i = 0; i < depth; i++) {
    h ^= (uint64_t)pcs[i];
    h *= 0x100000001b3ull;
    h ^= h >> 29;
  }
  return h;
}

static int grow(stacktab_t *t) {
  size_t n = t->nbuckets ? t->nbuckets * 2 : 1024;
  stacktab_entry_t **b = arena_alloc(&t->arena, n * sizeof *b);
  if (b == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < t->nbuckets; i++) {
    stacktab_entry_t *e = t->buckets[i];
    while (e) {
      stacktab_entry_t *next = e->next;
      size_t k = e->hash & (n - 1);
      e->next = b[k];
      b[k] = e;
      e = next;
    }
  }
  t->buckets = b;
  t->nbuckets = n;
  return 0;
}

int stacktab_add(stacktab_t *t, const uintptr_t *pcs, uint32_t depth, const int64_t *values,
                 size_t nvalues) {
  return stacktab_add_labeled(t, 0, pcs, depth, values, nvalues);
}

int stacktab_add_labeled(stacktab_t *t, uint32_t labels, const uintptr_t *pcs, uint32_t depth,
                         const int64_t *values, size_t nvalues) {
  if (t->nentries >= t->nbuckets && grow(t) != 0 && t->nbuckets == 0)
    return -ENOMEM;
  uint64_t h = stack_hash(labels, pcs, depth);
  stacktab_entry_t **slot = &t->buckets[h & (t->nbuckets - 1)];
  for (stacktab_entry_t *e = *slot; e; e = e->next) {
    if (e->hash == h && e->labels == labels && e->depth == depth &&
        memcmp(e->pcs, pcs, depth * sizeof *pcs) == 0) {
      for (size_t i = 0; i < nvalues; i++)
        e->values[i] += values[i];
      return 0;
    }
  }
  stacktab_entry_t *e = arena_alloc(&t->arena, sizeof *e + depth * sizeof *pcs);
  if (e == NULL)
    return -ENOMEM;
  e->hash = h;
  e->labels = labels;
  e->depth = depth;
  memcpy(e->pcs, pcs, depth * sizeof *pcs);
  for (size_t i = 0; i < nvalues; i++)
    e->values[i] = values[i];
  e->next = *slot;
  *slot = e;
  t->nentries++;
  return 0;
}

static int cmp_entries(const void *a, const void *b) {
  const stacktab_entry_t *x = *(stacktab_entry_t *const *)a;
  const stacktab_entry_t *y = *(stacktab_entry_t *const *)b;
  uint32_t n = x->depth < y->depth ? x->depth : y->depth;
  for (uint32_t i = 0; i < n; i++)
    if (x->pcs[i] != y->pcs[i])
      return x->pcs[i] < y->pcs[i] ? -1 : 1;
  if (x->depth != y->depth)
    return x->depth < y->depth ? -1 : 1;
  return x->labels < y->labels ? -1 : x->labels > y->labels;
}

void stacktab_sorted(const stacktab_t *t, stacktab_entry_t **out) {
  size_t n = 0;
  for (size_t i = 0; i < t->nbuckets; i++)
    for (stacktab_entry_t *e = t->buckets[i]; e; e = e->next)
      out[n++] = e;
  qsort(out, n, sizeof *out, cmp_entries);
}

void stacktab_reset(stacktab_t *t) {
  arena_reset(&t->arena);
  t->buckets = NULL;
  t->nbuckets = 0;
  t->nentries = 0;
}
