/*
 * stacktab.h — the table of distinct stacks and their accumulated values.
 *
 * The drain thread moves samples from the ring into this table: identical stacks are counted
 * together, so memory grows with the number of distinct stacks, not with the number of samples.
 * It is a chained hash table keyed by the stack's pcs and its label set (labels.h: samples of the
 * same stack under different labels stay apart, as Go keys its CPU samples), whose entries and
 * bucket array live in an arena (the runtime never uses the host's malloc for it). One owner at a
 * time; not thread-safe.
 */
#ifndef CPROF_RUNTIME_STACKTAB_H
#define CPROF_RUNTIME_STACKTAB_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/arena.h"

#define STACKTAB_VALUES 4

typedef struct stacktab_entry {
  struct stacktab_entry *next; /* hash chain */
  uint64_t hash;
  int64_t values[STACKTAB_VALUES];
  uint32_t labels; /* label set id, 0 for none */
  uint32_t depth;
  uintptr_t pcs[]; /* leaf first */
} stacktab_entry_t;

typedef struct stacktab {
  arena_t arena;
  stacktab_entry_t **buckets;
  size_t nbuckets;
  size_t nentries;
} stacktab_t;

/* Adds values (nvalues ≤ STACKTAB_VALUES) to the entry for the stack, creating it. 0 or -ENOMEM. */
int stacktab_add(stacktab_t *t, const uintptr_t *pcs, uint32_t depth, const int64_t *values,
                 size_t nvalues);

/* stacktab_add for the stack under label set labels (labels.h); stacktab_add is labels 0. */
int stacktab_add_labeled(stacktab_t *t, uint32_t labels, const uintptr_t *pcs, uint32_t depth,
                         const int64_t *values, size_t nvalues);

/*
 * Fills out (room for t->nentries pointers) with every entry, sorted by stack, then label set
 * (deterministic output: the same samples give the same profile bytes).
 */
void stacktab_sorted(const stacktab_t *t, stacktab_entry_t **out);

/* Empties the table and returns its memory. */
void stacktab_reset(stacktab_t *t);

#endif /* CPROF_RUNTIME_STACKTAB_H */
