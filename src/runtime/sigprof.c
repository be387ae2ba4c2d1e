/*
 * sigprof.c — the SIGPROF handler (see sigprof.h). Everything in this file that the handler
 * reaches is async-signal-safe.
 *
 * Ownership: SIGPROF is ours only if its disposition was SIG_DFL or SIG_IGN when we first looked.
 * A count of handlers in flight lets the profiler wait, after disabling and disarming, until no
 * handler can still touch the ring or an old unwind table.
 */
#define _GNU_SOURCE
#include "runtime/sigprof.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <ucontext.h>

#include "runtime/cputimer.h"
#include "runtime/report.h"
#include "runtime/sys.h"
#include "runtime/threads.h"

static _Atomic(ring_t *) sp_ring;
static _Atomic(unwind_set_t *) sp_unwind;
static _Atomic int sp_inflight;
static _Atomic int sp_installed;

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
  ring_t *ring = atomic_load(&sp_ring);
  uint32_t weight = ring ? cputimer_weight(si) : 0;
  if (weight > 0) {
    uint64_t pos;
    ring_slot_t *slot = ring_reserve(ring, weight, &pos);
    if (slot) {
      unwind_stack_bounds_t bounds;
      threads_stack_bounds(context_sp(ucv), &bounds);
      const unwind_set_t *set = atomic_load_explicit(&sp_unwind, memory_order_acquire);
      int depth = unwind_from_context(ucv, set, &bounds, slot->pcs, RING_MAX_DEPTH);
      slot->depth = depth > 0 ? (uint32_t)depth : 0;
      slot->weight = weight;
      ring_commit(ring, slot, pos);
    }
    cputimer_rearm(si);
  }
  atomic_fetch_sub_explicit(&sp_inflight, 1, memory_order_release);
  errno = saved_errno;
}

int sigprof_install(void) {
  if (atomic_load(&sp_installed))
    return 0;
  struct sigaction old;
  if (sigaction(SIGPROF, NULL, &old) != 0)
    return -errno;
  int foreign = (old.sa_flags & SA_SIGINFO) ? old.sa_sigaction != sigprof_handler
                                            : (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN);
  if (foreign) {
    report("SIGPROF already has a handler (the program's or another profiler's): not taking it; "
           "no CPU profile");
    return -EBUSY;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = sigprof_handler;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGPROF, &sa, NULL) != 0)
    return -errno;
  atomic_store(&sp_installed, 1);
  return 0;
}

void sigprof_enable(ring_t *ring) { atomic_store_explicit(&sp_ring, ring, memory_order_release); }

void sigprof_disable(void) { atomic_store(&sp_ring, NULL); }

void sigprof_quiesce(void) {
  while (atomic_load(&sp_inflight) != 0)
    sys_sleep_ns(100000);
}

unwind_set_t *sigprof_publish_unwind(unwind_set_t *set) {
  return atomic_exchange_explicit(&sp_unwind, set, memory_order_acq_rel);
}

const unwind_set_t *sigprof_unwind(void) {
  return atomic_load_explicit(&sp_unwind, memory_order_acquire);
}
