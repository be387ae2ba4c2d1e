/*
 * tables.c — publishing unwind tables to the samplers (see tables.h).
 *
 * tables_lock serializes writers; readers take no lock. The reader count and the set pointer are
 * accessed seq_cst on both sides, so a reader that entered after a swap sees the new set, and the
 * writer's wait — each reader stripe seen empty once after the swap — covers every reader that
 * may hold the old one. A
 * writer that never sees such a moment (a second of continuous walks) keeps the old set rather
 * than risk freeing it under a walk.
 */
#define _GNU_SOURCE
#include "runtime/tables.h"

#include <errno.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "runtime/bg.h"
#include "runtime/report.h"
#include "runtime/sys.h"

#define REFRESH_NS 500000000LL /* how often the background thread looks for new libraries */
#define GRACE_TRIES 10000      /* x 100 us */

static pthread_mutex_t tables_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(unwind_set_t *) tables_set;

/* Readers in flight, counted in stripes chosen by thread so that threads walking at once (every
 * allocation sampled, at rate 1) do not fight over one cache line. */
#define READER_STRIPES 64
static struct {
  _Atomic int n;
  char pad[64 - sizeof(int)];
} tables_readers[READER_STRIPES] __attribute__((aligned(64)));
static __thread int tls_stripe = -1;
static const ext_api_t *tables_ext;
static unsigned long long tables_adds; /* dl_iterate_phdr's load count at the last build */

/* Async-signal-safe (the first call on a thread makes one gettid system call). */
const unwind_set_t *tables_enter(void) {
  if (tls_stripe < 0)
    tls_stripe = (int)((unsigned)sys_gettid() % READER_STRIPES);
  atomic_fetch_add(&tables_readers[tls_stripe].n, 1);
  return atomic_load(&tables_set);
}

/* Async-signal-safe. */
void tables_exit(void) { atomic_fetch_sub(&tables_readers[tls_stripe].n, 1); }

/* Waits until every stripe has been seen without readers since the set was swapped (a reader
 * that enters a stripe after it was seen empty already reads the new set). false when a stripe
 * never empties within the grace period. */
static bool readers_drained(void) {
  for (int i = 0; i < READER_STRIPES; i++) {
    int tries = 0;
    while (atomic_load(&tables_readers[i].n) != 0) {
      if (++tries > GRACE_TRIES)
        return false;
      sys_sleep_ns(100000);
    }
  }
  return true;
}

static int read_adds(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  *(unsigned long long *)data = info->dlpi_adds;
  return 1;
}

static unsigned long long loads_now(void) {
  unsigned long long adds = 0;
  dl_iterate_phdr(read_adds, &adds);
  return adds;
}

/* Builds from the current set, publishes, and frees the old set after a grace period. Called
 * with tables_lock held. */
static int rebuild_locked(void) {
  tables_adds = loads_now();
  unwind_set_t *old = atomic_load(&tables_set);
  unwind_set_t *set = tables_ext->unwind_build(old);
  if (set == NULL)
    return -ENOMEM;
  atomic_store(&tables_set, set);
  if (old != NULL && readers_drained())
    tables_ext->unwind_free(old); /* else never quiet: keep the old set */
  return 0;
}

/* In a fork child: a parent thread may have held the lock. */
static void tables_after_fork_child(void) { pthread_mutex_init(&tables_lock, NULL); }

static void register_atfork(void) { pthread_atfork(NULL, NULL, tables_after_fork_child); }

int tables_ensure(const ext_api_t *ext) {
  static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
  pthread_once(&atfork_once, register_atfork);
  pthread_mutex_lock(&tables_lock);
  int rc = 0;
  if (tables_ext == NULL)
    tables_ext = ext;
  if (atomic_load(&tables_set) == NULL && (rc = rebuild_locked()) != 0)
    report("could not build unwind tables: stacks will follow frame pointers only");
  pthread_mutex_unlock(&tables_lock);
  /* Outside tables_lock: the background thread holds its own lock while it runs
   * tables_refresh, which takes tables_lock. */
  return rc == 0 ? bg_add(tables_refresh, REFRESH_NS) : rc;
}

void tables_refresh(void) {
  pthread_mutex_lock(&tables_lock);
  if (tables_ext != NULL && loads_now() != tables_adds)
    rebuild_locked();
  pthread_mutex_unlock(&tables_lock);
}
