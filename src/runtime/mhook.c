/*
 * mhook.c — the interposed malloc family: the heap profiler's sampling point.
 *
 * Every allocation function of the process lands here first (libcprof.so comes before libc, or
 * before jemalloc/tcmalloc when they are preloaded after it; in libcprof.a these definitions are
 * the program's own) and is passed to the real one, found with dlsym(RTLD_NEXT) on the first call.
 * While dlsym itself allocates, requests are served from a small static bootstrap area, whose
 * blocks free() ignores and realloc() copies out of.
 *
 * The fast path of an allocation is the real call, a thread-local byte countdown and one branch.
 * The countdown implements Go's sampling: the distance to the next sample point is drawn from an
 * exponential distribution whose mean is the rate, so a block of size S is sampled with
 * probability 1 - exp(-S/rate). A long distance is consumed in steps of at most CHECK_BYTES, and
 * at each step the slow path looks whether the rate changed (its epoch), so every thread notices a
 * new rate within CHECK_BYTES of allocation; while sampling is off the countdown is CHECK_BYTES.
 * Rate 1 keeps the countdown negative: every allocation takes the slow path and is sampled. A
 * sampled allocation is counted under its stack, its size class and the thread's labels
 * (labels_current(), read there and only there).
 *
 * free() asks the filter (heap.h), one load, whether the block may have been sampled, and only
 * then removes its record, before the real free, after which the address may be handed out again.
 * The record gives the bucket and the size that was requested, which the free subtracts: a bucket
 * holds a size class, so its bytes are sums of requested sizes, never objects times one size. A
 * realloc of a sampled block takes the record first and puts it back, size and all, if the real
 * realloc fails; otherwise it counts the old block freed and the new one as a new allocation.
 *
 * Reentrancy: a thread's "inside" flag is set before the slow path takes any lock, and a hook
 * that finds it set passes straight through (a free seen that way leaves a stale record, which
 * the next insertion of that address counts as freed, with the size the record kept). That covers a
 * host that allocates in a signal handler on top of our slow path, and the profiler's own work. The
 * guard (heap_guard_enter) stops sampling on a thread without stopping frees from being recorded.
 * No hook changes errno except as the real function does.
 *
 * Every function in this file is async-signal-safe in the sense above: on a thread where a hook
 * is already running it takes no lock and allocates nothing.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runtime/heap.h"
#include "runtime/labels.h"
#include "runtime/sys.h"
#include "runtime/tables.h"
#include "runtime/threads.h"
#include "runtime/unwind.h"

#define MHOOK_API __attribute__((visibility("default")))
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

#define CHECK_BYTES (1LL << 20) /* bytes between looks at the rate */
#define BOOT_SIZE (64 * 1024)
#define BOOT_HDR 16 /* each bootstrap block is preceded by its size */

/* glibc's own names, for when dlsym finds nothing (a program linked without libdl's help). */
extern void *__libc_malloc(size_t) __attribute__((weak));
extern void __libc_free(void *) __attribute__((weak));
extern void *__libc_calloc(size_t, size_t) __attribute__((weak));
extern void *__libc_realloc(void *, size_t) __attribute__((weak));
extern void *__libc_memalign(size_t, size_t) __attribute__((weak));

/* ------------------------------------------------------------ per-thread state ------------- */

typedef struct mhook_tls {
  int64_t countdown; /* >= 0: allocations smaller than this only subtract their size from it */
  int64_t rest;      /* bytes from the end of the countdown to the sample point (-1: rate 1) */
  uint64_t rng;      /* xorshift64* state, 0 until seeded */
  unsigned epoch;    /* the rate epoch the countdown was drawn in; 0 before the first */
  unsigned inside;   /* a hook's slow path runs on this thread */
  unsigned guard;    /* heap_guard_enter depth */
} mhook_tls_t;

static __thread mhook_tls_t mh_tls __attribute__((tls_model("initial-exec")));

void heap_guard_enter(void) { mh_tls.guard++; }

bool heap_guard_active(void) { return mh_tls.guard > 0; }

void heap_guard_exit(void) {
  if (mh_tls.guard > 0)
    mh_tls.guard--;
}

void mhook_thread_reset(void) {
  mh_tls.countdown = 0;
  mh_tls.rest = 0;
  mh_tls.epoch = 0;
}

void mhook_set_inside(bool inside) { mh_tls.inside = inside; }

/* ------------------------------------------------------------ the real functions ----------- */

typedef struct mhook_real {
  void *(*malloc)(size_t);
  void (*free)(void *);
  void *(*calloc)(size_t, size_t);
  void *(*realloc)(void *, size_t);
  int (*posix_memalign)(void **, size_t, size_t);
  void *(*aligned_alloc)(size_t, size_t);
  void *(*memalign)(size_t, size_t);
  void *(*valloc)(size_t);
  void *(*pvalloc)(size_t);
  size_t (*usable_size)(void *);
  void (*free_sized)(void *, size_t);
  void (*free_aligned_sized)(void *, size_t, size_t);
} mhook_real_t;

static mhook_real_t real;          /* each field stored once, with release, malloc last */
static _Atomic int mh_state;       /* 0 unresolved, 1 resolving, 2 resolved */
static size_t mh_page = 4096;      /* set when resolved */
static const void *mh_malloc_base; /* the module the real malloc is in */

#define REAL(f) __atomic_load_n(&real.f, __ATOMIC_ACQUIRE)

/* sym from the module after ours, or NULL when it comes from another module than malloc (e.g.
 * glibc's pvalloc under jemalloc, which has none: it would hand out glibc's heap). */
static void *next_sym(const char *name, const void *malloc_base) {
  void *f = dlsym(RTLD_NEXT, name);
  Dl_info info;
  if (f != NULL && malloc_base != NULL && dladdr(f, &info) != 0 && info.dli_fbase != malloc_base)
    return NULL;
  return f;
}

static void resolve_all(void) {
  void *m = dlsym(RTLD_NEXT, "malloc");
  Dl_info info;
  const void *base = m != NULL && dladdr(m, &info) != 0 ? info.dli_fbase : NULL;
  mhook_real_t r = {
      .free = dlsym(RTLD_NEXT, "free"),
      .calloc = dlsym(RTLD_NEXT, "calloc"),
      .realloc = dlsym(RTLD_NEXT, "realloc"),
      .posix_memalign = next_sym("posix_memalign", base),
      .aligned_alloc = next_sym("aligned_alloc", base),
      .memalign = next_sym("memalign", base),
      .valloc = next_sym("valloc", base),
      .pvalloc = next_sym("pvalloc", base),
      .usable_size = next_sym("malloc_usable_size", base),
      .free_sized = next_sym("free_sized", base),
      .free_aligned_sized = next_sym("free_aligned_sized", base),
  };
  if (m == NULL || r.free == NULL || r.calloc == NULL || r.realloc == NULL) {
    m = __libc_malloc;
    r.free = __libc_free;
    r.calloc = __libc_calloc;
    r.realloc = __libc_realloc;
    r.memalign = __libc_memalign;
  }
  mh_malloc_base = base;
  long page = sysconf(_SC_PAGESIZE);
  if (page > 0)
    mh_page = (size_t)page;
  void **dst = (void **)&real, **src = (void **)&r;
  for (size_t i = 1; i < sizeof r / sizeof(void *); i++)
    __atomic_store_n(&dst[i], src[i], __ATOMIC_RELEASE);
  __atomic_store_n(&real.malloc, (void *(*)(size_t))m, __ATOMIC_RELEASE);
}

/* Resolves the real functions on the first call. false while a resolution is under way (in this
 * thread: dlsym is allocating; in another: it will be done shortly): use the bootstrap area. */
static bool mhook_resolve(void) {
  int s = atomic_load(&mh_state);
  if (s != 0)
    return s == 2;
  if (!atomic_compare_exchange_strong(&mh_state, &s, 1))
    return s == 2;
  int saved = errno;
  resolve_all();
  errno = saved;
  atomic_store(&mh_state, 2);
  return true;
}

/* ------------------------------------------------------------ the bootstrap area ----------- */

static unsigned char mh_boot[BOOT_SIZE] __attribute__((aligned(4096)));
static _Atomic size_t mh_boot_used;

static inline bool in_boot(const void *p) { return (uintptr_t)p - (uintptr_t)mh_boot < BOOT_SIZE; }

/* A zeroed block that is never reused; NULL with ENOMEM when the area is full. */
static void *boot_alloc(size_t n, size_t align) {
  if (align < BOOT_HDR)
    align = BOOT_HDR;
  if (n > BOOT_SIZE || align > BOOT_SIZE / 2) {
    errno = ENOMEM;
    return NULL;
  }
  size_t start = atomic_load(&mh_boot_used), p, end;
  do {
    p = (start + BOOT_HDR + align - 1) & ~(align - 1);
    end = p + ((n + 15) & ~(size_t)15);
    if (end > BOOT_SIZE) {
      errno = ENOMEM;
      return NULL;
    }
  } while (!atomic_compare_exchange_weak(&mh_boot_used, &start, end));
  memcpy(mh_boot + p - BOOT_HDR, &n, sizeof n);
  return mh_boot + p;
}

void *mhook_boot_alloc(size_t n) { return boot_alloc(n, 16); }

static size_t boot_size(const void *p) {
  size_t n;
  memcpy(&n, (const unsigned char *)p - BOOT_HDR, sizeof n);
  return n;
}

/* ------------------------------------------------------------ sampling --------------------- */

/* The distance to the next sample point, exponential with mean rate; -1 for rate 1. */
static int64_t draw(mhook_tls_t *t, long rate) {
  if (rate <= 1)
    return -1;
  if (t->rng == 0) {
    uint64_t z = (uint64_t)sys_now_mono() ^ ((uint64_t)sys_gettid() << 32) ^ (uintptr_t)t;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    t->rng = (z ^ (z >> 31)) | 1;
  }
  t->rng ^= t->rng >> 12;
  t->rng ^= t->rng << 25;
  t->rng ^= t->rng >> 27;
  uint64_t r = t->rng * 0x2545F4914F6CDD1Dull;
  double u = (double)((r >> 11) + 1) * 0x1.0p-53; /* (0, 1] */
  double d = -heap_ln(u) * (double)rate;
  return d > 4e18 ? (int64_t)4e18 : (int64_t)d;
}

/* v bytes to the next sample point (v < 0: sample the next allocation, whatever its size). */
static void set_next(mhook_tls_t *t, int64_t v) {
  t->countdown = v < 0 ? 0 : v < CHECK_BYTES ? v : CHECK_BYTES;
  t->rest = v - t->countdown;
}

/* Called for an allocation of n bytes that the countdown did not let through (n >= countdown):
 * whether to sample it, and the next countdown. */
static bool decide(mhook_tls_t *t, size_t n) {
  unsigned epoch;
  long rate = heap_rate_now(&epoch);
  int64_t v;
  if (rate == 0) {
    t->epoch = epoch;
    set_next(t, CHECK_BYTES);
    return false;
  }
  if (t->epoch != epoch) { /* a new thread, or a new rate: the process starts at this block */
    t->epoch = epoch;
    v = draw(t, rate) - (int64_t)n;
  } else {
    v = t->countdown + t->rest - (int64_t)n;
  }
  if (v >= 0) {
    set_next(t, v);
    return false;
  }
  set_next(t, draw(t, rate));
  return true;
}

/*
 * The slow path of an allocation hook, called directly by the hook (so that the walk's first pc,
 * a return address inside the hook, can be dropped). Samples p when its time has come.
 */
__attribute__((noinline)) static void mhook_sample(const void *p, size_t n) {
  mhook_tls_t *t = &mh_tls;
  if (t->inside)
    return;
  t->inside = 1;
  int saved = errno;
  if (t->guard == 0 && decide(t, n)) {
    heap_live_prefetch(p);
    uintptr_t pcs[HEAP_MAX_DEPTH + 1];
    unwind_stack_bounds_t bounds;
    threads_stack_bounds((uintptr_t)__builtin_frame_address(0), &bounds);
    const unwind_set_t *set = tables_enter();
    int depth = unwind_here(set, &bounds, pcs, HEAP_MAX_DEPTH + 1);
    tables_exit();
    int skip = depth > 1 ? 1 : 0;
    for (int i = skip; i < depth; i++) {
      if (ext_code_has(pcs[i])) {
        depth = 0; /* the profiler's own allocation (its HTTP server, libdw, zlib) */
        break;
      }
    }
    heap_bucket_t *b =
        depth > 0 ? heap_bucket_get(pcs + skip, (uint32_t)(depth - skip), n, labels_current())
                  : NULL;
    if (b != NULL) {
      heap_bucket_count_alloc(b, n);
      heap_live_insert(p, b, n);
    }
  }
  errno = saved;
  t->inside = 0;
}

/* Removes p's record (when the filter says it may have one) and returns its bucket, with the
 * block's requested size in *size; counts the free when count is set. Counting happens only
 * under the "inside" flag, as every counting does: a thread's counter line may be added to
 * without a locked instruction (heap.h), which a nested count from a signal handler would break. */
__attribute__((noinline)) static heap_bucket_t *mhook_take(const void *p, size_t *size,
                                                           bool count) {
  mhook_tls_t *t = &mh_tls;
  if (t->inside)
    return NULL;
  t->inside = 1;
  int saved = errno;
  heap_bucket_t *b = heap_live_remove(p, size);
  if (b != NULL && count)
    heap_bucket_count_free(b, *size);
  errno = saved;
  t->inside = 0;
  return b;
}

static void mhook_forget(const void *p) {
  size_t size = 0;
  mhook_take(p, &size, true);
}

/* After the real realloc of a sampled block p of size requested bytes: a failure leaves p
 * allocated (its record goes back, with its size); anything else ended p (moved, or freed by
 * realloc(p, 0)). errno is the realloc's. */
__attribute__((noinline)) static void mhook_realloc_done(const void *p, const void *q, size_t n,
                                                         heap_bucket_t *b, size_t size) {
  mhook_tls_t *t = &mh_tls;
  int saved = errno;
  t->inside = 1;
  if (q == NULL && n != 0)
    heap_live_insert(p, b, size);
  else
    heap_bucket_count_free(b, size);
  t->inside = 0;
  errno = saved;
}

/*
 * The fast path of every allocating hook: whether an allocation of n bytes stays short of the
 * sample point, in which case it is counted here and the hook only calls the real function (as a
 * tail call). Otherwise the hook calls the real function and then MHOOK_SLOW, which samples when
 * the time has come; only a block that was handed out counts there, so a failed huge request does
 * not move the sample point.
 */
static inline __attribute__((always_inline)) bool mhook_fast(size_t n) {
  int64_t c = mh_tls.countdown;
  if (LIKELY((uint64_t)n < (uint64_t)c)) {
    mh_tls.countdown = c - (int64_t)n;
    return true;
  }
  return false;
}

#define MHOOK_SLOW(p, n)                                                                           \
  do {                                                                                             \
    if (LIKELY((p) != NULL))                                                                       \
      mhook_sample((p), (n));                                                                      \
  } while (0)

/* ------------------------------------------------------------ the hooks -------------------- */

/* malloc before the real functions are known (the first call, or dlsym's allocations). */
__attribute__((noinline, cold)) static void *malloc_unresolved(size_t n) {
  void *(*f)(size_t);
  if (!mhook_resolve() || (f = REAL(malloc)) == NULL)
    return boot_alloc(n, 16);
  return malloc(n);
}

MHOOK_API void *malloc(size_t n) {
  void *(*f)(size_t) = REAL(malloc);
  if (UNLIKELY(f == NULL))
    return malloc_unresolved(n);
  if (LIKELY(mhook_fast(n)))
    return f(n);
  void *p = f(n);
  MHOOK_SLOW(p, n);
  return p;
}

/* free() of a block the filter says may have been sampled (kept out of free() itself, whose
 * fast path then needs no stack frame). */
__attribute__((noinline)) static void free_maybe_sampled(void *p, void (*f)(void *)) {
  if (p != NULL)
    mhook_forget(p);
  f(p);
}

/* free before the real functions are known: nothing of ours was handed out yet but bootstrap
 * blocks, which free() ignores. */
__attribute__((noinline, cold)) static void free_unresolved(void *p) {
  if (mhook_resolve() && REAL(free) != NULL)
    free(p);
}

MHOOK_API void free(void *p) {
  if (UNLIKELY(in_boot(p)))
    return;
  void (*f)(void *) = REAL(free);
  if (UNLIKELY(f == NULL)) {
    free_unresolved(p);
    return;
  }
  if (UNLIKELY(heap_maybe_live(p))) {
    free_maybe_sampled(p, f);
    return;
  }
  f(p);
}

MHOOK_API void *calloc(size_t m, size_t n) {
  void *(*f)(size_t, size_t) = REAL(calloc);
  if (UNLIKELY(f == NULL) && (!mhook_resolve() || (f = REAL(calloc)) == NULL)) {
    size_t t;
    if (__builtin_mul_overflow(m, n, &t)) {
      errno = ENOMEM;
      return NULL;
    }
    return boot_alloc(t, 16); /* fresh static memory is zero */
  }
  size_t t;
  if (__builtin_mul_overflow(m, n, &t))
    t = SIZE_MAX; /* fails: never the fast path */
  if (LIKELY(mhook_fast(t)))
    return f(m, n);
  void *p = f(m, n);
  MHOOK_SLOW(p, t);
  return p;
}

/* realloc out of the bootstrap area, or while resolving: a copy, the old block kept. */
static void *realloc_boot(void *p, size_t n) {
  if (p != NULL && n == 0)
    return NULL;
  void *(*f)(size_t) = mhook_resolve() ? REAL(malloc) : NULL;
  void *q = f != NULL ? f(n) : boot_alloc(n, 16);
  if (q != NULL && p != NULL) {
    size_t old = in_boot(p) ? boot_size(p) : 0; /* (only bootstrap blocks come here) */
    memcpy(q, p, old < n ? old : n);
  }
  return q;
}

static inline __attribute__((always_inline)) void *realloc_impl(void *p, size_t n) {
  void *(*f)(void *, size_t) = REAL(realloc);
  if (UNLIKELY(f == NULL || in_boot(p))) {
    if (f == NULL && mhook_resolve())
      f = REAL(realloc);
    if (f == NULL || in_boot(p))
      return realloc_boot(p, n);
  }
  heap_bucket_t *b = NULL;
  size_t old = 0;
  if (UNLIKELY(heap_maybe_live(p)) && p != NULL)
    b = mhook_take(p, &old, false);
  bool fast = mhook_fast(n);
  if (LIKELY(b == NULL) && LIKELY(fast))
    return f(p, n);
  void *q = f(p, n);
  if (UNLIKELY(b != NULL))
    mhook_realloc_done(p, q, n, b, old);
  if (!fast)
    MHOOK_SLOW(q, n);
  return q;
}

MHOOK_API void *realloc(void *p, size_t n) { return realloc_impl(p, n); }

MHOOK_API void *reallocarray(void *p, size_t m, size_t n) {
  size_t t;
  if (__builtin_mul_overflow(m, n, &t)) {
    errno = ENOMEM;
    return NULL;
  }
  return realloc_impl(p, t);
}

/* posix_memalign while resolving: glibc's checks, then the bootstrap area. */
static int boot_memalign(void **out, size_t align, size_t n) {
  if (align == 0 || (align & (align - 1)) != 0 || align % sizeof(void *) != 0)
    return EINVAL;
  int saved = errno;
  void *p = boot_alloc(n, align);
  errno = saved;
  if (p == NULL)
    return ENOMEM;
  *out = p;
  return 0;
}

MHOOK_API int posix_memalign(void **out, size_t align, size_t n) {
  int (*f)(void **, size_t, size_t) = REAL(posix_memalign);
  if (UNLIKELY(f == NULL) && (!mhook_resolve() || (f = REAL(posix_memalign)) == NULL))
    return boot_memalign(out, align, n);
  if (LIKELY(mhook_fast(n)))
    return f(out, align, n);
  int rc = f(out, align, n);
  if (rc == 0)
    MHOOK_SLOW(*out, n);
  return rc;
}

/* aligned_alloc and memalign: the real one, or (only while resolving) the bootstrap area. */
static inline __attribute__((always_inline)) void *align_impl(void *(*f)(size_t, size_t),
                                                              size_t align, size_t n) {
  if (UNLIKELY(f == NULL)) {
    if (align & (align - 1)) {
      errno = EINVAL;
      return NULL;
    }
    return boot_alloc(n, align);
  }
  return f(align, n);
}

MHOOK_API void *aligned_alloc(size_t align, size_t n) {
  void *(*f)(size_t, size_t) = REAL(aligned_alloc);
  if (UNLIKELY(f == NULL) && mhook_resolve())
    f = REAL(aligned_alloc) ? REAL(aligned_alloc) : REAL(memalign);
  if (LIKELY(mhook_fast(n)))
    return align_impl(f, align, n);
  void *p = align_impl(f, align, n);
  MHOOK_SLOW(p, n);
  return p;
}

MHOOK_API void *memalign(size_t align, size_t n) {
  void *(*f)(size_t, size_t) = REAL(memalign);
  if (UNLIKELY(f == NULL) && mhook_resolve())
    f = REAL(memalign) ? REAL(memalign) : REAL(aligned_alloc);
  if (LIKELY(mhook_fast(n)))
    return align_impl(f, align, n);
  void *p = align_impl(f, align, n);
  MHOOK_SLOW(p, n);
  return p;
}

/* valloc and pvalloc: the allocator's own, or memalign(page) where it has none (jemalloc has no
 * pvalloc, and glibc's would allocate from glibc's heap). */
static void *page_alloc(void *(*f)(size_t), size_t n) {
  if (f != NULL)
    return f(n);
  void *(*m)(size_t, size_t) = REAL(memalign) ? REAL(memalign) : REAL(aligned_alloc);
  return align_impl(m, mh_page, n);
}

MHOOK_API void *valloc(size_t n) {
  void *(*f)(size_t) = REAL(valloc);
  if (UNLIKELY(f == NULL) && mhook_resolve())
    f = REAL(valloc);
  if (LIKELY(mhook_fast(n)))
    return page_alloc(f, n);
  void *p = page_alloc(f, n);
  MHOOK_SLOW(p, n);
  return p;
}

MHOOK_API void *pvalloc(size_t n) {
  void *(*f)(size_t) = REAL(pvalloc);
  if (UNLIKELY(f == NULL) && mhook_resolve())
    f = REAL(pvalloc);
  size_t rounded;
  if (__builtin_add_overflow(n, mh_page - 1, &rounded)) {
    errno = ENOMEM;
    return NULL;
  }
  rounded &= ~(mh_page - 1);
  if (LIKELY(mhook_fast(rounded)))
    return f != NULL ? f(n) : page_alloc(NULL, rounded);
  void *p = f != NULL ? f(n) : page_alloc(NULL, rounded);
  MHOOK_SLOW(p, rounded);
  return p;
}

MHOOK_API size_t malloc_usable_size(void *p) {
  if (UNLIKELY(in_boot(p)))
    return boot_size(p);
  size_t (*f)(void *) = REAL(usable_size);
  if (UNLIKELY(f == NULL) && (!mhook_resolve() || (f = REAL(usable_size)) == NULL))
    return 0;
  return f(p);
}

/* C23's sized frees (glibc 2.43 has them; older ones do not, and then free does the work). */
MHOOK_API void free_sized(void *p, size_t n) {
  void (*f)(void *, size_t) = REAL(free_sized);
  if (f == NULL || in_boot(p)) {
    free(p);
    return;
  }
  if (UNLIKELY(heap_maybe_live(p)) && p != NULL)
    mhook_forget(p);
  f(p, n);
}

MHOOK_API void free_aligned_sized(void *p, size_t align, size_t n) {
  void (*f)(void *, size_t, size_t) = REAL(free_aligned_sized);
  if (f == NULL || in_boot(p)) {
    free(p);
    return;
  }
  if (UNLIKELY(heap_maybe_live(p)) && p != NULL)
    mhook_forget(p);
  f(p, align, n);
}

/* ------------------------------------------------------------ C++ new and delete ----------- */

/*
 * libstdc++'s operator new calls malloc, so with glibc underneath the hooks above see every C++
 * allocation. jemalloc and tcmalloc define operator new and delete themselves, straight into
 * their internals, so we interpose those too: each one forwards to the next definition, and
 * counts (samples, forgets) only when that definition is in the allocator's own module. Otherwise
 * it is a tail call that leaves no frame, and the malloc underneath does the counting.
 */

enum {
  CXX_NW,
  CXX_NA,
  CXX_NW_NT,
  CXX_NA_NT,
  CXX_NW_AL,
  CXX_NA_AL,
  CXX_NW_AL_NT,
  CXX_NA_AL_NT,
  CXX_DL,
  CXX_DA,
  CXX_DL_NT,
  CXX_DA_NT,
  CXX_DL_SZ,
  CXX_DA_SZ,
  CXX_DL_AL,
  CXX_DA_AL,
  CXX_DL_SZ_AL,
  CXX_DA_SZ_AL,
  CXX_DL_AL_NT,
  CXX_DA_AL_NT,
  CXX_N
};

static const char *const cxx_names[CXX_N] = {
    "_Znwm",
    "_Znam",
    "_ZnwmRKSt9nothrow_t",
    "_ZnamRKSt9nothrow_t",
    "_ZnwmSt11align_val_t",
    "_ZnamSt11align_val_t",
    "_ZnwmSt11align_val_tRKSt9nothrow_t",
    "_ZnamSt11align_val_tRKSt9nothrow_t",
    "_ZdlPv",
    "_ZdaPv",
    "_ZdlPvRKSt9nothrow_t",
    "_ZdaPvRKSt9nothrow_t",
    "_ZdlPvm",
    "_ZdaPvm",
    "_ZdlPvSt11align_val_t",
    "_ZdaPvSt11align_val_t",
    "_ZdlPvmSt11align_val_t",
    "_ZdaPvmSt11align_val_t",
    "_ZdlPvSt11align_val_tRKSt9nothrow_t",
    "_ZdaPvSt11align_val_tRKSt9nothrow_t",
};

static void *cxx_ptr[CXX_N];
static bool cxx_counts[CXX_N];
static _Atomic unsigned char cxx_done[CXX_N];

/* The next definition of operator i (NULL while resolving), looked up on first use. */
static void *cxx_fn(int i) {
  if (LIKELY(atomic_load_explicit(&cxx_done[i], memory_order_acquire)))
    return cxx_ptr[i];
  if (!mhook_resolve())
    return NULL;
  int saved = errno;
  void *f = dlsym(RTLD_NEXT, cxx_names[i]);
  Dl_info info;
  cxx_counts[i] = f != NULL && dladdr(f, &info) != 0 && info.dli_fbase == mh_malloc_base;
  errno = saved;
  cxx_ptr[i] = f;
  atomic_store_explicit(&cxx_done[i], 1, memory_order_release);
  return f;
}

#define CXX_NEW(sym, i, PARAMS, ARGS)                                                              \
  MHOOK_API void *sym PARAMS {                                                                     \
    void *(*f)PARAMS = (void *(*)PARAMS)cxx_fn(i);                                                 \
    if (UNLIKELY(f == NULL))                                                                       \
      return malloc(n); /* no C++ runtime after us: cannot happen in a C++ program */              \
    if (!cxx_counts[i])                                                                            \
      return f ARGS;                                                                               \
    if (LIKELY(mhook_fast(n)))                                                                     \
      return f ARGS;                                                                               \
    void *p = f ARGS;                                                                              \
    MHOOK_SLOW(p, n);                                                                              \
    return p;                                                                                      \
  }

#define CXX_DELETE(sym, i, PARAMS, ARGS)                                                           \
  MHOOK_API void sym PARAMS {                                                                      \
    void(*f) PARAMS = (void(*) PARAMS)cxx_fn(i);                                                   \
    if (UNLIKELY(f == NULL)) {                                                                     \
      free(p);                                                                                     \
      return;                                                                                      \
    }                                                                                              \
    if (cxx_counts[i] && UNLIKELY(heap_maybe_live(p)) && p != NULL)                                \
      mhook_forget(p);                                                                             \
    f ARGS;                                                                                        \
  }

/* The C++ types, as the ABI passes them: std::align_val_t is a size_t, nothrow_t a reference. */
typedef size_t al_t;
typedef const void *nt_t;

CXX_NEW(_Znwm, CXX_NW, (size_t n), (n))
CXX_NEW(_Znam, CXX_NA, (size_t n), (n))
CXX_NEW(_ZnwmRKSt9nothrow_t, CXX_NW_NT, (size_t n, nt_t t), (n, t))
CXX_NEW(_ZnamRKSt9nothrow_t, CXX_NA_NT, (size_t n, nt_t t), (n, t))
CXX_NEW(_ZnwmSt11align_val_t, CXX_NW_AL, (size_t n, al_t a), (n, a))
CXX_NEW(_ZnamSt11align_val_t, CXX_NA_AL, (size_t n, al_t a), (n, a))
CXX_NEW(_ZnwmSt11align_val_tRKSt9nothrow_t, CXX_NW_AL_NT, (size_t n, al_t a, nt_t t), (n, a, t))
CXX_NEW(_ZnamSt11align_val_tRKSt9nothrow_t, CXX_NA_AL_NT, (size_t n, al_t a, nt_t t), (n, a, t))
CXX_DELETE(_ZdlPv, CXX_DL, (void *p), (p))
CXX_DELETE(_ZdaPv, CXX_DA, (void *p), (p))
CXX_DELETE(_ZdlPvRKSt9nothrow_t, CXX_DL_NT, (void *p, nt_t t), (p, t))
CXX_DELETE(_ZdaPvRKSt9nothrow_t, CXX_DA_NT, (void *p, nt_t t), (p, t))
CXX_DELETE(_ZdlPvm, CXX_DL_SZ, (void *p, size_t n), (p, n))
CXX_DELETE(_ZdaPvm, CXX_DA_SZ, (void *p, size_t n), (p, n))
CXX_DELETE(_ZdlPvSt11align_val_t, CXX_DL_AL, (void *p, al_t a), (p, a))
CXX_DELETE(_ZdaPvSt11align_val_t, CXX_DA_AL, (void *p, al_t a), (p, a))
CXX_DELETE(_ZdlPvmSt11align_val_t, CXX_DL_SZ_AL, (void *p, size_t n, al_t a), (p, n, a))
CXX_DELETE(_ZdaPvmSt11align_val_t, CXX_DA_SZ_AL, (void *p, size_t n, al_t a), (p, n, a))
CXX_DELETE(_ZdlPvSt11align_val_tRKSt9nothrow_t, CXX_DL_AL_NT, (void *p, al_t a, nt_t t), (p, a, t))
CXX_DELETE(_ZdaPvSt11align_val_tRKSt9nothrow_t, CXX_DA_AL_NT, (void *p, al_t a, nt_t t), (p, a, t))
