/*
 * tcreate.h — the threadcreate profile: the stack of every pthread_create the program made.
 *
 * The pthread_create hook (threads.c) counts each successful creation under its caller's stack,
 * in a table of distinct stacks (stacktab.c) in memory from the kernel, behind a mutex: threads
 * are created rarely, and the hook runs in ordinary context. The counts are exact: every
 * creation is one count, however many share a stack. Creations made inside the profiler (its
 * HTTP server, its background thread) are not the program's and are not counted.
 */
#ifndef CPROF_RUNTIME_TCREATE_H
#define CPROF_RUNTIME_TCREATE_H

#include <stdint.h>

#include "runtime/countprof.h"

/* Counts one creation from the stack pcs (return addresses, leaf first). */
void tcreate_count(const uintptr_t *pcs, uint32_t depth);

/* A snapshot of the profile, finished, named "threadcreate"; NULL when out of memory. */
count_snap_t *tcreate_snapshot(void);

/* The number of creations counted (the index page's count). */
long tcreate_total(void);

#endif /* CPROF_RUNTIME_TCREATE_H */
