/*
 * sigdump.h — asking running threads for their own stacks, with SIGPROF (the threads profile).
 *
 * A running thread's stack can only be walked from inside that thread, with its registers: the
 * dumper sends each such thread a SIGPROF with tgkill (after a last check that it still runs: the
 * threads blocked in the kernel are read from /proc instead, procstack.h, since a signal would cut
 * their blocking calls short), and the thread, in the SIGPROF handler (sigprof.c), walks its own
 * stack into the slot the dumper set aside for it, with what else only it knows (its label set, the
 * wait it is in, who created it). The dumper waits a bounded time for the answers; a thread that
 * does not answer keeps its slot unanswered, and its late answer, if any, is ignored.
 *
 * Handler side (sigdump_answer): async-signal-safe, no locks, no allocation, errno untouched.
 * A request is found through one published pointer, with a count of handlers in flight that the
 * dumper waits to drain before it lets the slots go, so a handler never writes into memory that
 * is gone. A slot moves ASKED -> WRITING -> DONE by the handler, or ASKED -> LATE by the dumper
 * after its deadline, or ASKED -> SKIP by the dumper when its last check finds the thread blocked,
 * each by compare-and-swap, so an answer and the dumper never both win.
 */
#ifndef CPROF_RUNTIME_SIGDUMP_H
#define CPROF_RUNTIME_SIGDUMP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "runtime/countprof.h"

enum {
  SIGDUMP_SKIP = 0, /* not to be asked (the dumper fills it in itself) */
  SIGDUMP_ASKED,    /* asked; no answer yet */
  SIGDUMP_WRITING,  /* the thread is writing its answer */
  SIGDUMP_DONE,     /* answered */
  SIGDUMP_LATE,     /* no answer by the deadline */
  SIGDUMP_GONE,     /* the thread exited before answering */
};

/* One thread's answer. */
typedef struct sigdump_slot {
  pid_t tid; /* the slots of one request are sorted by tid */
  _Atomic int state;
  bool interrupted; /* pcs[0] is the interrupted pc + 1 */
  bool profiler;    /* the thread says it is one of cprof's (threads_self_is_profiler) */
  uint32_t depth;
  uint32_t labels; /* labels_current() */
  const char *wait_what;
  const void *wait_obj;
  int64_t wait_since;
  uintptr_t created_pc; /* threads_created_by() */
  pid_t created_tid;
  uintptr_t pcs[COUNT_MAX_DEPTH];
} sigdump_slot_t;

/*
 * Called just before slot i's thread is signalled, with arg: false when it must not be (it stopped
 * running meanwhile: a signal would cut short the blocking call it is in), and the slot goes back
 * to SKIP.
 */
typedef bool (*sigdump_check_fn)(size_t i, void *arg);

/*
 * Sends SIGPROF to the thread of every slot in state ASKED for which check (when not NULL) agrees,
 * and waits until each has answered, has exited, or timeout_ns has passed; then every slot is DONE,
 * LATE or GONE (or SKIP), or WRITING when its handler never finished (no answer). *drained says
 * whether no handler is still inside: when it is false, the slots must never be unmapped. The
 * slots must be sorted by tid. The caller owns SIGPROF (sigprof_claim) and serializes calls. 0,
 * -EAGAIN when SIGPROF stopped being ours midway (the slots not asked are LATE), or -ENOMEM (nobody
 * asked).
 */
int sigdump_collect(sigdump_slot_t *slots, size_t n, int64_t timeout_ns, sigdump_check_fn check,
                    void *arg, bool *drained);

/* Fills slot with the calling thread's own answer, its stack beginning at the return address
 * from (found on the stack; from its top when not found). Not for signal handlers. */
void sigdump_self(sigdump_slot_t *slot, uintptr_t from);

/* In the SIGPROF handler: answers the request in progress if it asks the calling thread. sp is
 * the interrupted stack pointer. Async-signal-safe. */
void sigdump_answer(const void *uc, uintptr_t sp);

/* In a fork child: no request is in progress, and no handler runs. */
void sigdump_after_fork_child(void);

#endif /* CPROF_RUNTIME_SIGDUMP_H */
