/*
 * profiles.h — the profiles by name (profiles.c): what cprof_write_profile() and the HTTP plugin
 * (through core_api_t's count_* entries) reach by a profile's name.
 */
#ifndef CPROF_RUNTIME_PROFILES_H
#define CPROF_RUNTIME_PROFILES_H

#include <stddef.h>

/* The count profiles by name ("goroutine", "threads", "threadcreate", a user-defined one): see
 * core_api_t's count_snapshot, count_snapshot_free, count_write, count_of and count_custom. */
void *profiles_count_snapshot(const char *name);
void profiles_count_snapshot_free(void *snap);
int profiles_count_write(int fd, const void *snap, const void *base, int debug);
long profiles_count_of(const char *name);
size_t profiles_count_custom(const char **names, size_t max);

#endif /* CPROF_RUNTIME_PROFILES_H */
