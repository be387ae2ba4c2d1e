/*
 * syncwait.c — one wait in the sync hooks' slow paths (sync.c): measuring it, the table of lock
 * waiters the mutex profile charges, and turning waits and releases into events.
 *
 * A slow path brackets the real blocking call with sync_wait_begin and sync_wait_end: the first
 * reads the clock and, for a lock while the mutex profile is on, adds the thread to the waiters'
 * table; the second removes it and hands the wait to the block profile. A release of a lock (an
 * unlock, or a condition wait, which releases its mutex) brackets the real release with
 * sync_release_begin, which charges the lock's waiters before the release (they are all still in
 * the table then), and sync_release_end, which records the charge on the releaser's stack after
 * it (the lock is not held while the stack is walked).
 *
 * The waiters' table is WAIT_GROUPS groups of WAIT_WAYS entries, each group under a spinlock, an
 * entry per lock address: the number of waiters and the sum of their start times, each start being
 * the later of the waiter's own and the entry's last charge (in wrapping 64-bit arithmetic, so the
 * difference n*now - sum is exact). A charge takes n*now - sum and makes now the last charge; a
 * leaving waiter subtracts the later of its start and the last charge. So every nanosecond of
 * waiting is charged at most once, to the release that ended it or to a later one (Go's
 * semrelease does the same). A waiter whose group is full is charged to nobody. sync_waiters
 * counts the threads in the table, so that unlocks can see in one load that nobody waits.
 *
 * Everything that can be on a recorded stack is in the hooks' section (SYNC_TEXT), whose frames
 * stacks drop. The calling thread's "inside" flag is set while any of this runs, and a hook that
 * finds it set passes straight through (sync.c): no spinlock here is ever taken twice by a thread,
 * even from a signal handler. errno is preserved.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include "runtime/heap.h"
#include "runtime/sync.h"
#include "runtime/sys.h"
#include "runtime/tables.h"
#include "runtime/threads.h"
#include "runtime/unwind.h"

#define SKIP_MAX 12 /* our own frames a walk may begin with */

extern const char __start_cprof_sync_text[] __attribute__((visibility("hidden")));
extern const char __stop_cprof_sync_text[] __attribute__((visibility("hidden")));

struct sync_waiters sync_waiters;

/* ------------------------------------------------------------ per-thread state ------------ */

typedef struct sync_tls {
  unsigned inside; /* our bookkeeping runs on this thread */
  uint64_t rng;    /* xorshift64* state, 0 until seeded */
} sync_tls_t;

static __thread sync_tls_t sync_tls __attribute__((tls_model("initial-exec")));

SYNC_TEXT static uint64_t rng_next(sync_tls_t *t) {
  if (t->rng == 0) {
    uint64_t z = (uint64_t)sys_now_mono() ^ ((uint64_t)sys_gettid() << 32) ^ (uintptr_t)t;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    t->rng = (z ^ (z >> 31)) | 1;
  }
  t->rng ^= t->rng >> 12;
  t->rng ^= t->rng << 25;
  t->rng ^= t->rng >> 27;
  return t->rng * 0x2545F4914F6CDD1Dull;
}

bool sync_hooks_code_has(uintptr_t pc) {
  uintptr_t a = pc - 1; /* a return address may be the section's end */
  return a >= (uintptr_t)__start_cprof_sync_text && a < (uintptr_t)__stop_cprof_sync_text;
}

/* ------------------------------------------------------------ recording ------------------- */

/* The calling thread's stack, without our own frames: 0 when it passes through the extension
 * (the profiler's own work). */
SYNC_TEXT __attribute__((noinline)) static uint32_t sync_stack(uintptr_t *pcs) {
  uintptr_t raw[SYNC_MAX_DEPTH + SKIP_MAX];
  unwind_stack_bounds_t bounds;
  threads_stack_bounds((uintptr_t)__builtin_frame_address(0), &bounds);
  const unwind_set_t *set = tables_enter();
  int depth = unwind_here(set, &bounds, raw, SYNC_MAX_DEPTH + SKIP_MAX);
  tables_exit();
  int skip = 0;
  while (skip < depth && sync_hooks_code_has(raw[skip]))
    skip++;
  uint32_t n = 0;
  for (int i = skip; i < depth && n < SYNC_MAX_DEPTH; i++) {
    if (ext_code_has(raw[i]))
      return 0;
    pcs[n++] = raw[i];
  }
  return n;
}

SYNC_TEXT __attribute__((noinline)) static void record(int which, int64_t delay, int64_t rate) {
  uintptr_t pcs[SYNC_MAX_DEPTH];
  uint32_t depth = sync_stack(pcs);
  sync_rec_t *r = depth > 0 ? sync_rec_get(which, pcs, depth) : NULL;
  if (r != NULL) {
    double count;
    int64_t add;
    sync_event_weight(which, delay, rate, &count, &add);
    sync_rec_add(r, count, add);
  }
}

/* A wait of delay ns, for the block profile. Called with the inside flag set. */
SYNC_TEXT __attribute__((noinline)) static void block_event(sync_tls_t *t, int64_t delay) {
  int64_t rate = sync_block_rate_now();
  if (rate <= 0 || heap_guard_active())
    return;
  if (delay <= 0)
    delay = 1;
  if (delay < rate && !sync_block_sampled(delay, rate, rng_next(t)))
    return;
  record(SYNC_BLOCK, delay, rate);
}

/* A release that had made others wait delay ns, for the mutex profile. Inside flag set. */
SYNC_TEXT __attribute__((noinline)) static void mutex_event(sync_tls_t *t, int64_t delay) {
  int64_t fraction = sync_mutex_fraction_now();
  if (fraction <= 0 || heap_guard_active())
    return;
  if (!sync_mutex_sampled(fraction, rng_next(t)))
    return;
  record(SYNC_MUTEX, delay < 0 ? 0 : delay, fraction);
}

/* ------------------------------------------------------------ the waiters' table ---------- */

#define WAIT_GROUPS 256
#define WAIT_WAYS 4

/* The waiters of one lock: how many, the sum of their start times (each the later of its own
 * start and last, the previous charge), in wrapping arithmetic. */
typedef struct wait_entry {
  _Atomic(const void *) obj;
  _Atomic uint32_t n; /* 0: the entry is free */
  uint64_t sum;
  int64_t last;
} wait_entry_t;

typedef struct wait_group {
  sync_spin_t lock;
  wait_entry_t e[WAIT_WAYS];
} __attribute__((aligned(64))) wait_group_t;

static wait_group_t wait_groups[WAIT_GROUPS];

static inline wait_group_t *group_of(const void *obj) {
  return &wait_groups[((uintptr_t)obj >> 4) * 0x9E3779B97F4A7C15ull >> 56];
}

/* Adds a waiter on obj that started at start; its entry index, or -1 when the group is full. */
SYNC_TEXT static int waiter_add(const void *obj, int64_t start) {
  wait_group_t *g = group_of(obj);
  int slot = -1;
  atomic_fetch_add(&sync_waiters.n, 1);
  sync_spin_lock(&g->lock);
  for (int i = 0; i < WAIT_WAYS; i++) {
    uint32_t n = atomic_load_explicit(&g->e[i].n, memory_order_relaxed);
    if (n > 0 && atomic_load_explicit(&g->e[i].obj, memory_order_relaxed) == obj) {
      slot = i;
      break;
    }
    if (n == 0 && slot < 0)
      slot = i;
  }
  if (slot >= 0) {
    wait_entry_t *e = &g->e[slot];
    if (atomic_load_explicit(&e->n, memory_order_relaxed) == 0) {
      atomic_store_explicit(&e->obj, obj, memory_order_relaxed);
      e->sum = 0;
      e->last = INT64_MIN;
    }
    e->sum += (uint64_t)start;
    atomic_store_explicit(&e->n, atomic_load_explicit(&e->n, memory_order_relaxed) + 1,
                          memory_order_release);
  }
  sync_spin_unlock(&g->lock);
  if (slot < 0)
    atomic_fetch_sub(&sync_waiters.n, 1);
  return slot;
}

SYNC_TEXT static void waiter_remove(const void *obj, int slot, int64_t start) {
  wait_group_t *g = group_of(obj);
  sync_spin_lock(&g->lock);
  wait_entry_t *e = &g->e[slot];
  e->sum -= (uint64_t)(start > e->last ? start : e->last);
  atomic_store_explicit(&e->n, atomic_load_explicit(&e->n, memory_order_relaxed) - 1,
                        memory_order_relaxed);
  sync_spin_unlock(&g->lock);
  atomic_fetch_sub(&sync_waiters.n, 1);
}

/* Charges obj's waiters up to now: the ns they waited since they started or since the previous
 * charge; 0 when nobody waits on obj. */
SYNC_TEXT static int64_t waiters_charge(const void *obj) {
  wait_group_t *g = group_of(obj);
  int i = 0;
  for (; i < WAIT_WAYS; i++) /* a look without the lock first: usually nobody waits on obj */
    if (atomic_load_explicit(&g->e[i].n, memory_order_acquire) > 0 &&
        atomic_load_explicit(&g->e[i].obj, memory_order_relaxed) == obj)
      break;
  if (i == WAIT_WAYS)
    return 0;
  int64_t delay = 0;
  sync_spin_lock(&g->lock);
  wait_entry_t *e = &g->e[i];
  uint32_t n = atomic_load_explicit(&e->n, memory_order_relaxed);
  if (n > 0 && atomic_load_explicit(&e->obj, memory_order_relaxed) == obj) {
    int64_t now = sys_now_mono();
    uint64_t all = (uint64_t)n * (uint64_t)now;
    delay = (int64_t)(all - e->sum);
    e->sum = all;
    e->last = now;
  }
  sync_spin_unlock(&g->lock);
  return delay;
}

/* ------------------------------------------------------------ the slow paths -------------- */

/* Starts measuring a wait on obj (what: the threads profile's word for it). false when the hook
 * must pass straight through (our own bookkeeping is under way on this thread, or the thread is
 * the profiler's). A lock's waiter joins the waiters' table while the mutex profile is on. */
SYNC_TEXT bool sync_wait_begin(sync_wait_t *w, const void *obj, const char *what, int kind) {
  sync_tls_t *t = &sync_tls;
  if (t->inside || heap_guard_active())
    return false;
  int saved = errno;
  t->inside = 1;
  w->obj = obj;
  w->start = sys_now_mono();
  w->slot =
      kind == SYNC_WAIT_LOCK && sync_mutex_fraction_now() > 0 ? waiter_add(obj, w->start) : -1;
  t->inside = 0;
  threads_wait_begin(what, obj);
  errno = saved;
  return true;
}

/* Ends the wait; waited: the call blocked (or timed out) rather than failing at once. errno is
 * kept as the real call left it. */
SYNC_TEXT void sync_wait_end(sync_wait_t *w, bool waited) {
  sync_tls_t *t = &sync_tls;
  int saved = errno;
  threads_wait_end();
  t->inside = 1;
  int64_t end = sys_now_mono();
  if (w->slot >= 0)
    waiter_remove(w->obj, w->slot, w->start);
  if (waited)
    block_event(t, end - w->start);
  t->inside = 0;
  errno = saved;
}

/* Charges obj's waiters to the calling thread's stack, before a release of obj: its unlock, or a
 * condition wait that releases it. Returns the delay to record after the release (the lock's
 * owner must not hold it while we walk the stack). */
SYNC_TEXT int64_t sync_release_begin(const void *obj) {
  sync_tls_t *t = &sync_tls;
  if (t->inside || atomic_load_explicit(&sync_waiters.n, memory_order_relaxed) == 0)
    return 0;
  int saved = errno;
  t->inside = 1;
  int64_t delay = waiters_charge(obj);
  t->inside = 0;
  errno = saved;
  return delay;
}

SYNC_TEXT void sync_release_end(int64_t delay) {
  sync_tls_t *t = &sync_tls;
  int saved = errno;
  t->inside = 1;
  mutex_event(t, delay);
  t->inside = 0;
  errno = saved;
}

/* ------------------------------------------------------------ fork ------------------------ */

void sync_wait_fork_enter(void) { sync_tls.inside++; }

void sync_wait_fork_leave(void) { sync_tls.inside--; }

void sync_wait_fork_child(void) {
  memset(wait_groups, 0, sizeof wait_groups);
  atomic_store(&sync_waiters.n, 0);
}
