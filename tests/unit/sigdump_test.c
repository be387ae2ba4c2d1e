/*
 * sigdump_test.c — the threads profile: how it hears from each thread (SIGPROF for the running
 * ones, /proc for the blocked ones) against a running CPU profile, through the public API
 * (libcprof.a linked in).
 *
 *   1. A perf event's signal folded into a dump's: the thread takes a few CPU samples, blocks
 *      SIGPROF, gets a tgkill SIGPROF (pending), burns CPU until its perf event overflows (that
 *      signal merges into the pending one and is lost, so the event stays disabled), unblocks:
 *      the handler sees a signal of no timer and must re-arm the event, so the CPU it burns next
 *      is sampled (without the re-arm it gets no sample at all).
 *   2. Dumps while a CPU profile runs: 40 goroutine dumps in a row; a thread that only sleeps in
 *      sleeper_wait() is seen 40 times and must have no CPU sample; the profile still samples the
 *      CPU burnt meanwhile; a dump taken then finds the sleeper in sleeper_wait, the thread that
 *      blocks every signal in blocker_wait (read from /proc: it is blocked), and a thread that
 *      spins with SIGPROF blocked as cprof_thread_signals_blocked.
 *   3. A thread that blocks SIGPROF is never signalled: after the dumps it has no SIGPROF pending.
 *   4. Dumps from four threads at once are serialized and each finds every thread.
 *   5. debug=2 shows a thread inside a profiled wait (threads_wait_begin, as the sync hooks call
 *      it) with the primitive, the object's address and how long it has waited, read from its
 *      record since it is not signalled; and the calling thread first, running, its stack beginning
 *      at the function that called cprof_write_profile.
 *   6. A thread in disk wait (suspended in vfork while the child sleeps) is read from /proc at
 * once, with its state and its stack; a thread asked that cannot answer (it blocks SIGPROF) is left
 * unanswered (LATE) after the deadline, as the dump then lists it (cprof_thread_no_answer).
 *   7. Threads blocked in nanosleep (below a frame addressed from %rbp), poll, select, epoll_wait
 *      and sem_timedwait, 2 s a call, during 25 dumps: no call returns early or with EINTR (timed
 *      with CLOCK_MONOTONIC), and each thread's stack is in the dumps; a spinning thread is still
 *      sampled; a thread with labels shows them in debug=1 ("# labels:") and debug=2.
 *   8. Threads that exit during the dumps (a churn of short-lived threads) break nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cprof.h"
#include "format/profile.h"
#include "runtime/sigdump.h"
#include "runtime/sigprof.h"
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

/* A goroutine dump in text form (debug 1 or 2), NUL-terminated; the caller frees it. */
static char *dump_text(int debug) {
  int fd = memfd_create("dump", 0);
  CHECK(cprof_write_profile("goroutine", fd, debug) == 0, "goroutine debug=%d", debug);
  off_t len = lseek(fd, 0, SEEK_END);
  char *text = calloc(1, (size_t)(len > 0 ? len : 0) + 1);
  if (text != NULL && len > 0 && pread(fd, text, (size_t)len, 0) != len)
    text[0] = '\0';
  close(fd);
  return text != NULL ? text : strdup("");
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

static void test_disk_wait(void) {
  pthread_t t;
  pthread_create(&t, NULL, vforker_main, NULL);
  while (atomic_load(&vforking) == 0)
    usleep(1000);
  usleep(200000); /* inside vfork by now */
  char *text = dump_text(2);
  const char *head = strstr(text, "\"vforker\" [disk]:\n");
  CHECK(head != NULL && strstr(head, "vfork()\n") != NULL &&
            strstr(head, "created by test_disk_wait in thread ") != NULL,
        "the suspended thread, read from /proc with its state and stack:\n%s", text);
  CHECK(strstr(text, "cprof_thread_no_answer") == NULL, "a thread left without an answer");
  free(text);
  pthread_join(t, NULL);
}

/* A thread that spins with SIGPROF blocked until masked_stop. */
static atomic_int masked_stop, masked_tid;

NOFOLD void masked_spin(void) {
  while (!atomic_load(&masked_stop))
    __asm__ volatile("" ::: "memory");
}

static void *masked_main(void *arg) {
  sigset_t prof;
  sigemptyset(&prof);
  sigaddset(&prof, SIGPROF);
  pthread_sigmask(SIG_BLOCK, &prof, NULL);
  atomic_store(&masked_tid, (int)syscall(SYS_gettid));
  masked_spin();
  pthread_sigmask(SIG_UNBLOCK, &prof, NULL); /* a pending SIGPROF finds no request */
  return arg;
}

/* A thread asked that cannot answer stays unanswered (LATE) after the deadline. */
static pthread_t masked_start(void) {
  pthread_t t;
  atomic_store(&masked_stop, 0);
  atomic_store(&masked_tid, 0);
  pthread_create(&t, NULL, masked_main, NULL);
  while (atomic_load(&masked_tid) == 0)
    usleep(1000);
  return t;
}

static void masked_end(pthread_t t) {
  atomic_store(&masked_stop, 1);
  pthread_join(t, NULL);
}

static void test_no_answer(void) {
  pthread_t t = masked_start();
  sigdump_slot_t *slot = calloc(1, sizeof *slot);
  CHECK(slot != NULL && sigprof_claim() == 0, "SIGPROF is ours");
  slot->tid = (pid_t)atomic_load(&masked_tid);
  atomic_store(&slot->state, SIGDUMP_ASKED);
  bool drained = false;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  int rc = sigdump_collect(slot, 1, 100000000, NULL, NULL, &drained);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double took = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
  CHECK(rc == 0 && drained && atomic_load(&slot->state) == SIGDUMP_LATE,
        "a thread that blocks SIGPROF, asked: rc %d, state %d, want LATE", rc,
        atomic_load(&slot->state));
  CHECK(took >= 0.095, "the dump waited %.3f s for it: the deadline is 0.1 s", took);
  masked_end(t);
  free(slot);
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
  pthread_t masked = masked_start();
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
  CHECK(value_of(p, "blocker_wait", 0) == 1,
        "blocker_wait in the dump: %lld (a blocked thread is read from /proc, whatever its mask)",
        (long long)value_of(p, "blocker_wait", 0));
  CHECK(value_of(p, "cprof_thread_signals_blocked", 0) == 1 && value_of(p, "masked_spin", 0) == 0,
        "the running thread that blocks SIGPROF, as cprof_thread_signals_blocked");
  prof_free(p);
  close(cpu);
  close(dump);
  close(null);
  masked_end(masked);
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

/* ------------------------------------------------------------ 7: blocked calls ----------- */

#define CALL_NS 2000000000LL /* each blocking call's timeout */

static atomic_int calls_stop, calls_started, calls_done, calls_eintr, calls_short;
static sem_t never_posted;
static int epfd;

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One call of each kind, 2 s; -1 and errno as the call left them. The empty asm after each call
 * (keep) makes it a call (not a jump), so the function is in the stack. */
static inline int keep(int rc) {
  __asm__ volatile("" ::: "memory");
  return rc;
}

NOFOLD int in_nanosleep(void) {
  struct timespec ts = {CALL_NS / 1000000000, 0};
  return keep(nanosleep(&ts, NULL));
}

NOFOLD int in_poll(void) { return keep(poll(NULL, 0, (int)(CALL_NS / 1000000))); }

NOFOLD int in_select(void) {
  struct timeval tv = {CALL_NS / 1000000000, 0};
  return keep(select(0, NULL, NULL, NULL, &tv));
}

NOFOLD int in_epoll_wait(void) {
  struct epoll_event ev;
  return keep(epoll_wait(epfd, &ev, 1, (int)(CALL_NS / 1000000)));
}

NOFOLD int in_sem_timedwait(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += CALL_NS / 1000000000;
  int rc = keep(sem_timedwait(&never_posted, &ts));
  return rc < 0 && errno == ETIMEDOUT ? 0 : rc;
}

NOFOLD int labeled_nap(void) {
  struct timespec ts = {CALL_NS / 1000000000, 0};
  return keep(nanosleep(&ts, NULL));
}

typedef struct blocked_kind {
  const char *name; /* the thread's name */
  int (*call)(void);
  const char *func; /* the function its stack must show */
} blocked_kind_t;

static const blocked_kind_t kinds[] = {
    {"napper", in_nanosleep, "in_nanosleep"},
    {"poller", in_poll, "in_poll"},
    {"selector", in_select, "in_select"},
    {"epoller", in_epoll_wait, "in_epoll_wait"},
    {"semwaiter", in_sem_timedwait, "in_sem_timedwait"},
    {"labeled", labeled_nap, "labeled_nap"},
};
#define NKINDS (int)(sizeof kinds / sizeof kinds[0])

/* Calls k's blocking call again and again until calls_stop, counting calls cut short. */
NOFOLD void call_loop(const blocked_kind_t *k) {
  while (!atomic_load(&calls_stop)) {
    atomic_fetch_add(&calls_started, 1);
    int64_t t0 = mono_ns();
    int rc = k->call();
    int err = errno;
    int64_t took = mono_ns() - t0;
    if (rc < 0 && err == EINTR)
      atomic_fetch_add(&calls_eintr, 1);
    if (rc < 0 || took < CALL_NS)
      atomic_fetch_add(&calls_short, 1);
    atomic_fetch_add(&calls_done, 1);
  }
}

/* A frame addressed from %rbp (its variable-length array), above the blocking call: the walk from
 * /proc has no %rbp, and must find this frame's. */
NOFOLD __attribute__((optimize("no-omit-frame-pointer"))) void rbp_frame(const blocked_kind_t *k,
                                                                         int n) {
  volatile char vla[n];
  vla[0] = 1;
  call_loop(k);
  vla[n - 1] = vla[0];
}

static void *blocked_main(void *arg) {
  const blocked_kind_t *k = arg;
  pthread_setname_np(pthread_self(), k->name);
  if (k->call == labeled_nap)
    cprof_label_push("tenant", "acme");
  rbp_frame(k, 16 + (int)(k - kinds));
  __asm__ volatile("" ::: "memory");
  return NULL;
}

static atomic_int spin_stop;

NOFOLD void spin_here(void) {
  while (!atomic_load(&spin_stop))
    __asm__ volatile("" ::: "memory");
}

static void *spinner_main(void *arg) {
  pthread_setname_np(pthread_self(), "spinner");
  spin_here();
  return arg;
}

/* Whether the stack of the sample holding func also holds every name in want, in that order
 * after func. */
static bool stack_holds(const prof_t *p, const char *func, const char *const *want, int nwant) {
  for (size_t i = 0; p != NULL && i < p->nsample; i++) {
    const prof_sample_t *s = &p->sample[i];
    int j = -1;
    for (size_t l = 0; l < s->nlocation; l++) {
      const prof_location_t *loc = prof_location_by_id(p, s->location_id[l]);
      for (size_t k = 0; loc != NULL && k < loc->nline; k++) {
        const prof_function_t *f = prof_function_by_id(p, loc->line[k].function_id);
        const char *name = f != NULL ? prof_str(p, f->name) : "";
        if (j < 0 && strcmp(name, func) == 0)
          j = 0;
        else if (j >= 0 && j < nwant && strcmp(name, want[j]) == 0)
          j++;
      }
    }
    if (j == nwant)
      return true;
  }
  return false;
}

static void test_blocked_calls(void) {
  sem_init(&never_posted, 0, 0);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  pthread_t t[NKINDS], spinner;
  for (int i = 0; i < NKINDS; i++)
    pthread_create(&t[i], NULL, blocked_main, (void *)&kinds[i]);
  pthread_create(&spinner, NULL, spinner_main, NULL);
  while (atomic_load(&calls_started) < NKINDS)
    usleep(1000);
  usleep(100000); /* inside their calls by now */
  int null = open("/dev/null", O_WRONLY), rc = 0, dumps = 0;
  for (; dumps < 24 && rc == 0; dumps++)
    rc = cprof_write_profile("goroutine", null, 0);
  int fd = memfd_create("dump", 0);
  rc |= cprof_write_profile("goroutine", fd, 0);
  dumps++;
  char *text1 = dump_text(1), *text2 = dump_text(2);
  int done = atomic_load(&calls_done);
  atomic_store(&calls_stop, 1);
  atomic_store(&spin_stop, 1);
  for (int i = 0; i < NKINDS; i++)
    pthread_join(t[i], NULL);
  pthread_join(spinner, NULL);
  CHECK(rc == 0, "the dumps: %d", rc);
  CHECK(atomic_load(&calls_eintr) == 0 && atomic_load(&calls_short) == 0,
        "%d of %d blocking calls returned EINTR and %d were cut short by %d dumps",
        atomic_load(&calls_eintr), atomic_load(&calls_done), atomic_load(&calls_short), dumps);
  printf("%d dumps while %d threads blocked: %d calls of 2 s, none cut short (%d done during the "
         "dumps)\n",
         dumps + 2, NKINDS, atomic_load(&calls_done), done);

  prof_t *p = read_profile(fd);
  CHECK(p != NULL, "the dump decodes");
  for (int i = 0; i < NKINDS; i++) {
    const char *want[] = {"call_loop", "rbp_frame", "blocked_main"};
    CHECK(value_of(p, kinds[i].func, 0) == 1 && stack_holds(p, kinds[i].func, want, 3),
          "%s: its stack from %s through the rbp frame to blocked_main", kinds[i].name,
          kinds[i].func);
  }
  CHECK(value_of(p, "spin_here", 0) == 1, "the spinning thread, asked with SIGPROF");
  prof_free(p);
  close(fd);
  close(null);

  const char *lab = strstr(text1, "\n# labels: {\"tenant\":\"acme\"}\n");
  CHECK(lab != NULL && strstr(lab, "labeled_nap+") != NULL &&
            (strstr(lab + 1, "\n\n") == NULL ||
             strstr(lab, "labeled_nap+") < strstr(lab + 1, "\n\n")),
        "debug=1: the labeled thread's record with its labels:\n%s", text1);
  const char *head = strstr(text2, "\"labeled\" [sleeping, labels {\"tenant\":\"acme\"}]:\n");
  CHECK(head != NULL && strstr(head, "\nlabeled_nap()\n") != NULL,
        "debug=2: the labeled thread's header with its labels, its stack:\n%s", text2);
  CHECK(strstr(text2, "\"napper\" [sleeping]:\n") != NULL, "debug=2: the napper, sleeping");
  free(text1);
  free(text2);
  close(epfd);
}

/* ------------------------------------------------------------ 8: exiting threads ---------- */

static atomic_int churn_stop, churned;

static void *short_lived(void *arg) {
  usleep((useconds_t)((uintptr_t)arg % 1500)); /* sleeping, then exiting, during a dump */
  return arg;
}

static void *churner_main(void *arg) {
  for (uintptr_t i = 0; !atomic_load(&churn_stop); i++) {
    pthread_t t[8];
    for (int k = 0; k < 8; k++)
      pthread_create(&t[k], NULL, short_lived, (void *)((i * 8 + (uintptr_t)k) * 97));
    for (int k = 0; k < 8; k++)
      pthread_join(t[k], NULL);
    atomic_fetch_add(&churned, 8);
  }
  return arg;
}

static void test_exiting_threads(void) {
  pthread_t c;
  pthread_create(&c, NULL, churner_main, NULL);
  int rc = 0, decoded = 0;
  for (int i = 0; i < 30 && rc == 0; i++) {
    int fd = memfd_create("dump", 0);
    rc = cprof_write_profile("goroutine", fd, i % 3);
    if (i % 3 == 0) {
      prof_t *p = read_profile(fd);
      decoded += p != NULL && value_of(p, "sleeper_wait", 0) == 1;
      prof_free(p);
    }
    close(fd);
  }
  atomic_store(&churn_stop, 1);
  pthread_join(c, NULL);
  CHECK(rc == 0 && decoded == 10, "30 dumps while %d threads came and went: rc %d, %d of 10 good",
        atomic_load(&churned), rc, decoded);
}

int main(void) {
  test_merged_perf_signal();
  pthread_t s, b, w;
  pthread_create(&s, NULL, sleeper_main, NULL);
  pthread_create(&b, NULL, blocker_main, NULL);
  pthread_create(&w, NULL, marked_main, NULL);
  wait_for_waiters(3);
  test_wait_shown();
  test_disk_wait();
  test_no_answer();
  test_dumps_during_cpu();
  test_concurrent_dumps();
  test_blocked_calls();
  test_exiting_threads();
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
