/*
 * threads.h — knowing the host's threads: creation, exit, and where each one's stack is.
 *
 * libcprof interposes pthread_create so that every thread the host creates runs a short trampoline
 * first: it tells the profilers that a thread started (the CPU profiler arms its timer there) and
 * registers a key destructor that tells them when it ends, whether it returns or calls pthread_exit.
 * Threads that existed before libcprof was loaded are found in /proc/self/task. The hook also
 * counts each creation with its caller's stack for the threadcreate profile (tcreate.h), and
 * leaves in the new thread where it was created (threads_created_by).
 */
#ifndef CPROF_RUNTIME_THREADS_H
#define CPROF_RUNTIME_THREADS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "runtime/unwind.h"

/* Called in each new thread before its start routine, and at its exit. Set once, from any thread. */
typedef void (*threads_hook_fn)(void);
void threads_set_hooks(threads_hook_fn on_start, threads_hook_fn on_exit);

/*
 * Bounds of the calling thread's stack around sp: [sp, end of the mapping that holds sp), found in
 * /proc/self/maps the first time and cached per thread. Async-signal-safe (raw reads, no locks).
 * Returns 0, or -1 when the mapping was not found (then hi = lo = sp).
 */
int threads_stack_bounds(uintptr_t sp, unwind_stack_bounds_t *out);

/* Fills tids with the threads of this process (at most max); returns how many, or -errno. */
int threads_list(pid_t *tids, size_t max);

/*
 * Creates a thread of the profiler's own: all signals blocked in it (so SIGPROF never lands there)
 * and unseen by the hooks. Returns 0 or -errno.
 */
int threads_create_internal(pthread_t *t, void *(*fn)(void *), void *arg);

/*
 * The profiler's own threads: those made by threads_create_internal and those created inside the
 * heap guard (the HTTP server's, and any they create). The threads profile lists them without
 * their stacks. threads_self_is_profiler reads a thread-local flag (async-signal-safe);
 * threads_is_profiler looks tid up in a registry of them (up to THREADS_PROFILER_MAX), from which
 * threads_profiler_prune drops the threads that no longer exist.
 */
#define THREADS_PROFILER_MAX 256
bool threads_self_is_profiler(void);
bool threads_is_profiler(pid_t tid);
void threads_profiler_prune(void);

/* Whether a profiler thread was created that has not registered yet: a dump that finds a thread
 * it does not know waits for this to clear before it takes the thread for the program's. */
bool threads_profiler_starting(void);

/*
 * Where the calling thread comes from: the return address of the pthread_create call that made it
 * and the thread that made that call; 0 and 0 for the main thread and for threads made before
 * libcprof was loaded. Kept in the thread's record (threadrec.h). Async-signal-safe.
 */
void threads_created_by(uintptr_t *pc, pid_t *tid);

/*
 * What the calling thread is blocked in, for the threads profile's debug=2 form: the sync hooks
 * call threads_wait_begin just before a wait that may block ("mutex", "rwlock", "cond", "sem",
 * "join", "barrier") on obj, and threads_wait_end after it; threads_wait_get reads the calling
 * thread's state (what is NULL when it waits in none), with since the CLOCK_MONOTONIC time the
 * wait began. The state lives in the thread's record (threadrec.h), where a dump that does not
 * signal the thread reads it too: begin is a thread-local pointer load (a registration, the
 * thread's first time) and three stores, end a load and a store. All three are async-signal-safe:
 * a signalled thread reads its own state in its handler.
 */
void threads_wait_begin(const char *what, const void *obj);
void threads_wait_end(void);
const char *threads_wait_get(const void **obj, int64_t *since);

#endif /* CPROF_RUNTIME_THREADS_H */
