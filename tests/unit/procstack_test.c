/*
 * procstack_test.c — reading a blocked thread's stack from outside it (procstack.c).
 *
 *   1. A thread sleeping in nanosleep inside ps_sleep(), in a profiled wait: the capture succeeds;
 *      pcs[0] is in libc (where the thread resumes), ps_sleep and ps_sleeper_main follow in that
 *      order; the record read meanwhile names the wait; and the thread's sleep is not cut short.
 *   2. A spinning thread: -EAGAIN (running: a dump signals it instead).
 *   3. A thread that has exited (joined): -ESRCH.
 *   4. 200 captures of the sleeper in a row take the same stack each time.
 * The unwind tables are built first by a dump (cprof_write_profile), as a real dump does.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "cprof.h"
#include "runtime/countprof.h"
#include "runtime/procstack.h"
#include "runtime/threads.h"
#include "test.h"

#define NOFOLD __attribute__((noinline, noclone, no_icf))

static atomic_int sleeper_tid, spinner_tid, stop, sleep_cut;
static int wait_obj;

NOFOLD void ps_sleep(void) {
  threads_wait_begin("sem", &wait_obj);
  struct timespec ts = {1, 500000000}, t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  atomic_store(&sleeper_tid, (int)syscall(SYS_gettid));
  int rc = nanosleep(&ts, NULL);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  int64_t took = (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
  atomic_store(&sleep_cut, rc != 0 || took < 1500000000LL);
  threads_wait_end();
}

NOFOLD void *ps_sleeper_main(void *arg) {
  ps_sleep();
  __asm__ volatile("" ::: "memory");
  return arg;
}

NOFOLD void *ps_spinner_main(void *arg) {
  atomic_store(&spinner_tid, (int)syscall(SYS_gettid));
  while (!atomic_load(&stop))
    __asm__ volatile("" ::: "memory");
  return arg;
}

/* Whether return address pc was a call from the function at fn (within 512 bytes). */
static bool ret_in(uintptr_t pc, void *fn) {
  return pc - 1 >= (uintptr_t)fn && pc - 1 < (uintptr_t)fn + 512;
}

static bool in_libc(uintptr_t pc) {
  Dl_info di;
  return dladdr((void *)pc, &di) != 0 && di.dli_fname != NULL &&
         strstr(di.dli_fname, "libc.so") != NULL;
}

int main(void) {
  int null = open("/dev/null", O_WRONLY);
  CHECK(cprof_write_profile("goroutine", null, 0) == 0, "a dump builds the tables");
  pthread_t sl, sp;
  pthread_create(&sl, NULL, ps_sleeper_main, NULL);
  pthread_create(&sp, NULL, ps_spinner_main, NULL);
  while (atomic_load(&sleeper_tid) == 0 || atomic_load(&spinner_tid) == 0)
    usleep(1000);
  usleep(100000); /* asleep by now */

  procstack_t ps;
  CHECK(procstack_init(&ps) == 0);
  pid_t tid = (pid_t)atomic_load(&sleeper_tid);
  const threadrec_t *rec = NULL;
  for (size_t i = 0; i < threadrec_limit() && rec == NULL; i++)
    if (threadrec_at(i) != NULL && threadrec_tid(threadrec_at(i)) == tid)
      rec = threadrec_at(i);
  uintptr_t pcs[COUNT_MAX_DEPTH], first[COUNT_MAX_DEPTH];
  int depth = 0, first_depth = 0;
  threadrec_info_t info;
  bool have = false;
  int rc = procstack_capture(&ps, tid, rec, pcs, COUNT_MAX_DEPTH, &depth, &info, &have);
  CHECK(rc == 0 && depth >= 3, "the sleeper: rc %d, depth %d", rc, depth);
  if (rc == 0 && depth >= 3) {
    int k = 1;
    while (k < depth && !ret_in(pcs[k], (void *)ps_sleep))
      k++;
    CHECK(in_libc(pcs[0]), "pcs[0] %#lx is not in libc", (unsigned long)pcs[0]);
    CHECK(k + 1 < depth && ret_in(pcs[k + 1], (void *)ps_sleeper_main),
          "ps_sleep then ps_sleeper_main on the stack");
  }
  CHECK(rec != NULL && have && info.wait_what != NULL && strcmp(info.wait_what, "sem") == 0 &&
            info.wait_obj == &wait_obj,
        "the record read during the capture names the wait");
  memcpy(first, pcs, sizeof pcs);
  first_depth = depth;
  int same = 0;
  for (int i = 0; i < 200; i++) {
    rc = procstack_capture(&ps, tid, rec, pcs, COUNT_MAX_DEPTH, &depth, &info, &have);
    same +=
        rc == 0 && depth == first_depth && memcmp(pcs, first, (size_t)depth * sizeof pcs[0]) == 0;
  }
  CHECK(same == 200, "%d of 200 captures of the sleeper equal the first", same);

  rc = procstack_capture(&ps, (pid_t)atomic_load(&spinner_tid), NULL, pcs, COUNT_MAX_DEPTH, &depth,
                         &info, &have);
  CHECK(rc == -EAGAIN, "the spinner: rc %d, want -EAGAIN (running)", rc);
  atomic_store(&stop, 1);
  pthread_join(sp, NULL);
  pthread_join(sl, NULL);
  CHECK(!atomic_load(&sleep_cut), "the sleeper's nanosleep was cut short");
  rc = procstack_capture(&ps, tid, NULL, pcs, COUNT_MAX_DEPTH, &depth, &info, &have);
  CHECK(rc == -ESRCH, "a thread gone: rc %d, want -ESRCH", rc);
  procstack_fini(&ps);
  close(null);
  return TEST_DONE("procstack_test");
}
