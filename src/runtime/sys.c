/*
 * sys.c — the core runtime's operating-system calls (see sys.h).
 *
 * Calls that may run in the SIGPROF handler go straight to syscall() and save and restore errno, so
 * that the interrupted code never sees it change. The rest are ordinary libc calls wrapped to return
 * negative errno values, the runtime's error convention.
 */
#define _GNU_SOURCE
#include "runtime/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

pid_t sys_gettid(void) {
  int e = errno;
  pid_t t = (pid_t)syscall(SYS_gettid);
  errno = e;
  return t;
}

static int64_t now(clockid_t c) {
  struct timespec ts;
  int e = errno;
  clock_gettime(c, &ts);
  errno = e;
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t sys_now_mono(void) { return now(CLOCK_MONOTONIC); }
int64_t sys_now_real(void) { return now(CLOCK_REALTIME); }

void sys_sleep_ns(int64_t ns) {
  struct timespec ts = {.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* ------------------------------------------------------------ CPU timers ------------------ */

int sys_perf_open_task_clock(pid_t tid, uint64_t first_ns) {
  struct perf_event_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.size = sizeof attr;
  attr.type = PERF_TYPE_SOFTWARE;
  attr.config = PERF_COUNT_SW_TASK_CLOCK;
  attr.sample_period = first_ns;
  attr.disabled = 1;
  attr.wakeup_events = 1;
  /* Count kernel time too, as setitimer does; fall back to user time only where the kernel's
   * perf_event_paranoid forbids it (time in syscalls then goes unsampled). */
  int fd = (int)syscall(SYS_perf_event_open, &attr, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
  if (fd < 0 && (errno == EACCES || errno == EPERM)) {
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    fd = (int)syscall(SYS_perf_event_open, &attr, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
  }
  if (fd < 0)
    return -errno;
  struct f_owner_ex owner = {.type = F_OWNER_TID, .pid = tid};
  if (fcntl(fd, F_SETOWN_EX, &owner) != 0 || fcntl(fd, F_SETSIG, SIGPROF) != 0 ||
      fcntl(fd, F_SETFL, O_ASYNC) != 0) {
    int e = errno;
    close(fd);
    return -e;
  }
  return fd;
}

int sys_perf_refresh(int fd) {
  int e = errno;
  long r = syscall(SYS_ioctl, fd, PERF_EVENT_IOC_REFRESH, 1);
  int rc = r < 0 ? -errno : 0;
  errno = e;
  return rc;
}

int sys_perf_set_period(int fd, uint64_t period_ns) {
  int e = errno;
  long r = syscall(SYS_ioctl, fd, PERF_EVENT_IOC_PERIOD, &period_ns);
  int rc = r < 0 ? -errno : 0;
  errno = e;
  return rc;
}

int sys_thread_timer_create(pid_t tid, int64_t first_ns, int64_t period_ns, timer_t *out) {
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_THREAD_ID;
  sev.sigev_signo = SIGPROF;
  sev._sigev_un._tid = tid;
  /* The CPU-time clock of one thread, as the kernel encodes it (MAKE_THREAD_CPUCLOCK(tid, SCHED)). */
  clockid_t clock = (clockid_t)((~(unsigned)tid << 3) | 6);
  timer_t t;
  if (timer_create(clock, &sev, &t) != 0)
    return -errno;
  struct itimerspec its = {
      .it_interval = {.tv_sec = period_ns / 1000000000, .tv_nsec = period_ns % 1000000000},
      .it_value = {.tv_sec = first_ns / 1000000000, .tv_nsec = first_ns % 1000000000},
  };
  if (timer_settime(t, 0, &its, NULL) != 0) {
    int e = errno;
    timer_delete(t);
    return -e;
  }
  *out = t;
  return 0;
}

int sys_thread_timer_delete(timer_t t) { return timer_delete(t) == 0 ? 0 : -errno; }

int sys_itimer_prof(int64_t period_ns) {
  struct itimerval it = {
      .it_interval = {.tv_sec = period_ns / 1000000000, .tv_usec = (period_ns % 1000000000) / 1000},
      .it_value = {.tv_sec = period_ns / 1000000000, .tv_usec = (period_ns % 1000000000) / 1000},
  };
  return setitimer(ITIMER_PROF, &it, NULL) == 0 ? 0 : -errno;
}

/* ------------------------------------------------------------ files ------------------------ */

int sys_open_ro(const char *path) {
  int e = errno;
  int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  int rc = fd < 0 ? -errno : fd;
  errno = e;
  return rc;
}

ssize_t sys_read(int fd, void *buf, size_t len) {
  int e = errno;
  ssize_t n;
  do {
    n = syscall(SYS_read, fd, buf, len);
  } while (n < 0 && errno == EINTR);
  ssize_t rc = n < 0 ? -errno : n;
  errno = e;
  return rc;
}

void sys_close(int fd) {
  int e = errno;
  syscall(SYS_close, fd);
  errno = e;
}

int sys_write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return -errno;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

void *sys_map(size_t len) {
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

void sys_unmap(void *p, size_t len) {
  if (p)
    munmap(p, len);
}

int sys_thread_alive(pid_t tid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%d", (int)tid);
  struct stat st;
  return stat(path, &st) == 0;
}

int sys_tgkill(pid_t pid, pid_t tid, int sig) {
  int e = errno;
  int rc = syscall(SYS_tgkill, pid, tid, sig) == 0 ? 0 : -errno;
  errno = e;
  return rc;
}

ssize_t sys_read_file(const char *path, char *buf, size_t len) {
  int fd = sys_open_ro(path);
  if (fd < 0)
    return fd;
  size_t n = 0;
  ssize_t got = 0;
  while (n + 1 < len && (got = sys_read(fd, buf + n, len - 1 - n)) > 0)
    n += (size_t)got;
  sys_close(fd);
  buf[n] = '\0';
  return got < 0 && n == 0 ? got : (ssize_t)n;
}

/* process_vm_readv on our own pid, or, where it is not allowed (an old kernel, a seccomp filter),
 * a read of /proc/self/mem: both report a fault as an error or a short count. */
ssize_t sys_read_self_mem(void *buf, uintptr_t addr, size_t len) {
  int e = errno;
  struct iovec local = {buf, len}, remote = {(void *)addr, len};
  ssize_t n = syscall(SYS_process_vm_readv, getpid(), &local, 1UL, &remote, 1UL, 0UL);
  if (n < 0 && (errno == ENOSYS || errno == EPERM)) {
    int fd = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/mem", O_RDONLY | O_CLOEXEC);
    n = fd < 0 ? -1 : syscall(SYS_pread64, fd, buf, len, (off_t)addr);
    if (fd >= 0)
      syscall(SYS_close, fd);
  }
  ssize_t rc = n >= 0 ? n : -errno;
  errno = e;
  return rc;
}
