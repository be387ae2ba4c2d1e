/*
 * bg.c — the background thread and its jobs (see bg.h).
 *
 * The jobs live in a small fixed table under bg_lock. The thread sleeps until the earliest job is
 * due (at most BG_IDLE_NS) and runs, with bg_lock held, every job whose time has come; so
 * bg_remove, which takes bg_lock, returns only when the job is not running. A job added while the
 * thread sleeps runs at the latest one BG_IDLE_NS late. Jobs must not call bg_add or bg_remove.
 */
#define _GNU_SOURCE
#include "runtime/bg.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "runtime/sys.h"
#include "runtime/threads.h"

#define BG_MAX_JOBS 8
#define BG_IDLE_NS 20000000LL /* the longest sleep: jobs are added with periods of 20 ms or more */

typedef struct bg_job {
  void (*fn)(void);
  int64_t period, next;
} bg_job_t;

static pthread_mutex_t bg_lock = PTHREAD_MUTEX_INITIALIZER;
static bg_job_t bg_jobs[BG_MAX_JOBS];
static int bg_njobs;
static int bg_started;
static _Atomic pid_t bg_thread_tid;

static void *bg_main(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "cprof-bg");
  atomic_store(&bg_thread_tid, sys_gettid());
  int64_t sleep = BG_IDLE_NS;
  for (;;) {
    sys_sleep_ns(sleep);
    pthread_mutex_lock(&bg_lock);
    int64_t now = sys_now_mono();
    int64_t due = now + BG_IDLE_NS;
    for (int i = 0; i < bg_njobs; i++) {
      if (now >= bg_jobs[i].next) {
        bg_jobs[i].fn();
        bg_jobs[i].next = sys_now_mono() + bg_jobs[i].period;
      }
      if (bg_jobs[i].next < due)
        due = bg_jobs[i].next;
    }
    pthread_mutex_unlock(&bg_lock);
    sleep = due - sys_now_mono();
    if (sleep < 1000000)
      sleep = 1000000;
  }
  return NULL;
}

static void register_atfork(void) { pthread_atfork(NULL, NULL, bg_after_fork_child); }

int bg_add(void (*fn)(void), int64_t period_ns) {
  pthread_mutex_lock(&bg_lock);
  int rc = 0;
  if (!bg_started) {
    static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
    pthread_once(&atfork_once, register_atfork);
    pthread_t t;
    rc = threads_create_internal(&t, bg_main, NULL);
    if (rc == 0) {
      pthread_detach(t);
      bg_started = 1;
    }
  }
  int i = 0;
  while (rc == 0 && i < bg_njobs && bg_jobs[i].fn != fn)
    i++;
  if (rc == 0 && i == bg_njobs)
    rc = bg_njobs < BG_MAX_JOBS ? (bg_njobs++, 0) : -ENOSPC;
  if (rc == 0)
    bg_jobs[i] = (bg_job_t){.fn = fn, .period = period_ns, .next = sys_now_mono() + period_ns};
  pthread_mutex_unlock(&bg_lock);
  if (rc == 0)
    while (atomic_load(&bg_thread_tid) == 0)
      sys_sleep_ns(50000);
  return rc;
}

void bg_remove(void (*fn)(void)) {
  pthread_mutex_lock(&bg_lock);
  for (int i = 0; i < bg_njobs; i++) {
    if (bg_jobs[i].fn == fn) {
      bg_jobs[i] = bg_jobs[--bg_njobs];
      break;
    }
  }
  pthread_mutex_unlock(&bg_lock);
}

pid_t bg_tid(void) { return atomic_load(&bg_thread_tid); }

void bg_after_fork_child(void) {
  pthread_mutex_init(&bg_lock, NULL);
  bg_njobs = 0;
  bg_started = 0;
  atomic_store(&bg_thread_tid, 0);
}
