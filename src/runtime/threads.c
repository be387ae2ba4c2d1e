/*
 * threads.c — the pthread_create hook, the thread list and per-thread stack bounds.
 *
 * pthread_create is interposed (libcprof.so exports it; in libcprof.a the program's own definition
 * takes precedence over libc's). The real one is found with dlsym(RTLD_NEXT) on first use. The hook
 * allocates a small record carrying the start routine and its argument; the new thread runs
 * threads_trampoline, which calls the start hook, sets a key whose destructor calls the exit hook,
 * and then the start routine; a thread created inside the heap profiler's guard starts inside it
 * (so the profiler's own threads, and those of the libraries it uses, are not in the heap
 * profile), and every new thread starts with its creator's labels (labels.h). When the record
 * cannot be allocated, the thread is created unhooked: profiling is never a reason for
 * pthread_create to fail. Every creation the program makes (not
 * those inside the guard, which are the profiler's) is counted with its caller's stack for the
 * threadcreate profile (tcreate.c), and the new thread starts with a record (threadrec.h) that
 * says where it was created and, later, what it waits on, for the threads profile's dump; its exit
 * hook gives the record back.
 *
 * The profiler's own threads register their tids in a small array of atomic slots and set a
 * thread-local flag, so the threads profile knows them from outside and from inside. A slot is
 * freed by a prune (each dump runs one) once /proc no longer lists its thread: a tid is reused only
 * after the kernel has gone round its whole pid space, so a stale slot does not live that long.
 *
 * Stack bounds are cached in two initial-exec thread-local words, readable from the signal
 * handler. They describe the mapping that held sp when they were computed; a thread that switches
 * stacks (coroutines) gets them recomputed when sp falls outside.
 */
#define _GNU_SOURCE
#include "runtime/threads.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "runtime/countprof.h"
#include "runtime/heap.h"
#include "runtime/labels.h"
#include "runtime/sys.h"
#include "runtime/tcreate.h"
#include "runtime/threadrec.h"

typedef int (*pthread_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

static _Atomic(pthread_create_fn) real_create;
static _Atomic(threads_hook_fn) hook_start;
static _Atomic(threads_hook_fn) hook_exit;
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static int exit_key_ok;

static __thread uintptr_t tls_map_lo;
static __thread uintptr_t tls_map_hi;

void threads_set_hooks(threads_hook_fn on_start, threads_hook_fn on_exit) {
  atomic_store(&hook_start, on_start);
  atomic_store(&hook_exit, on_exit);
}

static pthread_create_fn get_real_create(void) {
  pthread_create_fn f = atomic_load(&real_create);
  if (f == NULL) {
    f = (pthread_create_fn)dlsym(RTLD_NEXT, "pthread_create");
    atomic_store(&real_create, f);
  }
  return f;
}

static void on_thread_exit(void *unused) {
  threads_hook_fn f = atomic_load(&hook_exit);
  if (f)
    f();
  threadrec_release();
}

static void make_exit_key(void) { exit_key_ok = pthread_key_create(&exit_key, on_thread_exit) == 0; }

/* ------------------------------------------------------------ profiler threads ------------- */

static _Atomic pid_t profiler_tids[THREADS_PROFILER_MAX];
static _Atomic int profiler_births; /* profiler threads created, not yet registered */
static __thread bool tls_profiler __attribute__((tls_model("initial-exec")));

static bool profiler_claim(pid_t me) {
  for (size_t i = 0; i < THREADS_PROFILER_MAX; i++) {
    pid_t free_slot = 0;
    if (atomic_compare_exchange_strong(&profiler_tids[i], &free_slot, me))
      return true;
  }
  return false;
}

/* Marks the calling thread as the profiler's. Its tid stays in the registry until a prune finds
 * the thread gone (not at its exit, for an exiting thread is still listed in /proc a while). */
static void profiler_register(void) {
  tls_profiler = true;
  pid_t me = sys_gettid();
  if (!profiler_claim(me)) {
    threads_profiler_prune();
    profiler_claim(me);
  }
}

void threads_profiler_prune(void) {
  for (size_t i = 0; i < THREADS_PROFILER_MAX; i++) {
    pid_t tid = atomic_load(&profiler_tids[i]);
    if (tid != 0 && !sys_thread_alive(tid))
      atomic_compare_exchange_strong(&profiler_tids[i], &tid, 0);
  }
}

/* Async-signal-safe. */
bool threads_self_is_profiler(void) { return tls_profiler; }

bool threads_profiler_starting(void) { return atomic_load(&profiler_births) > 0; }

/* In a fork child: a birth in flight in the parent never completes here. */
static void threads_after_fork_child(void) { atomic_store(&profiler_births, 0); }

__attribute__((constructor)) static void threads_init(void) {
  pthread_atfork(NULL, NULL, threads_after_fork_child);
}

bool threads_is_profiler(pid_t tid) {
  for (size_t i = 0; i < THREADS_PROFILER_MAX; i++)
    if (atomic_load(&profiler_tids[i]) == tid)
      return true;
  return false;
}

/* ------------------------------------------------------------ creation --------------------- */

/* Async-signal-safe. */
void threads_created_by(uintptr_t *pc, pid_t *tid) {
  const threadrec_t *r = threadrec_peek();
  *pc = r != NULL ? __atomic_load_n(&r->created_pc, __ATOMIC_RELAXED) : 0;
  *tid = r != NULL ? __atomic_load_n(&r->created_tid, __ATOMIC_RELAXED) : 0;
}

typedef struct trampoline_arg {
  void *(*fn)(void *);
  void *arg;
  bool guarded;         /* created inside the heap profiler's guard: the new thread is too */
  uintptr_t created_pc; /* the return address of the pthread_create call */
  pid_t created_tid;    /* the thread that made it */
  uint32_t labels;      /* the creator's label set, which the new thread inherits */
} trampoline_arg_t;

static void *threads_trampoline(void *p) {
  trampoline_arg_t a = *(trampoline_arg_t *)p;
  free(p);
  if (a.guarded) {
    heap_guard_enter(); /* for the thread's whole life */
    profiler_register();
    atomic_fetch_sub(&profiler_births, 1);
  }
  threadrec_start(a.created_pc, a.created_tid, a.labels);
  labels_inherit(a.labels);
  pthread_once(&exit_key_once, make_exit_key);
  if (exit_key_ok)
    pthread_setspecific(exit_key, (void *)1);
  threads_hook_fn f = atomic_load(&hook_start);
  if (f)
    f();
  return a.fn(a.arg);
}

__attribute__((visibility("default"))) int pthread_create(pthread_t *t, const pthread_attr_t *attr,
                                                          void *(*fn)(void *), void *arg) {
  pthread_create_fn real = get_real_create();
  if (real == NULL)
    return EAGAIN;
  uintptr_t ret = (uintptr_t)__builtin_return_address(0);
  bool guarded = heap_guard_active();
  uintptr_t pcs[COUNT_MAX_DEPTH];
  int depth = guarded ? 0 : count_stack_here(pcs, COUNT_MAX_DEPTH, ret); /* the program's */
  trampoline_arg_t *a = malloc(sizeof *a);
  int rc;
  if (a == NULL) {
    rc = real(t, attr, fn, arg);
  } else {
    *a = (trampoline_arg_t){fn, arg, guarded, ret, sys_gettid(), labels_current()};
    if (guarded)
      atomic_fetch_add(&profiler_births, 1);
    rc = real(t, attr, threads_trampoline, a);
    if (rc != 0 && guarded)
      atomic_fetch_sub(&profiler_births, 1);
    if (rc != 0)
      free(a);
  }
  if (rc == 0 && depth > 0)
    tcreate_count(pcs, (uint32_t)depth);
  return rc;
}

typedef struct internal_arg {
  void *(*fn)(void *);
  void *arg;
} internal_arg_t;

/* The profiler's own threads run inside the heap guard: their allocations are the profiler's. */
static void *internal_trampoline(void *p) {
  internal_arg_t a = *(internal_arg_t *)p;
  free(p);
  heap_guard_enter();
  profiler_register();
  atomic_fetch_sub(&profiler_births, 1);
  return a.fn(a.arg);
}

int threads_create_internal(pthread_t *t, void *(*fn)(void *), void *arg) {
  pthread_create_fn real = get_real_create();
  if (real == NULL)
    return -ENOSYS;
  heap_guard_enter();
  internal_arg_t *a = malloc(sizeof *a);
  heap_guard_exit();
  if (a == NULL)
    return -ENOMEM;
  a->fn = fn;
  a->arg = arg;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  atomic_fetch_add(&profiler_births, 1);
  int rc = real(t, NULL, internal_trampoline, a);
  if (rc != 0)
    atomic_fetch_sub(&profiler_births, 1);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc != 0)
    free(a);
  return -rc;
}

/* ------------------------------------------------------------ stack bounds ----------------- */

/* Streams /proc/self/maps, parsing "start-end" at the head of each line, and returns the range
 * that holds sp. Async-signal-safe: raw syscalls, a stack buffer, no libc parsing. */
static int find_mapping(uintptr_t sp, uintptr_t *lo, uintptr_t *hi) {
  int fd = sys_open_ro("/proc/self/maps");
  if (fd < 0)
    return -1;
  char buf[512];
  int field = 0; /* 0: start, 1: end, 2: rest of the line */
  uintptr_t a = 0, b = 0;
  int found = -1;
  ssize_t n;
  while (found < 0 && (n = sys_read(fd, buf, sizeof buf)) > 0) {
    for (ssize_t i = 0; i < n; i++) {
      char c = buf[i];
      if (c == '\n') {
        field = 0;
        a = b = 0;
        continue;
      }
      if (field == 2)
        continue;
      int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
      if (field == 0 && c == '-') {
        field = 1;
      } else if (field == 1 && c == ' ') {
        field = 2;
        if (sp >= a && sp < b) {
          *lo = a;
          *hi = b;
          found = 0;
          break;
        }
      } else if (d >= 0) {
        if (field == 0)
          a = a << 4 | (uintptr_t)d;
        else
          b = b << 4 | (uintptr_t)d;
      }
    }
  }
  sys_close(fd);
  return found;
}

/* Async-signal-safe. */
int threads_stack_bounds(uintptr_t sp, unwind_stack_bounds_t *out) {
  out->lo = sp;
  if (!(sp >= tls_map_lo && sp < tls_map_hi)) {
    uintptr_t lo, hi;
    if (find_mapping(sp, &lo, &hi) != 0) {
      out->hi = sp;
      return -1;
    }
    tls_map_lo = lo;
    tls_map_hi = hi;
  }
  out->hi = tls_map_hi;
  return 0;
}

/* ------------------------------------------------------------ thread list ------------------ */

int threads_list(pid_t *tids, size_t max) {
  DIR *d = opendir("/proc/self/task");
  if (d == NULL)
    return -errno;
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL && n < max) {
    char *end;
    long v = strtol(e->d_name, &end, 10);
    if (*end == '\0' && v > 0)
      tids[n++] = (pid_t)v;
  }
  closedir(d);
  return (int)n;
}

/* ------------------------------------------------------------ waits ------------------------ */

void threads_wait_begin(const char *what, const void *obj) {
  threadrec_t *r = threadrec_self();
  __atomic_store_n(&r->wait_obj, obj, __ATOMIC_RELAXED);
  __atomic_store_n(&r->wait_since, sys_now_mono(), __ATOMIC_RELAXED);
  /* A handler, or a dump reading the record, that sees what sees obj and since. */
  __atomic_store_n(&r->wait_what, what, __ATOMIC_RELEASE);
}

void threads_wait_end(void) {
  threadrec_t *r = threadrec_peek();
  if (r != NULL)
    __atomic_store_n(&r->wait_what, (const char *)NULL, __ATOMIC_RELAXED);
}

const char *threads_wait_get(const void **obj, int64_t *since) {
  const threadrec_t *r = threadrec_peek();
  const char *what = r != NULL ? __atomic_load_n(&r->wait_what, __ATOMIC_ACQUIRE) : NULL;
  if (obj != NULL)
    *obj = what != NULL ? __atomic_load_n(&r->wait_obj, __ATOMIC_RELAXED) : NULL;
  if (since != NULL)
    *since = what != NULL ? __atomic_load_n(&r->wait_since, __ATOMIC_RELAXED) : 0;
  return what;
}
