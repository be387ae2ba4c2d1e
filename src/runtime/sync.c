/*
 * sync.c — the interposed blocking calls of libc: the block and mutex profiles' sampling points.
 *
 * Every hooked call of the process lands here first (libcprof.so comes before libc; in libcprof.a
 * these definitions are the program's own) and goes through a table of dispatch pointers, one per
 * call: a hook is one load and an indirect jump. With the profiles off the pointer is libc's own
 * function, found with dlsym(RTLD_NEXT) on the first call of any hook (pthread_cond_wait and
 * friends with dlvsym at GLIBC_2.3.2, the default version: the old condition variable ABI of
 * GLIBC_2.2.5 must not be picked). While dlsym runs, the mutex and rwlock hooks, which the
 * allocator may call under it, use glibc's exported __pthread_* names; the others wait for the
 * resolving thread. With a profile on (or the wait states of the threads profile, sync_track_waits)
 * the pointers lead to the functions below:
 *
 * - locks (mutex, rwlock, and their timed forms) try the real trylock first, which is the
 *   lock's own compare-and-swap: any result but EBUSY is what the lock itself would have
 *   returned, and only EBUSY takes the slow path, which calls the real lock and returns its
 *   result, so that error checking, recursive and robust mutexes behave exactly as without us.
 *   Only the slow path reads the clock. Timed forms whose arguments glibc checks before trying (a
 *   clock it does not support, nanoseconds out of range) go straight to the real call.
 * - unlocks (only with the mutex profile on) read the mutex's futex word, which they are about
 *   to write anyway: 0 or 1 means no thread sleeps on it, and the real unlock is a tail call.
 *   Anything else, and any rwlock unlock, first looks whether a thread waits in our slow paths at
 *   all (one shared counter), then whether one waits on this lock.
 * - condition waits, semaphore waits (after a sem_trywait that failed, as Go only counts waits
 *   that blocked; pthread_testcancel first where glibc tests for cancellation before trying),
 *   joins and barriers are always measured.
 *
 * The mutex profile charges a release to the releaser: a waiter in a contended lock path adds
 * itself to a table keyed by the lock's address, and a releasing thread charges the waiters it
 * finds there to its own stack (syncwait.c, which also measures the waits and records the events).
 * A pthread_cond_wait releases its mutex, so it charges the mutex's waiters too.
 *
 * Stacks: the walk starts inside our slow path, and every frame whose return address lies in the
 * hooks' code is dropped. All of it is placed in one section of its own, cprof_sync_text, whose
 * bounds the linker provides, so that this holds whatever the compiler inlines or tail-calls.
 *
 * Reentrancy and safety: a thread's "inside" flag is set while our own bookkeeping runs (never
 * across the real blocking call); a hook that finds it set passes straight through, so a signal
 * handler that locks on top of our bookkeeping, and the profiler's own work, never re-enter it. The
 * profiler's threads (inside the heap guard) are not recorded. Nothing here allocates from the
 * host's heap: tables are mapped (synctab.c). errno is the real call's, and return values are the
 * real call's. Around fork the tables' locks are held; the child empties the waiter table (the
 * waiters were other threads, which the child does not have).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <string.h>
#include <time.h>

#include "runtime/heap.h"
#include "runtime/sync.h"
#include "runtime/sys.h"
#include "runtime/tables.h"
#include "runtime/threads.h"
#include "runtime/unwind.h"

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* Everything here that can be on a recorded stack lives in the hooks' section (sync.h). */
#define SYNC_SLOW SYNC_TEXT __attribute__((noinline))
#define SYNC_HOOK SYNC_TEXT __attribute__((visibility("default")))

/* glibc's own names for the mutex and rwlock calls, used while dlsym runs. */
extern int __pthread_mutex_lock(pthread_mutex_t *) __attribute__((weak));
extern int __pthread_mutex_trylock(pthread_mutex_t *) __attribute__((weak));
extern int __pthread_mutex_unlock(pthread_mutex_t *) __attribute__((weak));
extern int __pthread_rwlock_rdlock(pthread_rwlock_t *) __attribute__((weak));
extern int __pthread_rwlock_wrlock(pthread_rwlock_t *) __attribute__((weak));
extern int __pthread_rwlock_unlock(pthread_rwlock_t *) __attribute__((weak));

/* ------------------------------------------------------------ the functions --------------- */

typedef int (*mutex_fn)(pthread_mutex_t *);
typedef int (*mutex_time_fn)(pthread_mutex_t *, const struct timespec *);
typedef int (*mutex_clock_fn)(pthread_mutex_t *, clockid_t, const struct timespec *);
typedef int (*rw_fn)(pthread_rwlock_t *);
typedef int (*rw_time_fn)(pthread_rwlock_t *, const struct timespec *);
typedef int (*rw_clock_fn)(pthread_rwlock_t *, clockid_t, const struct timespec *);
typedef int (*cond_fn)(pthread_cond_t *, pthread_mutex_t *);
typedef int (*cond_time_fn)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
typedef int (*cond_clock_fn)(pthread_cond_t *, pthread_mutex_t *, clockid_t,
                             const struct timespec *);
typedef int (*sem_fn)(sem_t *);
typedef int (*sem_time_fn)(sem_t *, const struct timespec *);
typedef int (*sem_clock_fn)(sem_t *, clockid_t, const struct timespec *);
typedef int (*join_fn)(pthread_t, void **);
typedef int (*join_time_fn)(pthread_t, void **, const struct timespec *);
typedef int (*join_clock_fn)(pthread_t, void **, clockid_t, const struct timespec *);
typedef int (*barrier_fn)(pthread_barrier_t *);

/* One set of the hooked calls: libc's (real), or what the hooks jump to (disp). */
typedef struct sync_fns {
  mutex_fn mutex_lock;
  mutex_fn mutex_unlock;
  mutex_time_fn mutex_timedlock;
  mutex_clock_fn mutex_clocklock;
  rw_fn rw_rdlock, rw_wrlock, rw_unlock;
  rw_time_fn rw_timedrdlock, rw_timedwrlock;
  rw_clock_fn rw_clockrdlock, rw_clockwrlock;
  cond_fn cond_wait;
  cond_time_fn cond_timedwait;
  cond_clock_fn cond_clockwait;
  sem_fn sem_wait;
  sem_time_fn sem_timedwait;
  sem_clock_fn sem_clockwait;
  join_fn join;
  join_time_fn timedjoin;
  join_clock_fn clockjoin;
  barrier_fn barrier_wait;
} sync_fns_t;

/* libc's, plus the non-blocking calls the "on" paths use. Written once, before state is 2. */
static struct {
  sync_fns_t f;
  mutex_fn mutex_trylock;
  rw_fn rw_tryrdlock, rw_trywrlock;
  sem_fn sem_trywait;
} real __attribute__((aligned(64)));

static _Atomic int state; /* 0 unresolved, 1 resolving, 2 resolved */
static __thread bool resolving_here __attribute__((tls_model("initial-exec")));

#define REAL(fn) (real.f.fn)
#define DISP(fn) __atomic_load_n(&disp.f.fn, __ATOMIC_ACQUIRE)

static inline bool wait_ok(int rc) { return rc == 0 || rc == ETIMEDOUT || rc == EOWNERDEAD; }

/* glibc checks these before it tries the lock: such calls go to it directly. */
static inline bool clock_ok(clockid_t c) { return c == CLOCK_REALTIME || c == CLOCK_MONOTONIC; }
static inline bool time_ok(const struct timespec *t) {
  return t != NULL && t->tv_nsec >= 0 && t->tv_nsec < 1000000000;
}

/* The slow path of a lock whose trylock said EBUSY: CALL is the real blocking call. */
#define LOCK_SLOW(name, obj, what, CALL)                                                           \
  SYNC_SLOW static int name {                                                                      \
    sync_wait_t w;                                                                                 \
    if (!sync_wait_begin(&w, obj, what, SYNC_WAIT_LOCK))                                           \
      return CALL;                                                                                 \
    int rc = CALL;                                                                                 \
    sync_wait_end(&w, wait_ok(rc));                                                                \
    return rc;                                                                                     \
  }

LOCK_SLOW(mutex_lock_slow(pthread_mutex_t *m), m, "mutex", REAL(mutex_lock)(m))
LOCK_SLOW(mutex_timedlock_slow(pthread_mutex_t *m, const struct timespec *t), m, "mutex",
          REAL(mutex_timedlock)(m, t))
LOCK_SLOW(mutex_clocklock_slow(pthread_mutex_t *m, clockid_t c, const struct timespec *t), m,
          "mutex", REAL(mutex_clocklock)(m, c, t))
LOCK_SLOW(rw_rdlock_slow(pthread_rwlock_t *l), l, "rwlock", REAL(rw_rdlock)(l))
LOCK_SLOW(rw_wrlock_slow(pthread_rwlock_t *l), l, "rwlock", REAL(rw_wrlock)(l))
LOCK_SLOW(rw_timedrdlock_slow(pthread_rwlock_t *l, const struct timespec *t), l, "rwlock",
          REAL(rw_timedrdlock)(l, t))
LOCK_SLOW(rw_timedwrlock_slow(pthread_rwlock_t *l, const struct timespec *t), l, "rwlock",
          REAL(rw_timedwrlock)(l, t))
LOCK_SLOW(rw_clockrdlock_slow(pthread_rwlock_t *l, clockid_t c, const struct timespec *t), l,
          "rwlock", REAL(rw_clockrdlock)(l, c, t))
LOCK_SLOW(rw_clockwrlock_slow(pthread_rwlock_t *l, clockid_t c, const struct timespec *t), l,
          "rwlock", REAL(rw_clockwrlock)(l, c, t))

/* The "on" form of a lock: the real trylock, and the slow path only for EBUSY. */
#define LOCK_ON(name, PARAMS, TRY, SLOW)                                                           \
  SYNC_TEXT static int name PARAMS {                                                               \
    int rc = TRY;                                                                                  \
    if (LIKELY(rc != EBUSY))                                                                       \
      return rc;                                                                                   \
    return SLOW;                                                                                   \
  }

LOCK_ON(mutex_lock_on, (pthread_mutex_t * m), real.mutex_trylock(m), mutex_lock_slow(m))
LOCK_ON(rw_rdlock_on, (pthread_rwlock_t * l), real.rw_tryrdlock(l), rw_rdlock_slow(l))
LOCK_ON(rw_wrlock_on, (pthread_rwlock_t * l), real.rw_trywrlock(l), rw_wrlock_slow(l))

SYNC_TEXT static int mutex_timedlock_on(pthread_mutex_t *m, const struct timespec *t) {
  int rc = real.mutex_trylock(m);
  return rc != EBUSY ? rc : mutex_timedlock_slow(m, t);
}

SYNC_TEXT static int mutex_clocklock_on(pthread_mutex_t *m, clockid_t c, const struct timespec *t) {
  if (!clock_ok(c))
    return REAL(mutex_clocklock)(m, c, t);
  int rc = real.mutex_trylock(m);
  return rc != EBUSY ? rc : mutex_clocklock_slow(m, c, t);
}

SYNC_TEXT static int rw_timedrdlock_on(pthread_rwlock_t *l, const struct timespec *t) {
  if (!time_ok(t))
    return REAL(rw_timedrdlock)(l, t);
  int rc = real.rw_tryrdlock(l);
  return rc != EBUSY ? rc : rw_timedrdlock_slow(l, t);
}

SYNC_TEXT static int rw_timedwrlock_on(pthread_rwlock_t *l, const struct timespec *t) {
  if (!time_ok(t))
    return REAL(rw_timedwrlock)(l, t);
  int rc = real.rw_trywrlock(l);
  return rc != EBUSY ? rc : rw_timedwrlock_slow(l, t);
}

SYNC_TEXT static int rw_clockrdlock_on(pthread_rwlock_t *l, clockid_t c, const struct timespec *t) {
  if (!clock_ok(c) || !time_ok(t))
    return REAL(rw_clockrdlock)(l, c, t);
  int rc = real.rw_tryrdlock(l);
  return rc != EBUSY ? rc : rw_clockrdlock_slow(l, c, t);
}

SYNC_TEXT static int rw_clockwrlock_on(pthread_rwlock_t *l, clockid_t c, const struct timespec *t) {
  if (!clock_ok(c) || !time_ok(t))
    return REAL(rw_clockwrlock)(l, c, t);
  int rc = real.rw_trywrlock(l);
  return rc != EBUSY ? rc : rw_clockwrlock_slow(l, c, t);
}

/* Unlocks: the charge before the real release (the waiters are all still registered then), the
 * record after it. */
SYNC_SLOW static int mutex_unlock_slow(pthread_mutex_t *m) {
  int64_t delay = sync_release_begin(m);
  int rc = REAL(mutex_unlock)(m);
  if (delay > 0 && rc == 0)
    sync_release_end(delay);
  return rc;
}

SYNC_TEXT static int mutex_unlock_on(pthread_mutex_t *m) {
  /* glibc's futex word: 0 free, 1 held, 2 held with sleepers (robust and PI mutexes keep the
   * owner's tid there: always the slow path, which looks at the waiter count first). */
  if (LIKELY((unsigned)__atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) <= 1u))
    return REAL(mutex_unlock)(m);
  return mutex_unlock_slow(m);
}

SYNC_SLOW static int rw_unlock_slow(pthread_rwlock_t *l) {
  int64_t delay = sync_release_begin(l);
  int rc = REAL(rw_unlock)(l);
  if (delay > 0 && rc == 0)
    sync_release_end(delay);
  return rc;
}

SYNC_TEXT static int rw_unlock_on(pthread_rwlock_t *l) {
  if (LIKELY(atomic_load_explicit(&sync_waiters.n, memory_order_relaxed) == 0))
    return REAL(rw_unlock)(l);
  return rw_unlock_slow(l);
}

/* A measured wait of any other kind: CALL the real call, OK whether it blocked. */
#define WAIT_ON(name, PARAMS, obj, what, CALL, OK)                                                 \
  SYNC_SLOW static int name PARAMS {                                                               \
    sync_wait_t w;                                                                                 \
    if (!sync_wait_begin(&w, obj, what, SYNC_WAIT_PLAIN))                                          \
      return CALL;                                                                                 \
    int rc = CALL;                                                                                 \
    sync_wait_end(&w, OK);                                                                         \
    return rc;                                                                                     \
  }

/* Condition waits release m: its waiters are charged first. */
#define COND_ON(name, PARAMS, CALL)                                                                \
  SYNC_SLOW static int name PARAMS {                                                               \
    int64_t delay = sync_release_begin(m);                                                         \
    if (delay > 0)                                                                                 \
      sync_release_end(delay);                                                                     \
    sync_wait_t w;                                                                                 \
    if (!sync_wait_begin(&w, c, "cond", SYNC_WAIT_PLAIN))                                          \
      return CALL;                                                                                 \
    int rc = CALL;                                                                                 \
    sync_wait_end(&w, wait_ok(rc));                                                                \
    return rc;                                                                                     \
  }

COND_ON(cond_wait_on, (pthread_cond_t * c, pthread_mutex_t *m), REAL(cond_wait)(c, m))
COND_ON(cond_timedwait_on, (pthread_cond_t * c, pthread_mutex_t *m, const struct timespec *t),
        REAL(cond_timedwait)(c, m, t))
COND_ON(cond_clockwait_on,
        (pthread_cond_t * c, pthread_mutex_t *m, clockid_t k, const struct timespec *t),
        REAL(cond_clockwait)(c, m, k, t))

/* sem_wait's result is -1 with errno; a wait interrupted by a signal blocked all the same. */
static inline bool sem_waited(int rc) { return rc == 0 || errno == ETIMEDOUT || errno == EINTR; }

WAIT_ON(sem_wait_slow, (sem_t * s), s, "sem", REAL(sem_wait)(s), sem_waited(rc))
WAIT_ON(sem_timedwait_slow, (sem_t * s, const struct timespec *t), s, "sem",
        REAL(sem_timedwait)(s, t), sem_waited(rc))
WAIT_ON(sem_clockwait_slow, (sem_t * s, clockid_t c, const struct timespec *t), s, "sem",
        REAL(sem_clockwait)(s, c, t), sem_waited(rc))
WAIT_ON(join_on, (pthread_t th, void **ret), (const void *)th, "join", REAL(join)(th, ret), rc == 0)
WAIT_ON(timedjoin_on, (pthread_t th, void **ret, const struct timespec *t), (const void *)th,
        "join", REAL(timedjoin)(th, ret, t), wait_ok(rc))
WAIT_ON(clockjoin_on, (pthread_t th, void **ret, clockid_t c, const struct timespec *t),
        (const void *)th, "join", REAL(clockjoin)(th, ret, c, t), wait_ok(rc))
WAIT_ON(barrier_wait_on, (pthread_barrier_t * b), b, "barrier", REAL(barrier_wait)(b),
        rc == 0 || rc == PTHREAD_BARRIER_SERIAL_THREAD)

/* A semaphore that can be taken at once is not a wait (Go counts only waits that blocked).
 * sem_wait and sem_timedwait act on a pending cancellation even when they do not block (glibc's
 * sem_clockwait does not). */
SYNC_TEXT static bool sem_take(sem_t *s, bool cancel_point) {
  int saved = errno;
  if (cancel_point)
    pthread_testcancel();
  if (real.sem_trywait(s) == 0)
    return true;
  errno = saved;
  return false;
}

SYNC_TEXT static int sem_wait_on(sem_t *s) { return sem_take(s, true) ? 0 : sem_wait_slow(s); }

SYNC_TEXT static int sem_timedwait_on(sem_t *s, const struct timespec *t) {
  if (!time_ok(t))
    return REAL(sem_timedwait)(s, t);
  return sem_take(s, true) ? 0 : sem_timedwait_slow(s, t);
}

SYNC_TEXT static int sem_clockwait_on(sem_t *s, clockid_t c, const struct timespec *t) {
  if (!clock_ok(c) || !time_ok(t))
    return REAL(sem_clockwait)(s, c, t);
  return sem_take(s, false) ? 0 : sem_clockwait_slow(s, c, t);
}

/* ------------------------------------------------------------ resolving ------------------- */

static const sync_fns_t on_fns = {
    .mutex_lock = mutex_lock_on,
    .mutex_unlock = mutex_unlock_on,
    .mutex_timedlock = mutex_timedlock_on,
    .mutex_clocklock = mutex_clocklock_on,
    .rw_rdlock = rw_rdlock_on,
    .rw_wrlock = rw_wrlock_on,
    .rw_unlock = rw_unlock_on,
    .rw_timedrdlock = rw_timedrdlock_on,
    .rw_timedwrlock = rw_timedwrlock_on,
    .rw_clockrdlock = rw_clockrdlock_on,
    .rw_clockwrlock = rw_clockwrlock_on,
    .cond_wait = cond_wait_on,
    .cond_timedwait = cond_timedwait_on,
    .cond_clockwait = cond_clockwait_on,
    .sem_wait = sem_wait_on,
    .sem_timedwait = sem_timedwait_on,
    .sem_clockwait = sem_clockwait_on,
    .join = join_on,
    .timedjoin = timedjoin_on,
    .clockjoin = clockjoin_on,
    .barrier_wait = barrier_wait_on,
};

/* What the hooks jump to: read by every hooked call, written only when the mode changes, so on
 * cache lines of its own. Set below to the first-call stubs. */
typedef union sync_disp {
  sync_fns_t f;
  char lines[(sizeof(sync_fns_t) + 63) / 64 * 64];
} sync_disp_t;

static sync_disp_t disp __attribute__((aligned(64)));

/* The mode: which profiles are on, and the threads profile's wait states. */
static bool mode_block, mode_mutex, mode_waits;
static sync_spin_t mode_lock;

static void *next(const char *name) { return dlsym(RTLD_NEXT, name); }

/* The condition calls at the default version; dlsym would find the oldest. */
static void *next_cond(const char *name) {
  void *f = dlvsym(RTLD_NEXT, name, "GLIBC_2.3.2");
  return f != NULL ? f : dlsym(RTLD_NEXT, name); /* architectures born later have one version */
}

static void resolve_all(void) {
  sync_fns_t *f = &real.f;
  f->mutex_lock = next("pthread_mutex_lock");
  f->mutex_unlock = next("pthread_mutex_unlock");
  real.mutex_trylock = next("pthread_mutex_trylock");
  if (f->mutex_lock == NULL || f->mutex_unlock == NULL || real.mutex_trylock == NULL) {
    f->mutex_lock = __pthread_mutex_lock;
    f->mutex_unlock = __pthread_mutex_unlock;
    real.mutex_trylock = __pthread_mutex_trylock;
  }
  f->mutex_timedlock = next("pthread_mutex_timedlock");
  f->mutex_clocklock = next("pthread_mutex_clocklock");
  f->rw_rdlock = next("pthread_rwlock_rdlock");
  f->rw_wrlock = next("pthread_rwlock_wrlock");
  f->rw_unlock = next("pthread_rwlock_unlock");
  real.rw_tryrdlock = next("pthread_rwlock_tryrdlock");
  real.rw_trywrlock = next("pthread_rwlock_trywrlock");
  f->rw_timedrdlock = next("pthread_rwlock_timedrdlock");
  f->rw_timedwrlock = next("pthread_rwlock_timedwrlock");
  f->rw_clockrdlock = next("pthread_rwlock_clockrdlock");
  f->rw_clockwrlock = next("pthread_rwlock_clockwrlock");
  f->cond_wait = next_cond("pthread_cond_wait");
  f->cond_timedwait = next_cond("pthread_cond_timedwait");
  f->cond_clockwait = next("pthread_cond_clockwait");
  f->sem_wait = next("sem_wait");
  f->sem_timedwait = next("sem_timedwait");
  f->sem_clockwait = next("sem_clockwait");
  real.sem_trywait = next("sem_trywait");
  f->join = next("pthread_join");
  f->timedjoin = next("pthread_timedjoin_np");
  f->clockjoin = next("pthread_clockjoin_np");
  f->barrier_wait = next("pthread_barrier_wait");
}

/* Points every hook at libc's function, or at ours where the mode needs it; a call libc lacks
 * (an old glibc) keeps its stub, which says ENOSYS. Called with mode_lock held, once resolved. */
static void disp_apply(void) {
  bool lock = mode_block || mode_mutex || mode_waits, wait = mode_block || mode_waits;
  const sync_fns_t *r = &real.f;
/* clang-format off */
#define SET(fn, on)                                                                                \
  __atomic_store_n(&disp.f.fn, (on) && r->fn != NULL ? on_fns.fn : r->fn ? r->fn : disp.f.fn,     \
                   __ATOMIC_RELEASE)
  /* clang-format on */
  SET(mutex_lock, lock && real.mutex_trylock != NULL);
  SET(mutex_timedlock, lock && real.mutex_trylock != NULL);
  SET(mutex_clocklock, lock && real.mutex_trylock != NULL);
  SET(mutex_unlock, mode_mutex);
  SET(rw_rdlock, lock && real.rw_tryrdlock != NULL);
  SET(rw_wrlock, lock && real.rw_trywrlock != NULL);
  SET(rw_timedrdlock, lock && real.rw_tryrdlock != NULL);
  SET(rw_timedwrlock, lock && real.rw_trywrlock != NULL);
  SET(rw_clockrdlock, lock && real.rw_tryrdlock != NULL);
  SET(rw_clockwrlock, lock && real.rw_trywrlock != NULL);
  SET(rw_unlock, mode_mutex);
  SET(cond_wait, lock);
  SET(cond_timedwait, lock);
  SET(cond_clockwait, lock);
  SET(sem_wait, wait && real.sem_trywait != NULL);
  SET(sem_timedwait, wait && real.sem_trywait != NULL);
  SET(sem_clockwait, wait && real.sem_trywait != NULL);
  SET(join, wait);
  SET(timedjoin, wait);
  SET(clockjoin, wait);
  SET(barrier_wait, wait);
#undef SET
}

/* Resolves the real functions on the first call. false while a resolution is under way, in this
 * thread (dlsym called back into a hook) or in another. */
static bool sync_resolve(void) {
  int s = atomic_load_explicit(&state, memory_order_acquire);
  if (LIKELY(s == 2))
    return true;
  if (s != 0 || !atomic_compare_exchange_strong(&state, &s, 1))
    return false;
  int saved = errno;
  resolving_here = true;
  resolve_all();
  resolving_here = false;
  sync_spin_lock(&mode_lock);
  atomic_store_explicit(&state, 2, memory_order_release);
  disp_apply();
  sync_spin_unlock(&mode_lock);
  errno = saved;
  return true;
}

/* The same for the configuration calls, which wait for another thread's resolution to end. */
static void sync_resolve_wait(void) {
  while (!sync_resolve() && !resolving_here)
    sched_yield();
}

void sync_hooks_set(bool block, bool mutex) {
  sync_resolve_wait();
  sync_spin_lock(&mode_lock);
  mode_block = block;
  mode_mutex = mutex;
  disp_apply();
  sync_spin_unlock(&mode_lock);
}

void sync_track_waits(bool on) {
  sync_resolve_wait();
  sync_spin_lock(&mode_lock);
  mode_waits = on;
  disp_apply();
  sync_spin_unlock(&mode_lock);
}

/* ------------------------------------------------------------ the first calls ------------- */

/*
 * Each hook's pointer starts at one of these: resolve, then call through the table again. While a
 * resolution is under way, a stub does not wait for it (the resolving thread's dlsym may be
 * waiting for a loader lock that this thread holds, running a library constructor): the mutex and
 * rwlock calls use glibc's __pthread_* names, the others look their own function up. Inside the
 * resolving thread's dlsym only the former can be called; the others would say ENOSYS.
 */
#define FIRST(name, f, T, PARAMS, ARGS, FALLBACK, LOOKUP, FAIL)                                    \
  SYNC_TEXT static int name PARAMS {                                                               \
    if (sync_resolve() && DISP(f) != name)                                                         \
      return DISP(f) ARGS;                                                                         \
    T g = FALLBACK;                                                                                \
    if (g == NULL && !resolving_here)                                                              \
      g = (T)LOOKUP;                                                                               \
    if (g != NULL)                                                                                 \
      return g ARGS;                                                                               \
    FAIL;                                                                                          \
  }

#define NONE NULL
#define FAIL_RC return ENOSYS
#define FAIL_ERRNO                                                                                 \
  errno = ENOSYS;                                                                                  \
  return -1

FIRST(first_mutex_lock, mutex_lock, mutex_fn, (pthread_mutex_t * m), (m), __pthread_mutex_lock,
      NONE, FAIL_RC)
FIRST(first_mutex_unlock, mutex_unlock, mutex_fn, (pthread_mutex_t * m), (m),
      __pthread_mutex_unlock, NONE, FAIL_RC)
FIRST(first_rw_rdlock, rw_rdlock, rw_fn, (pthread_rwlock_t * l), (l), __pthread_rwlock_rdlock, NONE,
      FAIL_RC)
FIRST(first_rw_wrlock, rw_wrlock, rw_fn, (pthread_rwlock_t * l), (l), __pthread_rwlock_wrlock, NONE,
      FAIL_RC)
FIRST(first_rw_unlock, rw_unlock, rw_fn, (pthread_rwlock_t * l), (l), __pthread_rwlock_unlock, NONE,
      FAIL_RC)
FIRST(first_mutex_timedlock, mutex_timedlock, mutex_time_fn,
      (pthread_mutex_t * m, const struct timespec *t), (m, t), NONE,
      next("pthread_mutex_timedlock"), FAIL_RC)
FIRST(first_mutex_clocklock, mutex_clocklock, mutex_clock_fn,
      (pthread_mutex_t * m, clockid_t c, const struct timespec *t), (m, c, t), NONE,
      next("pthread_mutex_clocklock"), FAIL_RC)
FIRST(first_rw_timedrdlock, rw_timedrdlock, rw_time_fn,
      (pthread_rwlock_t * l, const struct timespec *t), (l, t), NONE,
      next("pthread_rwlock_timedrdlock"), FAIL_RC)
FIRST(first_rw_timedwrlock, rw_timedwrlock, rw_time_fn,
      (pthread_rwlock_t * l, const struct timespec *t), (l, t), NONE,
      next("pthread_rwlock_timedwrlock"), FAIL_RC)
FIRST(first_rw_clockrdlock, rw_clockrdlock, rw_clock_fn,
      (pthread_rwlock_t * l, clockid_t c, const struct timespec *t), (l, c, t), NONE,
      next("pthread_rwlock_clockrdlock"), FAIL_RC)
FIRST(first_rw_clockwrlock, rw_clockwrlock, rw_clock_fn,
      (pthread_rwlock_t * l, clockid_t c, const struct timespec *t), (l, c, t), NONE,
      next("pthread_rwlock_clockwrlock"), FAIL_RC)
FIRST(first_cond_wait, cond_wait, cond_fn, (pthread_cond_t * c, pthread_mutex_t *m), (c, m), NONE,
      next_cond("pthread_cond_wait"), FAIL_RC)
FIRST(first_cond_timedwait, cond_timedwait, cond_time_fn,
      (pthread_cond_t * c, pthread_mutex_t *m, const struct timespec *t), (c, m, t), NONE,
      next_cond("pthread_cond_timedwait"), FAIL_RC)
FIRST(first_cond_clockwait, cond_clockwait, cond_clock_fn,
      (pthread_cond_t * c, pthread_mutex_t *m, clockid_t k, const struct timespec *t), (c, m, k, t),
      NONE, next("pthread_cond_clockwait"), FAIL_RC)
FIRST(first_join, join, join_fn, (pthread_t th, void **ret), (th, ret), NONE, next("pthread_join"),
      FAIL_RC)
FIRST(first_timedjoin, timedjoin, join_time_fn,
      (pthread_t th, void **ret, const struct timespec *t), (th, ret, t), NONE,
      next("pthread_timedjoin_np"), FAIL_RC)
FIRST(first_clockjoin, clockjoin, join_clock_fn,
      (pthread_t th, void **ret, clockid_t c, const struct timespec *t), (th, ret, c, t), NONE,
      next("pthread_clockjoin_np"), FAIL_RC)
FIRST(first_barrier_wait, barrier_wait, barrier_fn, (pthread_barrier_t * b), (b), NONE,
      next("pthread_barrier_wait"), FAIL_RC)
FIRST(first_sem_wait, sem_wait, sem_fn, (sem_t * s), (s), NONE, next("sem_wait"), FAIL_ERRNO)
FIRST(first_sem_timedwait, sem_timedwait, sem_time_fn, (sem_t * s, const struct timespec *t),
      (s, t), NONE, next("sem_timedwait"), FAIL_ERRNO)
FIRST(first_sem_clockwait, sem_clockwait, sem_clock_fn,
      (sem_t * s, clockid_t c, const struct timespec *t), (s, c, t), NONE, next("sem_clockwait"),
      FAIL_ERRNO)

static sync_disp_t disp
    __attribute__((aligned(64))) = {.f = {
                                        .mutex_lock = first_mutex_lock,
                                        .mutex_unlock = first_mutex_unlock,
                                        .mutex_timedlock = first_mutex_timedlock,
                                        .mutex_clocklock = first_mutex_clocklock,
                                        .rw_rdlock = first_rw_rdlock,
                                        .rw_wrlock = first_rw_wrlock,
                                        .rw_unlock = first_rw_unlock,
                                        .rw_timedrdlock = first_rw_timedrdlock,
                                        .rw_timedwrlock = first_rw_timedwrlock,
                                        .rw_clockrdlock = first_rw_clockrdlock,
                                        .rw_clockwrlock = first_rw_clockwrlock,
                                        .cond_wait = first_cond_wait,
                                        .cond_timedwait = first_cond_timedwait,
                                        .cond_clockwait = first_cond_clockwait,
                                        .sem_wait = first_sem_wait,
                                        .sem_timedwait = first_sem_timedwait,
                                        .sem_clockwait = first_sem_clockwait,
                                        .join = first_join,
                                        .timedjoin = first_timedjoin,
                                        .clockjoin = first_clockjoin,
                                        .barrier_wait = first_barrier_wait,
                                    }};

/* ------------------------------------------------------------ the hooks ------------------- */

SYNC_HOOK int pthread_mutex_lock(pthread_mutex_t *m) { return DISP(mutex_lock)(m); }
SYNC_HOOK int pthread_mutex_unlock(pthread_mutex_t *m) { return DISP(mutex_unlock)(m); }

SYNC_HOOK int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *t) {
  return DISP(mutex_timedlock)(m, t);
}

SYNC_HOOK int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t c, const struct timespec *t) {
  return DISP(mutex_clocklock)(m, c, t);
}

SYNC_HOOK int pthread_rwlock_rdlock(pthread_rwlock_t *l) { return DISP(rw_rdlock)(l); }
SYNC_HOOK int pthread_rwlock_wrlock(pthread_rwlock_t *l) { return DISP(rw_wrlock)(l); }
SYNC_HOOK int pthread_rwlock_unlock(pthread_rwlock_t *l) { return DISP(rw_unlock)(l); }

SYNC_HOOK int pthread_rwlock_timedrdlock(pthread_rwlock_t *l, const struct timespec *t) {
  return DISP(rw_timedrdlock)(l, t);
}

SYNC_HOOK int pthread_rwlock_timedwrlock(pthread_rwlock_t *l, const struct timespec *t) {
  return DISP(rw_timedwrlock)(l, t);
}

SYNC_HOOK int pthread_rwlock_clockrdlock(pthread_rwlock_t *l, clockid_t c,
                                         const struct timespec *t) {
  return DISP(rw_clockrdlock)(l, c, t);
}

SYNC_HOOK int pthread_rwlock_clockwrlock(pthread_rwlock_t *l, clockid_t c,
                                         const struct timespec *t) {
  return DISP(rw_clockwrlock)(l, c, t);
}

SYNC_HOOK int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m) {
  return DISP(cond_wait)(c, m);
}

SYNC_HOOK int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m,
                                     const struct timespec *t) {
  return DISP(cond_timedwait)(c, m, t);
}

SYNC_HOOK int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t k,
                                     const struct timespec *t) {
  return DISP(cond_clockwait)(c, m, k, t);
}

SYNC_HOOK int sem_wait(sem_t *s) { return DISP(sem_wait)(s); }
SYNC_HOOK int sem_timedwait(sem_t *s, const struct timespec *t) {
  return DISP(sem_timedwait)(s, t);
}

SYNC_HOOK int sem_clockwait(sem_t *s, clockid_t c, const struct timespec *t) {
  return DISP(sem_clockwait)(s, c, t);
}

SYNC_HOOK int pthread_join(pthread_t th, void **ret) { return DISP(join)(th, ret); }

SYNC_HOOK int pthread_timedjoin_np(pthread_t th, void **ret, const struct timespec *t) {
  return DISP(timedjoin)(th, ret, t);
}

SYNC_HOOK int pthread_clockjoin_np(pthread_t th, void **ret, clockid_t c,
                                   const struct timespec *t) {
  return DISP(clockjoin)(th, ret, c, t);
}

SYNC_HOOK int pthread_barrier_wait(pthread_barrier_t *b) { return DISP(barrier_wait)(b); }

/* ------------------------------------------------------------ fork ------------------------ */

static void sync_fork_prepare(void) {
  sync_wait_fork_enter(); /* the other handlers' locks pass straight through until we are done */
  sync_tables_fork_lock();
}

static void sync_fork_parent(void) {
  sync_tables_fork_unlock();
  sync_wait_fork_leave();
}

/* The waiters were other threads: the child has none. A resolution another thread had under way
 * starts over. */
static void sync_fork_child(void) {
  sync_wait_fork_child();
  int s = 1;
  atomic_compare_exchange_strong(&state, &s, 0);
  atomic_store(&mode_lock.held, 0);
  sync_tables_fork_unlock();
  sync_wait_fork_leave();
}

static void register_atfork(void) {
  pthread_atfork(sync_fork_prepare, sync_fork_parent, sync_fork_child);
}

/* Registers the fork handlers, once, when a profile is first turned on (synctab.c). */
void sync_hooks_atfork(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, register_atfork);
}
