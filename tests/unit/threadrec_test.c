/*
 * threadrec_test.c — the per-thread records the threads profile reads for threads it does not
 * signal (threadrec.c), through the calls that fill them (threads.h, cprof.h) and read from
 * other threads as a dump reads them.
 *
 *   1. The main thread has no record until it enters a profiled wait; then its record, read from
 *      another thread, names it and says what it waits on, on what, since when; labels pushed
 *      afterwards are in the record too, and the end of the wait clears it.
 *   2. A thread made through the pthread_create hook starts with a record: its creator's tid, the
 *      return address of the pthread_create call (inside the creating function), the labels it
 *      inherited; when it has exited (joined) its record no longer names it, and a reader holding
 *      the record sees the change (threadrec_read fails).
 *   3. Records are reused: 64 threads made and joined, 4 at a time, leave the registry no larger
 *      than a handful of records.
 *   4. fork: in the child, the forking thread's record names the child's tid and the other
 *      threads' records are free.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cprof.h"
#include "runtime/labels.h"
#include "runtime/threadrec.h"
#include "runtime/threads.h"
#include "test.h"

#define NOFOLD __attribute__((noinline, noclone, no_icf))

static pid_t gettid_(void) { return (pid_t)syscall(SYS_gettid); }

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The record that names tid, or NULL. */
static const threadrec_t *find(pid_t tid) {
  for (size_t i = 0; i < threadrec_limit(); i++) {
    const threadrec_t *r = threadrec_at(i);
    if (r != NULL && threadrec_tid(r) == tid)
      return r;
  }
  return NULL;
}

/* ------------------------------------------------------------ 1: the main thread ------------ */

typedef struct peek {
  pid_t tid;
  bool found, read;
  threadrec_info_t info;
} peek_t;

static void *reader_main(void *arg) {
  peek_t *p = arg;
  const threadrec_t *r = find(p->tid);
  p->found = r != NULL;
  p->read = r != NULL && threadrec_read(r, p->tid, &p->info);
  return NULL;
}

/* Reads tid's record from another thread, as a dump does. */
static peek_t peek_from_other(pid_t tid) {
  peek_t p = {.tid = tid};
  pthread_t t;
  pthread_create(&t, NULL, reader_main, &p);
  pthread_join(t, NULL);
  return p;
}

static int waited_on;

static void test_main_thread(void) {
  pid_t me = gettid_();
  CHECK(threadrec_peek() == NULL && find(me) == NULL, "the main thread has a record already");
  int64_t before = mono_ns();
  threads_wait_begin("cond", &waited_on);
  peek_t p = peek_from_other(me);
  CHECK(p.found && p.read, "the main thread's record, read from another thread");
  CHECK(p.info.wait_what != NULL && strcmp(p.info.wait_what, "cond") == 0 &&
            p.info.wait_obj == &waited_on && p.info.wait_since >= before &&
            p.info.wait_since <= mono_ns(),
        "the wait in the record: %s %p", p.info.wait_what ? p.info.wait_what : "(none)",
        p.info.wait_obj);
  CHECK(p.info.created_pc == 0 && p.info.created_tid == 0, "the main thread has no creator");
  int token = cprof_label_push("tenant", "acme");
  p = peek_from_other(me);
  CHECK(p.read && p.info.labels == labels_current() && p.info.labels != 0,
        "the labels in the record: %u, want %u", p.info.labels, labels_current());
  threads_wait_end();
  cprof_label_pop(token);
  p = peek_from_other(me);
  CHECK(p.read && p.info.wait_what == NULL && p.info.labels == 0,
        "the wait and the labels gone from the record");
}

/* ------------------------------------------------------------ 2: a hooked thread ----------- */

static pthread_barrier_t hold;
static const threadrec_t *child_rec;
static pid_t child_tid;

static void *child_main(void *arg) {
  child_tid = gettid_();
  child_rec = threadrec_peek();
  pthread_barrier_wait(&hold); /* the parent reads the record */
  pthread_barrier_wait(&hold);
  return arg;
}

static uintptr_t spawn_pc_lo, spawn_pc_hi;

NOFOLD static pthread_t spawn_child(void) {
  pthread_t t;
  pthread_create(&t, NULL, child_main, NULL);
  __asm__ volatile("" ::: "memory");
  return t;
}

static void test_hooked_thread(void) {
  int token = cprof_label_push("job", "import");
  uint32_t labels = labels_current();
  pthread_barrier_init(&hold, NULL, 2);
  pthread_t t = spawn_child();
  pthread_barrier_wait(&hold);
  threadrec_info_t info;
  CHECK(child_rec != NULL && threadrec_read(child_rec, child_tid, &info),
        "a hooked thread starts with a record");
  spawn_pc_lo = (uintptr_t)spawn_child;
  spawn_pc_hi = spawn_pc_lo + 256;
  if (child_rec != NULL && threadrec_read(child_rec, child_tid, &info)) {
    CHECK(info.created_tid == gettid_(), "created by %d, want %d", info.created_tid, gettid_());
    CHECK(info.created_pc > spawn_pc_lo && info.created_pc < spawn_pc_hi,
          "created at %#lx, want inside spawn_child at %#lx", (unsigned long)info.created_pc,
          (unsigned long)spawn_pc_lo);
    CHECK(info.labels == labels && labels != 0, "inherited labels %u, want %u", info.labels,
          labels);
  }
  cprof_label_pop(token);
  pthread_barrier_wait(&hold);
  pthread_join(t, NULL);
  CHECK(child_rec == NULL || !threadrec_read(child_rec, child_tid, &info),
        "an exited thread's record still names it");
  CHECK(find(child_tid) == NULL, "an exited thread still has a record");
}

/* ------------------------------------------------------------ 3: reuse --------------------- */

static void *nothing(void *arg) { return arg; }

static void test_reuse(void) {
  size_t before = threadrec_limit();
  for (int round = 0; round < 16; round++) {
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
      pthread_create(&t[i], NULL, nothing, NULL);
    for (int i = 0; i < 4; i++)
      pthread_join(t[i], NULL);
  }
  CHECK(threadrec_limit() <= before + 4, "64 threads, 4 at a time, took %zu records (had %zu)",
        threadrec_limit(), before);
}

/* ------------------------------------------------------------ 4: fork ---------------------- */

static void *parked(void *arg) {
  pthread_barrier_wait(&hold);
  return arg;
}

static void test_fork(void) {
  pthread_barrier_init(&hold, NULL, 2);
  pthread_t t;
  pthread_create(&t, NULL, parked, NULL);
  threads_wait_begin("join", &t); /* the main thread has a record (test 1 made it) */
  int fds[2];
  CHECK(pipe(fds) == 0);
  pid_t child = fork();
  if (child == 0) {
    pid_t me = gettid_();
    const threadrec_t *mine = threadrec_peek();
    int ok = mine != NULL && threadrec_tid(mine) == me && find(me) == mine;
    size_t others = 0;
    for (size_t i = 0; i < threadrec_limit(); i++) {
      const threadrec_t *r = threadrec_at(i);
      others += r != NULL && r != mine && threadrec_tid(r) != 0;
    }
    char answer = ok && others == 0 ? 'y' : 'n';
    if (write(fds[1], &answer, 1) != 1)
      _exit(2);
    _exit(0);
  }
  char answer = 0;
  CHECK(read(fds[0], &answer, 1) == 1 && answer == 'y',
        "in the fork child the forking thread's record names it and no other record is in use");
  waitpid(child, NULL, 0);
  threads_wait_end();
  pthread_barrier_wait(&hold);
  pthread_join(t, NULL);
  close(fds[0]);
  close(fds[1]);
}

int main(void) {
  test_main_thread();
  test_hooked_thread();
  test_reuse();
  test_fork();
  return TEST_DONE("threadrec_test");
}
