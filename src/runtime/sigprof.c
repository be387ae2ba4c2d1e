/*
 * sigprof.c — the SIGPROF handler (see sigprof.h). Everything in this file that the handler
 * reaches is async-signal-safe.
 *
 * Ownership: SIGPROF is ours only if its disposition was SIG_DFL or SIG_IGN when we first looked.
 * A program may also take it later: sigaction() and signal() are interposed, and when the program
 * sets SIGPROF's disposition to anything but our handler, we let go at once (flags only, since
 * sigaction may be called from a signal handler): the handler is the program's from then on, and
 * the CPU profiler's drain thread disarms our timers (sigprof_host_took).
 *
 * A count of handlers in flight lets the profiler wait, after disabling and disarming, until no
 * handler can still touch the ring or an old unwind table.
 *
 * The signal also carries the threads profile's requests (sigdump.c): the dumper sends SIGPROF to
 * each thread with tgkill, which is no timer's (cputimer_weight gives it no weight, so it is never
 * a CPU sample), and every handler run first answers a request addressed to its thread, whatever
 * sent the signal. Two SIGPROFs pending at once merge into one, so a request may arrive folded
 * into a timer's signal (answered all the same), or a perf event's signal into a request's: a
 * perf event is re-armed only from its own signal, so a signal of no timer re-arms the thread's
 * event itself (cputimer_rearm_merged), lest a dump leave that thread unsampled for the rest of
 * the profile.
 */
#define _GNU_SOURCE
#include "runtime/sigprof.h"

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <ucontext.h>

#include "runtime/cputimer.h"
#include "runtime/labels.h"
#include "runtime/report.h"
#include "runtime/sigdump.h"
#include "runtime/sys.h"
#include "runtime/tables.h"
#include "runtime/threads.h"

static _Atomic(ring_t *) sp_ring;
static _Atomic int sp_inflight;
static _Atomic int sp_installed;
static _Atomic int sp_host_took;

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
typedef sighandler_t (*signal_fn)(int, sighandler_t);
static _Atomic(sigaction_fn) real_sigaction_p;
static _Atomic(signal_fn) real_signal_p;

static sigaction_fn real_sigaction(void) {
  sigaction_fn f = atomic_load(&real_sigaction_p);
  if (f == NULL) {
    f = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
    atomic_store(&real_sigaction_p, f);
  }
  return f;
}

/* The interrupted stack pointer. Async-signal-safe. */
static uintptr_t context_sp(const ucontext_t *uc) {
#if defined(__x86_64__)
  return (uintptr_t)uc->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
  return (uintptr_t)uc->uc_mcontext.sp;
#else
  (void)uc;
  return 0;
#endif
}

/* Async-signal-safe. */
static void sigprof_handler(int sig, siginfo_t *si, void *ucv) {
  (void)sig;
  int saved_errno = errno;
  /* seq_cst on both sides: with sigprof_disable's store and sigprof_quiesce's load, either the
   * handler sees no ring or the quiesce sees the handler. */
  atomic_fetch_add(&sp_inflight, 1);
  /* A dump of every thread's stack (sigdump.c) may be waiting for this thread. Any SIGPROF answers
   * it, since signals of one number merge while pending: the dump's request may come folded into
   * a timer's signal. */
  sigdump_answer(ucv, context_sp(ucv));
  ring_t *ring = atomic_load(&sp_ring);
  uint32_t weight = ring ? cputimer_weight(si) : 0;
  if (weight == 0 && ring != NULL)
    cputimer_rearm_merged(); /* a timer's signal may have been folded into this one */
  if (weight > 0) {
    uint64_t pos;
    ring_slot_t *slot = ring_reserve(ring, weight, &pos);
    if (slot) {
      unwind_stack_bounds_t bounds;
      threads_stack_bounds(context_sp(ucv), &bounds);
      const unwind_set_t *set = tables_enter();
      int depth = unwind_from_context(ucv, set, &bounds, slot->pcs, RING_MAX_DEPTH);
      tables_exit();
      slot->depth = depth > 0 ? (uint32_t)depth : 0;
      slot->weight = weight;
      slot->labels = labels_current();
      ring_commit(ring, slot, pos);
    }
    cputimer_rearm(si);
  }
  atomic_fetch_sub_explicit(&sp_inflight, 1, memory_order_release);
  errno = saved_errno;
}

static int install(bool quiet) {
  if (atomic_load(&sp_installed))
    return 0;
  sigaction_fn real = real_sigaction();
  if (real == NULL)
    return -ENOSYS;
  struct sigaction old;
  if (real(SIGPROF, NULL, &old) != 0)
    return -errno;
  int foreign = (old.sa_flags & SA_SIGINFO) ? old.sa_sigaction != sigprof_handler
                                            : (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN);
  if (foreign) {
    if (!quiet)
      report("SIGPROF already has a handler (the program's or another profiler's): not taking "
             "it; no CPU profile");
    return -EBUSY;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = sigprof_handler;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (real(SIGPROF, &sa, NULL) != 0)
    return -errno;
  atomic_store(&sp_host_took, 0);
  atomic_store(&sp_installed, 1);
  return 0;
}

int sigprof_install(void) { return install(false); }

int sigprof_claim(void) { return install(true); }

bool sigprof_owned(void) { return atomic_load(&sp_installed) != 0; }

int sigprof_host_took(void) { return atomic_load(&sp_host_took); }

/* The program sets SIGPROF's disposition: unless it is putting our own handler back, the signal
 * is the program's from now on. Async-signal-safe (atomic stores only). */
static void host_sets_sigprof(void (*handler)(int, siginfo_t *, void *)) {
  if (handler == sigprof_handler || !atomic_load(&sp_installed))
    return;
  atomic_store(&sp_ring, NULL);
  atomic_store(&sp_installed, 0);
  atomic_store(&sp_host_took, 1);
}

__attribute__((visibility("default"))) int sigaction(int sig, const struct sigaction *act,
                                                     struct sigaction *old) {
  sigaction_fn real = real_sigaction();
  if (real == NULL) {
    errno = ENOSYS;
    return -1;
  }
  if (sig == SIGPROF && act != NULL)
    host_sets_sigprof((act->sa_flags & SA_SIGINFO) ? act->sa_sigaction : NULL);
  return real(sig, act, old);
}

__attribute__((visibility("default"))) sighandler_t signal(int sig, sighandler_t handler) {
  signal_fn real = atomic_load(&real_signal_p);
  if (real == NULL) {
    real = (signal_fn)dlsym(RTLD_NEXT, "signal");
    atomic_store(&real_signal_p, real);
  }
  if (real == NULL) {
    errno = ENOSYS;
    return SIG_ERR;
  }
  if (sig == SIGPROF)
    host_sets_sigprof(NULL);
  return real(sig, handler);
}

void sigprof_enable(ring_t *ring) { atomic_store_explicit(&sp_ring, ring, memory_order_release); }

void sigprof_disable(void) { atomic_store(&sp_ring, NULL); }

void sigprof_quiesce(void) {
  while (atomic_load(&sp_inflight) != 0)
    sys_sleep_ns(100000);
}
