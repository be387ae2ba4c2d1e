/*
 * heap.h — the sampled heap profile: what the allocation hooks (mhook.c) record and how it is read.
 *
 * A sampled allocation is counted in a bucket, keyed by the call stack, the allocation's size
 * class (heap_size_class: sizes rounded up on a ladder of 4 steps per power of two), as Go keys its
 * memory profile by stack and size-class size, and the allocating thread's label set (labels.h),
 * which Go's cannot do: a site that allocates many different sizes gets a few dozen buckets, not
 * one per size, and a site used under several labels a bucket per label set, so the profile can
 * be split by label. The labels are read only when an allocation is sampled. A bucket counts
 * objects and the bytes that were requested (alloc_objects, alloc_bytes, free_objects, free_bytes),
 * so byte totals stay exact; the class only groups. Buckets are never freed: a record of the live
 * table points at one and a snapshot may still name it. The live table maps each sampled block that
 * is still allocated to its bucket and its requested size (which its free subtracts); free() asks
 * heap_maybe_live() first, one load from a bitmap that mirrors a counting filter, and takes the
 * slow path only when the filter says the block may have been sampled.
 *
 * Everything here lives in memory mapped from the kernel (arena.c, sys_map), never in the host's
 * heap. heap.c owns the tables, the rate and the public calls; heapwrite.c turns a snapshot into a
 * profile; mhook.c holds the hooks, the per-thread countdown and the reentrancy guard.
 */
#ifndef CPROF_RUNTIME_HEAP_H
#define CPROF_RUNTIME_HEAP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HEAP_DEFAULT_RATE 524288L /* Go's MemProfileRate */
#define HEAP_MAX_DEPTH 64         /* frames kept per stack */
#define HEAP_FILTER_BITS 15       /* 32 Ki one-byte counters */
#define HEAP_STRIPE_BITS 6        /* 64 independently locked parts of the live table */

/* A bucket's counters, one cache line: the allocations and frees counted by the threads of one
 * shard. They only grow (inuse = allocs - frees, in objects and in requested bytes); an allocation
 * adds its objects before its bytes, a free likewise. */
typedef struct heap_counts {
  _Atomic int64_t allocs, frees;           /* objects */
  _Atomic int64_t alloc_bytes, free_bytes; /* requested bytes */
  char pad[64 - 4 * sizeof(int64_t)];
} heap_counts_t;

/* Each bucket has HEAP_SHARDS lines of counters. The first HEAP_SHARDS - 1 threads that count
 * each own one line and add to it without a locked instruction (no other thread writes it; a
 * signal handler on top of the hook never counts, see mhook.c); every later thread counts on the
 * last line, with atomic adds. Threads that allocate from the same stacks then do not bounce a
 * line between cores at every sample, and the owners skip the locked adds: at rate 1 the shared
 * atomic counters were the largest part of the counting's cost. An owner's line stays its own
 * after it exits. */
#define HEAP_SHARDS 4

/* One stack, size class and label set. */
typedef struct heap_bucket {
  struct heap_bucket *_Atomic next; /* hash chain, read without a lock */
  struct heap_bucket *all;          /* every bucket, newest first */
  uint64_t hash;
  size_t cls;            /* heap_size_class of every size counted here */
  heap_counts_t *counts; /* HEAP_SHARDS lines, 64-byte aligned */
  uint32_t labels;       /* the label set id (labels.h), 0 for none */
  uint32_t depth;
  uintptr_t pcs[]; /* return addresses, leaf first */
} heap_bucket_t;

/* A copy of every bucket's counters at one moment, sorted by bucket address (for deltas). */
typedef struct heap_snap_entry {
  const heap_bucket_t *bucket;
  int64_t allocs, frees, alloc_bytes, free_bytes;
} heap_snap_entry_t;

typedef struct heap_snap {
  size_t maplen;      /* bytes mapped for this snapshot */
  size_t n;           /* entries */
  long rate;          /* the sampling rate that produced the counts (the last one not 0) */
  int64_t time_nanos; /* CLOCK_REALTIME when taken */
  int64_t mono_nanos; /* CLOCK_MONOTONIC when taken */
  heap_snap_entry_t e[];
} heap_snap_t;

/* ------------------------------------------------------------ size classes ------------------ */

/* The size class of a request of n bytes: 0..16 themselves, then n rounded up to the next value
 * of the form (4+k)·2^(e-2), k in 0..3 (16, 20, 24, 28, 32, 40, 48, ...), at most 1/4 above n;
 * SIZE_MAX past the last one that fits. A few instructions, one branch. Async-signal-safe. */
static inline size_t heap_size_class(size_t n) {
  if (n <= 16)
    return n;
  size_t m = n - 1; /* m >= 16: bit b >= 4 is its top */
  unsigned shift = (unsigned)(63 - __builtin_clzll((unsigned long long)m)) - 2;
  size_t c = ((m >> shift) + 1) << shift; /* top 3 bits of m (4..7), plus one step */
  return c != 0 ? c : SIZE_MAX;           /* 8·2^61 wraps to 0 */
}

/* The calling thread's shard, 1 + its index once given (0: none yet). */
extern __thread unsigned heap_tls_shard __attribute__((tls_model("initial-exec")));
unsigned heap_shard_assign(void);

/* Adds v to a counter of the calling thread's line: a plain add on a line the thread owns. */
static inline void heap_counter_add(_Atomic int64_t *c, int64_t v, unsigned shard) {
  if (shard < HEAP_SHARDS)
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
                          memory_order_relaxed);
  else
    atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

/* Counts one allocation of n requested bytes in b, and one free. Async-signal-safe. */
static inline void heap_bucket_count_alloc(heap_bucket_t *b, size_t n) {
  unsigned s = heap_tls_shard != 0 ? heap_tls_shard : heap_shard_assign();
  heap_counts_t *c = &b->counts[s - 1];
  heap_counter_add(&c->allocs, 1, s);
  heap_counter_add(&c->alloc_bytes, (int64_t)n, s);
}

static inline void heap_bucket_count_free(heap_bucket_t *b, size_t n) {
  unsigned s = heap_tls_shard != 0 ? heap_tls_shard : heap_shard_assign();
  heap_counts_t *c = &b->counts[s - 1];
  heap_counter_add(&c->frees, 1, s);
  heap_counter_add(&c->free_bytes, (int64_t)n, s);
}

/* The sums of b's counters over its shards, frees read before allocations (a free is counted
 * after its allocation, so a racing read never shows more frees than allocations of one shard).
 * out: allocs, frees, alloc_bytes, free_bytes. Async-signal-safe. */
void heap_bucket_read(const heap_bucket_t *b, int64_t out[4]);

/* ------------------------------------------------------------ the filter --------------------- */

/* Counters indexed by the address (heap_filter_index): 0 means no live sampled block maps there.
 * Each counter belongs to one stripe of the live table and changes only under that stripe's lock;
 * 255 sticks (then the slot is just "maybe"). heap_filter_bits mirrors them one bit per counter
 * (set while the counter is not 0), 8 times denser, and is what free() reads: 4 KiB, which stays in
 * the cache better than the counters' 32 KiB. A word of bits covers 64 neighbouring counters,
 * all of one stripe, so it too changes only under that stripe's lock. heap_active is set once
 * sampling was first turned on. */
extern _Atomic uint8_t heap_filter[1u << HEAP_FILTER_BITS];
extern _Atomic uint64_t heap_filter_bits[1u << (HEAP_FILTER_BITS - 6)];
extern _Atomic bool heap_active;

/* The address's hash, for the live table's chains. */
static inline uint64_t heap_ptr_hash(const void *p) {
  return (uint64_t)(uintptr_t)p * 0x9E3779B97F4A7C15ull;
}

/* The address's filter counter: its 16-byte granule modulo the filter's size. Not a hash, on
 * purpose: blocks freed one after another are usually neighbours, and neighbours' counters share
 * cache lines, so the free path's one load rarely misses the cache (a hash made it miss nearly
 * every time: 80% of the free hook's cost). Live sampled blocks are few, so aliasing (addresses a
 * multiple of 512 KiB apart) only sends a free down the slow path now and then. */
static inline uint32_t heap_filter_index(const void *p) {
  return (uint32_t)(((uintptr_t)p >> 4) & ((1u << HEAP_FILTER_BITS) - 1));
}

/* Whether p may be a live sampled block (false: certainly not). Async-signal-safe. */
static inline bool heap_maybe_live(const void *p) {
  if (!atomic_load_explicit(&heap_active, memory_order_relaxed))
    return false;
  uint32_t i = heap_filter_index(p);
  return (atomic_load_explicit(&heap_filter_bits[i >> 6], memory_order_relaxed) >> (i & 63)) & 1;
}

/* ------------------------------------------------------------ for the hooks (heap.c) -------- */

/* The current rate (0: off) and its epoch, which changes with every change of rate. */
long heap_rate_now(unsigned *epoch);

/* The bucket for (pcs, heap_size_class(size), labels), created when missing; NULL when out of
 * memory. Lock-free when it exists. Called only with the caller's "inside" flag set (mhook.c). */
heap_bucket_t *heap_bucket_get(const uintptr_t *pcs, uint32_t depth, size_t size, uint32_t labels);

/* Records p as a live block of b of size requested bytes (the allocation is counted by the
 * caller). A stale record for the same address (its free was not seen) is counted as freed, with
 * its own bucket and size, and replaced. */
void heap_live_insert(const void *p, heap_bucket_t *b, size_t size);

/* Starts loading what heap_live_insert(p, ...) will touch, so that its cache misses overlap the
 * stack walk that comes first. Only a hint: takes no lock, changes nothing. Async-signal-safe. */
void heap_live_prefetch(const void *p);

/* Removes p's record and returns its bucket, with its requested size in *size (the free is not
 * counted), or NULL (*size untouched). */
heap_bucket_t *heap_live_remove(const void *p, size_t *size);

/* Whether pc lies in the extension's code or its libraries (ext_load.c). Async-signal-safe. */
bool ext_code_has(uintptr_t pc);

/* ------------------------------------------------------------ the guard (mhook.c) ----------- */

/* While entered (it nests), the calling thread's allocations are not sampled: the profiler's own
 * work (writing profiles, building tables) is not in its profile. */
void heap_guard_enter(void);
void heap_guard_exit(void);

/* Whether the calling thread is inside the guard. Threads it creates start inside it too
 * (threads.c): the HTTP server's threads, started under the guard, never sample themselves. */
bool heap_guard_active(void);

/* Makes the calling thread's next allocation re-read the rate (after the thread changed it). */
void mhook_thread_reset(void);

/* A block of the bootstrap area, as dlsym gets while the real functions are being found. Exposed
 * for tests: free() must ignore it, realloc() copy out of it. */
void *mhook_boot_alloc(size_t n);

/* Around fork (heap.c's atfork handlers): set while the stripe locks are held, so the forking
 * thread's own allocations pass through. */
void mhook_set_inside(bool inside);

/* ------------------------------------------------------------ configuration (heap.c) -------- */

/* Sets the rate and turns sampling on (rate > 0) or off (0). explicit: set by the user (the API or
 * CPROF_MEM_RATE), after which heap_enable_default() leaves the rate alone. 0 or a negative errno:
 * -EINVAL rate < 0, -ENOENT no extension (for rate > 0), -ENOMEM. */
int heap_set_rate(long rate, bool explicit_rate);

/* Turns sampling on at the default rate unless it is on or the user set a rate. */
int heap_enable_default(void);

/* ------------------------------------------------------------ reading (heap.c, heapwrite.c) -- */

void *heap_snapshot(void);
void heap_snapshot_free(void *snap);
int heap_write(int fd, const void *snap, const void *base, int debug, bool allocs);
long heap_count(void);

/* The first bucket of the list of all buckets (newest first), for snapshots and tests. */
heap_bucket_t *heap_buckets(void);

/* Natural logarithm of x > 0, and 1 - exp(-x) for x >= 0, to double precision without libm
 * (the core links libc only). Exposed for tests. */
double heap_ln(double x);
double heap_one_minus_exp_neg(double x);

/* Go's unbiasing of one (count, bytes) pair sampled at rate (see heapwrite.c). */
void heap_scale(int64_t *count, int64_t *bytes, long rate);

#endif /* CPROF_RUNTIME_HEAP_H */
