/*
 * sigprof.h — the SIGPROF handler: one sample per signal into the ring.
 *
 * The handler is the only code of the CPU profiler that runs inside the host's threads at
 * arbitrary instructions. It takes nothing but async-signal-safe steps: it reads the interrupted
 * registers, walks the stack with the published unwind tables, writes the pcs into a reserved ring
 * slot and re-arms the thread's timer. It never allocates, locks or changes errno. What it reads
 * (the ring) changes only while it is disabled; the unwind tables are published by tables.c.
 */
#ifndef CPROF_RUNTIME_SIGPROF_H
#define CPROF_RUNTIME_SIGPROF_H

#include <stdbool.h>

#include "runtime/ring.h"
#include "runtime/unwind.h"

/*
 * Installs the handler for SIGPROF unless the host (or another profiler) already has one, in
 * which case it says so and returns -EBUSY: we never steal the signal. Once installed the handler
 * stays, ignoring signals while disabled, so a late signal never meets the default action (which
 * would kill the process).
 */
int sigprof_install(void);

/* sigprof_install without a word when the signal is the program's: for the threads profile,
 * which then lists threads without their stacks. 0 or -EBUSY (or -errno). */
int sigprof_claim(void);

/* Whether our handler is installed and still ours (the threads profile checks it before each
 * signal it sends). Async-signal-safe. */
bool sigprof_owned(void);

/* Whether the program has taken SIGPROF since we installed our handler (see sigprof.c). */
int sigprof_host_took(void);

/* Starts and stops taking samples into ring. */
void sigprof_enable(ring_t *ring);
void sigprof_disable(void);

/* Waits until no handler is running (after sigprof_disable and disarming the timers). */
void sigprof_quiesce(void);

#endif /* CPROF_RUNTIME_SIGPROF_H */
