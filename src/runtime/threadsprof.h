/*
 * threadsprof.h — the threads profile, Go's goroutine profile for C: every thread's stack now.
 *
 * Served as "goroutine" (Go's name, which scrapers ask for) and "threads". A thread that is blocked
 * in the kernel (sleeping, in disk wait, stopped) is read from /proc without being disturbed
 * (procstack.h); a running thread is asked for its own stack with SIGPROF (sigdump.h); the one that
 * asks walks its own. A thread that cannot be heard from — it runs and blocks SIGPROF, it does not
 * answer within THREADSPROF_TIMEOUT_NS, its stack cannot be read — is listed all the same, with its
 * state from /proc and a pseudo-frame that says why (countprof.h). The profiler's own threads are
 * listed with a pseudo-frame too and never read: they exist, but their stacks are the profiler's
 * business, as Go keeps its runtime's goroutines out of its goroutine profile. When SIGPROF belongs
 * to the program, no thread is signalled and every running thread gets that pseudo-frame; the
 * profile says so in a note.
 */
#ifndef CPROF_RUNTIME_THREADSPROF_H
#define CPROF_RUNTIME_THREADSPROF_H

#include <stdint.h>

#include "runtime/countprof.h"

#define THREADSPROF_TIMEOUT_NS 500000000LL /* how long to wait for the threads' answers */
#define THREADSPROF_MAX_THREADS 65536      /* threads listed at most */

/*
 * Every thread's stack now, as a finished snapshot named "goroutine" with the per-thread details
 * of the debug=2 dump. from is the return address of the public call that asked (the calling
 * thread's stack begins there), or 0. Dumps are serialized. NULL when out of memory.
 */
count_snap_t *threadsprof_snapshot(uintptr_t from);

/* The number of threads in the process now (the index page's count). */
long threadsprof_count(void);

#endif /* CPROF_RUNTIME_THREADSPROF_H */
