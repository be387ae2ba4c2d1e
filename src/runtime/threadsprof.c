/*
 * threadsprof.c — the threads profile (see threadsprof.h).
 *
 * A dump, under threadsprof_lock (one at a time):
 *   1. list /proc/self/task and sort the tids; read each thread's stat (name, state);
 *   2. decide per thread from outside (tp_classify): the caller walks its own stack
 *      (sigdump_self); the profiler's threads and zombies get their pseudo-frame; a thread that is
 *      not running (sleeping, in disk wait, stopped) is read from /proc (tp_capture: procstack.h,
 *      with its labels, wait and creator from its record, threadrec.h), never signalled; a
 *      running thread is to be asked;
 *   3. ask the running threads (tp_ask, sigdump_collect), unless SIGPROF is the program's or the
 *      thread blocks it (then a pseudo-frame): each one's state is read again just before its
 *      signal, and one that has blocked meanwhile is not signalled but read from /proc after;
 *   4. build the snapshot: one record per thread, grouped by stack and labels, and the details of
 *      each for debug=2 (the caller first, then by tid). A thread that exited meanwhile is left
 *      out.
 * The slots live in memory mapped for the dump and unmapped after it, unless a handler may still
 * be writing into one (sigdump.h), in which case they are left mapped for good.
 *
 * Why not signal everyone: a signal interrupts the blocking calls the kernel does not restart
 * under SA_RESTART (sleep, nanosleep, poll, epoll_wait, select, sem_timedwait, ...), which return
 * early with EINTR in the signalled thread. A running thread is in none of them, so its signal
 * costs it only the handler's few microseconds; what remains is a thread that enters such a call
 * in the microseconds between the last look at its state and its signal. Where /proc cannot give
 * a blocked thread's stack (other architectures than x86_64; a kernel without
 * /proc/<tid>/syscall), every thread is signalled, as before, and blocked calls may see EINTR.
 */
#define _GNU_SOURCE
#include "runtime/threadsprof.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/ext.h"
#include "runtime/heap.h"
#include "runtime/labels.h"
#include "runtime/procstack.h"
#include "runtime/sigdump.h"
#include "runtime/sigprof.h"
#include "runtime/sync.h"
#include "runtime/sys.h"
#include "runtime/tables.h"
#include "runtime/threadrec.h"
#include "runtime/threads.h"

#define TP_BIRTH_WAIT_MS 100        /* the longest wait for profiler threads to register */
#define TP_RUNNING_LOOKS 6          /* looks at a running thread, at most, before its signal */
#define TP_RUNNING_GAP_NS 1000000LL /* between the first two looks, doubled for each next */

static pthread_mutex_t threadsprof_lock = PTHREAD_MUTEX_INITIALIZER;

/* What the dumper knows of a thread from outside. */
typedef struct tp_meta {
  char name[64];
  char state; /* /proc's letter */
  int pseudo; /* count_pseudo_t, or -1 when the thread's stack is (to be) taken */
  bool current;
  bool signal;            /* to be asked with SIGPROF (it runs, or /proc cannot be used) */
  bool ran;               /* seen running on a CPU (tp_ask) */
  uint64_t runtime;       /* its CPU time at the last look (tp_ask) */
  const threadrec_t *rec; /* its record, if it has one */
} tp_meta_t;

/* How a dump goes: whether SIGPROF is ours, and whether /proc reads blocked threads' stacks. */
typedef struct tp_dump {
  sigdump_slot_t *slots;
  tp_meta_t *meta;
  size_t n;
  bool owned;
  bool proc_ok;
  bool matched; /* the records found (tp_match_records) */
  procstack_t ps;
} tp_dump_t;

/* ------------------------------------------------------------ /proc ------------------------ */

/* /proc's state letter in words. */
static const char *tp_state_word(char c) {
  static const struct {
    char c;
    const char *word;
  } words[] = {{'R', "running"},      {'S', "sleeping"}, {'D', "disk"}, {'T', "stopped"},
               {'t', "tracing stop"}, {'Z', "zombie"},   {'X', "dead"}, {'I', "idle"},
               {'P', "parked"},       {'W', "waking"}};
  for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
    if (words[i].c == c)
      return words[i].word;
  return "unknown";
}

/* Name and state from /proc/self/task/<tid>/stat; false when the thread is gone. */
static bool tp_read_stat(pid_t tid, tp_meta_t *m) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
  if (sys_read_file(path, buf, sizeof buf) <= 0)
    return false;
  char *open = strchr(buf, '('), *close = strrchr(buf, ')');
  if (open == NULL || close == NULL || close < open || close[1] != ' ')
    return false;
  size_t len = (size_t)(close - open - 1);
  if (len >= sizeof m->name)
    len = sizeof m->name - 1;
  memcpy(m->name, open + 1, len);
  m->name[len] = '\0';
  m->state = close[2];
  return true;
}

/* Whether the thread blocks SIGPROF (the SigBlk line of its status). */
static bool tp_blocks_sigprof(pid_t tid) {
  char path[64], buf[2048];
  snprintf(path, sizeof path, "/proc/self/task/%d/status", (int)tid);
  if (sys_read_file(path, buf, sizeof buf) <= 0)
    return false;
  const char *p = strstr(buf, "\nSigBlk:");
  if (p == NULL)
    return false;
  unsigned long long mask = strtoull(p + 8, NULL, 16);
  return (mask >> (SIGPROF - 1)) & 1;
}

/* The tids of the process, sorted, in memory mapped for them (*len bytes); NULL when none. */
static pid_t *tp_list(size_t *n, size_t *len) {
  for (size_t cap = 1024; cap <= THREADSPROF_MAX_THREADS; cap *= 2) {
    pid_t *tids = sys_map(cap * sizeof *tids);
    if (tids == NULL)
      return NULL;
    heap_guard_enter(); /* opendir allocates */
    int got = threads_list(tids, cap);
    heap_guard_exit();
    if (got < 0 || (size_t)got < cap || cap == THREADSPROF_MAX_THREADS) {
      *n = got > 0 ? (size_t)got : 0;
      *len = cap * sizeof *tids;
      return tids;
    }
    sys_unmap(tids, cap * sizeof *tids);
  }
  return NULL;
}

static int tp_tid_cmp(const void *a, const void *b) {
  pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
  return (x > y) - (x < y);
}

long threadsprof_count(void) {
  size_t n = 0, len = 0;
  pid_t *tids = tp_list(&n, &len);
  if (tids == NULL)
    return 0;
  sys_unmap(tids, len);
  return (long)n;
}

/* ------------------------------------------------------------ the dump -------------------- */

/* Decides from outside how each thread is heard from: the caller walks its own stack; the
 * profiler's threads and zombies get their pseudo-frame; a thread that /proc says is not running
 * is read from /proc (tp_capture); the others are to be signalled (tp_ask). */
static void tp_classify(tp_dump_t *d, uintptr_t from) {
  pid_t self = sys_gettid();
  for (size_t i = 0; i < d->n; i++) {
    sigdump_slot_t *s = &d->slots[i];
    tp_meta_t *m = &d->meta[i];
    m->pseudo = -1;
    if (!tp_read_stat(s->tid, m)) {
      atomic_store(&s->state, SIGDUMP_GONE);
      continue;
    }
    if (s->tid == self) {
      m->current = true;
      m->state = 'R';
      if (threads_self_is_profiler())
        m->pseudo = COUNT_PSEUDO_PROFILER;
      else
        sigdump_self(s, from);
    } else if (threads_is_profiler(s->tid)) {
      m->pseudo = COUNT_PSEUDO_PROFILER;
    } else if (m->state == 'Z' || m->state == 'X') {
      m->pseudo = COUNT_PSEUDO_EXITED;
    } else if (!d->proc_ok || m->state == 'R') {
      m->signal = true;
    }
  }
}

/* Finds each thread's record; gives back the records of threads that are gone. */
static void tp_match_records(tp_dump_t *d) {
  size_t limit = threadrec_limit();
  for (size_t i = 0; i < limit; i++) {
    threadrec_t *r = threadrec_at(i);
    pid_t tid = r != NULL ? threadrec_tid(r) : 0;
    if (tid <= 0)
      continue;
    size_t lo = 0, hi = d->n;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (d->slots[mid].tid < tid)
        lo = mid + 1;
      else
        hi = mid;
    }
    if (lo < d->n && d->slots[lo].tid == tid)
      d->meta[lo].rec = r;
    else if (!sys_thread_alive(tid))
      threadrec_drop(r, tid);
  }
}

/* Reads thread i's stack from /proc. A thread found running is left to be signalled; one that
 * cannot be read gets a pseudo-frame. */
static void tp_capture(tp_dump_t *d, size_t i) {
  sigdump_slot_t *s = &d->slots[i];
  tp_meta_t *m = &d->meta[i];
  int depth = 0;
  threadrec_info_t info;
  bool have_info = false;
  int rc =
      procstack_capture(&d->ps, s->tid, m->rec, s->pcs, COUNT_MAX_DEPTH, &depth, &info, &have_info);
  if (rc == 0) {
    s->depth = (uint32_t)depth;
    s->pcs[0] += 1; /* as a return address, as a signalled thread's answer has it */
    s->interrupted = true;
    if (have_info) {
      s->labels = info.labels;
      s->wait_what = info.wait_what;
      s->wait_obj = info.wait_obj;
      s->wait_since = info.wait_since;
      s->created_pc = info.created_pc;
      s->created_tid = info.created_tid;
    }
    atomic_store(&s->state, SIGDUMP_DONE);
  } else if (rc == -ESRCH) {
    atomic_store(&s->state, SIGDUMP_GONE);
  } else if (rc == -EAGAIN || rc == -ENOSYS) {
    d->proc_ok = d->proc_ok && rc != -ENOSYS;
    m->signal = true; /* it runs now (or /proc cannot tell): ask it */
  } else if (m->state == 'T' || m->state == 't') {
    m->pseudo = COUNT_PSEUDO_STOPPED;
  } else {
    m->pseudo = m->state == 'Z' || m->state == 'X' ? COUNT_PSEUDO_EXITED : COUNT_PSEUDO_UNREADABLE;
  }
}

/* Looks again at a thread to be signalled: one that is no longer running is read from /proc
 * instead. Returns whether it is still to be signalled. */
static bool tp_look_again(tp_dump_t *d, size_t i) {
  sigdump_slot_t *s = &d->slots[i];
  tp_meta_t *m = &d->meta[i];
  if (!tp_read_stat(s->tid, m)) {
    atomic_store(&s->state, SIGDUMP_GONE);
    m->signal = false;
  } else if (m->state == 'Z' || m->state == 'X') {
    m->pseudo = COUNT_PSEUDO_EXITED;
    m->signal = false;
  } else if (m->state != 'R') {
    m->signal = false;
    tp_capture(d, i); /* sets signal again if /proc finds it running after all */
  }
  return m->signal;
}

/* The CPU time tid has run, in ns (/proc/self/task/<tid>/schedstat), or 0 when the kernel does
 * not say. */
static uint64_t tp_runtime(pid_t tid) {
  char path[64], buf[128];
  snprintf(path, sizeof path, "/proc/self/task/%d/schedstat", (int)tid);
  return sys_read_file(path, buf, sizeof buf) > 0 ? strtoull(buf, NULL, 10) : 0;
}

/*
 * Decides which of the threads to be signalled are asked. A thread that /proc shows running (R)
 * may only be runnable: woken from a blocking call, still inside it, waiting for a CPU; a signal
 * then would still cut that call short (poll and select look for signals before they return on
 * their timeout). So each one is looked at again, after TP_RUNNING_GAP_NS, then twice as long
 * each time (31 ms in all), and read from /proc as soon as it is not running; it is asked only once
 * it has run (its CPU time grew between two looks: it was on a CPU, in its own code, not waiting
 * for one). One still waiting for a CPU at the last of TP_RUNNING_LOOKS looks is listed without its
 * stack (cprof_thread_runnable). An asked thread is looked at once more just before its signal
 * (tp_still_running). Returns how many are asked.
 */
static size_t tp_ask(tp_dump_t *d) {
  /* Without the signal, one look, for the threads that have blocked since. */
  int looks = d->owned ? TP_RUNNING_LOOKS : 1;
  for (int look = 0; d->proc_ok && look < looks; look++) {
    if (look > 0)
      sys_sleep_ns(TP_RUNNING_GAP_NS << (look - 1));
    bool waiting = false;
    for (size_t i = 0; i < d->n; i++) {
      tp_meta_t *m = &d->meta[i];
      if (!m->signal || m->ran || atomic_load(&d->slots[i].state) != SIGDUMP_SKIP ||
          !tp_look_again(d, i))
        continue;
      uint64_t runtime = tp_runtime(d->slots[i].tid);
      m->ran = look > 0 && (runtime != m->runtime || runtime == 0);
      m->runtime = runtime;
      waiting |= !m->ran;
    }
    if (!waiting)
      break;
  }
  size_t asked = 0;
  for (size_t i = 0; i < d->n; i++) {
    sigdump_slot_t *s = &d->slots[i];
    tp_meta_t *m = &d->meta[i];
    if (!m->signal || atomic_load(&s->state) != SIGDUMP_SKIP)
      continue;
    if (m->state == 'T' || m->state == 't')
      m->pseudo = COUNT_PSEUDO_STOPPED;
    else if (!d->owned)
      m->pseudo = COUNT_PSEUDO_SIGPROF_TAKEN;
    else if (tp_blocks_sigprof(s->tid))
      m->pseudo = COUNT_PSEUDO_SIGNALS_BLOCKED;
    else if (d->proc_ok && !m->ran)
      m->pseudo = COUNT_PSEUDO_RUNNABLE;
    else {
      atomic_store(&s->state, SIGDUMP_ASKED);
      asked++;
    }
  }
  return asked;
}

/* Drops the frames of libcprof's pthread hooks (sync.c) from a thread's stack, as every other
 * profile does: a thread waiting in pthread_cond_wait shows the program's call and glibc's wait,
 * not the hook between them. */
static void tp_drop_hook_frames(sigdump_slot_t *s) {
  uint32_t kept = 0;
  for (uint32_t i = 0; i < s->depth; i++)
    if (!sync_hooks_code_has(s->pcs[i]))
      s->pcs[kept++] = s->pcs[i];
  if (kept > 0) /* (never an empty stack) */
    s->depth = kept;
}

/* The details of one thread for debug=2; pcs point at its record's copy. */
static void tp_info_fill(rt_thread_info_t *t, const sigdump_slot_t *s, const tp_meta_t *m,
                         const count_rec_t *rec, const char *name, int64_t now) {
  *t = (rt_thread_info_t){
      .tid = s->tid, .name = name, .state = tp_state_word(m->state), .current = m->current};
  if (rec->synthetic != NULL) {
    t->synthetic = rec->synthetic;
    t->why = count_pseudo_why((count_pseudo_t)m->pseudo);
    return;
  }
  t->pcs = rec->pcs;
  t->depth = rec->depth;
  t->leaf_interrupted = s->interrupted;
  if (s->wait_what != NULL) {
    t->wait = s->wait_what;
    t->wait_obj = (uintptr_t)s->wait_obj;
    t->wait_ns = now - s->wait_since;
  }
  t->created_pc = s->created_pc;
  t->created_tid = s->created_tid;
  if (s->labels != 0)
    t->labels = labels_of(s->labels, &t->nlabels);
}

/* One record and one thread entry per thread that still exists. */
static int tp_build(count_snap_t *snap, sigdump_slot_t *slots, tp_meta_t *meta, size_t n) {
  int64_t now = sys_now_mono();
  snap->threads = count_snap_alloc(snap, (n + 1) * sizeof *snap->threads);
  if (snap->threads == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    sigdump_slot_t *s = &slots[i];
    tp_meta_t *m = &meta[i];
    int state = atomic_load(&s->state);
    if (state == SIGDUMP_GONE)
      continue;
    if (state != SIGDUMP_DONE && m->pseudo < 0)
      m->pseudo = COUNT_PSEUDO_NO_ANSWER; /* LATE, or WRITING when the handler never finished */
    if (!m->current && ((state == SIGDUMP_DONE && s->profiler) ||
                        (m->pseudo != COUNT_PSEUDO_PROFILER && threads_is_profiler(s->tid))))
      m->pseudo = COUNT_PSEUDO_PROFILER; /* one that was just starting, not yet in the registry */
    uint32_t labels = m->pseudo < 0 ? s->labels : 0;
    if (m->pseudo < 0)
      tp_drop_hook_frames(s);
    int rc = m->pseudo >= 0 ? count_snap_add_pseudo(snap, (count_pseudo_t)m->pseudo, 0, 1)
                            : count_snap_add(snap, s->pcs, s->depth, labels, 1);
    char *name = count_snap_alloc(snap, strlen(m->name) + 1);
    if (rc != 0 || name == NULL)
      return rc != 0 ? rc : -ENOMEM;
    strcpy(name, m->name);
    rt_thread_info_t *t = &snap->threads[snap->nthreads++];
    tp_info_fill(t, s, m, &snap->recs[snap->nrecs - 1], name, now);
    if (m->current && t != snap->threads) { /* the caller first, the others by tid */
      rt_thread_info_t cur = *t;
      memmove(snap->threads + 1, snap->threads, (size_t)(t - snap->threads) * sizeof *t);
      snap->threads[0] = cur;
    }
  }
  return 0;
}

/* sigdump_check_fn: the thread still runs, just before its signal (else it is read from /proc
 * after the others have answered). */
static bool tp_still_running(size_t i, void *arg) {
  tp_dump_t *d = arg;
  tp_meta_t *m = &d->meta[i];
  if (!d->proc_ok || !tp_read_stat(d->slots[i].tid, m) || m->state == 'R')
    return true; /* a thread gone is found gone by the signal */
  m->signal = false;
  return false;
}

/* Reads from /proc the stacks of the threads that are not running. */
static void tp_capture_all(tp_dump_t *d) {
  if (!d->proc_ok)
    return;
  if (!d->matched)
    tp_match_records(d);
  d->matched = true;
  for (size_t i = 0; i < d->n; i++) {
    tp_meta_t *m = &d->meta[i];
    if (atomic_load(&d->slots[i].state) != SIGDUMP_SKIP || m->pseudo >= 0 || m->signal ||
        m->current)
      continue;
    if (d->proc_ok)
      tp_capture(d, i);
    else
      m->signal = true; /* /proc turned out not to tell: as on other architectures */
  }
}

static count_snap_t *tp_dump(pid_t *tids, size_t n, uintptr_t from) {
  size_t len = n * (sizeof(sigdump_slot_t) + sizeof(tp_meta_t)) + 1;
  void *mem = sys_map(len);
  count_snap_t *snap = count_snap_new("goroutine", n);
  tp_dump_t d = {.slots = mem, .n = n};
  if (mem == NULL || snap == NULL) {
    if (mem != NULL)
      sys_unmap(mem, len);
    count_snap_free(snap);
    return NULL;
  }
  d.meta = (tp_meta_t *)(d.slots + n);
  for (size_t i = 0; i < n; i++)
    d.slots[i].tid = tids[i];
#if defined(PROCSTACK_WORKS)
  d.proc_ok = procstack_init(&d.ps) == 0;
#endif
  d.owned = sigprof_claim() == 0;
  tp_classify(&d, from);
  tp_capture_all(&d);
  bool drained = true;
  if (tp_ask(&d) > 0 && sigdump_collect(d.slots, n, THREADSPROF_TIMEOUT_NS, tp_still_running, &d,
                                        &drained) == -EAGAIN)
    snap->note = "cprof: the program took SIGPROF during the dump: running threads that were not "
                 "asked in time are listed without their stacks";
  tp_capture_all(&d); /* the threads that blocked just before their signal */
  /* A profiler thread just created may have been taken for the program's: let it register. */
  for (int waited = 0; threads_profiler_starting() && waited < TP_BIRTH_WAIT_MS; waited++)
    sys_sleep_ns(1000000);
  if (!d.owned)
    snap->note = d.proc_ok ? "cprof: SIGPROF belongs to the program: running threads are listed "
                             "from /proc, without their stacks"
                           : "cprof: SIGPROF belongs to the program: threads are listed from "
                             "/proc, without their stacks";
  procstack_fini(&d.ps);
  int rc = tp_build(snap, d.slots, d.meta, n);
  if (drained) /* else a handler may still be inside the slots: leave them mapped */
    sys_unmap(mem, len);
  if (rc != 0) {
    count_snap_free(snap);
    return NULL;
  }
  count_snap_finish(snap);
  return snap;
}

/* In a fork child: a parent thread may have held the lock, or been inside a dump. */
static void tp_after_fork_child(void) {
  pthread_mutex_init(&threadsprof_lock, NULL);
  sigdump_after_fork_child();
}

static void tp_register_atfork(void) { pthread_atfork(NULL, NULL, tp_after_fork_child); }

count_snap_t *threadsprof_snapshot(uintptr_t from) {
  static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
  pthread_once(&atfork_once, tp_register_atfork);
  const ext_api_t *ext = ext_get();
  heap_guard_enter(); /* building them allocates: the profiler's memory */
  if (ext != NULL)
    tables_ensure(ext); /* the threads walk their stacks with them */
  heap_guard_exit();
  pthread_mutex_lock(&threadsprof_lock);
  threads_profiler_prune();
  size_t n = 0, len = 0;
  pid_t *tids = tp_list(&n, &len);
  count_snap_t *snap = NULL;
  if (tids != NULL) {
    qsort(tids, n, sizeof *tids, tp_tid_cmp);
    snap = tp_dump(tids, n, from);
    sys_unmap(tids, len);
  }
  pthread_mutex_unlock(&threadsprof_lock);
  return snap;
}
