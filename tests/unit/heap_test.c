/*
 * heap_test.c — the heap profiler through its real hooks.
 *
 * This binary links libcprof.a, so mhook.c's malloc family is this program's own and every
 * allocation below goes through the hooks, with the real allocator (glibc's) found by dlsym. Each
 * allocation site is a function of its own (noipa: not inlined, not cloned); a bucket belongs to a
 * site when its leaf pc lies in that function, which also checks that the hooks' own frame is
 * dropped from the stack. At rate 1 every count is exact, bytes included: a bucket holds a size
 * class but counts the requested sizes. The edge cases compare the hooks' results and errno with
 * the real functions', called directly through dlsym(RTLD_NEXT).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cprof.h"
#include "format/profile.h"
#include "runtime/heap.h"
#include "test.h"

#define OPAQUE(p) __asm__ volatile("" : : "r"(p) : "memory")

/* Sizes the compiler cannot see, so that it does not reject the huge requests at compile time. */
static volatile size_t huge_size = SIZE_MAX - 100, half_size = SIZE_MAX / 2, max_size = SIZE_MAX;

/* The same pointer, unknown to the compiler's use-after-free analysis. */
__attribute__((noipa)) static void *launder(void *p) { return p; }

/* ------------------------------------------------------------ allocation sites ------------- */

#define SITE(name, expr)                                                                           \
  __attribute__((noipa)) static void *name(size_t n) {                                             \
    void *p = (expr);                                                                              \
    OPAQUE(p);                                                                                     \
    return p;                                                                                      \
  }

SITE(site_malloc, malloc(n))
SITE(site_calloc, calloc(3, n))
SITE(site_realloc_null, realloc(NULL, n))
SITE(site_memalign, memalign(64, n))
SITE(site_aligned, aligned_alloc(64, n))
SITE(site_valloc, valloc(n))
SITE(site_pvalloc, pvalloc(n))
SITE(site_zero, malloc(0 * n))
SITE(site_grown, malloc(n))
SITE(site_guard, malloc(n))
SITE(site_off, malloc(n))
SITE(site_thread, malloc(n))
SITE(site_fork, malloc(n))
SITE(site_churn, malloc(n))
SITE(site_stat, malloc(n))
SITE(site_write, malloc(n))
SITE(site_rate, malloc(n))
SITE(site_gfree, malloc(n))
SITE(site_sig, malloc(n))
SITE(site_sigmain, malloc(n))
SITE(site_sizes, malloc(n))
SITE(site_stale, malloc(n))

__attribute__((noipa)) static void *site_posix(size_t n) {
  void *p = NULL;
  int rc = posix_memalign(&p, 128, n);
  OPAQUE(p);
  return rc == 0 ? p : NULL;
}

__attribute__((noipa)) static void *site_realloc(void *p, size_t n) {
  void *q = realloc(p, n);
  OPAQUE(q);
  return q;
}

__attribute__((noipa)) static void *site_reallocarray(void *p, size_t m, size_t n) {
  void *q = reallocarray(p, m, n);
  OPAQUE(q);
  return q;
}

static void *const sites[] = {
    site_malloc, site_calloc,  site_realloc_null, site_memalign, site_aligned,
    site_valloc, site_pvalloc, site_zero,         site_grown,    site_guard,
    site_off,    site_thread,  site_fork,         site_churn,    site_stat,
    site_write,  site_rate,    site_gfree,        site_sig,      site_sigmain,
    site_posix,  site_realloc, site_reallocarray, site_sizes,    site_stale,
};

/* The site whose code holds pc: the nearest site start at or below it. */
static void *site_of(uintptr_t pc) {
  void *best = NULL;
  for (size_t i = 0; i < sizeof sites / sizeof sites[0]; i++) {
    uintptr_t a = (uintptr_t)sites[i];
    if (a <= pc && pc - a < 512 && (best == NULL || a > (uintptr_t)best))
      best = sites[i];
  }
  return best;
}

typedef struct site_stat {
  int64_t allocs, frees, alloc_bytes, free_bytes, buckets;
  size_t size;         /* the average allocation: the size, for a site that allocates one */
  heap_bucket_t *last; /* the last bucket seen */
} site_stat_t;

static site_stat_t stat_of(void *site) {
  site_stat_t s = {0};
  for (heap_bucket_t *b = heap_buckets(); b != NULL; b = b->all) {
    if (b->depth == 0 || site_of(b->pcs[0]) != site)
      continue;
    int64_t v[4];
    heap_bucket_read(b, v);
    s.allocs += v[0];
    s.frees += v[1];
    s.alloc_bytes += v[2];
    s.free_bytes += v[3];
    s.buckets++;
    s.last = b;
  }
  s.size = s.allocs > 0 ? (size_t)(s.alloc_bytes / s.allocs) : 0;
  return s;
}

/* The real functions, bypassing the hooks. */
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_valloc)(size_t);
static void *(*real_pvalloc)(size_t);
static size_t (*real_usable)(void *);
static void (*real_free)(void *);

static void find_real(void) {
  real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
  real_memalign = dlsym(RTLD_NEXT, "memalign");
  real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
  real_valloc = dlsym(RTLD_NEXT, "valloc");
  real_pvalloc = dlsym(RTLD_NEXT, "pvalloc");
  real_usable = dlsym(RTLD_NEXT, "malloc_usable_size");
  real_free = dlsym(RTLD_NEXT, "free");
}

/* ------------------------------------------------------------ tests -------------------------- */

static void test_math(void) {
  CHECK(heap_ln(1.0) == 0.0, "ln 1 = %g", heap_ln(1.0));
  double cases[][2] = {{0.5, -0.693147180559945309},
                       {1e-300, -690.775527898213705},
                       {0.999999, -1.000000500029089e-06},
                       {2.718281828459045, 1.0},
                       {0x1.0p-53, -36.7368005696771}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    double got = heap_ln(cases[i][0]), want = cases[i][1];
    CHECK(__builtin_fabs(got - want) <= 1e-13 * __builtin_fabs(want), "ln(%g) = %.17g, want %.17g",
          cases[i][0], got, want);
  }
  double e[][2] = {{1e-4, 9.99950001666625e-05},
                   {1.0, 0.6321205588285577},
                   {10.0, 0.9999546000702375},
                   {0.5, 0.3934693402873666}};
  for (size_t i = 0; i < sizeof e / sizeof e[0]; i++) {
    double got = heap_one_minus_exp_neg(e[i][0]), d = got / e[i][1] - 1;
    CHECK(d < 1e-14 && d > -1e-14, "1-exp(-%g) = %.17g, want %.17g", e[i][0], got, e[i][1]);
  }
  int64_t c = 1, b = 524288;
  heap_scale(&c, &b, 524288); /* scale 1/(1-e^-1) = 1.5819767068693265 */
  CHECK(c == 1 && b == 829411, "scaled %lld %lld", (long long)c, (long long)b);
  c = 3, b = 300;
  heap_scale(&c, &b, 1);
  CHECK(c == 3 && b == 300, "rate 1 unscaled");
  c = 5, b = 0;
  heap_scale(&c, &b, 524288);
  CHECK(c == 0 && b == 0, "zero bytes give zero");
}

static void test_bootstrap(void) {
  char *p = mhook_boot_alloc(100);
  CHECK(p != NULL, "bootstrap block");
  if (p == NULL)
    return;
  CHECK(p[0] == 0 && p[99] == 0, "bootstrap memory is zeroed");
  CHECK(malloc_usable_size(p) == 100, "usable size %zu", malloc_usable_size(p));
  memcpy(p, "bootstrap", 10);
  free(launder(p)); /* ignored */
  CHECK(strcmp(p, "bootstrap") == 0, "free ignores bootstrap blocks");
  char *q = realloc(p, 4000);
  CHECK(q != NULL && q != p && strcmp(q, "bootstrap") == 0, "realloc copies out");
  CHECK(real_usable(q) >= 4000, "the copy is the real allocator's");
  free(q);
  errno = 0;
  CHECK(mhook_boot_alloc(1 << 20) == NULL && errno == ENOMEM, "too big for the area");
}

static void test_exact(void) {
  void *keep[64];
  size_t k = 0;
  for (int i = 0; i < 10; i++)
    keep[k++] = site_malloc(100);
  for (int i = 0; i < 7; i++)
    keep[k++] = site_calloc(50);
  for (int i = 0; i < 5; i++)
    keep[k++] = site_posix(300);
  for (int i = 0; i < 4; i++)
    keep[k++] = site_realloc_null(70);
  for (int i = 0; i < 3; i++) {
    keep[k++] = site_memalign(90);
    keep[k++] = site_aligned(128);
    keep[k++] = site_valloc(10);
    keep[k++] = site_pvalloc(10);
  }
  for (int i = 0; i < 2; i++)
    keep[k++] = site_zero(1);
  for (size_t i = 0; i < k; i++)
    CHECK(keep[i] != NULL, "allocation %zu", i);
  for (size_t i = 0; i < 10; i += 2) /* free half of site_malloc's */
    free(keep[i]);
  struct {
    void *site;
    int64_t allocs, frees;
    size_t size;
  } want[] = {{site_malloc, 10, 5, 100},     {site_calloc, 7, 0, 150},   {site_posix, 5, 0, 300},
              {site_realloc_null, 4, 0, 70}, {site_memalign, 3, 0, 90},  {site_aligned, 3, 0, 128},
              {site_valloc, 3, 0, 10},       {site_pvalloc, 3, 0, 4096}, {site_zero, 2, 0, 0}};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    site_stat_t s = stat_of(want[i].site);
    CHECK(s.allocs == want[i].allocs && s.frees == want[i].frees && s.buckets >= 1 &&
              s.size == want[i].size,
          "site %zu: %lld allocs %lld frees in %lld buckets of %zu bytes, want %lld %lld of %zu", i,
          (long long)s.allocs, (long long)s.frees, (long long)s.buckets, s.size,
          (long long)want[i].allocs, (long long)want[i].frees, want[i].size);
  }
  for (size_t i = 1; i < k; i++)
    if (i >= 10 || i % 2 == 1)
      free(keep[i]);
  site_stat_t s = stat_of(site_calloc);
  CHECK(s.frees == 7, "calloc blocks freed: %lld", (long long)s.frees);
}

static void test_realloc(void) {
  /* a sampled block grown: its bucket sees a free, the new size is a new allocation */
  char *p = site_grown(40);
  memcpy(p, "abc", 4);
  char *q = site_realloc(p, 5000);
  CHECK(q != NULL && strcmp(q, "abc") == 0, "grown");
  site_stat_t g = stat_of(site_grown), r = stat_of(site_realloc);
  CHECK(g.allocs == 1 && g.frees == 1, "old block freed: %lld %lld", (long long)g.allocs,
        (long long)g.frees);
  CHECK(r.allocs == 1 && r.frees == 0 && r.size == 5000, "new block: %lld of %zu",
        (long long)r.allocs, r.size);
  /* a failed realloc leaves the block, and its record, in place; errno stays ENOMEM */
  errno = 0;
  char *big = site_realloc(q, SIZE_MAX - 4096);
  int err = errno;
  CHECK(big == NULL && err == ENOMEM, "huge realloc: %p errno %d", (void *)big, err);
  r = stat_of(site_realloc);
  CHECK(r.allocs == 1 && r.frees == 0, "still live after a failed realloc: %lld %lld",
        (long long)r.allocs, (long long)r.frees);
  errno = 0;
  CHECK(site_reallocarray(q, SIZE_MAX / 2, 3) == NULL && errno == ENOMEM, "reallocarray overflow");
  CHECK(strcmp(q, "abc") == 0, "block intact");
  /* realloc(p, 0): glibc frees and returns NULL */
  errno = 4321;
  CHECK(site_realloc(q, 0) == NULL, "realloc(p, 0)");
  r = stat_of(site_realloc);
  CHECK(r.frees == 1, "realloc(p, 0) counted as a free: %lld", (long long)r.frees);
  CHECK(errno == 4321, "errno kept: %d", errno);
  char *a = site_reallocarray(NULL, 10, 20);
  CHECK(a != NULL && stat_of(site_reallocarray).size == 200, "reallocarray(NULL) samples 200");
  free(a);
  CHECK(stat_of(site_reallocarray).frees == 1, "and its free");
}

static void test_errno(void) {
  errno = 1234;
  free(NULL);
  CHECK(errno == 1234, "free(NULL) keeps errno");
  void *p = site_stat(64);
  CHECK(p != NULL && errno == 1234, "a sampled malloc keeps errno: %d", errno);
  free(p);
  CHECK(errno == 1234, "a sampled free keeps errno: %d", errno);
  errno = 0;
  CHECK(malloc(huge_size) == NULL && errno == ENOMEM, "huge malloc: errno %d", errno);
  errno = 0;
  CHECK(calloc(half_size, 3) == NULL && errno == ENOMEM, "calloc overflow: errno %d", errno);
  errno = 0;
  CHECK(realloc(NULL, max_size) == NULL && errno == ENOMEM, "huge realloc(NULL)");
  p = malloc(77);
  CHECK(malloc_usable_size(p) == real_usable(p), "malloc_usable_size passes through");
  free(p);
  CHECK(malloc_usable_size(NULL) == 0, "malloc_usable_size(NULL)");
}

/* Every alignment function, on bad and good arguments, against the real one. The hooks are called
 * through pointers the compiler cannot see through: it assumes posix_memalign leaves errno alone,
 * which glibc's does not. */
static void *(*volatile aligned_alloc_hook)(size_t, size_t) = aligned_alloc;
static void *(*volatile memalign_hook)(size_t, size_t) = memalign;
static int (*volatile posix_memalign_hook)(void **, size_t, size_t) = posix_memalign;
static void *(*volatile valloc_hook)(size_t) = valloc;
static void *(*volatile pvalloc_hook)(size_t) = pvalloc;

static void test_alignment(void) {
  size_t aligns[] = {0, 1, 2, 3, 8, 24, 64, 4096, (size_t)1 << 40, SIZE_MAX / 2 + 1};
  size_t sizes[] = {0, 1, 100, SIZE_MAX - 8192};
  for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
    for (size_t j = 0; j < sizeof sizes / sizeof sizes[0]; j++) {
      size_t al = aligns[i], n = sizes[j];
      errno = 777;
      void *h = aligned_alloc_hook(al, n);
      int he = errno;
      errno = 777;
      void *r = real_aligned_alloc(al, n);
      int re = errno;
      CHECK((h == NULL) == (r == NULL) && he == re, "aligned_alloc(%zu, %zu): %p/%d vs %p/%d", al,
            n, h, he, r, re);
      free(h);
      real_free(r);
      errno = 777;
      h = memalign_hook(al, n);
      he = errno;
      errno = 777;
      r = real_memalign(al, n);
      re = errno;
      CHECK((h == NULL) == (r == NULL) && he == re, "memalign(%zu, %zu): %p/%d vs %p/%d", al, n, h,
            he, r, re);
      free(h);
      real_free(r);
      void *hp = NULL, *rp = NULL;
      errno = 777;
      int hrc = posix_memalign_hook(&hp, al, n);
      he = errno;
      errno = 777;
      int rrc = real_posix_memalign(&rp, al, n);
      re = errno;
      CHECK(hrc == rrc && he == re, "posix_memalign(%zu, %zu): %d/%d vs %d/%d", al, n, hrc, he, rrc,
            re);
      if (hrc == 0)
        free(hp);
      if (rrc == 0)
        real_free(rp);
    }
  }
  size_t big[] = {SIZE_MAX, SIZE_MAX - 4095, 1};
  for (size_t i = 0; i < 3; i++) {
    errno = 777;
    void *h = valloc_hook(big[i]);
    int he = errno;
    errno = 777;
    void *r = real_valloc(big[i]);
    int re = errno;
    CHECK((h == NULL) == (r == NULL) && he == re, "valloc(%zu)", big[i]);
    free(h);
    real_free(r);
    errno = 777;
    h = pvalloc_hook(big[i]);
    he = errno;
    errno = 777;
    r = real_pvalloc(big[i]);
    re = errno;
    CHECK((h == NULL) == (r == NULL) && he == re, "pvalloc(%zu): %d vs %d", big[i], he, re);
    free(h);
    real_free(r);
  }
}

static void test_guard(void) {
  void *p = site_gfree(500); /* sampled, freed under the guard: the free still counts */
  heap_guard_enter();
  void *g[20];
  for (int i = 0; i < 20; i++)
    g[i] = site_guard(64);
  free(p);
  heap_guard_exit();
  for (int i = 0; i < 20; i++)
    free(g[i]);
  CHECK(stat_of(site_guard).allocs == 0, "nothing sampled under the guard");
  site_stat_t w = stat_of(site_gfree);
  CHECK(w.allocs == 1 && w.frees == 1, "a free under the guard is recorded: %lld %lld",
        (long long)w.allocs, (long long)w.frees);
}

static void test_rate_api(void) {
  CHECK(cprof_set_mem_profile_rate(-1) == -EINVAL, "negative rate");
  CHECK(cprof_mem_profile_rate() == 1, "rate still 1");
  CHECK(cprof_set_mem_profile_rate(0) == 0 && cprof_mem_profile_rate() == 0, "off");
  for (int i = 0; i < 100; i++)
    free(site_off(1000));
  CHECK(stat_of(site_off).allocs == 0, "nothing sampled while off");
  CHECK(cprof_set_mem_profile_rate(1) == 0 && cprof_mem_profile_rate() == 1, "on again");
  free(site_off(1000));
  CHECK(stat_of(site_off).allocs == 1, "sampled at once after the rate changed");
  CHECK(heap_count() > 10, "buckets counted: %ld", heap_count());
}

/* ------------------------------------------------------------ threads --------------------- */

#define SLOTS 256
#define PER_THREAD 20000
static void *_Atomic slots[SLOTS];

static void *thread_main(void *arg) {
  uintptr_t id = (uintptr_t)arg;
  for (int i = 0; i < PER_THREAD; i++) {
    void *p = site_thread(48);
    void *old = atomic_exchange(&slots[(id * 7919 + (uintptr_t)i * 31) % SLOTS], p);
    free(old); /* often another thread's block */
  }
  return NULL;
}

static void test_threads(void) {
  pthread_t t[4];
  for (uintptr_t i = 0; i < 4; i++)
    pthread_create(&t[i], NULL, thread_main, (void *)i);
  for (int i = 0; i < 4; i++)
    pthread_join(t[i], NULL);
  int64_t live = 0;
  for (int i = 0; i < SLOTS; i++)
    live += atomic_load(&slots[i]) != NULL;
  site_stat_t s = stat_of(site_thread);
  CHECK(s.allocs == 4 * PER_THREAD && s.allocs - s.frees == live && s.buckets == 1,
        "threads: %lld allocs %lld frees, %lld live, %lld buckets", (long long)s.allocs,
        (long long)s.frees, (long long)live, (long long)s.buckets);
  for (int i = 0; i < SLOTS; i++)
    free(atomic_exchange(&slots[i], NULL));
  s = stat_of(site_thread);
  CHECK(s.frees == s.allocs, "all freed: %lld of %lld", (long long)s.frees, (long long)s.allocs);
}

/* ------------------------------------------------------------ signal handlers ------------- */

/* Wrong but real: a program whose signal handler allocates. At rate 1 every allocation takes the
 * slow path (stack walk, bucket and live-table locks), so the handler lands inside it again and
 * again; the guard must let the handler's calls through instead of deadlocking on a lock its own
 * thread holds. alarm() turns a deadlock into a failure instead of a hang. */
static volatile sig_atomic_t sig_count;

static void on_sigalrm(int sig) {
  (void)sig;
  free(site_sig(24));
  sig_count++;
}

static void test_signal_handler(void) {
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigalrm;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, &old);
  struct itimerval it = {{0, 200}, {0, 200}}, off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &it, NULL);
  long done = 0;
  while (sig_count < 2000 && done < 20000000) {
    free(site_sigmain(40));
    done++;
  }
  setitimer(ITIMER_REAL, &off, NULL);
  sigaction(SIGALRM, &old, NULL);
  CHECK(sig_count >= 2000, "handlers that allocated: %d (in %ld main-loop allocations)",
        (int)sig_count, done);
  site_stat_t m = stat_of(site_sigmain);
  CHECK(m.allocs == done && m.frees == done, "main loop counted exactly: %lld/%lld of %ld",
        (long long)m.allocs, (long long)m.frees, done);
}

/* ------------------------------------------------------------ fork ------------------------ */

static _Atomic int churn_stop;

static void *churn_main(void *arg) {
  (void)arg;
  while (!atomic_load(&churn_stop))
    free(site_churn(200));
  return NULL;
}

static int fork_child(void) {
  alarm(10); /* a deadlock fails the test instead of hanging it */
  void *keep[10];
  for (int i = 0; i < 100; i++) {
    void *p = site_fork(33);
    if (i < 10)
      keep[i] = p;
    else
      free(p);
  }
  site_stat_t f = stat_of(site_fork), c = stat_of(site_churn);
  void *snap = heap_snapshot();
  int ok = f.allocs == 100 && f.frees == 90 && c.allocs >= c.frees && snap != NULL;
  heap_snapshot_free(snap);
  for (int i = 0; i < 10; i++)
    free(keep[i]);
  return ok && stat_of(site_fork).frees == 100 ? 0 : 1;
}

static void test_fork(void) {
  pthread_t t;
  pthread_create(&t, NULL, churn_main, NULL);
  int good = 0;
  for (int i = 0; i < 20; i++) {
    pid_t pid = fork();
    if (pid == 0)
      _exit(fork_child());
    int status = 0;
    waitpid(pid, &status, 0);
    good += WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  atomic_store(&churn_stop, 1);
  pthread_join(t, NULL);
  CHECK(good == 20, "fork children consistent: %d of 20", good);
  site_stat_t c = stat_of(site_churn);
  CHECK(c.allocs > 0 && c.allocs == c.frees, "parent churn: %lld %lld", (long long)c.allocs,
        (long long)c.frees);
  CHECK(stat_of(site_fork).allocs == 0, "the children's counts stay in the children");
}

/* ------------------------------------------------------------ writing --------------------- */

static prof_t *write_and_decode(const void *snap, const void *base, bool allocs) {
  char path[] = "/tmp/heap_test.XXXXXX";
  int fd = mkstemp(path);
  int rc = heap_write(fd, snap, base, 0, allocs);
  CHECK(rc == 0, "heap_write: %d", rc);
  off_t len = lseek(fd, 0, SEEK_END);
  uint8_t *buf = malloc((size_t)len + 1);
  ssize_t got = pread(fd, buf, (size_t)len, 0);
  close(fd);
  unlink(path);
  prof_t *p = NULL;
  char err[256];
  rc = prof_decode(buf, got > 0 ? (size_t)got : 0, &p, err, sizeof err);
  CHECK(rc == 0, "decode: %s", err);
  free(buf);
  return p;
}

/* The sample whose leaf is the function named fn, or NULL. */
static const prof_sample_t *sample_of(const prof_t *p, const char *fn) {
  for (size_t i = 0; i < p->nsample; i++) {
    const prof_sample_t *s = &p->sample[i];
    const prof_location_t *l = s->nlocation ? prof_location_by_id(p, s->location_id[0]) : NULL;
    if (l == NULL || l->nline == 0)
      continue;
    const prof_function_t *f = prof_function_by_id(p, l->line[l->nline - 1].function_id);
    if (f != NULL && strcmp(prof_str(p, f->name), fn) == 0)
      return s;
  }
  return NULL;
}

static void test_write(void) {
  void *base = heap_snapshot();
  void *keep[6];
  for (int i = 0; i < 6; i++)
    keep[i] = site_write(1000);
  free(keep[0]);
  void *snap = heap_snapshot();
  prof_t *p = write_and_decode(snap, NULL, false);
  if (p != NULL) {
    const char *types[] = {"alloc_objects", "count", "alloc_space", "bytes",
                           "inuse_objects", "count", "inuse_space", "bytes"};
    CHECK(p->nsample_type == 4, "4 sample types");
    for (size_t i = 0; i < 4 && i < p->nsample_type; i++)
      CHECK(strcmp(prof_str(p, p->sample_type[i].type), types[2 * i]) == 0 &&
                strcmp(prof_str(p, p->sample_type[i].unit), types[2 * i + 1]) == 0,
            "sample type %zu", i);
    CHECK(strcmp(prof_str(p, p->period_type.type), "space") == 0 && p->period == 1,
          "period space/1");
    CHECK(p->default_sample_type == 0, "heap: no default sample type");
    const prof_sample_t *s = sample_of(p, "site_write");
    CHECK(s != NULL && s->value[0] == 6 && s->value[1] == 6000 && s->value[2] == 5 &&
              s->value[3] == 5000,
          "site_write values %lld %lld %lld %lld", s ? (long long)s->value[0] : -1,
          s ? (long long)s->value[1] : -1, s ? (long long)s->value[2] : -1,
          s ? (long long)s->value[3] : -1);
    CHECK(s != NULL && s->nlabel == 1 && strcmp(prof_str(p, s->label[0].key), "bytes") == 0 &&
              s->label[0].num == 1000 && s->label[0].num_unit == 0,
          "label bytes=1000, no unit");
    prof_free(p);
  }
  p = write_and_decode(snap, base, true);
  if (p != NULL) {
    CHECK(strcmp(prof_str(p, p->default_sample_type), "alloc_space") == 0, "allocs default");
    const prof_sample_t *s = sample_of(p, "site_write");
    CHECK(s != NULL && s->value[0] == 6 && s->value[2] == 5, "delta: only what came since");
    CHECK(sample_of(p, "site_malloc") == NULL, "delta: unchanged buckets left out");
    prof_free(p);
  }
  char path[] = "/tmp/heap_test.XXXXXX";
  int fd = mkstemp(path);
  CHECK(heap_write(fd, snap, NULL, 1, false) == 0, "debug=1");
  char text[64] = {0};
  ssize_t got = pread(fd, text, sizeof text - 1, 0);
  CHECK(got > 0 && strncmp(text, "heap profile: ", 14) == 0, "text: %s", text);
  close(fd);
  unlink(path);
  heap_snapshot_free(snap);
  heap_snapshot_free(base);
  for (int i = 1; i < 6; i++)
    free(keep[i]);
}

/* ------------------------------------------------------------ size classes ---------------- */

static void test_size_class(void) {
  static const size_t cases[][2] = {
      {0, 0},
      {1, 1},
      {15, 15},
      {16, 16},
      {17, 20},
      {20, 20},
      {21, 24},
      {28, 28},
      {29, 32},
      {32, 32},
      {33, 40},
      {41, 48},
      {57, 64},
      {100, 112},
      {4096, 4096},
      {4097, 5120},
      {5121, 6144},
      {7169, 8192},
      {1000000, 1048576},
      {(size_t)7 << 61, (size_t)7 << 61},
      {((size_t)7 << 61) + 1, SIZE_MAX},
      {SIZE_MAX, SIZE_MAX},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    CHECK(heap_size_class(cases[i][0]) == cases[i][1], "class(%zu) = %zu, want %zu", cases[i][0],
          heap_size_class(cases[i][0]), cases[i][1]);
  /* every class is the smallest ladder value >= n, at most 1/4 above n; 80 classes up to 1 MiB */
  size_t prev = 0, distinct = 0, bad = 0;
  for (size_t n = 1; n <= ((size_t)1 << 20); n++) {
    size_t c = heap_size_class(n);
    /* (4..7)·2^s: zero below the top three bits */
    bool on_ladder = c <= 16 || (c & (((size_t)1 << (61 - __builtin_clzll(c))) - 1)) == 0;
    bool smallest = prev == c || prev == n - 1; /* a new class starts just above the last */
    if (c < n || (n > 16 && 4 * (c - n) >= c) || !on_ladder || heap_size_class(c) != c ||
        c < prev || !smallest)
      bad++;
    distinct += c != prev;
    prev = c;
  }
  CHECK(bad == 0 && distinct == 80, "ladder: %zu bad sizes, %zu classes up to 1 MiB", bad,
        distinct);
}

/* One site that allocates every size from 1 to SIZES_MAX: a few dozen buckets, and at rate 1 its
 * bytes are exactly the requested ones, in the counters, in the profile and in a delta. */
#define SIZES_MAX 3000

static void test_many_sizes(void) {
  static void *blocks[SIZES_MAX + 1];
  void *base = heap_snapshot();
  int64_t total = 0, inuse = 0;
  for (size_t n = 1; n <= SIZES_MAX; n++) {
    blocks[n] = site_sizes(n);
    total += (int64_t)n;
  }
  for (size_t n = 1; n <= SIZES_MAX; n++) {
    if (n % 2 == 0) {
      free(blocks[n]);
      blocks[n] = NULL;
    } else {
      inuse += (int64_t)n;
    }
  }
  /* a failed realloc puts the record back with its size; the later free subtracts that size */
  errno = 0;
  CHECK(site_realloc(blocks[1001], SIZE_MAX - 4096) == NULL && errno == ENOMEM, "failed realloc");
  site_stat_t s = stat_of(site_sizes);
  /* 1..16, 4 classes in each of (16, 32] ... (1024, 2048], then 2560 and 3072 */
  CHECK(s.buckets == 16 + 7 * 4 + 2, "%d sizes in %lld buckets, want 46", SIZES_MAX,
        (long long)s.buckets);
  CHECK(s.allocs == SIZES_MAX && s.frees == SIZES_MAX / 2 && s.alloc_bytes == total &&
            s.alloc_bytes - s.free_bytes == inuse,
        "counters: %lld/%lld objects, %lld/%lld bytes, want inuse %lld of %lld",
        (long long)s.allocs, (long long)s.frees, (long long)s.alloc_bytes, (long long)s.free_bytes,
        (long long)inuse, (long long)total);
  void *snap = heap_snapshot();
  for (int delta = 0; delta < 2; delta++) {
    prof_t *p = write_and_decode(snap, delta ? base : NULL, false);
    if (p == NULL)
      continue;
    int64_t v[4] = {0}, nsamples = 0, bad_label = 0;
    size_t last_class = 0;
    for (size_t i = 0; i < p->nsample; i++) {
      const prof_sample_t *x = &p->sample[i];
      const prof_location_t *l = x->nlocation ? prof_location_by_id(p, x->location_id[0]) : NULL;
      const prof_function_t *f =
          l && l->nline ? prof_function_by_id(p, l->line[l->nline - 1].function_id) : NULL;
      if (f == NULL || strcmp(prof_str(p, f->name), "site_sizes") != 0)
        continue;
      nsamples++;
      for (int k = 0; k < 4; k++)
        v[k] += x->value[k];
      /* the label is the average requested size; one stack, so the samples come by class */
      int64_t avg = x->value[0] ? x->value[1] / x->value[0] : -1;
      size_t cls = heap_size_class((size_t)avg);
      bad_label += x->nlabel != 1 || x->label[0].num != avg || avg <= 0 || cls <= last_class;
      last_class = cls;
    }
    CHECK(nsamples == s.buckets && bad_label == 0, "%s: %lld samples, %lld bad labels",
          delta ? "delta" : "profile", (long long)nsamples, (long long)bad_label);
    CHECK(v[0] == SIZES_MAX && v[1] == total && v[2] == SIZES_MAX / 2 && v[3] == inuse,
          "%s: alloc %lld/%lld inuse %lld/%lld, want %d/%lld %d/%lld", delta ? "delta" : "profile",
          (long long)v[0], (long long)v[1], (long long)v[2], (long long)v[3], SIZES_MAX,
          (long long)total, SIZES_MAX / 2, (long long)inuse);
    prof_free(p);
  }
  heap_snapshot_free(snap);
  heap_snapshot_free(base);
  for (size_t n = 1; n <= SIZES_MAX; n++)
    free(blocks[n]);
  s = stat_of(site_sizes);
  CHECK(s.frees == SIZES_MAX && s.free_bytes == total, "all freed: %lld objects %lld bytes",
        (long long)s.frees, (long long)s.free_bytes);
}

/* A record whose free was not seen (a free on a thread inside a hook) is counted as freed, with
 * its own size, when its address is recorded again. */
static void test_stale_record(void) {
  void *p = site_stale(50);
  site_stat_t s = stat_of(site_stale);
  CHECK(s.allocs == 1 && s.last != NULL, "sampled once");
  if (s.last == NULL)
    return;
  /* what mhook_sample does when the address comes back from the allocator as a 70-byte block */
  heap_bucket_count_alloc(s.last, 70);
  heap_live_insert(p, s.last, 70);
  s = stat_of(site_stale);
  CHECK(s.allocs == 2 && s.frees == 1 && s.alloc_bytes == 120 && s.free_bytes == 50,
        "stale record freed with its size: %lld %lld %lld %lld", (long long)s.allocs,
        (long long)s.frees, (long long)s.alloc_bytes, (long long)s.free_bytes);
  free(p);
  s = stat_of(site_stale);
  CHECK(s.frees == 2 && s.free_bytes == 120, "then the new record's free: %lld %lld",
        (long long)s.frees, (long long)s.free_bytes);
}

/* At Go's default rate, 1 GiB of short-lived 4 KiB blocks is estimated within 10%. */
static void test_default_rate(void) {
  CHECK(cprof_set_mem_profile_rate(HEAP_DEFAULT_RATE) == 0, "default rate");
  for (int i = 0; i < 262144; i++)
    free(site_rate(4096));
  site_stat_t s = stat_of(site_rate);
  int64_t objs = s.allocs, bytes = s.allocs * 4096;
  heap_scale(&objs, &bytes, HEAP_DEFAULT_RATE);
  double ratio = (double)bytes / (1u << 30);
  CHECK(ratio > 0.9 && ratio < 1.1, "estimated %.3f GiB from %lld samples", ratio,
        (long long)s.allocs);
  CHECK(s.frees == s.allocs, "all freed");
}

int main(void) {
  find_real();
  test_math();
  test_bootstrap();
  int rc = cprof_set_mem_profile_rate(1);
  CHECK(rc == 0, "rate 1: %d", rc);
  test_exact();
  test_realloc();
  test_errno();
  test_alignment();
  test_guard();
  test_rate_api();
  test_threads();
  test_signal_handler();
  test_fork();
  test_write();
  test_size_class();
  test_many_sizes();
  test_stale_record();
  test_default_rate();
  return TEST_DONE("heap_test");
}
