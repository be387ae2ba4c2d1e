/*
 * cputimer.h — who tells each thread "you have used another period of CPU".
 *
 * Three ways, best first:
 *   perf_event  a task-clock perf event per thread whose overflow sends SIGPROF to that thread
 *               (F_SETOWN_EX), re-armed from the handler; exact at any rate.
 *   timer       a POSIX timer per thread on its CPU-time clock (timer_create, SIGEV_THREAD_ID);
 *               fires at most once per kernel tick, the shortfall is reported as overruns, which
 *               the handler adds to the sample's weight.
 *   itimer      one process-wide ITIMER_PROF (setitimer): the last resort, which skews samples
 *               towards some threads and coalesces signals.
 * perf_event is the default at every rate, for accuracy: a POSIX CPU timer fires only on a kernel
 * tick, so its samples land on tick instants, and a program whose work repeats with a period
 * commensurate with the tick (the known-shares test's 10 ms rounds against a 4 ms tick) is seen
 * with a bias of several points; perf's task clock samples at exact CPU-time instants. The price:
 * each perf sample is a timer interrupt of its own, which costs ~50 us in the VMs we measure on
 * (bench/README.md) against ~1 us for a POSIX timer's. CPROF_TIMER=timer chooses the cheap one.
 *
 * The registry of armed threads is guarded by a mutex; nothing here runs in the signal handler
 * except cputimer_rearm().
 */
#ifndef CPROF_RUNTIME_CPUTIMER_H
#define CPROF_RUNTIME_CPUTIMER_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum cputimer_kind {
  CPUTIMER_NONE = 0, /* as a wish: the default */
  CPUTIMER_PERF,
  CPUTIMER_TIMER,
  CPUTIMER_ITIMER,
} cputimer_kind_t;

const char *cputimer_kind_name(cputimer_kind_t k);

/*
 * Arms every thread of the process except skip_tid (the profiler's own), with want or the next
 * kind that works here (CPUTIMER_NONE: perf_event, see above). Returns the kind used, or a
 * negative errno when none works.
 */
int cputimer_start(int64_t period_ns, cputimer_kind_t want, pid_t skip_tid);

/* Disarms every thread and forgets them. */
void cputimer_stop(void);

/* Disarms the per-thread timers but leaves ITIMER_PROF alone: the program has taken SIGPROF and
 * may have set that timer for itself. cputimer_stop() then has nothing left to do. */
void cputimer_abandon(void);

/* Hooks for thread start and exit (threads.h): arm or disarm the calling thread. */
void cputimer_thread_start(void);
void cputimer_thread_exit(void);

/* Disarms the timers of threads that have exited without the exit hook running. */
void cputimer_reap(void);

/* In a fork child: forget the parent's timers (closing inherited fds) without touching locks. */
void cputimer_after_fork_child(void);

/*
 * The weight, in periods, of the sample a SIGPROF stands for: 1, more for a POSIX timer that
 * overran, 0 for a signal no timer of ours sent. Async-signal-safe.
 */
uint32_t cputimer_weight(const siginfo_t *si);

/* Re-arms the perf event that sent si, if any, for its next period. Async-signal-safe. */
void cputimer_rearm(const siginfo_t *si);

/* Re-arms the calling thread's perf event, when it has one in this profile, after a SIGPROF that
 * no timer sent: a perf event's signal that came while that one was pending merged into it and
 * did not re-arm the event. Re-arming an event that is armed already only lets it fire once more
 * before it needs re-arming. Async-signal-safe. */
void cputimer_rearm_merged(void);

cputimer_kind_t cputimer_kind(void);

#endif /* CPROF_RUNTIME_CPUTIMER_H */
