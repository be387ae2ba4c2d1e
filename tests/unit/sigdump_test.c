/*
 * sigdump_test.c — the threads profile's SIGPROF requests against a running CPU profile, through
 * the public API (libcprof.a linked in).
 *
 *   1. A perf event's signal folded into a dump's: the thread takes a few CPU samples, blocks
 *      SIGPROF, gets a tgkill SIGPROF (pending), burns CPU until its perf event overflows (that
 *      signal merges into the pending one and is lost, so the event stays disabled), unblocks:
 *      the handler sees a signal of no timer and must re-arm the event, so the CPU it burns next
 *      is sampled (without the re-arm it gets no sample at all).
 *   2. Dumps while a CPU profile runs: 40 goroutine dumps in a row; a thread that only sleeps in
 *      sleeper_wait() is asked 40 times and must have no CPU sample (a request is not a sample);
 *      the profile still samples the CPU burnt meanwhile; and a dump taken then finds the sleeper
 *      in sleeper_wait.
 *   3. A thread that blocks SIGPROF is not signalled: after a dump it has no SIGPROF pending.
 *   4. Dumps from four threads at once are serialized and each finds every thread.
 *   5. debug=2 shows a thread inside a profiled wait (threads_wait_begin, as the sync hooks call
 *      it) with the primitive, the object's address and how long it has waited; and the calling
 *      thread first, running, its stack beginning at the function that called cprof_write_profile.
 *   6. A thread that cannot run its handler (suspended in vfork while the child sleeps) is listed
 *      after the 0.5 s deadline, with its state and cprof_thread_no_answer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cprof.h"
#include "format/profile.h"
#include "runtime/threads.h"
#include "test.h"

#define NOFOLD __attribute__((noinline, noclone, no_icf))

static double thread_cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Burns seconds of this thread's CPU in the function that expands it. */
#define BURN(seconds)                                                                              \
  do {                                                                                             \
    double until_ = thread_cpu() + (seconds);                                                      \
    volatile uint64_t x_ = 1;                                                                      \
    while (thread_cpu() < until_)                                                                  \
      for (int i_ = 0; i_ < 10000; i_++)                                                           \
        x_ = x_ * 6364136223846793005ull + 1;                                                      \
  } while (0)

NOFOLD void burn_before(void) { BURN(0.2); }
NOFOLD void burn_blocked(void) { BURN(0.1); }
NOFOLD void burn_after(void) { BURN(0.4); }
NOFOLD void burn_during_dumps(double s) { BURN(s); }

/* The profile in fd, decoded (NULL on failure). */
static prof_t *read_profile(int fd) {
  off_t len = lseek(fd, 0, SEEK_END);
  uint8_t *data = len > 0 ? malloc((size_t)len) : NULL;
  prof_t *p = NULL;
  char err[128];
  if (data != NULL && pread(fd, data, (size_t)len, 0) == len)
    prof_decode(data, (size_t)len, &p, err, sizeof err);
  free(data);
  return p;
}

/* The sum of value index v over the samples with a frame named name. */
static int64_t value_of(const prof_t *p, const char *name, size_t v) {
  int64_t total = 0;
  for (size_t i = 0; p != NULL && i < p->nsample; i++) {
    const prof_sample_t *s = &p->sample[i];
    bool hit = false;
    for (size_t j = 0; j < s->nlocation && !hit; j++) {
      const prof_location_t *loc = prof_location_by_id(p, s->location_id[j]);
      for (size_t k = 0; loc != NULL && k < loc->nline && !hit; k++) {
        const prof_function_t *f = prof_function_by_id(p, loc->line[k].function_id);
        hit = f != NULL && strcmp(prof_str(p, f->name), name) == 0;
      }
    }
    if (hit && v < s->nvalue)
      total += s->value[v];
  }
  return total;
}

/* ------------------------------------------------------------ 1: merged signals ----------- */

static void test_merged_perf_signal(void) {
  int fd = memfd_create("cpu", 0);
  CHECK(cprof_set_cpu_profile_rate(100) == 0);
  CHECK(cprof_start_cpu_profile(fd) == 0);
  CHECK(strcmp(cprof_cpu_timer_kind(), "perf_event") == 0, "timer kind %s: the test needs perf",
        cprof_cpu_timer_kind());
  burn_before();
  sigset_t prof, old;
  sigemptyset(&prof);
  sigaddset(&prof, SIGPROF);
  pthread_sigmask(SIG_BLOCK, &prof, &old);
  syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), SIGPROF);
  burn_blocked(); /* the perf event overflows: its signal merges into the pending one */
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  burn_after();
  CHECK(cprof_stop_cpu_profile() == 0);
  prof_t *p = read_profile(fd);
  CHECK(p != NULL, "the CPU profile does not decode");
  int64_t before = value_of(p, "burn_before", 0), after = value_of(p, "burn_after", 0);
  CHECK(before >= 10, "burn_before: %lld samples, want ~20", (long long)before);
  CHECK(after >= 20,
        "burn_after: %lld samples for 0.4 s at 100 Hz, want ~40: the perf event was "
        "left disabled",
        (long long)after);
  prof_free(p);
  close(fd);
}

/* ------------------------------------------------------------ 2: dumps and CPU ------------- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int quit, waiting;

static void wait_quit(void) {
  pthread_mutex_lock(&mu);
  waiting++;
  while (!quit)
    pthread_cond_wait(&cv, &mu);
  pthread_mutex_unlock(&mu);
}

NOFOLD void sleeper_wait(void) {
  wait_quit();
  __asm__ volatile("" ::: "memory");
}

static void *sleeper_main(void *arg) {
  sleeper_wait();
  __asm__ volatile("" ::: "memory");
  return arg;
}

static atomic_int blocker_pending = -1;

NOFOLD void blocker_wait(void) {
  wait_quit();
  __asm__ volatile("" ::: "memory");
}

static void *blocker_main(void *arg) {
  sigset_t all, pending;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  blocker_wait();
  sigpending(&pending);
  atomic_store(&blocker_pending, sigismember(&pending, SIGPROF));
  return arg;
}

/* A thread inside a profiled wait (as the sync hooks mark one): the dump shows what and how long.
 */
static int waited_on;

NOFOLD void marked_wait(void) {
  threads_wait_begin("mutex", &waited_on);
  wait_quit();
  threads_wait_end();
}

static void *marked_main(void *arg) {
  pthread_setname_np(pthread_self(), "marked");
  marked_wait();
  __asm__ volatile("" ::: "memory");
  return arg;
}

static void test_wait_shown(void) {
  usleep(300000);
  int fd = memfd_create("dump", 0);
  CHECK(cprof_write_profile("goroutine", fd, 2) == 0);
  off_t len = lseek(fd, 0, SEEK_END);
  char *text = calloc(1, (size_t)len + 1);
  CHECK(text != NULL && pread(fd, text, (size_t)len, 0) == len);
  char want[128];
  snprintf(want, sizeof want, "\"marked\" [sleeping, mutex %p, ", (void *)&waited_on);
  const char *head = strstr(text, want);
  double secs = 0;
  CHECK(head != NULL && sscanf(head + strlen(want), "%lf seconds]:", &secs) == 1 && secs >= 0.3 &&
            secs < 60,
        "the marked thread's header, want '%s<seconds> seconds]:' with >= 0.3 s:\n%s", want, text);
  CHECK(head != NULL && strstr(head, "\nmarked_wait()\n") != NULL, "its stack holds marked_wait");
  CHECK(strncmp(text, "thread ", 7) == 0 && strstr(text, "[running]:\ntest_wait_shown()\n") != NULL,
        "the caller first, running, from test_wait_shown:\n%.300s", text);
  free(text);
  close(fd);
}

/* A thread that cannot run its handler: suspended in vfork until the child exits. */
static atomic_int vforking;

static void *vforker_main(void *arg) {
  pthread_setname_np(pthread_self(), "vforker");
  atomic_store(&vforking, 1);
  pid_t child = vfork();
  if (child == 0) { /* the child may only make system calls and _exit */
    struct timespec ts = {1, 500000000};
    syscall(SYS_nanosleep, &ts, NULL);
    _exit(0);
  }
  return arg;
}

static void test_no_answer(void) {
  pthread_t t;
  pthread_create(&t, NULL, vforker_main, NULL);
  while (atomic_load(&vforking) == 0)
    usleep(1000);
  usleep(200000); /* inside vfork by now */
  int fd = memfd_create("dump", 0);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  CHECK(cprof_write_profile("goroutine", fd, 2) == 0);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double took = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
  off_t len = lseek(fd, 0, SEEK_END);
  char *text = calloc(1, (size_t)len + 1);
  CHECK(text != NULL && pread(fd, text, (size_t)len, 0) == len);
  CHECK(strstr(text, "\"vforker\" [disk, no stack: the thread did not answer in time]:\n"
                     "cprof_thread_no_answer()\n") != NULL,
        "the suspended thread, listed without an answer:\n%s", text);
  CHECK(took >= 0.45, "the dump waited %.2f s for it: the deadline is 0.5 s", took);
  free(text);
  close(fd);
  pthread_join(t, NULL);
}

static void wait_for_waiters(int n) {
  for (;;) {
    pthread_mutex_lock(&mu);
    int w = waiting;
    pthread_mutex_unlock(&mu);
    if (w >= n)
      return;
    usleep(1000);
  }
}

static void test_dumps_during_cpu(void) {
  int cpu = memfd_create("cpu", 0), dump = memfd_create("dump", 0);
  int null = open("/dev/null", O_WRONLY);
  CHECK(cprof_start_cpu_profile(cpu) == 0);
  int rc = 0;
  double t0 = thread_cpu();
  for (int i = 0; i < 40 && rc == 0; i++) {
    rc = cprof_write_profile("goroutine", null, 0);
    burn_during_dumps(0.005);
  }
  CHECK(rc == 0, "dump: %d", rc);
  double burnt = thread_cpu() - t0;
  CHECK(cprof_write_profile("goroutine", dump, 0) == 0);
  CHECK(cprof_stop_cpu_profile() == 0);
  prof_t *p = read_profile(cpu);
  CHECK(p != NULL, "the CPU profile does not decode");
  int64_t sleeper = value_of(p, "sleeper_wait", 0), blocker = value_of(p, "blocker_wait", 0);
  CHECK(sleeper == 0 && blocker == 0,
        "CPU samples in threads that never ran: sleeper %lld, "
        "blocker %lld",
        (long long)sleeper, (long long)blocker);
  int64_t total = 0;
  for (size_t i = 0; p != NULL && i < p->nsample; i++)
    total += p->sample[i].value[0];
  CHECK(total >= (int64_t)(burnt * 100 * 0.7), "%lld samples for %.2f s of CPU at 100 Hz",
        (long long)total, burnt);
  prof_free(p);
  p = read_profile(dump);
  CHECK(p != NULL && p->nsample_type == 1 &&
            strcmp(prof_str(p, p->sample_type[0].type), "goroutine") == 0,
        "the goroutine profile does not decode as one");
  CHECK(value_of(p, "sleeper_wait", 0) == 1, "sleeper_wait in the dump: %lld",
        (long long)value_of(p, "sleeper_wait", 0));
  CHECK(value_of(p, "cprof_thread_signals_blocked", 0) == 1, "the blocker as signals blocked");
  prof_free(p);
  close(cpu);
  close(dump);
  close(null);
}

/* ------------------------------------------------------------ 4: concurrent dumps --------- */

static atomic_int dump_errors, dump_bad_totals;
static pthread_barrier_t dumpers; /* all four exist while any of them dumps */

static void *dumper_main(void *arg) {
  long want = (long)(intptr_t)arg;
  pthread_barrier_wait(&dumpers);
  for (int i = 0; i < 10; i++) {
    int fd = memfd_create("dump", 0);
    if (cprof_write_profile("threads", fd, 0) != 0)
      atomic_fetch_add(&dump_errors, 1);
    prof_t *p = read_profile(fd);
    int64_t total = 0;
    for (size_t k = 0; p != NULL && k < p->nsample; k++)
      total += p->sample[k].value[0];
    if (total != want)
      atomic_fetch_add(&dump_bad_totals, 1);
    prof_free(p);
    close(fd);
  }
  pthread_barrier_wait(&dumpers);
  return NULL;
}

static void test_concurrent_dumps(void) {
  /* main, the sleeper, the blocker, the marked thread, cprof-bg and the four dumpers */
  pthread_t t[4];
  pthread_barrier_init(&dumpers, NULL, 4);
  for (int i = 0; i < 4; i++)
    pthread_create(&t[i], NULL, dumper_main, (void *)(intptr_t)9);
  for (int i = 0; i < 4; i++)
    pthread_join(t[i], NULL);
  CHECK(atomic_load(&dump_errors) == 0, "%d dumps failed", atomic_load(&dump_errors));
  CHECK(atomic_load(&dump_bad_totals) == 0, "%d dumps did not count 9 threads",
        atomic_load(&dump_bad_totals));
}

int main(void) {
  test_merged_perf_signal();
  pthread_t s, b, w;
  pthread_create(&s, NULL, sleeper_main, NULL);
  pthread_create(&b, NULL, blocker_main, NULL);
  pthread_create(&w, NULL, marked_main, NULL);
  wait_for_waiters(3);
  test_wait_shown();
  test_no_answer();
  test_dumps_during_cpu();
  test_concurrent_dumps();
  pthread_mutex_lock(&mu);
  quit = 1;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
  pthread_join(s, NULL);
  pthread_join(b, NULL);
  pthread_join(w, NULL);
  CHECK(atomic_load(&blocker_pending) == 0, "the blocker was sent SIGPROF (pending %d)",
        atomic_load(&blocker_pending));
  return TEST_DONE("sigdump_test");
}
