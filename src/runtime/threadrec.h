/*
 * threadrec.h — what each thread tells the threads profile about itself, readable from any thread.
 *
 * A thread's labels, the profiled wait it is in and where it was created are the thread's own
 * business, kept where it can update them with a few stores. The threads profile reads them from
 * inside the thread when it signals it (sigdump.c), but a thread blocked in the kernel is not
 * signalled (a signal would cut its sleep short): the dump reads its stack from outside
 * (procstack.h) and must find these there too. So each thread keeps them in a record of a
 * process-wide registry, found by its tid: a thread made through the pthread_create hook gets its
 * record when it starts; any other (the main thread, threads made before libcprof was loaded) the
 * first time it pushes labels or enters a profiled wait. A record is given back when its thread
 * exits (the exit hook of threads.c), or by a dump that finds its thread gone.
 *
 * The owner writes its record with relaxed atomic stores and reads it with plain loads (one
 * thread-local pointer load first); other threads read it with relaxed atomic loads, and the dump
 * trusts what it read only when the thread did not run meanwhile (procstack.h checks that) and the
 * record still names the thread afterwards. Everything here is async-signal-safe and lock-free.
 */
#ifndef CPROF_RUNTIME_THREADREC_H
#define CPROF_RUNTIME_THREADREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define THREADREC_MAX 65536 /* records at most; a thread beyond keeps a private one */

/* One thread's record. Its own cache line: owners write theirs on lock waits. */
typedef struct threadrec {
  pid_t tid;             /* the owner, 0 when free */
  uint32_t labels;       /* its label set (labels.h) */
  pid_t created_tid;     /* the thread that created it (0: unknown) */
  const char *wait_what; /* the profiled wait it is in ("mutex", ...), or NULL */
  const void *wait_obj;
  int64_t wait_since;   /* CLOCK_MONOTONIC ns */
  uintptr_t created_pc; /* the return address of the pthread_create call that made it */
} __attribute__((aligned(64))) threadrec_t;

/* What another thread's record said. */
typedef struct threadrec_info {
  uint32_t labels;
  const char *wait_what;
  const void *wait_obj;
  int64_t wait_since;
  uintptr_t created_pc;
  pid_t created_tid;
} threadrec_info_t;

/* The calling thread's record, registered on first use (never NULL: a private one when the
 * registry is full). Async-signal-safe. */
threadrec_t *threadrec_self(void);

/* The calling thread's record if it has one yet, else NULL. One thread-local load. */
threadrec_t *threadrec_peek(void);

/* A thread made through the pthread_create hook starts with its record: creator, labels. */
void threadrec_start(uintptr_t created_pc, pid_t created_tid, uint32_t labels);

/* The calling thread exits: its record goes back to the registry. */
void threadrec_release(void);

/* Sets the calling thread's labels in its record (labels.c, after each change). */
void threadrec_set_labels(uint32_t labels);

/* The number of record slots that may be in use; records [0, n) are read with threadrec_at. */
size_t threadrec_limit(void);

/* Record i, or NULL (not mapped yet). Its tid may change at any time: read with threadrec_read. */
threadrec_t *threadrec_at(size_t i);

/* The tid that record r names now (0: free). */
pid_t threadrec_tid(const threadrec_t *r);

/* Reads r into *out; true when r named tid before and after the read. */
bool threadrec_read(const threadrec_t *r, pid_t tid, threadrec_info_t *out);

/* Gives back record r if it still names tid (a dump found tid gone). */
void threadrec_drop(threadrec_t *r, pid_t tid);

#endif /* CPROF_RUNTIME_THREADREC_H */
