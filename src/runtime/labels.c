/*
 * labels.c — thread labels: the interned label sets, each thread's stack of them, and the labels
 * calls of cprof.h (see labels.h).
 *
 * A label set is an immutable, sorted array of (key, value) pairs whose strings are interned, so
 * two sets are equal when their pairs are the same pointers. Sets are interned too: a push builds
 * the set it wants (the thread's current set with the new pairs added, a later pair overriding an
 * earlier one of the same key, as Go's pprof.Labels) and looks it up in a hash table before making
 * a new one, so the same pairs always give the same id. Ids are dense, 1, 2, 3, ... (0 is the empty
 * set), and id → set is an array of atomic pointers: a set is published there with a release store
 * after it is complete and never changes or dies afterwards, so labels_of() takes no lock and may
 * run in a signal handler, on any thread, at any later time.
 *
 * Interning takes intern_lock (pushes are not a hot path), which guards the two hash tables, the
 * arena that holds strings and sets, and the count of sets. All of it is memory mapped from the
 * kernel (arena.c, sys_map), never the host's malloc, and is never freed. It is bounded: at most
 * LABELS_MAX_SETS distinct sets and LABELS_MAX_BYTES of strings and sets. Past either bound, a push
 * that would need a new set keeps the thread's current labels instead (said once on stderr); it
 * looks up its strings without adding them first, so a program that goes on pushing fresh values
 * (a request id, say) costs no memory once the bound is reached.
 *
 * Each thread has its current set id in an initial-exec thread-local word (labels_current() is
 * one load, safe in the SIGPROF handler) and a stack of the ids its pushes replaced. A push
 * returns the stack's new depth as its token; cprof_label_pop(token) goes back to the depth and set
 * from before that push, so a push that somebody forgot to pop is popped with the one below it.
 * The stack holds LABELS_MAX_DEPTH ids; pushes deeper than that still count (their tokens pop
 * correctly) but keep the current labels, since there would be nowhere to keep what they replace.
 * A new thread starts with its creator's set (threads.c calls labels_inherit), as a goroutine
 * starts with its creator's labels, and with an empty stack. Every change of the current set is
 * also stored in the thread's record (threadrec.h), where a threads dump reads the labels of a
 * thread it does not signal.
 *
 * fork: the prepare handler takes intern_lock and both sides release it, so the child inherits
 * consistent tables and may push at once.
 */
#define _GNU_SOURCE
#include "runtime/labels.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "cprof.h"
#include "runtime/arena.h"
#include "runtime/heap.h"
#include "runtime/report.h"
#include "runtime/sys.h"
#include "runtime/threadrec.h"

#define LABELS_MAX_SETS 65536        /* distinct sets, the empty one (id 0) included */
#define LABELS_MAX_BYTES (64u << 20) /* strings and sets */
#define LABELS_MAX_PAIRS 64          /* labels in one set */
#define LABELS_MAX_DEPTH 32          /* pushes whose replaced set is kept */
#define STR_HEADS 16384              /* chains of the string table */
#define SET_HEADS LABELS_MAX_SETS    /* chains of the set table: about one set each when full */

/* An interned string: s is what a label's key or str points to. */
typedef struct lstr {
  struct lstr *next; /* hash chain */
  uint64_t hash;
  size_t len;
  char s[];
} lstr_t;

/* An interned set. */
typedef struct lset {
  struct lset *next; /* hash chain */
  uint64_t hash;
  uint32_t id;
  uint32_t n;
  rt_label_t labels[]; /* sorted by key (strcmp); key and str are interned strings */
} lset_t;

/* A pair of the set being built: the strings, their hashes, and whether each is interned yet. */
typedef struct lpair {
  const char *key, *val;
  size_t klen, vlen;
  uint64_t kh, vh;
  bool kin, vin;
} lpair_t;

static pthread_mutex_t intern_lock = PTHREAD_MUTEX_INITIALIZER;
static arena_t intern_arena;
static lstr_t **str_heads;                       /* STR_HEADS chains, mapped on first push */
static lset_t **set_heads;                       /* SET_HEADS chains */
static const lset_t *_Atomic *_Atomic set_by_id; /* LABELS_MAX_SETS slots, slot 0 unused */
static uint32_t nsets = 1;                       /* the next id */
static bool full_reported;                       /* under intern_lock */
static _Atomic bool deep_reported;

/* The calling thread's labels. */
static __thread struct {
  uint32_t cur;                     /* the current set (what labels_current returns) */
  uint32_t depth;                   /* pushes not popped yet */
  uint32_t saved[LABELS_MAX_DEPTH]; /* saved[d]: the set in force at depth d */
} tls_labels __attribute__((tls_model("initial-exec")));

/* ------------------------------------------------------------ reading ---------------------- */

uint32_t labels_current(void) { return tls_labels.cur; }

const rt_label_t *labels_of(uint32_t id, size_t *n) {
  *n = 0;
  const lset_t *_Atomic *by_id = atomic_load_explicit(&set_by_id, memory_order_acquire);
  if (id == 0 || id >= LABELS_MAX_SETS || by_id == NULL)
    return NULL;
  const lset_t *s = atomic_load_explicit(&by_id[id], memory_order_acquire);
  if (s == NULL)
    return NULL;
  *n = s->n;
  return s->labels;
}

void labels_inherit(uint32_t id) {
  tls_labels.depth = 0;
  tls_labels.cur = id;
  threadrec_set_labels(id);
}

/* ------------------------------------------------------------ interning -------------------- */

static uint64_t str_hash(const char *s, size_t len) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < len; i++) {
    h ^= (unsigned char)s[i];
    h *= 0x100000001b3ull;
  }
  return h ^ (h >> 31);
}

static lstr_t *str_of(const char *s) { return (lstr_t *)(void *)(s - offsetof(lstr_t, s)); }

/* The interned copy of s, or NULL when there is none. Under intern_lock. */
static const char *str_find(const char *s, size_t len, uint64_t h) {
  for (lstr_t *e = str_heads[h & (STR_HEADS - 1)]; e != NULL; e = e->next)
    if (e->hash == h && e->len == len && memcmp(e->s, s, len) == 0)
      return e->s;
  return NULL;
}

/* The interned copy of s, added when absent; NULL when out of memory. Under intern_lock. */
static const char *str_intern(const char *s, size_t len, uint64_t h) {
  const char *found = str_find(s, len, h);
  if (found != NULL)
    return found;
  lstr_t *e = arena_alloc(&intern_arena, sizeof *e + len + 1);
  if (e == NULL)
    return NULL;
  e->hash = h;
  e->len = len;
  memcpy(e->s, s, len);
  e->s[len] = '\0';
  lstr_t **head = &str_heads[h & (STR_HEADS - 1)];
  e->next = *head;
  *head = e;
  return e->s;
}

static uint64_t mix(uint64_t h, uint64_t v) {
  h = (h ^ v) * 0x9E3779B97F4A7C15ull;
  return h ^ (h >> 29);
}

static uint64_t set_hash(const lpair_t *p, size_t n) {
  uint64_t h = 0x6a09e667f3bcc908ull ^ n;
  for (size_t i = 0; i < n; i++)
    h = mix(mix(h, p[i].kh), p[i].vh);
  return h;
}

/* The interned set equal to the pairs (every string of which is interned), or NULL. */
static const lset_t *set_find(const lpair_t *p, size_t n, uint64_t h) {
  for (lset_t *s = set_heads[h & (SET_HEADS - 1)]; s != NULL; s = s->next) {
    if (s->hash != h || s->n != n)
      continue;
    size_t i = 0;
    while (i < n && s->labels[i].key == p[i].key && s->labels[i].str == p[i].val)
      i++;
    if (i == n)
      return s;
  }
  return NULL;
}

/* Maps the tables on first use. 0 or -ENOMEM. Under intern_lock. */
static int tables_init(void) {
  if (str_heads != NULL)
    return 0;
  size_t slots = STR_HEADS + SET_HEADS + LABELS_MAX_SETS;
  void **t = sys_map(slots * sizeof(void *)); /* pages are touched as chains and ids are used */
  if (t == NULL)
    return -ENOMEM;
  str_heads = (lstr_t **)t;
  set_heads = (lset_t **)(t + STR_HEADS);
  atomic_store_explicit(&set_by_id, (const lset_t *_Atomic *)(t + STR_HEADS + SET_HEADS),
                        memory_order_release);
  return 0;
}

/* Whether one more set of n pairs with these strings fits the bounds. Under intern_lock. */
static bool fits(const lpair_t *p, size_t n) {
  size_t bytes = sizeof(lset_t) + n * sizeof(rt_label_t) + 16;
  for (size_t i = 0; i < n; i++)
    bytes += (p[i].kin ? 0 : sizeof(lstr_t) + p[i].klen + 16) +
             (p[i].vin ? 0 : sizeof(lstr_t) + p[i].vlen + 16);
  return nsets < LABELS_MAX_SETS && intern_arena.total + bytes <= LABELS_MAX_BYTES;
}

/* Makes the set of the pairs, interning their strings, and publishes it. NULL when out of
 * memory. Under intern_lock, after fits(). */
static const lset_t *set_add(lpair_t *p, size_t n, uint64_t h) {
  /* str_intern looks again: a new string may equal another new one added just before */
  for (size_t i = 0; i < n; i++) {
    if (!p[i].kin && (p[i].key = str_intern(p[i].key, p[i].klen, p[i].kh)) == NULL)
      return NULL;
    if (!p[i].vin && (p[i].val = str_intern(p[i].val, p[i].vlen, p[i].vh)) == NULL)
      return NULL;
    p[i].kin = p[i].vin = true;
  }
  lset_t *s = arena_alloc(&intern_arena, sizeof *s + n * sizeof(rt_label_t));
  if (s == NULL)
    return NULL;
  s->hash = h;
  s->id = nsets++;
  s->n = (uint32_t)n;
  for (size_t i = 0; i < n; i++)
    s->labels[i] = (rt_label_t){.key = p[i].key, .str = p[i].val};
  lset_t **head = &set_heads[h & (SET_HEADS - 1)];
  s->next = *head;
  *head = s;
  atomic_store_explicit(&set_by_id[s->id], s, memory_order_release);
  return s;
}

/*
 * Merges the pair (key, val) into the sorted pairs p[0..*n): replaces the value of an equal key,
 * or inserts it in order. -E2BIG when that would pass LABELS_MAX_PAIRS. Under intern_lock.
 */
static int merge(lpair_t *p, size_t *n, const char *key, const char *val) {
  size_t klen = strlen(key), vlen = strlen(val);
  lpair_t q = {.key = key, .val = val, .klen = klen, .vlen = vlen};
  q.kh = str_hash(key, klen);
  q.vh = str_hash(val, vlen);
  const char *k = str_find(key, klen, q.kh), *v = str_find(val, vlen, q.vh);
  q.kin = k != NULL;
  q.vin = v != NULL;
  if (k != NULL)
    q.key = k;
  if (v != NULL)
    q.val = v;
  size_t lo = 0, hi = *n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(p[mid].key, key);
    if (c == 0) {
      p[mid] = q;
      return 0;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (*n == LABELS_MAX_PAIRS)
    return -E2BIG;
  memmove(&p[lo + 1], &p[lo], (*n - lo) * sizeof *p);
  p[lo] = q;
  (*n)++;
  return 0;
}

static void fork_prepare(void) { pthread_mutex_lock(&intern_lock); }
static void fork_release(void) { pthread_mutex_unlock(&intern_lock); }

static void register_atfork(void) {
  heap_guard_enter(); /* glibc may allocate the handler's record: ours, not the host's */
  pthread_atfork(fork_prepare, fork_release, fork_release);
  heap_guard_exit();
}

/*
 * The id of set base with the npairs pairs of kv added (kv[2i] keys, kv[2i+1] values). When the
 * bounds are reached or memory runs out, base itself (reported once). -E2BIG when the set would
 * hold more than LABELS_MAX_PAIRS labels.
 */
static int64_t intern_with(uint32_t base, const char *const *kv, size_t npairs) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, register_atfork);
  lpair_t p[LABELS_MAX_PAIRS + 1];
  size_t n = 0;
  int64_t id = base;
  pthread_mutex_lock(&intern_lock);
  if (tables_init() != 0) {
    if (!full_reported)
      report("labels: no memory for the label tables; labels are ignored");
    full_reported = true;
    goto out;
  }
  size_t nbase;
  const rt_label_t *bl = labels_of(base, &nbase);
  for (size_t i = 0; i < nbase; i++) {
    const lstr_t *k = str_of(bl[i].key), *v = str_of(bl[i].str);
    p[n++] = (lpair_t){bl[i].key, bl[i].str, k->len, v->len, k->hash, v->hash, true, true};
  }
  for (size_t i = 0; i < npairs; i++) {
    if (merge(p, &n, kv[2 * i], kv[2 * i + 1]) != 0) {
      id = -E2BIG;
      goto out;
    }
  }
  uint64_t h = set_hash(p, n);
  bool known = true; /* a set made of strings not all interned cannot exist yet */
  for (size_t i = 0; i < n; i++)
    known = known && p[i].kin && p[i].vin;
  const lset_t *s = known ? set_find(p, n, h) : NULL;
  if (n == 0) {
    id = 0;
  } else if (s != NULL) {
    id = s->id;
  } else {
    s = fits(p, n) ? set_add(p, n, h) : NULL;
    if (s != NULL) {
      id = s->id;
    } else if (!full_reported) {
      full_reported = true;
      report("labels: %u distinct label sets (or %u MiB) reached; pushes that would make a new "
             "set keep the thread's current labels from now on",
             (unsigned)LABELS_MAX_SETS, LABELS_MAX_BYTES >> 20);
    }
  }
out:
  pthread_mutex_unlock(&intern_lock);
  return id;
}

/* ------------------------------------------------------------ the thread's stack ----------- */

/* Pushes the pairs; the token, or -EINVAL / -E2BIG / -EOVERFLOW with nothing pushed. */
static int push_pairs(const char *const *kv, size_t npairs) {
  if (kv == NULL && npairs > 0)
    return -EINVAL;
  if (npairs > LABELS_MAX_PAIRS)
    return -E2BIG;
  for (size_t i = 0; i < npairs; i++)
    if (kv[2 * i] == NULL || kv[2 * i][0] == '\0' || kv[2 * i + 1] == NULL)
      return -EINVAL;
  uint32_t d = tls_labels.depth;
  if (d >= INT_MAX)
    return -EOVERFLOW;
  if (d >= LABELS_MAX_DEPTH) {
    if (!atomic_exchange(&deep_reported, true))
      report("labels: pushes nested deeper than %d keep the labels they find", LABELS_MAX_DEPTH);
    tls_labels.depth = d + 1;
    return (int)d + 1;
  }
  int64_t id = intern_with(tls_labels.cur, kv, npairs);
  if (id < 0)
    return (int)id;
  tls_labels.saved[d] = tls_labels.cur;
  tls_labels.depth = d + 1;
  tls_labels.cur = (uint32_t)id; /* one store: a signal handler sees the old set or the new */
  threadrec_set_labels((uint32_t)id);
  return (int)d + 1;
}

/* Back to depth d with set cur in force. */
static void restore(uint32_t d, uint32_t cur) {
  tls_labels.depth = d;
  tls_labels.cur = cur;
  threadrec_set_labels(cur);
}

/* ------------------------------------------------------------ the public API --------------- */

CPROF_API int cprof_label_push(const char *key, const char *value) {
  const char *kv[2] = {key, value};
  return push_pairs(kv, 1);
}

CPROF_API int cprof_label_pop(int token) {
  uint32_t d = tls_labels.depth;
  if (token < 1 || (uint32_t)token > d)
    return -EINVAL;
  d = (uint32_t)token - 1;
  restore(d, d < LABELS_MAX_DEPTH ? tls_labels.saved[d] : tls_labels.cur);
  return 0;
}

CPROF_API int cprof_do(const char *const *kv, size_t npairs, void (*fn)(void *), void *arg) {
  if (fn == NULL)
    return -EINVAL;
  uint32_t d = tls_labels.depth, cur = tls_labels.cur;
  int t = push_pairs(kv, npairs);
  if (t < 0)
    return t;
  fn(arg);
  restore(d, cur); /* whatever fn pushed or popped */
  return 0;
}

CPROF_API const char *cprof_label_get(const char *key) {
  size_t n;
  const rt_label_t *l = key != NULL ? labels_of(tls_labels.cur, &n) : NULL;
  for (size_t i = 0; l != NULL && i < n; i++)
    if (strcmp(l[i].key, key) == 0)
      return l[i].str;
  return NULL;
}
