/*
 * procstack.h — the stack of a thread blocked in the kernel, read from outside it, without a
 * signal.
 *
 * A signal would make the blocking calls the kernel does not restart after a handler (nanosleep,
 * poll, epoll_wait, select, sem_timedwait, ...) return early with EINTR in the thread, so the
 * threads profile asks only running threads with SIGPROF (sigdump.h) and reads the others here:
 * /proc/self/task/<tid>/syscall gives the user pc and sp at which the thread entered the kernel;
 * its stack is copied from sp up (to the end of the mapping that holds sp, at most
 * PROCSTACK_COPY_MAX bytes) with process_vm_readv on our own pid, so that a thread that exits and
 * unmaps its stack meanwhile gives an error, never a fault; the copy is walked with the unwind
 * tables (unwind_from_copy); and the thread's record (threadrec.h) is read. The result is kept only
 * when the thread did not run meanwhile: its pc and sp are read again and must be the same, and so
 * must its scheduler statistics (/proc/self/task/<tid>/schedstat: its run time and the times it was
 * scheduled in), where the kernel has them. Otherwise the capture is tried again, PROCSTACK_TRIES
 * times in all.
 *
 * x86_64 only (PROCSTACK_WORKS): elsewhere the walk would need the frame pointer, which /proc does
 * not give, and the threads profile signals every thread as before. Not for signal handlers: it
 * reads files. It never writes into, stops or signals the thread it reads.
 */
#ifndef CPROF_RUNTIME_PROCSTACK_H
#define CPROF_RUNTIME_PROCSTACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "runtime/threadrec.h"
#include "runtime/unwind.h"

#if defined(UNWIND_FROM_COPY)
#define PROCSTACK_WORKS 1
#endif

#define PROCSTACK_COPY_FIRST (32u << 10) /* bytes copied first; more when the walk needs it */
#define PROCSTACK_COPY_MAX (256u << 10)  /* bytes of a stack copied at most */
#define PROCSTACK_TRIES 3                /* captures tried while the thread keeps running */

/* One dump's state: the copy buffer and the ranges of /proc/self/maps, read when first needed. */
typedef struct procstack {
  uint8_t *buf;    /* PROCSTACK_COPY_MAX bytes */
  uintptr_t *maps; /* nmaps pairs (start, end) of the readable mappings, sorted */
  size_t nmaps;
  size_t maps_bytes; /* mapped for maps */
  int maps_reads;    /* times read in this dump */
} procstack_t;

/* Prepares a dump's captures. 0, or -ENOMEM. */
int procstack_init(procstack_t *ps);
void procstack_fini(procstack_t *ps);

/*
 * Captures the stack of thread tid, which /proc said was not running, into pcs (leaf first; pcs[0]
 * the pc it resumes at, exact) and *depth; when rec is not NULL (tid's record), also what the
 * record said, with *have_info true when it still named tid. Returns 0; -EAGAIN when the thread is
 * running; -EBUSY when it ran during every try; -ESRCH when it is gone; -ENOSYS when the kernel has
 * no /proc/<tid>/syscall; -EIO when its stack could not be read (no mapping holds its sp, the copy
 * failed).
 */
int procstack_capture(procstack_t *ps, pid_t tid, const threadrec_t *rec, uintptr_t *pcs, int max,
                      int *depth, threadrec_info_t *info, bool *have_info);

#endif /* CPROF_RUNTIME_PROCSTACK_H */
