/*
 * cputimer.c — per-thread CPU timers for the CPU profiler (see cputimer.h).
 *
 * The registry is an array, mapped from the kernel, of (tid, perf fd or POSIX timer) for every
 * armed thread.
 *
 * A thread's first expiry comes after a random fraction of the period, as Go does: otherwise a
 * thread that lives for less than one period (a pool of short tasks) would never be sampled,
 * whatever the CPU it uses. A POSIX timer takes the first expiry and the period apart; a perf event
 * has one period, so it starts with the random one and its first signal sets the real one (the
 * handler knows a first signal by a per-thread generation number). Arming a thread twice (the start scan and the thread's own start hook can race)
 * is prevented by looking the tid up under the registry lock. The kind is chosen once per profile,
 * when the first thread is armed, and reported when it is not the best.
 */
#define _GNU_SOURCE
#include "runtime/cputimer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "runtime/report.h"
#include "runtime/sys.h"
#include "runtime/threads.h"

typedef struct armed {
  pid_t tid;
  int fd;        /* perf_event */
  timer_t timer; /* timer */
} armed_t;

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static armed_t *reg;
static size_t reg_len, reg_cap;
static _Atomic int kind_now; /* cputimer_kind_t; read by the handler */
static _Atomic int64_t reg_period;
static _Atomic int reg_running;
static _Atomic unsigned reg_generation; /* bumped by every cputimer_start */
static uint64_t rand_state;             /* reg_lock's */
static __thread unsigned tls_period_set; /* the generation whose real period this thread set */
static __thread int tls_perf_fd;         /* the event of its last perf signal, in that generation */

/* A random first expiry in [1, period]. Called with reg_lock held. */
static int64_t first_expiry(void) {
  if (rand_state == 0)
    rand_state = (uint64_t)sys_now_mono() | 1;
  rand_state ^= rand_state << 13;
  rand_state ^= rand_state >> 7;
  rand_state ^= rand_state << 17;
  int64_t p = atomic_load(&reg_period);
  return 1 + (int64_t)(rand_state % (uint64_t)p);
}

const char *cputimer_kind_name(cputimer_kind_t k) {
  switch (k) {
  case CPUTIMER_PERF:
    return "perf_event";
  case CPUTIMER_TIMER:
    return "timer_create";
  case CPUTIMER_ITIMER:
    return "setitimer";
  default:
    return "none";
  }
}

cputimer_kind_t cputimer_kind(void) { return (cputimer_kind_t)atomic_load(&kind_now); }

static armed_t *reg_find(pid_t tid) {
  for (size_t i = 0; i < reg_len; i++)
    if (reg[i].tid == tid)
      return &reg[i];
  return NULL;
}

static int reg_push(armed_t a) {
  if (reg_len == reg_cap) {
    size_t cap = reg_cap ? reg_cap * 2 : 256;
    armed_t *n = sys_map(cap * sizeof *n);
    if (n == NULL)
      return -ENOMEM;
    if (reg)
      memcpy(n, reg, reg_len * sizeof *n);
    sys_unmap(reg, reg_cap * sizeof *reg);
    reg = n;
    reg_cap = cap;
  }
  reg[reg_len++] = a;
  return 0;
}

static void disarm(armed_t *a, cputimer_kind_t k) {
  if (k == CPUTIMER_PERF)
    sys_close(a->fd);
  else if (k == CPUTIMER_TIMER)
    sys_thread_timer_delete(a->timer);
}

/* Arms tid with kind k; 0 or -errno. Called with reg_lock held. */
static int arm_one(pid_t tid, cputimer_kind_t k) {
  if (reg_find(tid))
    return 0;
  armed_t a = {.tid = tid, .fd = -1};
  int rc;
  if (k == CPUTIMER_PERF) {
    rc = sys_perf_open_task_clock(tid, (uint64_t)first_expiry());
    if (rc < 0)
      return rc;
    a.fd = rc;
    rc = sys_perf_refresh(a.fd);
  } else if (k == CPUTIMER_TIMER) {
    rc = sys_thread_timer_create(tid, first_expiry(), atomic_load(&reg_period), &a.timer);
  } else {
    return 0; /* the process timer covers every thread */
  }
  if (rc == 0)
    rc = reg_push(a);
  if (rc != 0)
    disarm(&a, k);
  return rc;
}

static const char *kind_limit(int k) {
  if (k == CPUTIMER_TIMER)
    return "at most one sample per kernel tick; overruns are weighted in";
  if (k == CPUTIMER_ITIMER)
    return "one process-wide timer: samples are skewed between threads";
  return "exact";
}

/* Picks the kind on the calling thread, starting from want, and says so when it had to fall back
 * or when the kind the user forced has a limit. Called with reg_lock held. */
static int choose_kind(cputimer_kind_t want, int forced, pid_t self) {
  int first_err = 0;
  for (int k = (int)want; k <= CPUTIMER_ITIMER; k++) {
    int rc = k == CPUTIMER_ITIMER ? sys_itimer_prof(atomic_load(&reg_period)) : arm_one(self, k);
    if (rc == 0) {
      if (k != (int)want)
        report("%s unavailable (%s): CPU samples use %s (%s)", cputimer_kind_name(want),
               strerror(-first_err), cputimer_kind_name(k), kind_limit(k));
      else if (forced && k != CPUTIMER_PERF)
        report("CPU samples use %s, as asked (%s)", cputimer_kind_name(k), kind_limit(k));
      return k;
    }
    if (first_err == 0)
      first_err = rc;
  }
  return first_err;
}

int cputimer_start(int64_t period_ns, cputimer_kind_t want, pid_t skip_tid) {
  pthread_mutex_lock(&reg_lock);
  atomic_store(&reg_period, period_ns);
  atomic_fetch_add(&reg_generation, 1);
  reg_len = 0;
  pid_t self = sys_gettid();
  int forced = want != CPUTIMER_NONE;
  if (!forced)
    want = CPUTIMER_PERF;
  /* Running before the first timer is armed: its first signal may come at once (the first
   * expiry is random), and the handler re-arms a perf event only while running. */
  atomic_store(&reg_running, 1);
  int k = choose_kind(want, forced, self);
  if (k < 0) {
    atomic_store(&reg_running, 0);
    pthread_mutex_unlock(&reg_lock);
    return k;
  }
  atomic_store(&kind_now, k);
  pid_t tids[4096];
  int n = threads_list(tids, sizeof tids / sizeof tids[0]);
  for (int i = 0; i < n; i++)
    if (tids[i] != skip_tid)
      arm_one(tids[i], k); /* a thread that exits meanwhile cannot be armed: ignore */
  pthread_mutex_unlock(&reg_lock);
  return k;
}

void cputimer_stop(void) {
  pthread_mutex_lock(&reg_lock);
  atomic_store(&reg_running, 0);
  cputimer_kind_t k = cputimer_kind();
  if (k == CPUTIMER_ITIMER)
    sys_itimer_prof(0);
  for (size_t i = 0; i < reg_len; i++)
    disarm(&reg[i], k);
  reg_len = 0;
  pthread_mutex_unlock(&reg_lock);
}

void cputimer_abandon(void) {
  pthread_mutex_lock(&reg_lock);
  atomic_store(&reg_running, 0);
  cputimer_kind_t k = cputimer_kind();
  for (size_t i = 0; i < reg_len; i++)
    disarm(&reg[i], k);
  reg_len = 0;
  atomic_store(&kind_now, CPUTIMER_NONE);
  pthread_mutex_unlock(&reg_lock);
}

void cputimer_thread_start(void) {
  if (!atomic_load(&reg_running))
    return;
  pthread_mutex_lock(&reg_lock);
  if (atomic_load(&reg_running))
    arm_one(sys_gettid(), cputimer_kind());
  pthread_mutex_unlock(&reg_lock);
}

static void forget(size_t i, cputimer_kind_t k) {
  disarm(&reg[i], k);
  reg[i] = reg[--reg_len];
}

void cputimer_thread_exit(void) {
  if (!atomic_load(&reg_running))
    return;
  pthread_mutex_lock(&reg_lock);
  armed_t *a = reg_find(sys_gettid());
  if (a)
    forget((size_t)(a - reg), cputimer_kind());
  pthread_mutex_unlock(&reg_lock);
}

void cputimer_reap(void) {
  pthread_mutex_lock(&reg_lock);
  for (size_t i = 0; i < reg_len;) {
    if (!sys_thread_alive(reg[i].tid))
      forget(i, cputimer_kind());
    else
      i++;
  }
  pthread_mutex_unlock(&reg_lock);
}

void cputimer_after_fork_child(void) {
  /* POSIX timers and ITIMER_PROF are not inherited by a fork child; perf fds are, and still
   * count the parent's threads: close them. The lock may have been held by a parent thread. */
  pthread_mutex_init(&reg_lock, NULL);
  if (cputimer_kind() == CPUTIMER_PERF)
    for (size_t i = 0; i < reg_len; i++)
      sys_close(reg[i].fd);
  reg_len = 0;
  atomic_store(&reg_running, 0);
}

/* Async-signal-safe. */
uint32_t cputimer_weight(const siginfo_t *si) {
  switch (si->si_code) {
  case SI_TIMER: {
    /* Overruns are periods that elapsed while the signal was pending (tick-limited timers, or a
     * thread that had SIGPROF blocked); capped so one late signal cannot swamp the profile. */
    int over = si->si_overrun;
    if (over < 0)
      over = 0;
    if (over > 1000)
      over = 1000;
    return 1 + (uint32_t)over;
  }
  case POLL_HUP:
  case POLL_IN:
    return 1;
  case SI_KERNEL:
    return cputimer_kind() == CPUTIMER_ITIMER ? 1 : 0;
  default:
    return 0; /* kill(), tgkill(), sigqueue(): not a timer */
  }
}

/* Async-signal-safe. */
void cputimer_rearm(const siginfo_t *si) {
  if ((si->si_code != POLL_HUP && si->si_code != POLL_IN) ||
      !atomic_load_explicit(&reg_running, memory_order_relaxed))
    return;
  unsigned gen = atomic_load_explicit(&reg_generation, memory_order_relaxed);
  if (tls_period_set != gen) {
    sys_perf_set_period(si->si_fd, (uint64_t)atomic_load_explicit(&reg_period, memory_order_relaxed));
    tls_period_set = gen;
  }
  tls_perf_fd = si->si_fd;
  sys_perf_refresh(si->si_fd);
}

/* Async-signal-safe. */
void cputimer_rearm_merged(void) {
  if (!atomic_load_explicit(&reg_running, memory_order_relaxed) ||
      atomic_load_explicit(&kind_now, memory_order_relaxed) != CPUTIMER_PERF ||
      tls_period_set != atomic_load_explicit(&reg_generation, memory_order_relaxed))
    return; /* no event of this profile has signalled this thread yet */
  sys_perf_refresh(tls_perf_fd);
}
