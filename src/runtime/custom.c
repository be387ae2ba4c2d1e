/*
 * custom.c — the user-defined profiles (see custom.h and cprof.h).
 *
 * A profile is a hash table from key to entry, an entry holding the key and the stack that added
 * it (at most COUNT_MAX_DEPTH frames). Entries come from slabs mapped from the kernel and go back
 * to the profile's free list when their key is removed; the bucket array doubles when the keys
 * outnumber the buckets. Each profile has its own mutex; the stack is walked before it is taken.
 * The registry of profiles is a list, newest first, behind custom_lock; profiles are never
 * freed, so a name or a profile pointer handed out stays valid.
 *
 * Nothing here uses the host's malloc: add and remove may run anywhere the program likes, even
 * with the heap profile at rate 1, without recursing into it.
 */
#define _GNU_SOURCE
#include "runtime/custom.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "runtime/ext.h"
#include "runtime/heap.h"
#include "runtime/sys.h"
#include "runtime/tables.h"

#define CUSTOM_SLAB (64 * 1024) /* bytes of entries mapped at a time */

typedef struct custom_entry {
  struct custom_entry *next; /* hash chain, or free list */
  const void *key;
  uint32_t depth;
  uintptr_t pcs[COUNT_MAX_DEPTH];
} custom_entry_t;

struct cprof_profile {
  struct cprof_profile *next; /* the registry */
  pthread_mutex_t lock;       /* guards everything below */
  custom_entry_t **buckets;
  size_t nbuckets;
  size_t count;
  custom_entry_t *free_list;
  char name[CUSTOM_NAME_MAX + 1];
};

static pthread_mutex_t custom_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cprof_profile *custom_list; /* newest first */
static size_t custom_n;

/* Names of the built-in profiles and endpoints, which a user-defined profile cannot take. */
static const char *const custom_reserved[] = {
    "allocs",  "block",  "cmdline",      "goroutine", "heap",  "mutex",
    "profile", "symbol", "threadcreate", "threads",   "trace",
};

/* ------------------------------------------------------------ the registry ---------------- */

static void custom_after_fork_child(void) {
  pthread_mutex_init(&custom_lock, NULL);
  for (struct cprof_profile *p = custom_list; p != NULL; p = p->next)
    pthread_mutex_init(&p->lock, NULL);
}

static void custom_register_atfork(void) { pthread_atfork(NULL, NULL, custom_after_fork_child); }

static bool custom_name_ok(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > CUSTOM_NAME_MAX)
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)name[i];
    if (c <= ' ' || c == 0x7f || c == '?' || c == '#')
      return false;
  }
  return true;
}

static struct cprof_profile *custom_find_locked(const char *name) {
  for (struct cprof_profile *p = custom_list; p != NULL; p = p->next)
    if (strcmp(p->name, name) == 0)
      return p;
  return NULL;
}

CPROF_API cprof_profile_t *cprof_profile_new(const char *name) {
  static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
  pthread_once(&atfork_once, custom_register_atfork);
  if (name == NULL || !custom_name_ok(name)) {
    errno = EINVAL;
    return NULL;
  }
  for (size_t i = 0; i < sizeof custom_reserved / sizeof custom_reserved[0]; i++) {
    if (strcmp(custom_reserved[i], name) == 0) {
      errno = EEXIST;
      return NULL;
    }
  }
  /* The stacks of the keys will be walked with the unwind tables: build them now, once. */
  const ext_api_t *ext = ext_get();
  heap_guard_enter(); /* building them allocates: the profiler's memory */
  if (ext != NULL)
    tables_ensure(ext);
  heap_guard_exit();
  pthread_mutex_lock(&custom_lock);
  struct cprof_profile *p = custom_find_locked(name);
  int err = p != NULL ? EEXIST : 0;
  if (err == 0 && (p = sys_map(sizeof *p)) == NULL)
    err = ENOMEM;
  if (err == 0) {
    pthread_mutex_init(&p->lock, NULL);
    strcpy(p->name, name);
    p->next = custom_list;
    custom_list = p;
    custom_n++;
  }
  pthread_mutex_unlock(&custom_lock);
  if (err != 0) {
    errno = err;
    return NULL;
  }
  return p;
}

CPROF_API cprof_profile_t *cprof_profile_lookup(const char *name) {
  if (name == NULL) {
    errno = ENOENT;
    return NULL;
  }
  pthread_mutex_lock(&custom_lock);
  struct cprof_profile *p = custom_find_locked(name);
  pthread_mutex_unlock(&custom_lock);
  if (p == NULL)
    errno = ENOENT;
  return p;
}

size_t custom_names(const char **names, size_t max) {
  pthread_mutex_lock(&custom_lock);
  size_t i = custom_n;
  for (struct cprof_profile *p = custom_list; p != NULL; p = p->next) {
    i--; /* the list is newest first: fill from the end */
    if (i < max)
      names[i] = p->name;
  }
  size_t n = custom_n;
  pthread_mutex_unlock(&custom_lock);
  return n;
}

CPROF_API const char *cprof_profile_name(const cprof_profile_t *p) {
  return p != NULL ? p->name : NULL;
}

/* ------------------------------------------------------------ the table ------------------- */

static size_t custom_hash(const void *key, size_t nbuckets) {
  uint64_t h = (uint64_t)(uintptr_t)key * 0x9e3779b97f4a7c15ull;
  return (size_t)(h ^ (h >> 29)) & (nbuckets - 1);
}

/* Doubles the bucket array. Called with p->lock held. */
static int custom_grow(struct cprof_profile *p) {
  size_t n = p->nbuckets ? p->nbuckets * 2 : 512;
  custom_entry_t **b = sys_map(n * sizeof *b);
  if (b == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < p->nbuckets; i++) {
    for (custom_entry_t *e = p->buckets[i], *next; e != NULL; e = next) {
      next = e->next;
      size_t k = custom_hash(e->key, n);
      e->next = b[k];
      b[k] = e;
    }
  }
  if (p->buckets != NULL)
    sys_unmap(p->buckets, p->nbuckets * sizeof *p->buckets);
  p->buckets = b;
  p->nbuckets = n;
  return 0;
}

/* A free entry, mapping a new slab when there is none. Called with p->lock held. */
static custom_entry_t *custom_entry_new(struct cprof_profile *p) {
  if (p->free_list == NULL) {
    custom_entry_t *slab = sys_map(CUSTOM_SLAB);
    if (slab == NULL)
      return NULL;
    for (size_t i = 0; i < CUSTOM_SLAB / sizeof *slab; i++) {
      slab[i].next = p->free_list;
      p->free_list = &slab[i];
    }
  }
  custom_entry_t *e = p->free_list;
  p->free_list = e->next;
  return e;
}

static custom_entry_t **custom_slot(struct cprof_profile *p, const void *key) {
  custom_entry_t **slot = &p->buckets[custom_hash(key, p->nbuckets)];
  while (*slot != NULL && (*slot)->key != key)
    slot = &(*slot)->next;
  return slot;
}

CPROF_API int cprof_profile_add(cprof_profile_t *p, const void *key, int skip) {
  if (p == NULL || skip < 0)
    return -EINVAL;
  uintptr_t pcs[COUNT_MAX_DEPTH];
  int depth = count_stack_here(pcs, COUNT_MAX_DEPTH, (uintptr_t)__builtin_return_address(0));
  int from = skip < depth ? skip : depth; /* nothing left: recorded as a lost stack */
  int rc = 0;
  pthread_mutex_lock(&p->lock);
  if (p->count >= p->nbuckets && custom_grow(p) != 0 && p->nbuckets == 0)
    rc = -ENOMEM;
  custom_entry_t **slot = rc == 0 ? custom_slot(p, key) : NULL;
  custom_entry_t *e = NULL;
  if (slot != NULL && *slot != NULL)
    rc = -EEXIST;
  else if (slot != NULL && (e = custom_entry_new(p)) == NULL)
    rc = -ENOMEM;
  if (e != NULL) {
    e->key = key;
    e->depth = (uint32_t)(depth - from);
    memcpy(e->pcs, pcs + from, e->depth * sizeof *pcs);
    e->next = NULL;
    *slot = e;
    p->count++;
  }
  pthread_mutex_unlock(&p->lock);
  return rc;
}

CPROF_API int cprof_profile_remove(cprof_profile_t *p, const void *key) {
  if (p == NULL)
    return -EINVAL;
  int rc = -ENOENT;
  pthread_mutex_lock(&p->lock);
  custom_entry_t **slot = p->nbuckets > 0 ? custom_slot(p, key) : NULL;
  if (slot != NULL && *slot != NULL) {
    custom_entry_t *e = *slot;
    *slot = e->next;
    e->next = p->free_list;
    p->free_list = e;
    p->count--;
    rc = 0;
  }
  pthread_mutex_unlock(&p->lock);
  return rc;
}

CPROF_API long cprof_profile_count(const cprof_profile_t *p) {
  if (p == NULL)
    return -EINVAL;
  struct cprof_profile *q = (struct cprof_profile *)p; /* the lock is not the caller's data */
  pthread_mutex_lock(&q->lock);
  long n = (long)q->count;
  pthread_mutex_unlock(&q->lock);
  return n;
}

count_snap_t *custom_snapshot(cprof_profile_t *p) {
  pthread_mutex_lock(&p->lock);
  count_snap_t *s = count_snap_new(p->name, p->count);
  int rc = s != NULL ? 0 : -ENOMEM;
  for (size_t i = 0; i < p->nbuckets && rc == 0; i++)
    for (custom_entry_t *e = p->buckets[i]; e != NULL && rc == 0; e = e->next)
      rc = count_snap_add(s, e->pcs, e->depth, 0, 1);
  pthread_mutex_unlock(&p->lock);
  if (rc != 0) {
    count_snap_free(s);
    return NULL;
  }
  count_snap_finish(s);
  return s;
}
