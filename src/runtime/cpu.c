/*
 * cpu.c — the CPU profile: start, drain, stop and write (the public calls of cprof.h).
 *
 * Starting: load the extension, take SIGPROF (unless the host has it), make sure the unwind tables
 * exist (tables.c), register the drain jobs with the background thread (bg.c), then arm a timer on
 * every thread but that one (cputimer.c). Samples flow from the SIGPROF handler through the
 * lock-free ring (ring.c) to the drain job, which runs every DRAIN_NS and counts them into the
 * stack table (stacktab.c), keyed by stack and by the sampled thread's labels (labels.c), which
 * the profile writes as string labels on each sample, as Go does; every REAP_NS another job
 * forgets threads that exited unseen.
 *
 * Stopping: disable the handler, disarm every timer, wait until no handler runs, remove the jobs
 * (after which neither runs), drain what is left, and hand the stacks to the extension, which
 * symbolizes and writes them. Start and stop are serialized by cpu_lock; the handler never takes
 * it, and the jobs never take it either (they touch only the ring and the table, which start and
 * stop touch only while the jobs are not registered).
 */
#define _GNU_SOURCE
#include "runtime/cpu.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "cprof.h"
#include "runtime/bg.h"
#include "runtime/ext.h"
#include "runtime/heap.h"
#include "runtime/labels.h"
#include "runtime/report.h"
#include "runtime/ring.h"
#include "runtime/sigprof.h"
#include "runtime/stacktab.h"
#include "runtime/sys.h"
#include "runtime/tables.h"
#include "runtime/threads.h"

#define DRAIN_NS 20000000LL /* 20 ms */
#define REAP_NS 500000000LL /* 0.5 s */
#define RING_SLOTS 2048
#define CPU_FD_START (-2) /* stop: write to the fd given at start */

static pthread_mutex_t cpu_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int cpu_hz = 100;
static cputimer_kind_t cpu_want = CPUTIMER_NONE; /* NONE: the default kind */

/* The running profile: cpu_lock's, except the ring and the table, which are the drain job's
 * while it is registered. */
static struct {
  int running;
  int fd;
  int64_t start_real, start_mono, period;
  ring_t ring;
  stacktab_t tab;
} cpu;

/* ------------------------------------------------------------ the jobs -------------------- */

static void drain_ring(void) {
  ring_slot_t *s;
  while ((s = ring_peek(&cpu.ring)) != NULL) {
    if (s->depth > 0) {
      int64_t v = s->weight;
      /* on ENOMEM the sample is lost */
      stacktab_add_labeled(&cpu.tab, s->labels, s->pcs, s->depth, &v, 1);
    }
    ring_pop(&cpu.ring, s);
  }
}

static void drain_job(void) {
  drain_ring();
  if (sigprof_host_took() && cputimer_kind() != CPUTIMER_NONE) {
    cputimer_abandon();
    report("the program installed its own SIGPROF handler: CPU profiling stops here (the "
           "profile keeps the samples taken so far)");
  }
}

static void reap_job(void) { cputimer_reap(); }

/* ------------------------------------------------------------ writing --------------------- */

static int write_profile_guarded(const ext_api_t *ext, int fd, int64_t duration) {
  size_t n = cpu.tab.nentries;
  stacktab_entry_t **entries = arena_alloc(&cpu.tab.arena, (n + 1) * sizeof *entries);
  rt_sample_t *samples = arena_alloc(&cpu.tab.arena, (n + 1) * sizeof *samples);
  if (entries == NULL || samples == NULL)
    return -ENOMEM;
  stacktab_sorted(&cpu.tab, entries);
  for (size_t i = 0; i < n; i++) {
    samples[i].pcs = entries[i]->pcs;
    samples[i].depth = entries[i]->depth;
    samples[i].values[0] = entries[i]->values[0];
    samples[i].values[1] = entries[i]->values[0] * cpu.period;
    samples[i].labels = labels_of(entries[i]->labels, &samples[i].nlabels);
  }
  uint64_t lost = atomic_load(&cpu.ring.dropped_weight);
  if (lost > 0) {
    samples[n].synthetic = "cprof.lostProfileEvent";
    samples[n].values[0] = (int64_t)lost;
    samples[n].values[1] = (int64_t)lost * cpu.period;
    n++;
  }
  rt_profile_desc_t d = {
      .sample_type = {{"samples", "count"}, {"cpu", "nanoseconds"}},
      .nvalues = 2,
      .period_type = {"cpu", "nanoseconds"},
      .period = cpu.period,
      .time_nanos = cpu.start_real,
      .duration_nanos = duration,
      .leaf_is_exact = true,
      .samples = samples,
      .nsamples = n,
  };
  return ext->profile_write(fd, &d);
}

static int write_profile(const ext_api_t *ext, int fd, int64_t duration) {
  heap_guard_enter(); /* what the extension allocates to write is not in the heap profile */
  int rc = write_profile_guarded(ext, fd, duration);
  heap_guard_exit();
  return rc;
}

/* ------------------------------------------------------------ start and stop -------------- */

static void register_atfork(void) { pthread_atfork(NULL, NULL, cpu_after_fork_child); }

static int start_locked(int fd) {
  static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
  pthread_once(&atfork_once, register_atfork);
  if (cpu.running)
    return -EBUSY;
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY)
    return -EBADF;
  const ext_api_t *ext = ext_get();
  if (ext == NULL)
    return -ENOENT;
  int rc = sigprof_install();
  if (rc != 0)
    return rc;
  if (cpu.ring.slots == NULL && (rc = ring_init(&cpu.ring, RING_SLOTS)) != 0)
    return rc;
  ring_reset(&cpu.ring);
  stacktab_reset(&cpu.tab);
  tables_ensure(ext); /* on failure stacks follow frame pointers: still a profile */
  cpu.fd = fd;
  cpu.period = 1000000000LL / atomic_load(&cpu_hz);
  if ((rc = bg_add(drain_job, DRAIN_NS)) != 0 || (rc = bg_add(reap_job, REAP_NS)) != 0) {
    bg_remove(drain_job);
    return rc;
  }
  cpu.start_real = sys_now_real();
  cpu.start_mono = sys_now_mono();
  sigprof_enable(&cpu.ring);
  threads_set_hooks(cputimer_thread_start, cputimer_thread_exit);
  rc = cputimer_start(cpu.period, cpu_want, bg_tid());
  if (rc < 0) {
    report("no CPU timer could be armed: %s", strerror(-rc));
    sigprof_disable();
    sigprof_quiesce();
    bg_remove(drain_job);
    bg_remove(reap_job);
    return -ENOSYS;
  }
  cpu.running = 1;
  return 0;
}

static int stop_locked(int fd) {
  if (!cpu.running)
    return -ENOENT;
  if (fd == CPU_FD_START)
    fd = cpu.fd;
  const ext_api_t *ext = ext_get();
  sigprof_disable();
  cputimer_stop();
  sigprof_quiesce();
  bg_remove(drain_job);
  bg_remove(reap_job);
  drain_ring();
  int64_t duration = sys_now_mono() - cpu.start_mono;
  cpu.running = 0;
  int rc = fd < 0 ? 0 : write_profile(ext, fd, duration);
  if (rc != 0)
    report("writing the CPU profile: %s", strerror(-rc));
  stacktab_reset(&cpu.tab);
  return rc;
}

int cpu_start(int fd) {
  pthread_mutex_lock(&cpu_lock);
  int rc = start_locked(fd);
  pthread_mutex_unlock(&cpu_lock);
  return rc;
}

int cpu_stop(void) { return cpu_stop_into(CPU_FD_START); }

int cpu_stop_into(int fd) {
  pthread_mutex_lock(&cpu_lock);
  int rc = stop_locked(fd);
  pthread_mutex_unlock(&cpu_lock);
  return rc;
}

int cpu_running(void) {
  pthread_mutex_lock(&cpu_lock);
  int r = cpu.running;
  pthread_mutex_unlock(&cpu_lock);
  return r;
}

void cpu_set_timer_kind(cputimer_kind_t k) { cpu_want = k; }

void cpu_after_fork_child(void) {
  pthread_mutex_init(&cpu_lock, NULL);
  if (!cpu.running)
    return;
  sigprof_disable();
  cputimer_after_fork_child();
  cpu.running = 0;
}

/* ------------------------------------------------------------ the public API -------------- */

CPROF_API int cprof_start_cpu_profile(int fd) { return cpu_start(fd); }

CPROF_API int cprof_stop_cpu_profile(void) { return cpu_stop(); }

CPROF_API int cprof_set_cpu_profile_rate(int hz) {
  if (hz < 1 || hz > 10000)
    return -EINVAL;
  pthread_mutex_lock(&cpu_lock);
  int rc = cpu.running ? -EBUSY : 0;
  if (rc == 0)
    atomic_store(&cpu_hz, hz);
  pthread_mutex_unlock(&cpu_lock);
  return rc;
}

CPROF_API int cprof_cpu_profile_rate(void) { return atomic_load(&cpu_hz); }

CPROF_API const char *cprof_cpu_timer_kind(void) { return cputimer_kind_name(cputimer_kind()); }
