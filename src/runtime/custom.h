/*
 * custom.h — the user-defined profiles (cprof_profile_new and friends in cprof.h), as Go's
 * pprof.NewProfile: named sets of keys, each with the stack that added it.
 */
#ifndef CPROF_RUNTIME_CUSTOM_H
#define CPROF_RUNTIME_CUSTOM_H

#include <stddef.h>

#include "cprof.h"
#include "runtime/countprof.h"

#define CUSTOM_NAME_MAX 128 /* bytes of a profile's name */

/* A snapshot of profile p, finished, named after it; NULL when out of memory. */
count_snap_t *custom_snapshot(cprof_profile_t *p);

/* Fills names (up to max) with the profiles' names, oldest first (they live as long as the
 * process) and returns how many profiles there are. */
size_t custom_names(const char **names, size_t max);

#endif /* CPROF_RUNTIME_CUSTOM_H */
