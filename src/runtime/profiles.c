/*
 * profiles.c — the named profiles, as Go's pprof.Lookup(name).WriteTo(w, debug): one table of the
 * built-in profiles the core can write, and cprof_write_profile over it (cprof.h).
 *
 * Each row is a name and a writer taking (fd, debug); a profile that Go serves under two names
 * (goroutine and threads) has two rows. Adding a built-in profile is adding a row here. A name
 * that no row has may be a user-defined profile (custom.c).
 *
 * The count profiles (goroutine, threadcreate, the user-defined ones) are also reached by name
 * from the HTTP plugin, as snapshots it can hold across a delta's sleep (profiles.h).
 */
#include "runtime/profiles.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cprof.h"
#include "runtime/countprof.h"
#include "runtime/custom.h"
#include "runtime/ext.h"
#include "runtime/heap.h"
#include "runtime/sync.h"
#include "runtime/tcreate.h"
#include "runtime/threadsprof.h"

/* The return address of the cprof_write_profile call in progress on this thread: the threads
 * profile begins the calling thread's stack there. */
static __thread uintptr_t tls_caller;

typedef struct profile_row {
  const char *name;
  int (*write)(int fd, int debug);
} profile_row_t;

static int write_heap_as(int fd, int debug, bool allocs) {
  void *snap = heap_snapshot();
  if (snap == NULL)
    return -ENOMEM;
  int rc = heap_write(fd, snap, NULL, debug != 0 ? 1 : 0, allocs);
  heap_snapshot_free(snap);
  return rc;
}

static int write_heap(int fd, int debug) { return write_heap_as(fd, debug, false); }
static int write_allocs(int fd, int debug) { return write_heap_as(fd, debug, true); }

static int write_sync_as(int fd, int debug, int which) {
  void *snap = sync_snapshot(which);
  if (snap == NULL)
    return -ENOMEM;
  int rc = sync_write(fd, snap, NULL, debug != 0 ? 1 : 0);
  sync_snapshot_free(snap);
  return rc;
}

static int write_block(int fd, int debug) { return write_sync_as(fd, debug, SYNC_BLOCK); }
static int write_mutex(int fd, int debug) { return write_sync_as(fd, debug, SYNC_MUTEX); }

/* Writes a count snapshot and frees it. */
static int write_count(count_snap_t *s, int fd, int debug) {
  if (s == NULL)
    return -ENOMEM;
  int rc = count_write(fd, s, NULL, debug);
  count_snap_free(s);
  return rc;
}

static int write_threads(int fd, int debug) {
  if (ext_get() == NULL)
    return -ENOENT; /* nothing could write the dump: do not take it */
  return write_count(threadsprof_snapshot(tls_caller), fd, debug);
}

static int write_threadcreate(int fd, int debug) {
  return write_count(tcreate_snapshot(), fd, debug);
}

static const profile_row_t profile_rows[] = {
    {"allocs", write_allocs},
    {"block", write_block},
    {"goroutine", write_threads},
    {"heap", write_heap},
    {"mutex", write_mutex},
    {"threadcreate", write_threadcreate},
    {"threads", write_threads},
};

CPROF_API int cprof_write_profile(const char *name, int fd, int debug) {
  if (name == NULL || fd < 0 || debug < 0)
    return -EINVAL;
  tls_caller = (uintptr_t)__builtin_return_address(0);
  for (size_t i = 0; i < sizeof profile_rows / sizeof profile_rows[0]; i++)
    if (strcmp(profile_rows[i].name, name) == 0)
      return profile_rows[i].write(fd, debug);
  cprof_profile_t *p = cprof_profile_lookup(name);
  return p != NULL ? write_count(custom_snapshot(p), fd, debug) : -ENOENT;
}

/* ------------------------------------------------------------ for the HTTP plugin --------- */

void *profiles_count_snapshot(const char *name) {
  if (strcmp(name, "goroutine") == 0 || strcmp(name, "threads") == 0)
    return threadsprof_snapshot(0);
  if (strcmp(name, "threadcreate") == 0)
    return tcreate_snapshot();
  cprof_profile_t *p = cprof_profile_lookup(name);
  return p != NULL ? custom_snapshot(p) : NULL;
}

void profiles_count_snapshot_free(void *snap) { count_snap_free(snap); }

int profiles_count_write(int fd, const void *snap, const void *base, int debug) {
  return count_write(fd, snap, base, debug);
}

long profiles_count_of(const char *name) {
  if (strcmp(name, "goroutine") == 0 || strcmp(name, "threads") == 0)
    return threadsprof_count();
  if (strcmp(name, "threadcreate") == 0)
    return tcreate_total();
  cprof_profile_t *p = cprof_profile_lookup(name);
  return p != NULL ? cprof_profile_count(p) : -ENOENT;
}

size_t profiles_count_custom(const char **names, size_t max) { return custom_names(names, max); }
