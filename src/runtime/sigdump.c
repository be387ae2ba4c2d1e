/*
 * sigdump.c — asking threads for their own stacks (see sigdump.h). sigdump_answer runs in the
 * SIGPROF handler; everything it reaches is async-signal-safe.
 *
 * The request in progress is published in sd_active; a handler counts itself in sd_inflight
 * before it reads sd_active, and the dumper, after unpublishing, waits for sd_inflight to drain
 * before it returns (both sides seq_cst, so either the handler sees no request or the dumper sees
 * the handler); a request whose handlers do not drain within SD_DRAIN_NS (one stopped inside by a
 * debugger) is left mapped, with its slots. A handler finds its slot by binary search on its tid. While the dumper waits it
 * checks, every few milliseconds, whether the threads that have not answered still exist, so a
 * thread that exits with the signal pending does not hold the dump until the deadline.
 */
#define _GNU_SOURCE
#include "runtime/sigdump.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "runtime/labels.h"
#include "runtime/sigprof.h"
#include "runtime/sys.h"
#include "runtime/tables.h"
#include "runtime/threads.h"

#define SD_POLL_NS 100000LL      /* how often the dumper looks for answers */
#define SD_ALIVE_EVERY 50        /* polls between checks that silent threads still exist */
#define SD_DRAIN_NS 1000000000LL /* the longest wait for handlers still writing */

typedef struct sd_request {
  sigdump_slot_t *slots;
  size_t n;
} sd_request_t;

static _Atomic(sd_request_t *) sd_active;
static _Atomic int sd_inflight;

/* The calling thread's slot in r, or NULL. Async-signal-safe. */
static sigdump_slot_t *sd_find(const sd_request_t *r, pid_t tid) {
  size_t lo = 0, hi = r->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (r->slots[mid].tid < tid)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < r->n && r->slots[lo].tid == tid ? &r->slots[lo] : NULL;
}

/* What only the thread itself knows, besides its stack. Async-signal-safe. */
static void sd_fill_state(sigdump_slot_t *s) {
  s->labels = labels_current();
  s->profiler = threads_self_is_profiler();
  s->wait_what = threads_wait_get(&s->wait_obj, &s->wait_since);
  threads_created_by(&s->created_pc, &s->created_tid);
}

/* Async-signal-safe. */
void sigdump_answer(const void *uc, uintptr_t sp) {
  atomic_fetch_add(&sd_inflight, 1);
  sd_request_t *r = atomic_load(&sd_active);
  sigdump_slot_t *s = r != NULL ? sd_find(r, sys_gettid()) : NULL;
  int asked = SIGDUMP_ASKED;
  if (s != NULL && atomic_compare_exchange_strong(&s->state, &asked, SIGDUMP_WRITING)) {
    unwind_stack_bounds_t bounds;
    threads_stack_bounds(sp, &bounds);
    const unwind_set_t *set = tables_enter();
    int depth = unwind_from_context(uc, set, &bounds, s->pcs, COUNT_MAX_DEPTH);
    tables_exit();
    s->depth = depth > 0 ? (uint32_t)depth : 0;
    if (s->depth > 0)
      s->pcs[0] += 1; /* as a return address, so that every reader's pc - 1 is the pc itself */
    s->interrupted = s->depth > 0;
    sd_fill_state(s);
    atomic_store_explicit(&s->state, SIGDUMP_DONE, memory_order_release);
  }
  atomic_fetch_sub(&sd_inflight, 1);
}

void sigdump_self(sigdump_slot_t *slot, uintptr_t from) {
  int depth = count_stack_here(slot->pcs, COUNT_MAX_DEPTH, from);
  slot->depth = depth > 0 ? (uint32_t)depth : 0;
  slot->interrupted = false;
  sd_fill_state(slot);
  atomic_store(&slot->state, SIGDUMP_DONE);
}

/* Whether every slot has settled (no ASKED left); checks now and then that silent threads still
 * exist. */
static bool sd_settled(sigdump_slot_t *slots, size_t n, bool check_alive) {
  bool settled = true;
  for (size_t i = 0; i < n; i++) {
    if (atomic_load(&slots[i].state) != SIGDUMP_ASKED)
      continue;
    int asked = SIGDUMP_ASKED;
    if (check_alive && !sys_thread_alive(slots[i].tid) &&
        atomic_compare_exchange_strong(&slots[i].state, &asked, SIGDUMP_GONE))
      continue;
    settled = false;
  }
  return settled;
}

/* Ends the request: no slot stays ASKED; returns whether no handler is still inside it. */
static bool sd_close(sigdump_slot_t *slots, size_t n) {
  for (size_t i = 0; i < n; i++) {
    int asked = SIGDUMP_ASKED;
    atomic_compare_exchange_strong(&slots[i].state, &asked, SIGDUMP_LATE);
  }
  atomic_store(&sd_active, NULL);
  /* A handler that read the request before the line above is finishing (a search, perhaps a walk
   * and a few stores); one stopped right there (by a debugger) would stay inside for good: then
   * the request and its slots must never be unmapped. */
  for (int64_t waited = 0; atomic_load(&sd_inflight) != 0; waited += SD_POLL_NS) {
    if (waited >= SD_DRAIN_NS)
      return false;
    sys_sleep_ns(SD_POLL_NS);
  }
  return true;
}

int sigdump_collect(sigdump_slot_t *slots, size_t n, int64_t timeout_ns, sigdump_check_fn check,
                    void *arg, bool *drained) {
  /* The request lives in memory of its own, which a handler may still read when this returns
   * undrained, and which then stays mapped. */
  sd_request_t *req = sys_map(sizeof *req);
  *drained = true;
  if (req == NULL) {
    sd_close(slots, n); /* nobody asked: every slot LATE */
    return -ENOMEM;
  }
  req->slots = slots;
  req->n = n;
  pid_t pid = getpid();
  int rc = 0;
  atomic_store(&sd_active, req);
  for (size_t i = 0; i < n && rc == 0; i++) {
    if (atomic_load(&slots[i].state) != SIGDUMP_ASKED)
      continue;
    if (!sigprof_owned()) {
      rc = -EAGAIN; /* the program took SIGPROF meanwhile: ask nobody else */
      break;
    }
    int asked = SIGDUMP_ASKED;
    if (check != NULL && !check(i, arg))
      atomic_compare_exchange_strong(&slots[i].state, &asked, SIGDUMP_SKIP);
    else if (sys_tgkill(pid, slots[i].tid, SIGPROF) == -ESRCH)
      atomic_compare_exchange_strong(&slots[i].state, &asked, SIGDUMP_GONE);
  }
  int64_t deadline = sys_now_mono() + timeout_ns;
  for (unsigned polls = 1; !sd_settled(slots, n, polls % SD_ALIVE_EVERY == 0); polls++) {
    if (sys_now_mono() >= deadline)
      break;
    sys_sleep_ns(SD_POLL_NS);
  }
  *drained = sd_close(slots, n);
  if (*drained)
    sys_unmap(req, sizeof *req);
  return rc;
}

void sigdump_after_fork_child(void) {
  atomic_store(&sd_active, NULL);
  atomic_store(&sd_inflight, 0);
}
