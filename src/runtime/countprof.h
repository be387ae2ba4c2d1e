/*
 * countprof.h — count profiles, as Go writes them: goroutine (our threads), threadcreate and the
 * user-defined ones (cprof_profile_new).
 *
 * A count profile is a set of stacks, each with how many times it occurs: threads standing in it
 * now, threads created from it, keys added from it. Its makers (threadsprof.c, tcreate.c,
 * custom.c) fill a snapshot with records; count_snap_finish() groups the records that have the
 * same stack, labels and pseudo-frame, as Go groups its count profiles, and count_write() writes
 * a snapshot, or the difference of two (Go's ?seconds=N delta), as Go's proto or text.
 *
 * A stack that could not be taken (a thread that blocks the signal, a stopped thread, ...) is a
 * pseudo-frame: a function of the core that is never called, whose name says why, standing as the
 * whole stack. The proto names it (rt_sample_t.synthetic), and the text forms print its address,
 * since Go's count-text parser wants an address on every record.
 *
 * A snapshot lives in an arena of its own (memory from the kernel, not the host's heap), so the
 * HTTP plugin may hold one across a delta's sleep. Not thread-safe: one owner at a time.
 */
#ifndef CPROF_RUNTIME_COUNTPROF_H
#define CPROF_RUNTIME_COUNTPROF_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/arena.h"
#include "runtime/ext.h"

#define COUNT_MAX_DEPTH 64 /* frames kept per stack */

typedef enum count_pseudo {
  COUNT_PSEUDO_SIGNALS_BLOCKED, /* the thread blocks SIGPROF: not asked */
  COUNT_PSEUDO_NO_ANSWER,       /* asked, did not answer in time */
  COUNT_PSEUDO_STOPPED,         /* stopped (SIGSTOP, a debugger): not asked */
  COUNT_PSEUDO_EXITED,          /* a zombie: a main thread that called pthread_exit */
  COUNT_PSEUDO_PROFILER,        /* one of cprof's own threads */
  COUNT_PSEUDO_SIGPROF_TAKEN,   /* SIGPROF belongs to the program: nobody is asked */
  COUNT_PSEUDO_LOST,            /* a stack that came out empty (cprof_profile_add's skip) */
  COUNT_PSEUDO_UNREADABLE,      /* not running, but its stack could not be read from /proc */
  COUNT_PSEUDO_RUNNABLE,        /* runnable, but it never got a CPU while the dump looked */
  COUNT_PSEUDO_N,
} count_pseudo_t;

/* The pseudo-frame's function name, and why there is no stack, in a few words. */
const char *count_pseudo_name(count_pseudo_t p);
const char *count_pseudo_why(count_pseudo_t p);

/*
 * The calling code's stack as return addresses, leaf first, beginning at from: a return address
 * that a public function took with __builtin_return_address(0), so that the stack is its caller's
 * and shows none of libcprof's frames (from the top of the walk when from is not found). Until a
 * profile has built the unwind tables it is from alone, since a walk along frame pointers through
 * code built without them invents callers. Returns the number of pcs (at most max). Never in a
 * signal handler's place of a walk from a context; async-signal-safe all the same.
 */
int count_stack_here(uintptr_t *pcs, int max, uintptr_t from);

/* One record: a stack of return addresses, leaf first, or a pseudo-frame. */
typedef struct count_rec {
  const uintptr_t *pcs;
  uint32_t depth;
  uint32_t labels;       /* label set (labels.h), 0 for none */
  const char *synthetic; /* the pseudo-frame's name, or NULL */
  int64_t count;
} count_rec_t;

typedef struct count_snap {
  arena_t arena; /* holds this struct and everything it points to */
  const char *name;
  int64_t time_nanos; /* CLOCK_REALTIME when taken */
  int64_t mono_nanos; /* CLOCK_MONOTONIC when taken */
  count_rec_t *recs;  /* after count_snap_finish: grouped, sorted by count_rec_cmp */
  size_t nrecs, cap;
  const char *note; /* a remark for the text forms and the proto's comments, or NULL */
  /* The threads profile only: every thread, for the debug=2 dump. */
  rt_thread_info_t *threads;
  size_t nthreads;
} count_snap_t;

/* A snapshot of the profile name with room for cap records. NULL when out of memory. */
count_snap_t *count_snap_new(const char *name, size_t cap);

/* Memory that lives as long as the snapshot (zeroed); NULL when out of memory. */
void *count_snap_alloc(count_snap_t *s, size_t size);

/* Adds a record, copying the stack (at most COUNT_MAX_DEPTH frames). 0, -ENOSPC past cap, or
 * -ENOMEM. */
int count_snap_add(count_snap_t *s, const uintptr_t *pcs, uint32_t depth, uint32_t labels,
                   int64_t count);

/* Adds a pseudo-frame record. */
int count_snap_add_pseudo(count_snap_t *s, count_pseudo_t p, uint32_t labels, int64_t count);

/* The return address that stands for pseudo-frame p in a stack (its function's entry + 1). */
uintptr_t count_pseudo_pc(count_pseudo_t p);

/* Groups identical records (summing their counts) and sorts them. */
void count_snap_finish(count_snap_t *s);

void count_snap_free(count_snap_t *s);

/* The number of things counted: the sum of the records' counts. */
int64_t count_snap_total(const count_snap_t *s);

/*
 * Writes snap, minus base when base is not NULL (records whose counts cancel are left out): debug
 * 0 as gzipped profile.proto with Go's count-profile types (<name>/count, period 1), 1 as Go's
 * count text, 2 as the threads dump when snap has one and there is no base (else as 1). Both
 * finished. 0 or a negative errno.
 */
int count_write(int fd, const count_snap_t *snap, const count_snap_t *base, int debug);

#endif /* CPROF_RUNTIME_COUNTPROF_H */
