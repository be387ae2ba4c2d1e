/*
 * bg.h — the profiler's background thread, "cprof-bg".
 *
 * One thread of the profiler's own does the periodic work of every profiler: draining the CPU
 * sample ring, forgetting exited threads, rebuilding unwind tables after dlopen. Each piece of
 * work is a job, a function run every period. The thread starts with the first job and has every
 * signal blocked, so no profiler samples it.
 */
#ifndef CPROF_RUNTIME_BG_H
#define CPROF_RUNTIME_BG_H

#include <stdint.h>
#include <sys/types.h>

/* Runs fn every period_ns from now on (once per fn: adding it again changes its period),
 * starting the thread if needed. 0 or a negative errno. */
int bg_add(void (*fn)(void), int64_t period_ns);

/* Stops running fn; when it returns, fn is not running and will not run again. */
void bg_remove(void (*fn)(void));

/* The thread's kernel id, or 0 when it is not running. */
pid_t bg_tid(void);

/* In a fork child (registered with pthread_atfork when the thread starts): the thread does not
 * exist there; forget it and its jobs. */
void bg_after_fork_child(void);

#endif /* CPROF_RUNTIME_BG_H */
