/*
 * keysort.h — sorting snapshot entries by their leading pointer, without the allocator.
 *
 * The heap and contention snapshots (heap.c, synctab.c) are arrays of entries that begin with a
 * pointer to their bucket or record, sorted by that pointer's address so that two snapshots can be
 * walked side by side for a delta. qsort may call malloc, and a snapshot may be taken where the
 * allocator must not be entered, so this is a shell sort of its own. Async-signal-safe.
 */
#ifndef CPROF_RUNTIME_KEYSORT_H
#define CPROF_RUNTIME_KEYSORT_H

#include <stddef.h>

#define KEYSORT_MAX_ENTRY 64 /* bytes: the largest entry keysort_by_ptr takes */

/* Sorts n entries of size bytes each (size <= KEYSORT_MAX_ENTRY, checked by the callers at
 * compile time), each beginning with a pointer, by that pointer's address. */
void keysort_by_ptr(void *base, size_t n, size_t size);

#endif /* CPROF_RUNTIME_KEYSORT_H */
