/*
 * tables.h — the unwind tables that every sampler reads.
 *
 * The SIGPROF handler and the allocation hooks both walk stacks with the set of unwind tables
 * published here (unwind.h). A reader brackets its walk with tables_enter/tables_exit, which count
 * readers in flight; a writer swaps in a new set and frees the old one once it has seen no reader
 * in flight after the swap (a grace period), so a set is never freed under a walk. Building a set
 * is the extension's work (libdw), done outside any handler or hook, by tables_ensure when a
 * profiler starts and by tables_refresh, which the background thread runs to pick up libraries
 * loaded since (dlopen).
 */
#ifndef CPROF_RUNTIME_TABLES_H
#define CPROF_RUNTIME_TABLES_H

#include "runtime/ext.h"
#include "runtime/unwind.h"

/* Begins a walk: the current set (NULL before the first build). Async-signal-safe. */
const unwind_set_t *tables_enter(void);

/* Ends the walk begun by tables_enter. Async-signal-safe. */
void tables_exit(void);

/* Builds the first set if there is none, and registers tables_refresh with the background
 * thread. 0 or a negative errno (then walks follow frame pointers only). */
int tables_ensure(const ext_api_t *ext);

/* Rebuilds the set when libraries were loaded since the last build. */
void tables_refresh(void);

#endif /* CPROF_RUNTIME_TABLES_H */
