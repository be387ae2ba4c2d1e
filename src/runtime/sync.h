/*
 * sync.h — the block and mutex profiles: where threads wait, and which lock holders make them.
 *
 * Go's two contention profiles, for pthreads. The hooks (sync.c) interpose the blocking calls of
 * libc — pthread_mutex_lock and its timed forms, the rwlock locks, pthread_cond_wait and
 * timedwait, sem_wait and timedwait, pthread_join, pthread_barrier_wait — and turn a wait into
 * events:
 *
 *   block  the waiter's own stack and how long it was blocked (a mutex or rwlock only when it was
 *          contended; the other calls whenever they had to wait), sampled as Go's
 *          SetBlockProfileRate: an event of at least rate ns is always kept, a shorter one with
 *          probability delay/rate and then counted as rate/delay events of rate ns;
 *   mutex  the stack of the thread that released a lock others were waiting for (its unlock, or
 *          the pthread_cond_wait that released the mutex) and how long they had waited since the
 *          previous release, sampled as Go's SetMutexProfileFraction: one event in `fraction`,
 *          kept as `fraction` events of `fraction` times the delay.
 *
 * Each profile is a table of records, one per stack, with a count (a double, as Go's, since the
 * block profile's unbiasing adds fractions) and a total delay in nanoseconds (Go counts CPU
 * cycles; we count nanoseconds and say cycles/second=1000000000 in the text form). Records are
 * found without a lock and created under a spinlock, as the heap profile's buckets (heap.c), and
 * are never freed. synctab.c owns the tables, the rates and the public calls; syncwrite.c writes
 * snapshots as Go writes the two profiles; synctext.c (in the extension) their debug=1 text.
 */
#ifndef CPROF_RUNTIME_SYNC_H
#define CPROF_RUNTIME_SYNC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { SYNC_BLOCK = 0, SYNC_MUTEX = 1, SYNC_NPROFILES = 2 };

#define SYNC_MAX_DEPTH 64 /* frames kept per stack */

/* One stack of one profile. The counters only grow. */
typedef struct sync_rec {
  struct sync_rec *_Atomic next; /* hash chain, read without a lock */
  struct sync_rec *all;          /* every record of the profile, newest first */
  uint64_t hash;
  _Atomic uint64_t count_bits; /* a double: events, unbiased */
  _Atomic int64_t delay;       /* nanoseconds, unbiased */
  uint32_t depth;
  uintptr_t pcs[]; /* return addresses, leaf first */
} sync_rec_t;

/* ------------------------------------------------------------ sampling (synctab.c) ---------- */

/* Go's blocksampled: whether a wait of delay ns (>= 1) is kept at rate (> 0); rnd is uniform. */
bool sync_block_sampled(int64_t delay, int64_t rate, uint64_t rnd);

/* Whether a contention is kept at fraction (> 0), one in fraction; rnd is uniform. */
bool sync_mutex_sampled(int64_t fraction, uint64_t rnd);

/* Go's saveblockevent: what one kept event of delay ns adds to its record's count and delay. */
void sync_event_weight(int which, int64_t delay, int64_t rate, double *count, int64_t *add);

/* ------------------------------------------------------------ for the hooks (synctab.c) ----- */

/* The current block rate (ns, 0 off) and mutex fraction (0 off). */
int64_t sync_block_rate_now(void);
int64_t sync_mutex_fraction_now(void);

/* The record for pcs in profile which, created when missing; NULL before the profile was first
 * turned on, or when out of memory. Lock-free when it exists; called with the caller's "inside"
 * flag set (sync.c). */
sync_rec_t *sync_rec_get(int which, const uintptr_t *pcs, uint32_t depth);

/* Adds count events and delay ns to r. Async-signal-safe. */
void sync_rec_add(sync_rec_t *r, double count, int64_t delay);

/* The first record of profile which (newest first), for snapshots and tests. */
sync_rec_t *sync_recs(int which);

/* ------------------------------------------------------------ the hooks (sync.c) ------------ */

/* Switches the hooks to what the profiles need: the block events, the mutex events. With
 * everything off (and no wait states, below) a hook is one load and a jump to libc's function.
 * Resolves the real functions first. Called by synctab.c under its configuration lock. */
void sync_hooks_set(bool block, bool mutex);

/* Turns on (or off) the wait states the threads profile shows (what a thread is blocked in, since
 * when: threads_wait_begin) without turning on a profile: the hooks then take the path the
 * profiles take (an uncontended lock is libc's trylock, a few ns dearer than its lock; a
 * condition wait reads the clock twice). */
void sync_track_waits(bool on);

/* Registers the fork handlers, once; called when a profile is first turned on. */
void sync_hooks_atfork(void);

/* ------------------------------------------------------------ one wait (syncwait.c) ---------- */

/* The hooks' code, and everything it calls that may be on a recorded stack, sits in one section,
 * whose frames every recorded stack drops (sync_hooks_code_has). */
#define SYNC_TEXT __attribute__((section("cprof_sync_text")))

/* Whether pc (a return address) lies in that section. Async-signal-safe. */
bool sync_hooks_code_has(uintptr_t pc);

/* One wait in a slow path, begun before the real blocking call and ended after it. */
typedef struct sync_wait {
  const void *obj;
  int64_t start;
  int slot; /* in the waiters' table, or -1 */
} sync_wait_t;

enum { SYNC_WAIT_PLAIN = 0, SYNC_WAIT_LOCK = 1 };

/* Starts measuring a wait on obj (what: the threads profile's word for it, "mutex", "cond", ...).
 * false when the hook must pass straight through: our own bookkeeping is under way on this thread
 * (a signal handler, or the profiler itself), or the thread is the profiler's (heap guard). A
 * SYNC_WAIT_LOCK wait joins the waiters' table while the mutex profile is on. */
bool sync_wait_begin(sync_wait_t *w, const void *obj, const char *what, int kind);

/* Ends the wait: leaves the waiters' table, and gives the block profile the wait when waited (the
 * call blocked, or timed out, rather than failing at once). errno is kept. */
void sync_wait_end(sync_wait_t *w, bool waited);

/* Before a release of obj (an unlock, or a condition wait releasing its mutex): charges obj's
 * waiters up to now; the ns to hand to sync_release_end after the release (0: nothing). */
int64_t sync_release_begin(const void *obj);
void sync_release_end(int64_t delay);

/* The number of threads in the waiters' table, on a cache line of its own. */
extern struct sync_waiters {
  _Atomic long n;
  char pad[64 - sizeof(long)];
} sync_waiters __attribute__((aligned(64)));

/* Around fork: the calling thread's inside flag raised and lowered (so that the other fork
 * handlers' locks pass straight through), and, in the child, the waiters' table emptied (the
 * waiters were other threads). */
void sync_wait_fork_enter(void);
void sync_wait_fork_leave(void);
void sync_wait_fork_child(void);

/* The tables' locks, taken by the fork handlers around fork so that the child inherits consistent
 * tables (both sides then release them). */
void sync_tables_fork_lock(void);
void sync_tables_fork_unlock(void);

/* ------------------------------------------------------------ configuration (synctab.c) ----- */

/* Go's SetBlockProfileRate, in ns: <= 0 off, 1 every event. 0 or a negative errno (-ENOENT no
 * extension for rate > 0, -ENOMEM). */
int sync_set_block_rate(int64_t rate);

/* Go's SetMutexProfileFraction: the previous fraction (rate < 0 only reads), or a negative errno
 * (-ENOENT, -ENOMEM) when turning it on fails. */
int64_t sync_set_mutex_fraction(int64_t rate);

/* ------------------------------------------------------------ reading (synctab.c, syncwrite.c) */

/* A copy of every record's counters of profile which at one moment, sorted by record address (for
 * deltas). */
typedef struct sync_snap_entry {
  const sync_rec_t *rec;
  double count;
  int64_t delay;
} sync_snap_entry_t;

typedef struct sync_snap {
  size_t maplen;
  size_t n;
  int which;
  int64_t fraction;   /* the mutex fraction when taken (the text's "sampling period") */
  int64_t time_nanos; /* CLOCK_REALTIME when taken */
  int64_t mono_nanos; /* CLOCK_MONOTONIC when taken */
  sync_snap_entry_t e[];
} sync_snap_t;

void *sync_snapshot(int which);
void sync_snapshot_free(void *snap);
long sync_count(int which); /* records, for the index page */

/* Writes snap (minus base when not NULL) to fd as Go writes the profile: debug 0 gzipped
 * profile.proto, >= 1 the legacy text. 0 or a negative errno. */
int sync_write(int fd, const void *snap, const void *base, int debug);

/* Go's record count: the unbiased count truncated, and 1 rather than 0 (so that a reader never
 * divides by zero). */
int64_t sync_count_of(double count);

/* ------------------------------------------------------------ spinlocks ---------------------- */

/* A test-and-test-and-set lock for the few loads and stores of a table update: a pthread mutex
 * would enter our own hooks. Waiters yield after a while, so a preempted holder gets to run. No
 * thread spins on one it holds: the hooks set their "inside" flag first, and pass straight through
 * when they find it set. */
typedef struct sync_spin {
  _Atomic int held;
} sync_spin_t;

void sync_spin_lock(sync_spin_t *l);

static inline void sync_spin_unlock(sync_spin_t *l) {
  atomic_store_explicit(&l->held, 0, memory_order_release);
}

#endif /* CPROF_RUNTIME_SYNC_H */
