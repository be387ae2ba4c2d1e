/*
 * sync_test.c — the block and mutex profiles: Go's sampling rules, the tables, and the hooks.
 *
 * This binary links libcprof.a, so sync.c's pthread hooks are this program's own definitions and
 * every lock below goes through them, with libc's functions found by dlsym. The sampling rules are
 * checked exactly (over every value of the random number) and for bias (a simulation over many
 * events must give the true totals back). The tables are checked for uniqueness under concurrent
 * creation and exact atomic counts. The hooks are checked for what they record (a contended wait at
 * the waiting function, the release at the releasing function, nothing for an uncontended lock, no
 * frame of ours at the leaf, nothing from inside the heap guard), for the semantics they must not
 * change (error-checking, recursive and robust mutexes, trylock, timeouts, argument errors, errno),
 * with the profiles off and on, for the wait states a signal handler reads, under signal handlers
 * that lock on top of the hooks' own work, and across fork. Each
 * recording site is a function of its own (noipa); a record belongs to a site when its leaf pc lies
 * in that function.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cprof.h"
#include "format/profile.h"
#include "runtime/heap.h"
#include "runtime/sync.h"
#include "runtime/threads.h"
#include "test.h"

#define MS 1000000LL

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

static struct timespec in_ms(clockid_t c, int ms) {
  struct timespec ts;
  clock_gettime(c, &ts);
  ts.tv_nsec += (long)(ms % 1000) * 1000000;
  ts.tv_sec += ms / 1000 + ts.tv_nsec / 1000000000;
  ts.tv_nsec %= 1000000000;
  return ts;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* ------------------------------------------------------------ sampling --------------------- */

static void test_sampling_rules(void) {
  int kept = 0;
  for (uint64_t r = 0; r < 100; r++)
    kept += sync_block_sampled(30, 100, r);
  CHECK(kept == 31, "delay 30 at rate 100: kept for rnd %% 100 <= 30, %d of 100", kept);
  kept = 0;
  for (uint64_t r = 0; r < 1000; r++)
    kept += sync_block_sampled(100, 100, r) + sync_block_sampled(5000, 100, r);
  CHECK(kept == 2000, "a delay >= rate is always kept");
  CHECK(!sync_block_sampled(1000, 0, 0), "rate 0: nothing");
  kept = 0;
  for (uint64_t r = 0; r < 50; r++)
    kept += sync_mutex_sampled(5, r);
  CHECK(kept == 10, "fraction 5: one in 5, %d of 50", kept);
  CHECK(sync_mutex_sampled(1, 12345) && !sync_mutex_sampled(0, 0), "fraction 1 all, 0 none");

  double c;
  int64_t d;
  sync_event_weight(SYNC_BLOCK, 25, 100, &c, &d);
  CHECK(c == 4.0 && d == 100, "short block event: rate/delay events of rate ns");
  sync_event_weight(SYNC_BLOCK, 250, 100, &c, &d);
  CHECK(c == 1.0 && d == 250, "long block event: itself");
  sync_event_weight(SYNC_BLOCK, 7, 1, &c, &d);
  CHECK(c == 1.0 && d == 7, "rate 1: itself");
  sync_event_weight(SYNC_MUTEX, 7, 3, &c, &d);
  CHECK(c == 3.0 && d == 21, "mutex event: fraction events of fraction * delay");
  CHECK(sync_count_of(0) == 1 && sync_count_of(0.9) == 1 && sync_count_of(2.9) == 2 &&
            sync_count_of(5) == 5,
        "counts truncated, and 1 rather than 0");
}

/* Many events through the rules: the unbiased totals are the true ones. */
static void test_sampling_unbiased(void) {
  const int n = 400000;
  double bc = 0, mc = 0;
  int64_t bd = 0, md = 0, truth = 0;
  for (int i = 0; i < n; i++) {
    int64_t delay = 1 + (int64_t)(next_rnd() % 4000); /* mean 2000, around the rate */
    truth += delay;
    double c;
    int64_t d;
    if (sync_block_sampled(delay, 1500, next_rnd())) {
      sync_event_weight(SYNC_BLOCK, delay, 1500, &c, &d);
      bc += c;
      bd += d;
    }
    if (sync_mutex_sampled(10, next_rnd())) {
      sync_event_weight(SYNC_MUTEX, delay, 10, &c, &d);
      mc += c;
      md += d;
    }
  }
  double bdr = (double)bd / (double)truth, mdr = (double)md / (double)truth;
  /* The block delay is kept exactly for events >= rate and estimated for the rest: tight. Counts
   * of short events are weighted by rate/delay, a heavy tail: looser. */
  CHECK(bdr > 0.98 && bdr < 1.02, "block delay unbiased: ratio %.4f", bdr);
  CHECK(bc / n > 0.93 && bc / n < 1.07, "block count unbiased: ratio %.4f", bc / n);
  CHECK(mdr > 0.97 && mdr < 1.03, "mutex delay unbiased: ratio %.4f", mdr);
  CHECK(mc / n > 0.97 && mc / n < 1.03, "mutex count unbiased: ratio %.4f", mc / n);
}

/* ------------------------------------------------------------ tables ----------------------- */

#define FAKE_STACKS 50

static void fake_stack(int i, uintptr_t *pcs) {
  pcs[0] = 0x10000 + (uintptr_t)i * 16; /* addresses no real stack has */
  pcs[1] = 0x20000;
  pcs[2] = 0x30000 + (uintptr_t)(i % 7);
}

static void *table_worker(void *arg) {
  (void)arg;
  uint64_t r = (uint64_t)(uintptr_t)&r;
  for (int k = 0; k < 20000; k++) {
    r = r * 6364136223846793005ull + 1442695040888963407ull;
    uintptr_t pcs[3];
    fake_stack((int)((r >> 33) % FAKE_STACKS), pcs);
    sync_rec_t *rec = sync_rec_get(SYNC_MUTEX, pcs, 3);
    if (rec != NULL)
      sync_rec_add(rec, 0.5, 3);
  }
  return NULL;
}

static void test_tables(void) {
  uintptr_t pcs[3];
  fake_stack(0, pcs);
  CHECK(sync_rec_get(SYNC_MUTEX, pcs, 3) == NULL, "no table before the profile is first on");
  CHECK(cprof_set_mutex_profile_fraction(-1) == 0, "off by default");
  CHECK(cprof_set_mutex_profile_fraction(1) == 0, "the previous fraction, 0");
  CHECK(cprof_set_mutex_profile_fraction(-5) == 1, "< 0 only reads: 1");
  CHECK(cprof_set_mutex_profile_fraction(0) == 1, "off again, previous 1");
  long before = sync_count(SYNC_MUTEX);
  pthread_t t[4];
  for (int i = 0; i < 4; i++)
    pthread_create(&t[i], NULL, table_worker, NULL);
  for (int i = 0; i < 4; i++)
    pthread_join(t[i], NULL);
  CHECK(sync_count(SYNC_MUTEX) - before == FAKE_STACKS, "one record per stack, %ld",
        sync_count(SYNC_MUTEX) - before);
  double count = 0;
  int64_t delay = 0;
  int found = 0;
  for (int i = 0; i < FAKE_STACKS; i++) {
    fake_stack(i, pcs);
    sync_rec_t *r = sync_rec_get(SYNC_MUTEX, pcs, 3);
    uint64_t bits = atomic_load(&r->count_bits);
    double c;
    memcpy(&c, &bits, sizeof c);
    count += c;
    delay += atomic_load(&r->delay);
    int same = 0;
    for (sync_rec_t *x = sync_recs(SYNC_MUTEX); x != NULL; x = x->all)
      same += x->depth == 3 && memcmp(x->pcs, pcs, sizeof pcs) == 0;
    found += same == 1;
  }
  CHECK(found == FAKE_STACKS, "each stack in the list once");
  CHECK(count == 40000.0 && delay == 240000, "exact atomic sums: count %.1f delay %lld", count,
        (long long)delay);
}

/* ------------------------------------------------------------ recording sites -------------- */

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static _Atomic int held;

#define SITE(name, body)                                                                           \
  __attribute__((noipa)) static int name(void) {                                                   \
    int rc = body;                                                                                 \
    __asm__ volatile("" ::: "memory");                                                             \
    return rc;                                                                                     \
  }

SITE(site_lock, pthread_mutex_lock(&m))
SITE(site_unlock, pthread_mutex_unlock(&m))
SITE(site_uncontended, pthread_mutex_lock(&m))
SITE(site_guarded, pthread_mutex_lock(&m))
SITE(site_rdlock, pthread_rwlock_rdlock(&rw))
SITE(site_wrunlock, pthread_rwlock_unlock(&rw))

static int (*const sites[])(void) = {site_lock,    site_unlock, site_uncontended,
                                     site_guarded, site_rdlock, site_wrunlock};

/* The site whose code holds pc. */
static void *site_of(uintptr_t pc) {
  void *best = NULL;
  for (size_t i = 0; i < sizeof sites / sizeof sites[0]; i++) {
    uintptr_t a = (uintptr_t)sites[i];
    if (a <= pc && pc - a < 256 && (best == NULL || a > (uintptr_t)best))
      best = (void *)sites[i];
  }
  return best;
}

typedef struct site_stat {
  double count;
  int64_t delay;
  int recs;
} site_stat_t;

static site_stat_t stat_of(int which, int (*site)(void)) {
  site_stat_t s = {0};
  for (sync_rec_t *r = sync_recs(which); r != NULL; r = r->all) {
    if (r->depth == 0 || site_of(r->pcs[0]) != (void *)site)
      continue;
    uint64_t bits = atomic_load(&r->count_bits);
    double c;
    memcpy(&c, &bits, sizeof c);
    s.count += c;
    s.delay += atomic_load(&r->delay);
    s.recs++;
  }
  return s;
}

/* Holds m for ms, then releases it at site_unlock. */
static void *holder(void *arg) {
  int ms = (int)(intptr_t)arg;
  pthread_mutex_lock(&m);
  atomic_store(&held, 1);
  sleep_ms(ms);
  site_unlock();
  return NULL;
}

static void *rw_writer(void *arg) {
  int ms = (int)(intptr_t)arg;
  pthread_rwlock_wrlock(&rw);
  atomic_store(&held, 1);
  sleep_ms(ms);
  site_wrunlock();
  return NULL;
}

/* Runs holder (or rw_writer) for ms while the calling thread runs site. */
static void contend(void *(*fn)(void *), int ms, int (*site)(void)) {
  pthread_t t;
  atomic_store(&held, 0);
  pthread_create(&t, NULL, fn, (void *)(intptr_t)ms);
  while (!atomic_load(&held))
    sleep_ms(1);
  site();
  pthread_join(t, NULL);
}

static void test_recording(void) {
  CHECK(cprof_set_block_profile_rate(1) == 0 && cprof_block_profile_rate() == 1, "block on");
  CHECK(cprof_set_mutex_profile_fraction(1) == 0, "mutex on");
  contend(holder, 100, site_lock);
  pthread_mutex_unlock(&m);
  site_stat_t b = stat_of(SYNC_BLOCK, site_lock), u = stat_of(SYNC_MUTEX, site_unlock);
  CHECK(b.recs == 1 && b.count == 1 && b.delay >= 90 * MS && b.delay < 400 * MS,
        "the wait, at the waiting function: %d recs, count %.1f, %lld ns", b.recs, b.count,
        (long long)b.delay);
  CHECK(u.recs == 1 && u.count == 1 && u.delay >= 90 * MS && u.delay <= b.delay + MS,
        "the release, at the releasing function: %d recs, count %.1f, %lld ns", u.recs, u.count,
        (long long)u.delay);
  CHECK(stat_of(SYNC_MUTEX, site_lock).recs == 0 && stat_of(SYNC_BLOCK, site_unlock).recs == 0,
        "each in its own profile");
  int ours = 0;
  for (int w = 0; w < SYNC_NPROFILES; w++)
    for (sync_rec_t *r = sync_recs(w); r != NULL; r = r->all)
      ours += r->depth > 0 && sync_hooks_code_has(r->pcs[0]);
  CHECK(ours == 0, "no record starts in the hooks' own code (%d)", ours);
  CHECK(atomic_load(&sync_waiters.n) == 0, "nobody left in the waiters' table");

  for (int i = 0; i < 1000; i++) {
    site_uncontended();
    pthread_mutex_unlock(&m);
  }
  CHECK(stat_of(SYNC_BLOCK, site_uncontended).recs == 0, "an uncontended lock is no event");

  heap_guard_enter();
  contend(holder, 30, site_guarded);
  heap_guard_exit();
  pthread_mutex_unlock(&m);
  CHECK(stat_of(SYNC_BLOCK, site_guarded).recs == 0, "the profiler's own waits are not recorded");

  contend(rw_writer, 60, site_rdlock);
  pthread_rwlock_unlock(&rw);
  b = stat_of(SYNC_BLOCK, site_rdlock);
  u = stat_of(SYNC_MUTEX, site_wrunlock);
  CHECK(b.recs == 1 && b.delay >= 50 * MS, "rwlock reader's wait: %lld ns", (long long)b.delay);
  CHECK(u.recs == 1 && u.delay >= 50 * MS, "rwlock writer's release: %lld ns", (long long)u.delay);
}

/* ------------------------------------------------------------ semantics -------------------- */

static void *lock_robust_and_die(void *arg) {
  pthread_mutex_lock(arg);
  return NULL;
}

static void *hold_for_timeout(void *arg) {
  pthread_mutex_lock(arg);
  atomic_store(&held, 1);
  while (atomic_load(&held) == 1)
    sleep_ms(1);
  pthread_mutex_unlock(arg);
  return NULL;
}

static void *try_other(void *arg) { return (void *)(intptr_t)pthread_mutex_trylock(arg); }

/* Every result the hooks must leave as libc's, in order; errno after calls that must keep it. */
static int semantics(int *out) {
  int n = 0;
  pthread_mutexattr_t a;
  pthread_mutex_t ec, rec, rob;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
  pthread_mutex_init(&ec, &a);
  out[n++] = pthread_mutex_lock(&ec);
  out[n++] = pthread_mutex_lock(&ec); /* EDEADLK */
  out[n++] = pthread_mutex_trylock(&ec);
  out[n++] = pthread_mutex_unlock(&ec);
  out[n++] = pthread_mutex_unlock(&ec); /* EPERM */
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&rec, &a);
  for (int i = 0; i < 3; i++)
    out[n++] = pthread_mutex_lock(&rec);
  pthread_t t;
  void *r;
  pthread_create(&t, NULL, try_other, &rec);
  pthread_join(t, &r);
  out[n++] = (int)(intptr_t)r; /* EBUSY */
  for (int i = 0; i < 3; i++)
    out[n++] = pthread_mutex_unlock(&rec);
  out[n++] = pthread_mutex_unlock(&rec); /* EPERM */
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_NORMAL);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&rob, &a);
  pthread_create(&t, NULL, lock_robust_and_die, &rob);
  pthread_join(t, NULL);
  out[n++] = pthread_mutex_lock(&rob); /* EOWNERDEAD */
  out[n++] = pthread_mutex_consistent(&rob);
  out[n++] = pthread_mutex_unlock(&rob);
  out[n++] = pthread_mutex_lock(&rob);
  out[n++] = pthread_mutex_unlock(&rob);

  pthread_mutex_t plain = PTHREAD_MUTEX_INITIALIZER;
  struct timespec bad = {0, 2000000000};
  out[n++] = pthread_mutex_timedlock(&plain, &bad); /* free: glibc takes it without looking */
  out[n++] = pthread_mutex_unlock(&plain);
  out[n++] = pthread_mutex_clocklock(&plain, CLOCK_PROCESS_CPUTIME_ID, &bad); /* EINVAL */
  atomic_store(&held, 0);
  pthread_create(&t, NULL, hold_for_timeout, &plain);
  while (atomic_load(&held) == 0)
    sleep_ms(1);
  struct timespec soon = in_ms(CLOCK_REALTIME, 20);
  out[n++] = pthread_mutex_timedlock(&plain, &soon); /* ETIMEDOUT */
  soon = in_ms(CLOCK_MONOTONIC, 20);
  out[n++] = pthread_mutex_clocklock(&plain, CLOCK_MONOTONIC, &soon); /* ETIMEDOUT */
  out[n++] = pthread_mutex_trylock(&plain);                           /* EBUSY */
  atomic_store(&held, 2);
  pthread_join(t, NULL);

  pthread_rwlock_t l = PTHREAD_RWLOCK_INITIALIZER;
  out[n++] = pthread_rwlock_timedrdlock(&l, &bad); /* EINVAL, even though free */
  out[n++] = pthread_rwlock_clockwrlock(&l, CLOCK_PROCESS_CPUTIME_ID, &soon); /* EINVAL */
  out[n++] = pthread_rwlock_wrlock(&l);
  out[n++] = pthread_rwlock_wrlock(&l); /* EDEADLK */
  out[n++] = pthread_rwlock_rdlock(&l); /* EDEADLK */
  out[n++] = pthread_rwlock_unlock(&l);
  out[n++] = pthread_rwlock_rdlock(&l);
  out[n++] = pthread_rwlock_trywrlock(&l); /* EBUSY */
  out[n++] = pthread_rwlock_unlock(&l);

  pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
  pthread_mutex_lock(&plain);
  soon = in_ms(CLOCK_REALTIME, 20);
  out[n++] = pthread_cond_timedwait(&cv, &plain, &soon); /* ETIMEDOUT */
  soon = in_ms(CLOCK_MONOTONIC, 20);
  out[n++] = pthread_cond_clockwait(&cv, &plain, CLOCK_MONOTONIC, &soon); /* ETIMEDOUT */
  out[n++] = pthread_mutex_unlock(&plain);

  sem_t s;
  sem_init(&s, 0, 1);
  errno = 777;
  out[n++] = sem_wait(&s);
  out[n++] = errno; /* kept */
  soon = in_ms(CLOCK_REALTIME, 20);
  out[n++] = sem_timedwait(&s, &soon);
  out[n++] = errno; /* ETIMEDOUT */
  out[n++] = sem_timedwait(&s, &bad);
  out[n++] = errno; /* EINVAL */
  soon = in_ms(CLOCK_MONOTONIC, 20);
  out[n++] = sem_clockwait(&s, CLOCK_PROCESS_CPUTIME_ID, &soon);
  out[n++] = errno; /* EINVAL */
  errno = 777;
  out[n++] = pthread_mutex_lock(&plain) + pthread_mutex_unlock(&plain);
  out[n++] = errno;                              /* kept */
  out[n++] = pthread_join(pthread_self(), NULL); /* EDEADLK */

  pthread_barrier_t b;
  pthread_barrier_init(&b, NULL, 1);
  out[n++] = pthread_barrier_wait(&b); /* PTHREAD_BARRIER_SERIAL_THREAD */
  pthread_barrier_destroy(&b);
  sem_destroy(&s);
  pthread_mutexattr_destroy(&a);
  return n;
}

static void test_semantics(void) {
  int off[64], on[64];
  CHECK(cprof_set_block_profile_rate(0) == 0 && cprof_set_mutex_profile_fraction(0) == 1,
        "profiles off");
  int n = semantics(off);
  CHECK(cprof_set_block_profile_rate(1) == 0 && cprof_set_mutex_profile_fraction(1) == 0,
        "profiles on");
  int n2 = semantics(on);
  CHECK(n == n2 && memcmp(off, on, sizeof(int) * (size_t)n) == 0,
        "the same results with the profiles off and on");
  for (int i = 0; i < n && i < n2; i++)
    if (off[i] != on[i])
      fprintf(stderr, "  result %d: off %d on %d\n", i, off[i], on[i]);
  static const int want[] = {
      0,      EDEADLK,    EBUSY,  0,         EPERM,     0,
      0,      0,          EBUSY,  0,         0,         0,
      EPERM,  EOWNERDEAD, 0,      0,         0,         0,
      0,      0,          EINVAL, ETIMEDOUT, ETIMEDOUT, EBUSY,
      EINVAL, EINVAL,     0,      EDEADLK,   EDEADLK,   0,
      0,      EBUSY,      0,      ETIMEDOUT, ETIMEDOUT, 0,
      0,      777,        -1,     ETIMEDOUT, -1,        EINVAL,
      -1,     EINVAL,     0,      777,       EDEADLK,   PTHREAD_BARRIER_SERIAL_THREAD};
  CHECK(n == (int)(sizeof want / sizeof want[0]) && memcmp(off, want, sizeof want) == 0,
        "libc's answers (%d results)", n);
  for (int i = 0; i < n && i < (int)(sizeof want / sizeof want[0]); i++)
    if (off[i] != want[i])
      fprintf(stderr, "  result %d: %d, want %d\n", i, off[i], want[i]);
}

/* ------------------------------------------------------------ wait states ------------------ */

static pthread_mutex_t wm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wcv = PTHREAD_COND_INITIALIZER;
static _Atomic(const char *) seen_what;
static const void *_Atomic seen_obj;
static _Atomic int wake;

static void on_usr1(int sig) {
  (void)sig;
  const void *obj = NULL;
  atomic_store(&seen_obj, NULL);
  const char *what = threads_wait_get(&obj, NULL);
  atomic_store(&seen_obj, obj);
  atomic_store(&seen_what, what != NULL ? what : "none");
}

static void *cond_sleeper(void *arg) {
  (void)arg;
  pthread_mutex_lock(&wm);
  while (!atomic_load(&wake))
    pthread_cond_wait(&wcv, &wm);
  pthread_mutex_unlock(&wm);
  return NULL;
}

static void test_wait_states(void) {
  struct sigaction sa = {0};
  sa.sa_handler = on_usr1;
  sigaction(SIGUSR1, &sa, NULL);
  pthread_t t;
  pthread_create(&t, NULL, cond_sleeper, NULL);
  sleep_ms(50);
  pthread_kill(t, SIGUSR1);
  for (int i = 0; i < 1000 && atomic_load(&seen_what) == NULL; i++)
    sleep_ms(1);
  const char *what = atomic_load(&seen_what);
  CHECK(what != NULL && strcmp(what, "cond") == 0 && atomic_load(&seen_obj) == (void *)&wcv,
        "a thread in pthread_cond_wait reads as waiting on \"cond\" %p: %s %p", (void *)&wcv,
        what ? what : "(nothing)", atomic_load(&seen_obj));
  pthread_mutex_lock(&wm);
  atomic_store(&wake, 1);
  pthread_cond_signal(&wcv);
  pthread_mutex_unlock(&wm);
  pthread_join(t, NULL);
  atomic_store(&seen_what, NULL);
  pthread_kill(pthread_self(), SIGUSR1);
  what = atomic_load(&seen_what);
  CHECK(what != NULL && strcmp(what, "none") == 0, "and as waiting on nothing afterwards: %s",
        what ? what : "(nothing)");
}

/* ------------------------------------------------------------ signals ---------------------- */

static pthread_mutex_t sig_m = PTHREAD_MUTEX_INITIALIZER, work_m = PTHREAD_MUTEX_INITIALIZER;
static _Atomic long sig_count, work_count;
static _Atomic int work_stop;

/* Locks from a signal handler, on top of whatever the thread was doing (our bookkeeping among
 * it): handlers of two threads contend for sig_m, so the hooks' slow path runs in handlers. */
static void on_usr2(int sig) {
  (void)sig;
  int e = errno;
  pthread_mutex_lock(&sig_m);
  atomic_fetch_add(&sig_count, 1);
  pthread_mutex_unlock(&sig_m);
  errno = e;
}

static void *hammer(void *arg) {
  (void)arg;
  while (!atomic_load(&work_stop)) {
    pthread_mutex_lock(&work_m);
    atomic_fetch_add(&work_count, 1);
    pthread_mutex_unlock(&work_m);
  }
  return NULL;
}

/* Two threads contend (every contention recorded) while being signalled thousands of times. */
static void test_signals(void) {
  struct sigaction sa = {0};
  sa.sa_handler = on_usr2;
  sigaction(SIGUSR2, &sa, NULL);
  pthread_t t[2];
  for (int i = 0; i < 2; i++)
    pthread_create(&t[i], NULL, hammer, NULL);
  long sent = 0;
  for (int k = 0; k < 2000; k++) {
    for (int i = 0; i < 2; i++)
      sent += pthread_kill(t[i], SIGUSR2) == 0;
    struct timespec ts = {0, 200000};
    nanosleep(&ts, NULL);
  }
  atomic_store(&work_stop, 1);
  for (int i = 0; i < 2; i++)
    pthread_join(t[i], NULL);
  sleep_ms(10);
  CHECK(atomic_load(&sig_count) > 0 && atomic_load(&sig_count) <= sent,
        "handlers ran (%ld of %ld signals; pending ones merge) and nothing hung",
        atomic_load(&sig_count), sent);
  CHECK(atomic_load(&sync_waiters.n) == 0, "nobody left in the waiters' table");
  CHECK(pthread_mutex_trylock(&work_m) == 0 && pthread_mutex_unlock(&work_m) == 0 &&
            pthread_mutex_trylock(&sig_m) == 0 && pthread_mutex_unlock(&sig_m) == 0,
        "both mutexes free at the end");
}

/* ------------------------------------------------------------ fork ------------------------- */

static void *wait_on_m(void *arg) {
  (void)arg;
  site_lock();
  pthread_mutex_unlock(&m);
  return NULL;
}

/* A child forked while a thread waits on m: that waiter is not in the child, so the child's
 * release of m charges nobody. */
static void test_fork(void) {
  pthread_mutex_lock(&m);
  pthread_t t;
  pthread_create(&t, NULL, wait_on_m, NULL);
  for (int i = 0; i < 1000 && atomic_load(&sync_waiters.n) == 0; i++)
    sleep_ms(1);
  CHECK(atomic_load(&sync_waiters.n) == 1, "one waiter registered");
  site_stat_t before = stat_of(SYNC_MUTEX, site_unlock);
  pid_t pid = fork();
  if (pid == 0) {
    int bad = atomic_load(&sync_waiters.n) != 0;
    sleep_ms(20);
    site_unlock();
    site_stat_t after = stat_of(SYNC_MUTEX, site_unlock);
    bad |= (after.delay != before.delay) << 1;
    bad |= (pthread_mutex_lock(&m) != 0) << 2; /* the child's tables and locks work */
    _exit(bad);
  }
  int status = -1;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "child: no waiter, nothing charged, locks work (status %d)", status);
  sleep_ms(20);
  site_unlock();
  pthread_join(t, NULL);
  CHECK(stat_of(SYNC_MUTEX, site_unlock).delay - before.delay >= 15 * MS,
        "the parent's release charges its waiter");
}

/* ------------------------------------------------------------ writing ---------------------- */

static prof_t *write_and_decode(const void *snap, const void *base) {
  char path[] = "/tmp/sync_test.XXXXXX";
  int fd = mkstemp(path);
  int rc = sync_write(fd, snap, base, 0);
  CHECK(rc == 0, "sync_write: %d", rc);
  off_t len = lseek(fd, 0, SEEK_END);
  uint8_t *buf = malloc((size_t)len + 1);
  ssize_t got = pread(fd, buf, (size_t)len, 0);
  close(fd);
  unlink(path);
  prof_t *p = NULL;
  char err[256];
  rc = prof_decode(buf, got > 0 ? (size_t)got : 0, &p, err, sizeof err);
  CHECK(rc == 0, "decode: %s", err);
  free(buf);
  return p;
}

/* The sums of the values of the samples whose leaf is the function named fn; false: none. */
static bool leaf_sum(const prof_t *p, const char *fn, int64_t *count, int64_t *delay) {
  bool any = false;
  *count = *delay = 0;
  for (size_t i = 0; i < p->nsample; i++) {
    const prof_sample_t *s = &p->sample[i];
    const prof_location_t *l = s->nlocation ? prof_location_by_id(p, s->location_id[0]) : NULL;
    if (l == NULL || l->nline == 0)
      continue;
    const prof_function_t *f = prof_function_by_id(p, l->line[l->nline - 1].function_id);
    if (f != NULL && strcmp(prof_str(p, f->name), fn) == 0) {
      *count += s->value[0];
      *delay += s->value[1];
      any = true;
    }
  }
  return any;
}

static void test_write(void) {
  void *base = sync_snapshot(SYNC_BLOCK);
  contend(holder, 40, site_lock);
  pthread_mutex_unlock(&m);
  void *snap = sync_snapshot(SYNC_BLOCK);
  prof_t *p = write_and_decode(snap, NULL);
  if (p != NULL) {
    CHECK(p->nsample_type == 2 && strcmp(prof_str(p, p->sample_type[0].type), "contentions") == 0 &&
              strcmp(prof_str(p, p->sample_type[0].unit), "count") == 0 &&
              strcmp(prof_str(p, p->sample_type[1].type), "delay") == 0 &&
              strcmp(prof_str(p, p->sample_type[1].unit), "nanoseconds") == 0,
          "sample types contentions/count, delay/nanoseconds");
    CHECK(strcmp(prof_str(p, p->period_type.type), "contentions") == 0 &&
              strcmp(prof_str(p, p->period_type.unit), "count") == 0 && p->period == 1,
          "period contentions/count 1");
    int64_t c, d;
    site_stat_t st = stat_of(SYNC_BLOCK, site_lock);
    CHECK(leaf_sum(p, "site_lock", &c, &d) && c == (int64_t)st.count && d == st.delay && c >= 3,
          "site_lock: all its waits, as recorded (%lld %lld)", (long long)c, (long long)d);
    for (size_t i = 1; i < p->nsample; i++)
      CHECK(p->sample[i - 1].value[1] >= p->sample[i].value[1], "sorted by delay");
    prof_free(p);
  }
  p = write_and_decode(snap, base);
  if (p != NULL) {
    int64_t c, d;
    CHECK(leaf_sum(p, "site_lock", &c, &d) && c == 1 && d >= 35 * MS && d < 300 * MS,
          "delta: only the wait since the base (%lld %lld)", (long long)c, (long long)d);
    CHECK(!leaf_sum(p, "site_rdlock", &c, &d), "delta: unchanged records left out");
    CHECK(p->duration_nanos >= 35 * MS, "delta: a duration");
    prof_free(p);
  }
  char path[] = "/tmp/sync_test.XXXXXX";
  int fd = mkstemp(path);
  char text[256] = {0};
  CHECK(cprof_write_profile("block", fd, 1) == 0, "block debug=1");
  ssize_t got = pread(fd, text, sizeof text - 1, 0);
  CHECK(got > 0 && strncmp(text, "--- contention:\ncycles/second=1000000000\n", 41) == 0,
        "block text header: %.60s", text);
  CHECK(ftruncate(fd, 0) == 0 && lseek(fd, 0, SEEK_SET) == 0 &&
            cprof_write_profile("mutex", fd, 1) == 0,
        "mutex debug=1");
  memset(text, 0, sizeof text);
  got = pread(fd, text, sizeof text - 1, 0);
  CHECK(got > 0 &&
            strncmp(text, "--- mutex:\ncycles/second=1000000000\nsampling period=1\n", 54) == 0,
        "mutex text header: %.70s", text);
  close(fd);
  unlink(path);
  sync_snapshot_free(snap);
  sync_snapshot_free(base);
}

int main(void) {
  test_sampling_rules();
  test_sampling_unbiased();
  test_tables();
  test_recording();
  test_semantics();
  test_wait_states();
  test_signals();
  test_fork();
  test_write();
  return TEST_DONE("sync_test");
}
