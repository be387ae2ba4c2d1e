/*
 * dump_work.c — the threads-profile benchmark: how long one goroutine dump takes with many
 * threads, and what the dumps do to the threads they look at.
 *
 * Starts N threads (default 200) that stay blocked in the kernel, spread over nanosleep, poll,
 * a condition variable and a pipe read, each below a 6-deep chain of calls, plus 2 threads that
 * spin; then takes ROUNDS dumps (default 50) with cprof_write_profile("goroutine", /dev/null, 0)
 * and prints the dump times (median, mean, max, in ms). The sleeping threads sleep in slices of
 * 50 ms and count the slices that ended early or with EINTR: "cut short" is what the dumps did to
 * them (0 when a dump never interrupts a blocking call).
 *
 * libcprof is attached with LD_PRELOAD; cprof_write_profile is found with dlsym, so the binary
 * runs (and says so) without it.
 *
 * Usage: dump_work [threads] [rounds]
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define NOINL __attribute__((noinline, noclone))
#define KEEP() __asm__ volatile("" ::: "memory")
#define SLICE_NS 50000000LL

static atomic_int quit, started, cut_short, eintr;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int pipefd[2];

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One blocking call of kind k; counts the calls a signal cut short. */
NOINL static void block_once(int k) {
  int64_t t0 = now_ns();
  int rc = 0;
  switch (k) {
  case 0: {
    struct timespec ts = {0, SLICE_NS};
    rc = nanosleep(&ts, NULL);
    break;
  }
  case 1:
    rc = poll(NULL, 0, (int)(SLICE_NS / 1000000));
    break;
  case 2:
    pthread_mutex_lock(&mu);
    if (!atomic_load(&quit))
      pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    return;
  default: {
    char c;
    if (read(pipefd[0], &c, 1) < 0 && errno == EINTR) {
      atomic_fetch_add(&eintr, 1);
      atomic_fetch_add(&cut_short, 1);
    }
    return;
  }
  }
  if (rc < 0 && errno == EINTR)
    atomic_fetch_add(&eintr, 1);
  if (rc < 0 || now_ns() - t0 < SLICE_NS)
    atomic_fetch_add(&cut_short, 1);
}

NOINL static void chain(int depth, int k) {
  if (depth == 0) {
    atomic_fetch_add(&started, 1);
    while (!atomic_load(&quit))
      block_once(k);
  } else {
    chain(depth - 1, k);
  }
  KEEP();
}

static void *sleeper(void *arg) {
  chain(6, (int)(intptr_t)arg);
  return NULL;
}

static void *spinner(void *arg) {
  volatile uint64_t x = 1;
  atomic_fetch_add(&started, 1);
  while (!atomic_load(&quit))
    x = x * 6364136223846793005ull + 1;
  return arg;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 200, rounds = argc > 2 ? atoi(argv[2]) : 50;
  int (*write_profile)(const char *, int, int) =
      (int (*)(const char *, int, int))dlsym(RTLD_DEFAULT, "cprof_write_profile");
  if (write_profile == NULL || n < 1 || rounds < 1) {
    fprintf(stderr, "usage: LD_PRELOAD=libcprof.so dump_work [threads] [rounds]\n");
    return 2;
  }
  if (pipe(pipefd) != 0)
    return 1;
  pthread_t *t = calloc((size_t)n + 2, sizeof *t);
  for (int i = 0; i < n; i++)
    pthread_create(&t[i], NULL, sleeper, (void *)(intptr_t)(i % 4));
  for (int i = 0; i < 2; i++)
    pthread_create(&t[n + i], NULL, spinner, NULL);
  while (atomic_load(&started) < n + 2)
    usleep(1000);
  usleep(100000);
  int null = open("/dev/null", O_WRONLY);
  write_profile("goroutine", null, 0); /* the first builds the unwind tables */
  atomic_store(&cut_short, 0);
  atomic_store(&eintr, 0);
  double *ms = calloc((size_t)rounds, sizeof *ms), sum = 0;
  for (int i = 0; i < rounds; i++) {
    int64_t t0 = now_ns();
    if (write_profile("goroutine", null, 0) != 0)
      return 1;
    ms[i] = (double)(now_ns() - t0) / 1e6;
    sum += ms[i];
    usleep(20000);
  }
  int cut = atomic_load(&cut_short), cut_eintr = atomic_load(&eintr);
  atomic_store(&quit, 1);
  pthread_mutex_lock(&mu);
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  for (int i = 0; i < n; i++)
    if (write(pipefd[1], "x", 1) != 1)
      return 1;
  for (int i = 0; i < n + 2; i++)
    pthread_join(t[i], NULL);
  qsort(ms, (size_t)rounds, sizeof *ms, cmp);
  printf("threads %d, dumps %d: median %.2f ms, mean %.2f ms, max %.2f ms; blocking calls cut "
         "short %d (%d with EINTR)\n",
         n + 3, rounds, ms[rounds / 2], sum / rounds, ms[rounds - 1], cut, cut_eintr);
  return 0;
}
