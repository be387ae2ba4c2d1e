/*
 * sync_edge.c — the pthread and semaphore calls whose results libcprof's hooks must leave alone
 * (test_sync.py runs it without the library, with it and the profiles off, and with them on, and
 * compares the outputs).
 *
 * Prints one line per call, "<what> <result>" (for the semaphore calls the result and errno), in
 * a fixed order: error-checking, recursive and robust mutexes, trylock, timed locks that time out
 * or whose arguments are bad, rwlocks, condition variables that time out, semaphores, errno kept
 * across calls that succeed, join on oneself, a barrier of one, and a contended lock under a
 * cancellation-free handoff. On stderr, whether pthread_mutex_lock is libcprof's (for the test to
 * know the hooks were there).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic int held;

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

static struct timespec in_ms(clockid_t c, int ms) {
  struct timespec ts;
  clock_gettime(c, &ts);
  ts.tv_nsec += (long)ms * 1000000;
  ts.tv_sec += ts.tv_nsec / 1000000000;
  ts.tv_nsec %= 1000000000;
  return ts;
}

static void show(const char *what, int rc) { printf("%s %d\n", what, rc); }
static void show_errno(const char *what, int rc) { printf("%s %d errno %d\n", what, rc, errno); }

static void *lock_and_die(void *arg) {
  pthread_mutex_lock(arg);
  return NULL;
}

static void *hold_until_told(void *arg) {
  pthread_mutex_lock(arg);
  atomic_store(&held, 1);
  while (atomic_load(&held) == 1)
    sleep_ms(1);
  pthread_mutex_unlock(arg);
  return NULL;
}

static void *try_from_other(void *arg) { return (void *)(intptr_t)pthread_mutex_trylock(arg); }

static void mutexes(void) {
  pthread_mutexattr_t a;
  pthread_mutex_t ec, rec, rob;
  pthread_t t;
  void *r;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
  pthread_mutex_init(&ec, &a);
  show("errorcheck-lock", pthread_mutex_lock(&ec));
  show("errorcheck-relock", pthread_mutex_lock(&ec));
  show("errorcheck-trylock", pthread_mutex_trylock(&ec));
  show("errorcheck-unlock", pthread_mutex_unlock(&ec));
  show("errorcheck-unlock-again", pthread_mutex_unlock(&ec));
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&rec, &a);
  for (int i = 0; i < 3; i++)
    show("recursive-lock", pthread_mutex_lock(&rec));
  show("recursive-trylock", pthread_mutex_trylock(&rec));
  pthread_create(&t, NULL, try_from_other, &rec);
  pthread_join(t, &r);
  show("recursive-trylock-other", (int)(intptr_t)r);
  for (int i = 0; i < 4; i++)
    show("recursive-unlock", pthread_mutex_unlock(&rec));
  show("recursive-unlock-again", pthread_mutex_unlock(&rec));
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_NORMAL);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&rob, &a);
  pthread_create(&t, NULL, lock_and_die, &rob);
  pthread_join(t, NULL);
  show("robust-owner-died", pthread_mutex_lock(&rob));
  show("robust-consistent", pthread_mutex_consistent(&rob));
  show("robust-unlock", pthread_mutex_unlock(&rob));
  show("robust-lock", pthread_mutex_lock(&rob));
  show("robust-unlock", pthread_mutex_unlock(&rob));
  pthread_mutexattr_destroy(&a);
}

static void timed(void) {
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  pthread_t t;
  struct timespec bad = {0, 2000000000}, soon;
  show("timedlock-free-bad-time", pthread_mutex_timedlock(&m, &bad));
  show("unlock", pthread_mutex_unlock(&m));
  show("clocklock-bad-clock", pthread_mutex_clocklock(&m, CLOCK_PROCESS_CPUTIME_ID, &bad));
  atomic_store(&held, 0);
  pthread_create(&t, NULL, hold_until_told, &m);
  while (atomic_load(&held) == 0)
    sleep_ms(1);
  soon = in_ms(CLOCK_REALTIME, 30);
  show("timedlock-timeout", pthread_mutex_timedlock(&m, &soon));
  soon = in_ms(CLOCK_MONOTONIC, 30);
  show("clocklock-timeout", pthread_mutex_clocklock(&m, CLOCK_MONOTONIC, &soon));
  show("trylock-held", pthread_mutex_trylock(&m));
  atomic_store(&held, 2);
  pthread_join(t, NULL);

  pthread_rwlock_t l = PTHREAD_RWLOCK_INITIALIZER;
  show("timedrdlock-free-bad-time", pthread_rwlock_timedrdlock(&l, &bad));
  show("clockwrlock-bad-clock", pthread_rwlock_clockwrlock(&l, CLOCK_PROCESS_CPUTIME_ID, &soon));
  show("wrlock", pthread_rwlock_wrlock(&l));
  show("wrlock-again", pthread_rwlock_wrlock(&l));
  show("rdlock-while-writing", pthread_rwlock_rdlock(&l));
  show("tryrdlock-while-writing", pthread_rwlock_tryrdlock(&l));
  show("rwunlock", pthread_rwlock_unlock(&l));
  show("rdlock", pthread_rwlock_rdlock(&l));
  show("trywrlock-while-reading", pthread_rwlock_trywrlock(&l));
  show("rwunlock", pthread_rwlock_unlock(&l));
  soon = in_ms(CLOCK_REALTIME, 30);
  show("timedwrlock-free", pthread_rwlock_timedwrlock(&l, &soon));
  show("rwunlock", pthread_rwlock_unlock(&l));

  pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
  pthread_mutex_lock(&m);
  soon = in_ms(CLOCK_REALTIME, 30);
  show("cond-timedwait-timeout", pthread_cond_timedwait(&cv, &m, &soon));
  soon = in_ms(CLOCK_MONOTONIC, 30);
  show("cond-clockwait-timeout", pthread_cond_clockwait(&cv, &m, CLOCK_MONOTONIC, &soon));
  show("cond-timedwait-bad-time", pthread_cond_timedwait(&cv, &m, &bad));
  show("unlock", pthread_mutex_unlock(&m));
}

static void semaphores(void) {
  sem_t s;
  struct timespec bad = {0, -1}, soon;
  sem_init(&s, 0, 2);
  errno = 777;
  show_errno("sem-wait-available", sem_wait(&s));
  soon = in_ms(CLOCK_REALTIME, 30);
  show_errno("sem-timedwait-available", sem_timedwait(&s, &soon));
  soon = in_ms(CLOCK_REALTIME, 30);
  show_errno("sem-timedwait-timeout", sem_timedwait(&s, &soon));
  sem_post(&s);
  errno = 0;
  show_errno("sem-timedwait-bad-time-available", sem_timedwait(&s, &bad));
  errno = 0;
  soon = in_ms(CLOCK_MONOTONIC, 30);
  show_errno("sem-clockwait-bad-clock", sem_clockwait(&s, CLOCK_PROCESS_CPUTIME_ID, &soon));
  errno = 0;
  soon = in_ms(CLOCK_MONOTONIC, 30);
  show_errno("sem-clockwait-available", sem_clockwait(&s, CLOCK_MONOTONIC, &soon));
  sem_destroy(&s);
}

static pthread_mutex_t hand = PTHREAD_MUTEX_INITIALIZER;
static int shared;

static void *bump(void *arg) {
  (void)arg;
  for (int i = 0; i < 20000; i++) {
    pthread_mutex_lock(&hand);
    shared++;
    pthread_mutex_unlock(&hand);
  }
  return NULL;
}

static void misc(void) {
  pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
  errno = 777;
  int rc = pthread_mutex_lock(&m) + pthread_mutex_unlock(&m);
  show_errno("lock-unlock-keeps-errno", rc);
  show("join-self", pthread_join(pthread_self(), NULL));
  pthread_barrier_t b;
  pthread_barrier_init(&b, NULL, 1);
  show("barrier-of-one", pthread_barrier_wait(&b) == PTHREAD_BARRIER_SERIAL_THREAD);
  pthread_barrier_destroy(&b);
  pthread_t t[4];
  for (int i = 0; i < 4; i++)
    pthread_create(&t[i], NULL, bump, NULL);
  for (int i = 0; i < 4; i++)
    show("join", pthread_join(t[i], NULL));
  show("contended-count", shared);
}

int main(void) {
  Dl_info info;
  void *f = dlsym(RTLD_DEFAULT, "pthread_mutex_lock");
  fprintf(stderr, "pthread_mutex_lock is in %s\n",
          f != NULL && dladdr(f, &info) != 0 && info.dli_fname ? info.dli_fname : "?");
  mutexes();
  timed();
  semaphores();
  misc();
  return 0;
}
