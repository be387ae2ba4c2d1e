/*
 * cpu.c — the CPU profile: start, drain, stop and write (the public calls of cprof.h).
 *
 * Starting: load the extension, take SIGPROF (unless the host has it), build the unwind tables,
 * start the drain thread, then arm a timer on every thread (cputimer.c). Samples flow from the
 * SIGPROF handler through the lock-free ring (ring.c) to the drain thread, which wakes every
 * DRAIN_NS and counts them into the stack table (stacktab.c); every REAP_NS it also forgets threads
 * that exited unseen and rebuilds the unwind tables when libraries were loaded (dlopen).
 *
 * Stopping: disable the handler, disarm every timer, wait until no handler runs, join the drain
 * thread, drain what is left, and hand the stacks to the extension, which symbolizes and writes
 * them. Start and stop are serialized by cpu_lock; the handler never takes it.
 */
#define _GNU_SOURCE
#include "runtime/cpu.h"

#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "cprof.h"
#include "runtime/ext.h"
#include "runtime/report.h"
#include "runtime/ring.h"
#include "runtime/sigprof.h"
#include "runtime/stacktab.h"
#include "runtime/sys.h"
#include "runtime/threads.h"

#define DRAIN_NS 20000000LL  /* 20 ms */
#define REAP_NS 500000000LL  /* 0.5 s */
#define RING_SLOTS 2048
#define MAX_RETIRED 64
#define CPU_FD_START (-2) /* stop: write to the fd given at start */

static pthread_mutex_t cpu_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int cpu_hz = 100;
static cputimer_kind_t cpu_want = CPUTIMER_NONE; /* NONE: chosen by the rate */

/* The running profile; fields are the drain thread's while it runs, cpu_lock's otherwise. */
static struct {
  int running;
  int fd;
  int64_t start_real, start_mono, period;
  ring_t ring;
  stacktab_t tab;
  pthread_t drain;
  _Atomic int drain_stop;
  _Atomic pid_t drain_tid;
  unsigned long long loads_seen; /* dl_iterate_phdr's dlpi_adds when the tables were built */
  unwind_set_t *retired[MAX_RETIRED];
  int nretired;
} cpu;

/* ------------------------------------------------------------ draining -------------------- */

static void drain_ring(void) {
  ring_slot_t *s;
  while ((s = ring_peek(&cpu.ring)) != NULL) {
    if (s->depth > 0) {
      int64_t v = s->weight;
      stacktab_add(&cpu.tab, s->pcs, s->depth, &v, 1); /* on ENOMEM the sample is lost */
    }
    ring_pop(&cpu.ring, s);
  }
}

static int read_adds(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  *(unsigned long long *)data = info->dlpi_adds;
  return 1;
}

static unsigned long long loads_now(void) {
  unsigned long long adds = 0;
  dl_iterate_phdr(read_adds, &adds);
  return adds;
}

/* Rebuilds the unwind tables after a dlopen; the old set is retired until the profile stops. */
static void refresh_unwind(const ext_api_t *ext) {
  unsigned long long adds = loads_now();
  if (adds == cpu.loads_seen || cpu.nretired == MAX_RETIRED)
    return;
  cpu.loads_seen = adds;
  unwind_set_t *set = ext->unwind_build(sigprof_unwind());
  if (set == NULL)
    return;
  unwind_set_t *old = sigprof_publish_unwind(set);
  if (old)
    cpu.retired[cpu.nretired++] = old;
}

static void *drain_main(void *arg) {
  const ext_api_t *ext = arg;
  pthread_setname_np(pthread_self(), "cprof-drain");
  atomic_store(&cpu.drain_tid, sys_gettid());
  int64_t next_reap = sys_now_mono() + REAP_NS;
  while (!atomic_load(&cpu.drain_stop)) {
    sys_sleep_ns(DRAIN_NS);
    drain_ring();
    if (sigprof_host_took() && cputimer_kind() != CPUTIMER_NONE) {
      cputimer_abandon();
      report("the program installed its own SIGPROF handler: CPU profiling stops here (the "
             "profile keeps the samples taken so far)");
    }
    if (sys_now_mono() >= next_reap) {
      cputimer_reap();
      refresh_unwind(ext);
      next_reap = sys_now_mono() + REAP_NS;
    }
  }
  return NULL;
}

/* ------------------------------------------------------------ writing --------------------- */

static int write_profile(const ext_api_t *ext, int fd, int64_t duration) {
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

/* ------------------------------------------------------------ start and stop -------------- */

/* Frees the sets retired while the profile ran. The current set stays published between
 * profiles, so the next start rebuilds only the modules loaded since (a fraction of a millisecond
 * instead of tens). Only while no handler can run. */
static void free_retired(const ext_api_t *ext) {
  for (int i = 0; i < cpu.nretired; i++)
    ext->unwind_free(cpu.retired[i]);
  cpu.nretired = 0;
}

/* Builds tables for the modules loaded now, reusing those of the current set. Only while no
 * handler can run: the old set is freed at once. */
static void build_tables(const ext_api_t *ext) {
  const unwind_set_t *old = sigprof_unwind();
  unwind_set_t *set = ext->unwind_build(old);
  if (set == NULL) {
    report("could not build unwind tables: stacks will follow frame pointers only");
    return;
  }
  unwind_set_t *prev = sigprof_publish_unwind(set);
  if (prev)
    ext->unwind_free(prev);
}

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
  cpu.loads_seen = loads_now();
  build_tables(ext);
  cpu.fd = fd;
  cpu.period = 1000000000LL / atomic_load(&cpu_hz);
  cpu.start_real = sys_now_real();
  cpu.start_mono = sys_now_mono();
  atomic_store(&cpu.drain_stop, 0);
  atomic_store(&cpu.drain_tid, 0);
  if ((rc = threads_create_internal(&cpu.drain, drain_main, (void *)ext)) != 0)
    return rc;
  while (atomic_load(&cpu.drain_tid) == 0)
    sys_sleep_ns(50000);
  sigprof_enable(&cpu.ring);
  threads_set_hooks(cputimer_thread_start, cputimer_thread_exit);
  rc = cputimer_start(cpu.period, cpu_want, atomic_load(&cpu.drain_tid));
  if (rc < 0) {
    report("no CPU timer could be armed: %s", strerror(-rc));
    sigprof_disable();
    atomic_store(&cpu.drain_stop, 1);
    pthread_join(cpu.drain, NULL);
    sigprof_quiesce();
    free_retired(ext);
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
  atomic_store(&cpu.drain_stop, 1);
  pthread_join(cpu.drain, NULL);
  drain_ring();
  int64_t duration = sys_now_mono() - cpu.start_mono;
  cpu.running = 0;
  int rc = fd < 0 ? 0 : write_profile(ext, fd, duration);
  if (rc != 0)
    report("writing the CPU profile: %s", strerror(-rc));
  free_retired(ext);
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
  cpu.running = 0; /* the drain thread does not exist in the child */
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
