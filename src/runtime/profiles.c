/*
 * profiles.c — the named profiles, as Go's pprof.Lookup(name).WriteTo(w, debug): one table of the
 * built-in profiles the core can write, and cprof_write_profile over it (cprof.h).
 *
 * Each row is a name and a writer taking (fd, debug); a profile that Go serves under two names
 * (goroutine and threads) has two rows. Adding a built-in profile is adding a row here.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "cprof.h"
#include "runtime/heap.h"
#include "runtime/sync.h"

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

static const profile_row_t profile_rows[] = {
    {"allocs", write_allocs},
    {"block", write_block},
    {"heap", write_heap},
    {"mutex", write_mutex},
};

CPROF_API int cprof_write_profile(const char *name, int fd, int debug) {
  if (name == NULL || fd < 0 || debug < 0)
    return -EINVAL;
  for (size_t i = 0; i < sizeof profile_rows / sizeof profile_rows[0]; i++)
    if (strcmp(profile_rows[i].name, name) == 0)
      return profile_rows[i].write(fd, debug);
  return -ENOENT;
}
