/*
 * labels.h — thread labels: key/value pairs a thread carries (cprof_label_push / cprof_do in
 * cprof.h), attached to the samples it produces (CPU, heap and allocs) and shown in the threads
 * profile, as Go's profiler labels.
 *
 * A thread's labels are one label set, named by a small id: sets are immutable, interned (the same
 * pairs give the same id) and never freed, so an id can be stored in a sample, a bucket or a ring
 * record and read back from any thread at any later time. Id 0 is the empty set. The number of
 * distinct sets is bounded (labels.c), so an id fits in 16 bits, but it is kept in 32.
 */
#ifndef CPROF_RUNTIME_LABELS_H
#define CPROF_RUNTIME_LABELS_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/ext.h"

/* The calling thread's label set (0: none). One thread-local load; async-signal-safe. */
uint32_t labels_current(void);

/* The labels of set id, sorted by key, with their number in *n (NULL and 0 for id 0 or an id that
 * was never handed out). The strings live as long as the process. Async-signal-safe. */
const rt_label_t *labels_of(uint32_t id, size_t *n);

/* Starts the calling thread, a new one, with set id in force and nothing pushed: the
 * pthread_create hook's trampoline passes the creator's labels_current(), so a thread inherits its
 * creator's labels, as a goroutine does. */
void labels_inherit(uint32_t id);

#endif /* CPROF_RUNTIME_LABELS_H */
