/*
 * sync_work.c — lock/unlock timing for sync_bench.py: what one pthread_mutex_lock/unlock pair
 * costs, measured inside the process so that start-up and exit are not in it.
 *
 *   sync_work uncontended N   one thread, N lock/unlock pairs on one mutex, in 5 slices: prints
 *                             "uncontended <ns per pair>" for the fastest slice (the others were
 *                             disturbed by something else running). glibc takes a mutex with a
 *                             plain store while the process has one thread, so this is that case;
 *   sync_work uncontended-mt N  the same with a second, idle thread alive (every lock an atomic
 *                             instruction, as in any threaded program)
 *   sync_work contended N     two threads, N pairs each on one mutex with a few ns of work inside:
 *                             prints "contended <ns per pair>" (wall time / 2N), and "pairs <2N>"
 *                             (the shared counter, which must be exact). How many of those pairs
 *                             contend depends on how often the two threads run at once;
 *   sync_work handoff N       N handoffs, each a true contention: main takes the mutex, a second
 *                             thread tries to and goes to sleep in the kernel (main waits until
 *                             glibc's futex word says a waiter sleeps, and 20 us more), main
 *                             releases it and waits for the other thread to have taken and
 *                             released it. Prints "handoff <ns per round>" (20 us of it the wait)
 *   sync_work interleaved N   with libcprof preloaded: the three states in one process, a second
 *                             thread idle, in 15 rounds of three slices of N/15 pairs, one per
 *                             state: glibc's functions called directly (found in libc.so.6 with
 *                             dlsym), the hooks with the profiles off, the hooks with them on
 *                             (CPROF_BLOCK_RATE and CPROF_MUTEX_FRACTION switched with the API,
 *                             found with dlsym), the order rotating; each slice followed by a
 *                             slice of H/15 handoffs (sync_work interleaved N H; H 30000 by
 *                             default) in the same state. All through function pointers, so that
 *                             only what is behind them differs. Prints "interleaved <glibc> <off>
 *                             <on>", the median ns per pair of each, "on-minus-off <median of the
 *                             per-round differences>", and the same for the handoffs
 *                             ("interleaved-handoff", "handoff-on-minus-off", ns per round)
 *
 * The mutex is a global and the loop calls through the PLT, as a program built with -O2 does, so
 * the preloaded hooks (or libc) are what is timed. With SYNC_WORK_OUT=<dir> and libcprof preloaded,
 * the block and mutex profiles are written there at the end (through cprof_write_profile, found
 * with dlsym: the program does not link cprof), so the driver can see what was recorded.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static volatile long counter;
static long per_thread;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

__attribute__((noinline)) static void uncontended_slice(long n) {
  for (long i = 0; i < n; i++) {
    pthread_mutex_lock(&m);
    counter++;
    pthread_mutex_unlock(&m);
  }
}

static int idle_pipe[2];

/* Blocks until main closes the pipe. */
static void *idle(void *arg) {
  (void)arg;
  char c;
  while (read(idle_pipe[0], &c, 1) > 0) {
  }
  return NULL;
}

static void *contender(void *arg) {
  (void)arg;
  for (long i = 0; i < per_thread; i++) {
    pthread_mutex_lock(&m);
    counter++;
    pthread_mutex_unlock(&m);
  }
  return NULL;
}

/* Writes the block and mutex profiles to $SYNC_WORK_OUT when asked and libcprof is there. */
static int write_profiles(void) {
  const char *dir = getenv("SYNC_WORK_OUT");
  int (*write_profile)(const char *, int, int) =
      (int (*)(const char *, int, int))dlsym(RTLD_DEFAULT, "cprof_write_profile");
  if (dir == NULL || write_profile == NULL)
    return 0;
  static const char *const names[] = {"block", "mutex"};
  for (int i = 0; i < 2; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.pb.gz", dir, names[i]);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int rc = fd >= 0 ? write_profile(names[i], fd, 0) : -1;
    if (fd >= 0)
      close(fd);
    if (rc != 0) {
      fprintf(stderr, "sync_work: writing %s failed (%d)\n", path, rc);
      return 1;
    }
  }
  return 0;
}

static _Atomic long round_no, round_done;

/* How long the holder keeps the mutex once the waiter has said it will sleep (glibc's futex word
 * 2): long enough for it to be asleep in the kernel, so that every round is a real wake-up, not a
 * waiter caught on its way in. */
#define SETTLE_NS 20000

static void relax(int *n) {
  if (++*n >= 100)
    sched_yield();
#if defined(__x86_64__) || defined(__i386__)
  else
    __builtin_ia32_pause();
#endif
}

typedef int (*lock_fn)(pthread_mutex_t *);

static lock_fn h_lock_fn = pthread_mutex_lock, h_unlock_fn = pthread_mutex_unlock;

static void *handoff_waiter(void *arg) {
  (void)arg;
  for (long i = 1; i <= per_thread; i++) {
    int spins = 0;
    while (atomic_load(&round_no) != i)
      relax(&spins);
    h_lock_fn(&m);
    h_unlock_fn(&m);
    atomic_store(&round_done, i);
  }
  return NULL;
}

/* n handoffs through lock and unlock (both threads use them); ns per round, or -1. */
static double handoff_slice(lock_fn lock, lock_fn unlock, long n) {
  pthread_t t;
  h_lock_fn = lock;
  h_unlock_fn = unlock;
  per_thread = n;
  atomic_store(&round_no, 0);
  atomic_store(&round_done, 0);
  if (pthread_create(&t, NULL, handoff_waiter, NULL) != 0)
    return -1;
  int64_t t0 = now_ns();
  for (long i = 1; i <= n; i++) {
    lock(&m);
    atomic_store(&round_no, i);
    int spins = 0;
    while (__atomic_load_n(&m.__data.__lock, __ATOMIC_ACQUIRE) != 2) /* the waiter is going */
      relax(&spins);
    for (int64_t until = now_ns() + SETTLE_NS; now_ns() < until;) /* ... to sleep in the kernel */
      relax(&spins);
    unlock(&m);
    spins = 0;
    while (atomic_load(&round_done) != i)
      relax(&spins);
  }
  double ns = (double)(now_ns() - t0) / (double)n;
  pthread_join(t, NULL);
  return ns;
}

__attribute__((noinline)) static double timed_slice(lock_fn lock, lock_fn unlock, long n) {
  int64_t t0 = now_ns();
  for (long i = 0; i < n; i++) {
    lock(&m);
    counter++;
    unlock(&m);
  }
  return (double)(now_ns() - t0) / (double)n;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define ROUNDS 15

static int interleaved(long n, long hn_all) {
  void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
  lock_fn g_lock = libc ? (lock_fn)dlsym(libc, "pthread_mutex_lock") : NULL;
  lock_fn g_unlock = libc ? (lock_fn)dlsym(libc, "pthread_mutex_unlock") : NULL;
  int (*set_block)(int64_t) = (int (*)(int64_t))dlsym(RTLD_DEFAULT, "cprof_set_block_profile_rate");
  int (*set_mutex)(int) = (int (*)(int))dlsym(RTLD_DEFAULT, "cprof_set_mutex_profile_fraction");
  lock_fn h_lock = pthread_mutex_lock, h_unlock = pthread_mutex_unlock;
  if (g_lock == NULL || g_unlock == NULL || set_block == NULL || set_mutex == NULL ||
      g_lock == h_lock) {
    fprintf(stderr, "sync_work interleaved: needs libcprof preloaded\n");
    return 1;
  }
  pthread_t t;
  if (pipe(idle_pipe) != 0 || pthread_create(&t, NULL, idle, NULL) != 0)
    return 1;
  set_block(1); /* the first time loads the extension and builds tables: not in any slice */
  set_mutex(1);
  set_block(0);
  set_mutex(0);
  long k = n / ROUNDS, hn = hn_all / ROUNDS > 0 ? hn_all / ROUNDS : 1;
  timed_slice(g_lock, g_unlock, k / 10);
  timed_slice(h_lock, h_unlock, k / 10);
  double v[3][ROUNDS], diff[ROUNDS], hv[3][ROUNDS], hdiff[ROUNDS];
  for (int r = 0; r < ROUNDS; r++) {
    for (int j = 0; j < 3; j++) {
      int which = (j + r) % 3;
      lock_fn lk = which == 0 ? g_lock : h_lock, ul = which == 0 ? g_unlock : h_unlock;
      if (which == 2) {
        set_block(1);
        set_mutex(1);
      }
      v[which][r] = timed_slice(lk, ul, k);
      hv[which][r] = handoff_slice(lk, ul, hn);
      if (which == 2) {
        set_block(0);
        set_mutex(0);
      }
    }
    diff[r] = v[2][r] - v[1][r];
    hdiff[r] = hv[2][r] - hv[1][r];
  }
  double g = median(v[0], ROUNDS), off = median(v[1], ROUNDS), on = median(v[2], ROUNDS);
  printf("interleaved %.3f %.3f %.3f\non-minus-off %.3f\n", g, off, on, median(diff, ROUNDS));
  g = median(hv[0], ROUNDS), off = median(hv[1], ROUNDS), on = median(hv[2], ROUNDS);
  printf("interleaved-handoff %.3f %.3f %.3f\nhandoff-on-minus-off %.3f\n", g, off, on,
         median(hdiff, ROUNDS));
  close(idle_pipe[1]);
  pthread_join(t, NULL);
  return 0;
}

static int handoff(long n) {
  double ns = handoff_slice(pthread_mutex_lock, pthread_mutex_unlock, n);
  if (ns < 0)
    return 1;
  printf("handoff %.3f\n", ns);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3 && !(argc == 4 && strcmp(argv[1], "interleaved") == 0)) {
    fprintf(stderr,
            "usage: sync_work uncontended|uncontended-mt|contended|handoff|interleaved N [H]\n");
    return 2;
  }
  long n = atol(argv[2]);
  bool mt = strcmp(argv[1], "uncontended-mt") == 0;
  if (strcmp(argv[1], "uncontended") == 0 || mt) {
    pthread_t t;
    if (mt && (pipe(idle_pipe) != 0 || pthread_create(&t, NULL, idle, NULL) != 0))
      return 1;
    double best = 1e30;
    uncontended_slice(n / 50); /* warm: resolve the hooks, fault the pages */
    for (int s = 0; s < 5; s++) {
      int64_t t0 = now_ns();
      uncontended_slice(n / 5);
      double ns = (double)(now_ns() - t0) / (double)(n / 5);
      if (ns < best)
        best = ns;
    }
    printf("%s %.3f\n", argv[1], best);
    if (mt) {
      close(idle_pipe[1]);
      pthread_join(t, NULL);
    }
    return write_profiles();
  }
  if (strcmp(argv[1], "contended") == 0) {
    pthread_t t[2];
    per_thread = n;
    counter = 0;
    int64_t t0 = now_ns();
    for (int i = 0; i < 2; i++)
      pthread_create(&t[i], NULL, contender, NULL);
    for (int i = 0; i < 2; i++)
      pthread_join(t[i], NULL);
    printf("contended %.3f\npairs %ld\n", (double)(now_ns() - t0) / (double)(2 * n), counter);
    return counter == 2 * n ? write_profiles() : 1;
  }
  if (strcmp(argv[1], "interleaved") == 0)
    return interleaved(n, argc > 3 ? atol(argv[3]) : 30000);
  if (strcmp(argv[1], "handoff") == 0)
    return handoff(n) != 0 ? 1 : write_profiles();
  fprintf(stderr, "sync_work: unknown mode %s\n", argv[1]);
  return 2;
}
