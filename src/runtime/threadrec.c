/*
 * threadrec.c — the registry of per-thread records (see threadrec.h).
 *
 * The records live in chunks of THREADREC_CHUNK, mapped from the kernel when first needed and never
 * unmapped, so any thread may read any record at any time. A directory of atomic pointers finds a
 * chunk (two threads that map the same chunk at once keep the first, the other unmaps its own). A
 * thread claims the first free record by compare-and-swap of its tid from 0, and rec_limit, only
 * raised, tells readers how many records to look at. The calling thread's record is one
 * initial-exec thread-local pointer; a thread that finds the registry full, or that already gave
 * its record back (its exit hook ran, but later destructors may still lock), uses a private
 * thread-local record that only it can read.
 *
 * fork: in the child, the registry's other threads are gone and the forking thread has a new tid:
 * a child handler, registered by a constructor, frees every other record and renames its own.
 *
 * The owner's stores are relaxed atomic stores (plain moves), as are other threads' loads. A
 * record's tid is stored with release order after its fields are set, and read with acquire order
 * before and after the fields (threadrec_read), so a reader sees a record that kept its owner.
 */
#define _GNU_SOURCE
#include "runtime/threadrec.h"

#include <pthread.h>
#include <stdatomic.h>

#include "runtime/labels.h"
#include "runtime/sys.h"

#define THREADREC_CHUNK 256 /* records per chunk: 16 KiB */
#define THREADREC_CHUNKS (THREADREC_MAX / THREADREC_CHUNK)

#define LOAD(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

static threadrec_t *_Atomic rec_chunks[THREADREC_CHUNKS];
static _Atomic size_t rec_limit;

static __thread threadrec_t *tls_rec __attribute__((tls_model("initial-exec")));
static __thread threadrec_t tls_private __attribute__((tls_model("initial-exec")));

/* Chunk c, mapped when absent; NULL when out of memory. Async-signal-safe. */
static threadrec_t *rec_chunk(size_t c, bool map) {
  threadrec_t *chunk = atomic_load(&rec_chunks[c]);
  if (chunk != NULL || !map)
    return chunk;
  threadrec_t *fresh = sys_map(THREADREC_CHUNK * sizeof *fresh);
  if (fresh == NULL)
    return NULL;
  if (!atomic_compare_exchange_strong(&rec_chunks[c], &chunk, fresh)) {
    sys_unmap(fresh, THREADREC_CHUNK * sizeof *fresh);
    return chunk; /* another thread's, mapped meanwhile */
  }
  return fresh;
}

/* Claims a free record; NULL when the registry is full. Async-signal-safe. */
static threadrec_t *rec_claim(void) {
  for (size_t i = 0; i < THREADREC_MAX; i++) {
    threadrec_t *chunk = rec_chunk(i / THREADREC_CHUNK, true);
    if (chunk == NULL)
      return NULL;
    threadrec_t *r = &chunk[i % THREADREC_CHUNK];
    pid_t free_tid = 0;
    if (LOAD(&r->tid) != 0 || !__atomic_compare_exchange_n(&r->tid, &free_tid, -1, false,
                                                           __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
      continue;
    size_t limit = atomic_load(&rec_limit);
    while (limit < i + 1 && !atomic_compare_exchange_weak(&rec_limit, &limit, i + 1))
      ;
    return r; /* tid -1 until the caller has set the fields and names itself */
  }
  return NULL;
}

/* Sets a claimed (or private) record's fields and publishes its owner. */
static void rec_fill(threadrec_t *r, pid_t me, uintptr_t created_pc, pid_t created_tid,
                     uint32_t labels) {
  STORE(&r->labels, labels);
  STORE(&r->created_pc, created_pc);
  STORE(&r->created_tid, created_tid);
  STORE(&r->wait_what, (const char *)NULL);
  STORE(&r->wait_obj, (const void *)NULL);
  STORE(&r->wait_since, (int64_t)0);
  __atomic_store_n(&r->tid, me, __ATOMIC_RELEASE);
}

/* Registers the calling thread. Async-signal-safe. */
static threadrec_t *rec_register(uintptr_t created_pc, pid_t created_tid, uint32_t labels) {
  pid_t me = sys_gettid();
  threadrec_t *r = rec_claim();
  if (r == NULL)
    r = &tls_private;
  rec_fill(r, me, created_pc, created_tid, labels);
  tls_rec = r;
  return r;
}

threadrec_t *threadrec_self(void) {
  threadrec_t *r = tls_rec;
  return r != NULL ? r : rec_register(0, 0, labels_current());
}

threadrec_t *threadrec_peek(void) { return tls_rec; }

void threadrec_start(uintptr_t created_pc, pid_t created_tid, uint32_t labels) {
  threadrec_t *r = tls_rec;
  if (r == NULL) {
    rec_register(created_pc, created_tid, labels);
    return;
  }
  STORE(&r->created_pc, created_pc);
  STORE(&r->created_tid, created_tid);
  STORE(&r->labels, labels);
}

void threadrec_release(void) {
  threadrec_t *r = tls_rec;
  if (r == NULL || r == &tls_private)
    return;
  /* From here on the thread keeps a private copy, so that a lock in a later destructor does not
   * claim a record again. */
  tls_private = (threadrec_t){.tid = LOAD(&r->tid),
                              .labels = LOAD(&r->labels),
                              .created_tid = LOAD(&r->created_tid),
                              .created_pc = LOAD(&r->created_pc)};
  tls_rec = &tls_private;
  STORE(&r->wait_what, (const char *)NULL);
  __atomic_store_n(&r->tid, 0, __ATOMIC_RELEASE);
}

void threadrec_set_labels(uint32_t labels) {
  threadrec_t *r = tls_rec;
  if (r == NULL && labels == 0)
    return; /* nothing to tell */
  STORE(&threadrec_self()->labels, labels);
}

/* ------------------------------------------------------------ readers ---------------------- */

size_t threadrec_limit(void) { return atomic_load(&rec_limit); }

threadrec_t *threadrec_at(size_t i) {
  if (i >= THREADREC_MAX)
    return NULL;
  threadrec_t *chunk = rec_chunk(i / THREADREC_CHUNK, false);
  return chunk != NULL ? &chunk[i % THREADREC_CHUNK] : NULL;
}

pid_t threadrec_tid(const threadrec_t *r) { return __atomic_load_n(&r->tid, __ATOMIC_ACQUIRE); }

bool threadrec_read(const threadrec_t *r, pid_t tid, threadrec_info_t *out) {
  if (threadrec_tid(r) != tid)
    return false;
  out->wait_what = __atomic_load_n(&r->wait_what, __ATOMIC_ACQUIRE); /* stored after obj, since */
  out->wait_obj = LOAD(&r->wait_obj);
  out->wait_since = LOAD(&r->wait_since);
  out->labels = LOAD(&r->labels);
  out->created_pc = LOAD(&r->created_pc);
  out->created_tid = LOAD(&r->created_tid);
  __atomic_thread_fence(__ATOMIC_ACQUIRE);
  return threadrec_tid(r) == tid;
}

void threadrec_drop(threadrec_t *r, pid_t tid) {
  __atomic_compare_exchange_n(&r->tid, &tid, 0, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------ fork ------------------------- */

/* In the child: the other threads are gone, and the forking thread has a new tid. */
static void threadrec_after_fork_child(void) {
  threadrec_t *mine = tls_rec;
  size_t limit = atomic_load(&rec_limit);
  for (size_t i = 0; i < limit; i++) {
    threadrec_t *r = threadrec_at(i);
    if (r != NULL && r != mine)
      __atomic_store_n(&r->tid, 0, __ATOMIC_RELAXED);
  }
  if (mine != NULL)
    __atomic_store_n(&mine->tid, sys_gettid(), __ATOMIC_RELEASE);
}

__attribute__((constructor)) static void threadrec_init(void) {
  pthread_atfork(NULL, NULL, threadrec_after_fork_child);
}
