/*
 * heap.c — the heap profile's tables: buckets, the live table, its filter, the rate, snapshots,
 * and the public calls of cprof.h's heap section.
 *
 * Buckets (heap.h: one per stack and size class) sit in a fixed array of hash chains, hashed by
 * stack and class. Finding one takes no lock: chains only grow, at their head, with a release
 * store, and a bucket never moves or dies. Creating one takes bucket_lock, which also guards the
 * bucket arena and the list of all buckets. Counts (objects and requested bytes) are atomic adds
 * on the bucket itself, so freeing a sampled block never takes bucket_lock.
 *
 * The live table maps a sampled block's address to its bucket and its requested size, which its
 * free subtracts from the bucket's bytes (the class alone would not say). It is split into 64
 * stripes by the top bits of the address's filter index (heap.h), so each filter counter belongs to
 * one stripe and changes only under that stripe's lock (readers load it without one); within a
 * stripe it is a table chained by the address's hash, with its own lock (a spinlock: held for a few
 * loads and stores), arena and free list of records. A record is removed before the block is given
 * back to the allocator, since after that another thread may be handed the same address.
 *
 * Locks and signals: the hooks (mhook.c) set their thread's "inside" flag before they call in
 * here, so a signal handler that allocates on top of a held lock passes straight through instead
 * of taking it again. Around fork, the prepare handler takes every lock (with the flag set, for
 * the other prepare handlers that allocate after ours) and both sides release them, so the child
 * inherits consistent tables.
 */
#define _GNU_SOURCE
#include "runtime/heap.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>

#include "cprof.h"
#include "runtime/arena.h"
#include "runtime/ext.h"
#include "runtime/keysort.h"
#include "runtime/sys.h"
#include "runtime/tables.h"

#define HEAP_STRIPES (1u << HEAP_STRIPE_BITS)
/* 128 KiB of chain heads, their pages touched as buckets arrive (a bucket's head lands on a
 * random page, so a few dozen buckets touch them all). Since buckets are keyed by size class, the
 * bench has ~170 of them, and a large program some thousands: chains stay short. 2^16 heads cost
 * ~380 KiB more RSS at the default rate (peak RSS is a target: bench/README.md). */
#define BUCKET_BITS 14
#define BUCKET_HEADS (1u << BUCKET_BITS)
/* A stripe's first chain array, 512 bytes from the stripe's own arena, so that the first page of
 * records holds it: with a mapping of its own (1024 chains) each stripe in use touched one more
 * page, 256 KiB in all for a few hundred samples. Larger arrays are mapped (stripe_grow). */
#define STRIPE_HEADS_MIN 64

_Atomic uint8_t heap_filter[1u << HEAP_FILTER_BITS];
_Atomic uint64_t heap_filter_bits[1u << (HEAP_FILTER_BITS - 6)];
_Atomic bool heap_active;

/* ------------------------------------------------------------ rate ------------------------- */

static pthread_mutex_t cfg_lock = PTHREAD_MUTEX_INITIALIZER; /* set_rate, one at a time */
static _Atomic long heap_rate;
static _Atomic unsigned heap_epoch = 1; /* threads start at 0: they read the rate first */
static _Atomic long heap_last_rate;     /* the last rate that was not 0 */
static bool heap_rate_explicit;

long heap_rate_now(unsigned *epoch) {
  *epoch = atomic_load_explicit(&heap_epoch, memory_order_acquire);
  return atomic_load_explicit(&heap_rate, memory_order_relaxed);
}

/* ------------------------------------------------------------ buckets ---------------------- */

static pthread_mutex_t bucket_lock = PTHREAD_MUTEX_INITIALIZER;
static heap_bucket_t *_Atomic *bucket_heads; /* BUCKET_HEADS chains, mapped when first enabled */
static heap_bucket_t *_Atomic bucket_all;
static arena_t bucket_arena;
static _Atomic long bucket_count;

static uint64_t bucket_hash(const uintptr_t *pcs, uint32_t depth, size_t cls, uint32_t labels) {
  uint64_t h = (0xcbf29ce484222325ull ^ cls ^ (uint64_t)labels << 40) * 0x100000001b3ull;
  for (uint32_t i = 0; i < depth; i++) {
    h ^= pcs[i];
    h *= 0x100000001b3ull;
    h ^= h >> 29;
  }
  return h * 0x9E3779B97F4A7C15ull;
}

/* Whether the stacks are equal: a loop, not memcmp, since stacks are a few words. */
static inline bool pcs_equal(const uintptr_t *a, const uintptr_t *b, uint32_t depth) {
  for (uint32_t i = 0; i < depth; i++)
    if (a[i] != b[i])
      return false;
  return true;
}

static heap_bucket_t *bucket_find(heap_bucket_t *b, uint64_t h, const uintptr_t *pcs,
                                  uint32_t depth, size_t cls, uint32_t labels) {
  for (; b != NULL; b = atomic_load_explicit(&b->next, memory_order_acquire))
    if (b->hash == h && b->cls == cls && b->labels == labels && b->depth == depth &&
        pcs_equal(b->pcs, pcs, depth))
      return b;
  return NULL;
}

heap_bucket_t *heap_bucket_get(const uintptr_t *pcs, uint32_t depth, size_t size, uint32_t labels) {
  heap_bucket_t *_Atomic *heads = bucket_heads;
  if (heads == NULL)
    return NULL;
  size_t cls = heap_size_class(size);
  uint64_t h = bucket_hash(pcs, depth, cls, labels);
  heap_bucket_t *_Atomic *head = &heads[h >> (64 - BUCKET_BITS)];
  heap_bucket_t *b =
      bucket_find(atomic_load_explicit(head, memory_order_acquire), h, pcs, depth, cls, labels);
  if (b != NULL)
    return b;
  pthread_mutex_lock(&bucket_lock);
  heap_bucket_t *first = atomic_load_explicit(head, memory_order_acquire);
  b = bucket_find(first, h, pcs, depth, cls, labels);
  heap_counts_t *counts = NULL;
  if (b == NULL && (b = arena_alloc(&bucket_arena, sizeof *b + depth * sizeof *pcs)) != NULL &&
      (counts = arena_alloc(&bucket_arena, (HEAP_SHARDS + 1) * sizeof *counts)) == NULL)
    b = NULL; /* (the header stays in the arena, unused) */
  if (counts != NULL) {
    b->counts = (heap_counts_t *)(((uintptr_t)counts + 63) & ~(uintptr_t)63);
    b->hash = h;
    b->cls = cls;
    b->labels = labels;
    b->depth = depth;
    memcpy(b->pcs, pcs, depth * sizeof *pcs);
    atomic_store_explicit(&b->next, first, memory_order_relaxed);
    b->all = atomic_load_explicit(&bucket_all, memory_order_relaxed);
    atomic_store_explicit(head, b, memory_order_release);
    atomic_store_explicit(&bucket_all, b, memory_order_release);
    atomic_fetch_add_explicit(&bucket_count, 1, memory_order_relaxed);
  }
  pthread_mutex_unlock(&bucket_lock);
  return b;
}

__thread unsigned heap_tls_shard __attribute__((tls_model("initial-exec")));

unsigned heap_shard_assign(void) {
  static _Atomic unsigned given;
  unsigned i = atomic_fetch_add_explicit(&given, 1, memory_order_relaxed);
  heap_tls_shard = i < HEAP_SHARDS - 1 ? i + 1 : HEAP_SHARDS; /* owned lines, then the shared one */
  return heap_tls_shard;
}

void heap_bucket_read(const heap_bucket_t *b, int64_t out[4]) {
  int64_t frees = 0, free_bytes = 0, allocs = 0, alloc_bytes = 0;
  for (int i = 0; i < HEAP_SHARDS; i++) {
    heap_counts_t *c = &b->counts[i];
    frees += atomic_load_explicit(&c->frees, memory_order_relaxed);
    free_bytes += atomic_load_explicit(&c->free_bytes, memory_order_relaxed);
    allocs += atomic_load_explicit(&c->allocs, memory_order_relaxed);
    alloc_bytes += atomic_load_explicit(&c->alloc_bytes, memory_order_relaxed);
  }
  out[0] = allocs;
  out[1] = frees;
  out[2] = alloc_bytes;
  out[3] = free_bytes;
}

heap_bucket_t *heap_buckets(void) {
  return atomic_load_explicit(&bucket_all, memory_order_acquire);
}

long heap_count(void) { return atomic_load_explicit(&bucket_count, memory_order_relaxed); }

/* ------------------------------------------------------------ the live table --------------- */

typedef struct heap_rec {
  struct heap_rec *next;
  const void *ptr;
  heap_bucket_t *bucket;
  size_t size; /* requested */
} heap_rec_t;

/* A test-and-test-and-set lock. An uncontended pthread mutex pair costs ~20 ns, and at rate 1
 * every allocation and every sampled free takes one: this costs one atomic exchange and a store.
 * A waiter spins on plain loads (pausing), and yields the CPU after SPIN_MAX tries, so a holder
 * that was preempted gets to run. No thread ever spins on a lock it holds itself: the hooks set
 * their thread's "inside" flag before taking one, and a hook that finds it set takes none. */
#define SPIN_MAX 100

typedef struct heap_spin {
  _Atomic int held;
} heap_spin_t;

static inline void spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

static void spin_lock(heap_spin_t *l) {
  for (unsigned n = 0;; n += n < SPIN_MAX) {
    if (!atomic_load_explicit(&l->held, memory_order_relaxed) &&
        !atomic_exchange_explicit(&l->held, 1, memory_order_acquire))
      return;
    if (n < SPIN_MAX)
      spin_pause();
    else
      sched_yield();
  }
}

static inline void spin_unlock(heap_spin_t *l) {
  atomic_store_explicit(&l->held, 0, memory_order_release);
}

/* One stripe, on its own cache lines: its lock shares a line with what the holder reads next. */
typedef struct heap_stripe {
  heap_spin_t lock;
  heap_rec_t **heads; /* nheads chains (mapped), NULL until the first insert */
  size_t nheads, count;
  heap_rec_t *spare; /* records to reuse */
  arena_t arena;
} __attribute__((aligned(64))) heap_stripe_t;

static heap_stripe_t stripes[HEAP_STRIPES]; /* zero: every lock free */

/* The chain index inside a stripe. */
static size_t stripe_slot(uint64_t h, size_t nheads) { return (size_t)(h >> 32) & (nheads - 1); }

static heap_stripe_t *stripe_of(const void *p) {
  return &stripes[heap_filter_index(p) >> (HEAP_FILTER_BITS - HEAP_STRIPE_BITS)];
}

static void filter_add(const void *p, int d) {
  _Atomic uint8_t *c = &heap_filter[heap_filter_index(p)];
  unsigned v = atomic_load_explicit(c, memory_order_relaxed);
  if (v == 255)
    return; /* stuck at "maybe" */
  unsigned w = v + (unsigned)d;
  atomic_store_explicit(c, (uint8_t)w, memory_order_relaxed);
  if ((v == 0) != (w == 0)) { /* the bit changes: it is 1 while the counter is not 0 */
    uint32_t i = heap_filter_index(p);
    _Atomic uint64_t *word = &heap_filter_bits[i >> 6];
    uint64_t bits = atomic_load_explicit(word, memory_order_relaxed) ^ (1ull << (i & 63));
    atomic_store_explicit(word, bits, memory_order_relaxed);
  }
}

/* Doubles the stripe's chain array (or makes the first). Keeps the old one on failure. */
static void stripe_grow(heap_stripe_t *s) {
  size_t n = s->nheads ? s->nheads * 2 : STRIPE_HEADS_MIN;
  heap_rec_t **heads =
      s->nheads ? sys_map(n * sizeof *heads) : arena_alloc(&s->arena, n * sizeof *heads);
  if (heads == NULL)
    return;
  for (size_t i = 0; i < s->nheads; i++) {
    heap_rec_t *r = s->heads[i];
    while (r != NULL) {
      heap_rec_t *next = r->next;
      size_t j = stripe_slot(heap_ptr_hash(r->ptr), n);
      r->next = heads[j];
      heads[j] = r;
      r = next;
    }
  }
  if (s->nheads > STRIPE_HEADS_MIN) /* (the first one stays in the arena, unused) */
    sys_unmap(s->heads, s->nheads * sizeof *heads);
  s->heads = heads;
  s->nheads = n;
}

void heap_live_prefetch(const void *p) {
  heap_stripe_t *s = stripe_of(p);
  __builtin_prefetch(s, 1);
  __builtin_prefetch(&heap_filter[heap_filter_index(p)], 1);
  __builtin_prefetch(&heap_filter_bits[heap_filter_index(p) >> 6], 1);
  /* Read without the lock, so heads and nheads may not match (a grow under way): the address is
   * then wrong or unmapped, which a prefetch ignores. */
  heap_rec_t **heads = __atomic_load_n(&s->heads, __ATOMIC_RELAXED);
  size_t nheads = __atomic_load_n(&s->nheads, __ATOMIC_RELAXED);
  if (heads != NULL)
    __builtin_prefetch(&heads[stripe_slot(heap_ptr_hash(p), nheads)], 1);
}

void heap_live_insert(const void *p, heap_bucket_t *b, size_t size) {
  uint64_t h = heap_ptr_hash(p);
  heap_stripe_t *s = stripe_of(p);
  spin_lock(&s->lock);
  if (s->heads == NULL || s->count >= 2 * s->nheads)
    stripe_grow(s);
  if (s->heads == NULL)
    goto out;
  heap_rec_t **chain = &s->heads[stripe_slot(h, s->nheads)];
  for (heap_rec_t *r = *chain; r != NULL; r = r->next) {
    if (r->ptr == p) { /* its free was not seen: count it now */
      heap_bucket_count_free(r->bucket, r->size);
      r->bucket = b;
      r->size = size;
      goto out;
    }
  }
  heap_rec_t *r = s->spare;
  if (r != NULL)
    s->spare = r->next;
  else if ((r = arena_alloc(&s->arena, sizeof *r)) == NULL)
    goto out; /* lost: the block stays in use in the profile's eyes */
  r->ptr = p;
  r->bucket = b;
  r->size = size;
  r->next = *chain;
  *chain = r;
  s->count++;
  filter_add(p, 1);
out:
  spin_unlock(&s->lock);
}

heap_bucket_t *heap_live_remove(const void *p, size_t *size) {
  uint64_t h = heap_ptr_hash(p);
  heap_stripe_t *s = stripe_of(p);
  heap_bucket_t *b = NULL;
  spin_lock(&s->lock);
  if (s->heads != NULL) {
    for (heap_rec_t **link = &s->heads[stripe_slot(h, s->nheads)]; *link; link = &(*link)->next) {
      heap_rec_t *r = *link;
      if (r->ptr == p) {
        b = r->bucket;
        *size = r->size;
        *link = r->next;
        r->next = s->spare;
        s->spare = r;
        s->count--;
        filter_add(p, -1);
        break;
      }
    }
  }
  spin_unlock(&s->lock);
  return b;
}

/* ------------------------------------------------------------ fork ------------------------- */

static void heap_fork_prepare(void) {
  mhook_set_inside(true);
  pthread_mutex_lock(&bucket_lock);
  for (unsigned i = 0; i < HEAP_STRIPES; i++)
    spin_lock(&stripes[i].lock);
}

static void heap_fork_release(void) {
  for (unsigned i = HEAP_STRIPES; i-- > 0;)
    spin_unlock(&stripes[i].lock);
  pthread_mutex_unlock(&bucket_lock);
  mhook_set_inside(false);
}

/* ------------------------------------------------------------ turning it on ---------------- */

/* Maps the bucket chains and registers the fork handlers, once. Called with cfg_lock held. */
static int tables_init_locked(void) {
  static bool done;
  if (done)
    return 0;
  heap_bucket_t *_Atomic *heads = sys_map(BUCKET_HEADS * sizeof *heads);
  if (heads == NULL)
    return -ENOMEM;
  if (pthread_atfork(heap_fork_prepare, heap_fork_release, heap_fork_release) != 0) {
    sys_unmap(heads, BUCKET_HEADS * sizeof *heads);
    return -ENOMEM;
  }
  bucket_heads = heads;
  done = true;
  return 0;
}

static int set_rate_locked(long rate, bool explicit_rate) {
  if (rate > 0) {
    const ext_api_t *ext = ext_get();
    if (ext == NULL)
      return -ENOENT;
    int rc = tables_init_locked();
    if (rc != 0)
      return rc;
    tables_ensure(ext); /* on failure stacks follow frame pointers: still a profile */
    atomic_store(&heap_last_rate, rate);
    atomic_store(&heap_active, true);
  }
  if (explicit_rate)
    heap_rate_explicit = true;
  atomic_store(&heap_rate, rate);
  atomic_fetch_add(&heap_epoch, 1);
  mhook_thread_reset();
  return 0;
}

int heap_set_rate(long rate, bool explicit_rate) {
  if (rate < 0)
    return -EINVAL;
  heap_guard_enter();
  pthread_mutex_lock(&cfg_lock);
  int rc = set_rate_locked(rate, explicit_rate);
  pthread_mutex_unlock(&cfg_lock);
  heap_guard_exit();
  return rc;
}

int heap_enable_default(void) {
  heap_guard_enter();
  pthread_mutex_lock(&cfg_lock);
  int rc = 0;
  if (!heap_rate_explicit && atomic_load(&heap_rate) == 0)
    rc = set_rate_locked(HEAP_DEFAULT_RATE, false);
  pthread_mutex_unlock(&cfg_lock);
  heap_guard_exit();
  return rc;
}

/* ------------------------------------------------------------ snapshots -------------------- */

/* Entries are sorted by their leading pointer (keysort_by_ptr, which takes no lock and no malloc:
 * a snapshot may be taken where the allocator must not be entered). */
_Static_assert(offsetof(heap_snap_entry_t, bucket) == 0 &&
                   sizeof(heap_snap_entry_t) <= KEYSORT_MAX_ENTRY,
               "a snapshot entry is keysort_by_ptr's");

void *heap_snapshot(void) {
  heap_bucket_t *first = heap_buckets();
  size_t n = 0;
  for (heap_bucket_t *b = first; b != NULL; b = b->all)
    n++;
  size_t len = sizeof(heap_snap_t) + n * sizeof(heap_snap_entry_t);
  heap_snap_t *s = sys_map(len);
  if (s == NULL)
    return NULL;
  s->maplen = len;
  s->rate = atomic_load(&heap_last_rate);
  s->time_nanos = sys_now_real();
  s->mono_nanos = sys_now_mono();
  for (heap_bucket_t *b = first; b != NULL && s->n < n; b = b->all) {
    heap_snap_entry_t *e = &s->e[s->n++];
    e->bucket = b;
    /* frees first: a free is counted after its alloc, so inuse never goes negative (a read
     * that still races is clamped by the writer) */
    int64_t v[4];
    heap_bucket_read(b, v);
    e->allocs = v[0];
    e->frees = v[1];
    e->alloc_bytes = v[2];
    e->free_bytes = v[3];
  }
  keysort_by_ptr(s->e, s->n, sizeof *s->e);
  return s;
}

void heap_snapshot_free(void *snap) {
  heap_snap_t *s = snap;
  if (s != NULL)
    sys_unmap(s, s->maplen);
}

/* ------------------------------------------------------------ the public API --------------- */

CPROF_API int cprof_set_mem_profile_rate(long rate) { return heap_set_rate(rate, true); }

CPROF_API long cprof_mem_profile_rate(void) { return atomic_load(&heap_rate); }

CPROF_API int cprof_write_heap_profile(int fd) {
  void *snap = heap_snapshot();
  if (snap == NULL)
    return -ENOMEM;
  int rc = heap_write(fd, snap, NULL, 0, false);
  heap_snapshot_free(snap);
  return rc;
}
