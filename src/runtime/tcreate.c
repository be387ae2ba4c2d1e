/*
 * tcreate.c — the threadcreate profile (see tcreate.h).
 *
 * tcreate_lock guards the table and the total; it is taken by the pthread_create hook of any
 * thread and by the snapshot, never in a signal handler, and nothing done under it creates a
 * thread or calls malloc (the table's memory comes from its arena), so it cannot be re-entered.
 * In a fork child the lock is re-initialized: a parent thread may have held it. A creation that
 * finds no memory for a new stack is counted in the total alone.
 */
#include "runtime/tcreate.h"

#include <pthread.h>
#include <stdatomic.h>

#include "runtime/stacktab.h"

static pthread_mutex_t tcreate_lock = PTHREAD_MUTEX_INITIALIZER;
static stacktab_t tcreate_tab;
static _Atomic long tcreate_n;

static void tcreate_after_fork_child(void) { pthread_mutex_init(&tcreate_lock, NULL); }

static void tcreate_register_atfork(void) { pthread_atfork(NULL, NULL, tcreate_after_fork_child); }

void tcreate_count(const uintptr_t *pcs, uint32_t depth) {
  static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
  pthread_once(&atfork_once, tcreate_register_atfork);
  int64_t one = 1;
  pthread_mutex_lock(&tcreate_lock);
  stacktab_add(&tcreate_tab, pcs, depth, &one, 1);
  atomic_fetch_add(&tcreate_n, 1);
  pthread_mutex_unlock(&tcreate_lock);
}

long tcreate_total(void) { return atomic_load(&tcreate_n); }

count_snap_t *tcreate_snapshot(void) {
  pthread_mutex_lock(&tcreate_lock);
  count_snap_t *s = count_snap_new("threadcreate", tcreate_tab.nentries);
  int rc = s != NULL ? 0 : -1;
  for (size_t i = 0; i < tcreate_tab.nbuckets && rc == 0; i++)
    for (stacktab_entry_t *e = tcreate_tab.buckets[i]; e != NULL && rc == 0; e = e->next)
      rc = count_snap_add(s, e->pcs, e->depth, 0, e->values[0]);
  pthread_mutex_unlock(&tcreate_lock);
  if (rc != 0) {
    count_snap_free(s);
    return NULL;
  }
  count_snap_finish(s);
  return s;
}
