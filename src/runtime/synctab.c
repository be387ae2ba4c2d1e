/*
 * synctab.c — the block and mutex profiles' tables, their sampling rules, their rates, snapshots,
 * and the public calls of cprof.h's block and mutex section.
 *
 * Each profile is a table of records (sync.h: one per stack) in a fixed array of hash chains,
 * mapped when the profile is first turned on. Finding a record takes no lock: chains only grow, at
 * their head, with a release store, and a record never moves or dies. Creating one takes the
 * table's spinlock, which also guards its arena and its list of all records. Counts are atomic on
 * the record itself (the count, a double, by compare-and-swap), so recording an event on a known
 * stack takes no lock at all. The hooks call in here with their thread's "inside" flag set, so a
 * signal handler that blocks on top of a held spinlock passes straight through (sync.c). Around
 * fork the spinlocks are held (sync.c's handlers), so the child inherits consistent tables.
 *
 * The sampling rules are Go's (runtime/mprof.go): a block event of delay ns at rate R is kept when
 * delay >= R, else with probability delay/R, and a kept short one counts R/delay events of R ns
 * (so that the expected totals are the true ones); a mutex event is kept one time in R and counts
 * R events of R * delay ns.
 *
 * The rates change under cfg_lock, inside the heap guard (the extension and the unwind tables it
 * loads on first use are the profiler's own), and switch the hooks between their plain and
 * profiled paths (sync_hooks_set).
 */
#define _GNU_SOURCE
#include "runtime/sync.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>

#include "cprof.h"
#include "runtime/arena.h"
#include "runtime/ext.h"
#include "runtime/keysort.h"
#include "runtime/heap.h"
#include "runtime/sys.h"
#include "runtime/tables.h"

#define HEAD_BITS 12 /* 4096 chains per profile: 32 KiB, touched as records arrive */
#define SPIN_MAX 100

/* ------------------------------------------------------------ spinlocks -------------------- */

void sync_spin_lock(sync_spin_t *l) {
  for (unsigned n = 0;; n += n < SPIN_MAX) {
    if (!atomic_load_explicit(&l->held, memory_order_relaxed) &&
        !atomic_exchange_explicit(&l->held, 1, memory_order_acquire))
      return;
    if (n < SPIN_MAX) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    } else {
      sched_yield();
    }
  }
}

/* ------------------------------------------------------------ sampling --------------------- */

bool sync_block_sampled(int64_t delay, int64_t rate, uint64_t rnd) {
  if (rate <= 0)
    return false;
  return delay >= rate || (int64_t)(rnd % (uint64_t)rate) <= delay;
}

bool sync_mutex_sampled(int64_t fraction, uint64_t rnd) {
  return fraction > 0 && rnd % (uint64_t)fraction == 0;
}

void sync_event_weight(int which, int64_t delay, int64_t rate, double *count, int64_t *add) {
  if (which == SYNC_BLOCK && delay < rate) {
    *count = (double)rate / (double)(delay > 0 ? delay : 1);
    *add = rate;
  } else if (which == SYNC_MUTEX) {
    *count = (double)rate;
    *add = rate * delay;
  } else {
    *count = 1;
    *add = delay;
  }
}

int64_t sync_count_of(double count) {
  int64_t n = count < 9.2e18 ? (int64_t)count : INT64_MAX;
  return n != 0 ? n : 1;
}

/* ------------------------------------------------------------ records ---------------------- */

typedef struct sync_table {
  sync_spin_t lock; /* creation, arena, all */
  sync_rec_t *_Atomic *heads;
  sync_rec_t *_Atomic all;
  _Atomic long count;
  arena_t arena;
} sync_table_t;

static sync_table_t sync_tables[SYNC_NPROFILES];

static uint64_t stack_hash(const uintptr_t *pcs, uint32_t depth) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint32_t i = 0; i < depth; i++) {
    h ^= pcs[i];
    h *= 0x100000001b3ull;
    h ^= h >> 29;
  }
  return h * 0x9E3779B97F4A7C15ull;
}

static sync_rec_t *rec_find(sync_rec_t *r, uint64_t h, const uintptr_t *pcs, uint32_t depth) {
  for (; r != NULL; r = atomic_load_explicit(&r->next, memory_order_acquire)) {
    if (r->hash != h || r->depth != depth)
      continue;
    uint32_t i = 0;
    while (i < depth && r->pcs[i] == pcs[i])
      i++;
    if (i == depth)
      return r;
  }
  return NULL;
}

sync_rec_t *sync_rec_get(int which, const uintptr_t *pcs, uint32_t depth) {
  sync_table_t *t = &sync_tables[which];
  sync_rec_t *_Atomic *heads = atomic_load_explicit(&t->heads, memory_order_acquire);
  if (heads == NULL)
    return NULL;
  uint64_t h = stack_hash(pcs, depth);
  sync_rec_t *_Atomic *head = &heads[h >> (64 - HEAD_BITS)];
  sync_rec_t *r = rec_find(atomic_load_explicit(head, memory_order_acquire), h, pcs, depth);
  if (r != NULL)
    return r;
  sync_spin_lock(&t->lock);
  sync_rec_t *first = atomic_load_explicit(head, memory_order_acquire);
  r = rec_find(first, h, pcs, depth);
  if (r == NULL && (r = arena_alloc(&t->arena, sizeof *r + depth * sizeof *pcs)) != NULL) {
    r->hash = h;
    r->depth = depth;
    memcpy(r->pcs, pcs, depth * sizeof *pcs);
    atomic_store_explicit(&r->next, first, memory_order_relaxed);
    r->all = atomic_load_explicit(&t->all, memory_order_relaxed);
    atomic_store_explicit(head, r, memory_order_release);
    atomic_store_explicit(&t->all, r, memory_order_release);
    atomic_fetch_add_explicit(&t->count, 1, memory_order_relaxed);
  }
  sync_spin_unlock(&t->lock);
  return r;
}

void sync_rec_add(sync_rec_t *r, double count, int64_t delay) {
  uint64_t old = atomic_load_explicit(&r->count_bits, memory_order_relaxed), sum;
  do {
    double d;
    memcpy(&d, &old, sizeof d);
    d += count;
    memcpy(&sum, &d, sizeof sum);
  } while (!atomic_compare_exchange_weak_explicit(&r->count_bits, &old, sum, memory_order_relaxed,
                                                  memory_order_relaxed));
  atomic_fetch_add_explicit(&r->delay, delay, memory_order_relaxed);
}

sync_rec_t *sync_recs(int which) {
  return atomic_load_explicit(&sync_tables[which].all, memory_order_acquire);
}

long sync_count(int which) {
  if (which < 0 || which >= SYNC_NPROFILES)
    return 0;
  return atomic_load_explicit(&sync_tables[which].count, memory_order_relaxed);
}

void sync_tables_fork_lock(void) {
  for (int i = 0; i < SYNC_NPROFILES; i++)
    sync_spin_lock(&sync_tables[i].lock);
}

void sync_tables_fork_unlock(void) {
  for (int i = SYNC_NPROFILES; i-- > 0;)
    sync_spin_unlock(&sync_tables[i].lock);
}

/* ------------------------------------------------------------ rates ------------------------ */

static pthread_mutex_t cfg_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int64_t block_rate, mutex_fraction;

int64_t sync_block_rate_now(void) {
  return atomic_load_explicit(&block_rate, memory_order_relaxed);
}

int64_t sync_mutex_fraction_now(void) {
  return atomic_load_explicit(&mutex_fraction, memory_order_relaxed);
}

/* Maps profile which's chains, and everything the first profile needs (the extension, for unwind
 * tables; the fork handlers). Called with cfg_lock held. 0 or a negative errno. */
static int enable_locked(int which) {
  const ext_api_t *ext = ext_get();
  if (ext == NULL)
    return -ENOENT;
  sync_table_t *t = &sync_tables[which];
  if (atomic_load(&t->heads) == NULL) {
    sync_rec_t *_Atomic *heads = sys_map((1u << HEAD_BITS) * sizeof *heads);
    if (heads == NULL)
      return -ENOMEM;
    atomic_store_explicit(&t->heads, heads, memory_order_release);
  }
  sync_hooks_atfork();
  tables_ensure(ext); /* on failure stacks follow frame pointers: still a profile */
  return 0;
}

/* Sets the rate of profile which (0 off) and switches the hooks accordingly. cfg_lock held. */
static int set_locked(int which, int64_t rate) {
  if (rate > 0) {
    int rc = enable_locked(which);
    if (rc != 0)
      return rc;
  }
  atomic_store(which == SYNC_BLOCK ? &block_rate : &mutex_fraction, rate);
  sync_hooks_set(atomic_load(&block_rate) > 0, atomic_load(&mutex_fraction) > 0);
  return 0;
}

int sync_set_block_rate(int64_t rate) {
  heap_guard_enter();
  pthread_mutex_lock(&cfg_lock);
  int rc = set_locked(SYNC_BLOCK, rate > 0 ? rate : 0);
  pthread_mutex_unlock(&cfg_lock);
  heap_guard_exit();
  return rc;
}

int64_t sync_set_mutex_fraction(int64_t rate) {
  if (rate < 0)
    return sync_mutex_fraction_now();
  heap_guard_enter();
  pthread_mutex_lock(&cfg_lock);
  int64_t old = sync_mutex_fraction_now();
  int rc = set_locked(SYNC_MUTEX, rate);
  pthread_mutex_unlock(&cfg_lock);
  heap_guard_exit();
  return rc != 0 ? rc : old;
}

/* ------------------------------------------------------------ snapshots -------------------- */

/* Entries are sorted by their leading pointer (keysort_by_ptr, which takes no lock and no malloc:
 * a snapshot may be taken where the allocator must not be entered). */
_Static_assert(offsetof(sync_snap_entry_t, rec) == 0 &&
                   sizeof(sync_snap_entry_t) <= KEYSORT_MAX_ENTRY,
               "a snapshot entry is keysort_by_ptr's");

void *sync_snapshot(int which) {
  if (which < 0 || which >= SYNC_NPROFILES)
    return NULL;
  sync_rec_t *first = sync_recs(which);
  size_t n = 0;
  for (sync_rec_t *r = first; r != NULL; r = r->all)
    n++;
  size_t len = sizeof(sync_snap_t) + n * sizeof(sync_snap_entry_t);
  sync_snap_t *s = sys_map(len);
  if (s == NULL)
    return NULL;
  s->maplen = len;
  s->which = which;
  s->fraction = sync_mutex_fraction_now();
  s->time_nanos = sys_now_real();
  s->mono_nanos = sys_now_mono();
  for (sync_rec_t *r = first; r != NULL && s->n < n; r = r->all) {
    sync_snap_entry_t *e = &s->e[s->n++];
    uint64_t bits = atomic_load_explicit(&r->count_bits, memory_order_relaxed);
    e->rec = r;
    memcpy(&e->count, &bits, sizeof e->count);
    e->delay = atomic_load_explicit(&r->delay, memory_order_relaxed);
  }
  keysort_by_ptr(s->e, s->n, sizeof *s->e);
  return s;
}

void sync_snapshot_free(void *snap) {
  sync_snap_t *s = snap;
  if (s != NULL)
    sys_unmap(s, s->maplen);
}

/* ------------------------------------------------------------ the public API --------------- */

CPROF_API int cprof_set_block_profile_rate(int64_t rate_ns) { return sync_set_block_rate(rate_ns); }

CPROF_API int64_t cprof_block_profile_rate(void) { return sync_block_rate_now(); }

CPROF_API int cprof_set_mutex_profile_fraction(int rate) {
  int64_t old = sync_set_mutex_fraction(rate);
  return old > INT32_MAX ? INT32_MAX : (int)old;
}
