/*
 * sys.h — every operating-system call the core runtime makes, in one place.
 *
 * The core calls the kernel through these thin wrappers so that the calls a signal handler may make
 * are easy to audit (they are marked async-signal-safe below: raw syscalls, no libc state) and so
 * that tests can see, in one file, everything the runtime asks of the OS. Wrappers return 0 or a
 * non-negative result on success and a negative errno on failure, never setting errno themselves
 * where they say so.
 */
#ifndef CPROF_RUNTIME_SYS_H
#define CPROF_RUNTIME_SYS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/* The caller's kernel thread id. Async-signal-safe. */
pid_t sys_gettid(void);

/* Nanoseconds on CLOCK_MONOTONIC / CLOCK_REALTIME. Async-signal-safe (vDSO). */
int64_t sys_now_mono(void);
int64_t sys_now_real(void);

/* Sleeps for ns nanoseconds, resuming after signals. */
void sys_sleep_ns(int64_t ns);

/* ------------------------------------------------------------ CPU timers ------------------ */

/* Opens a task-clock perf event on thread tid that sends SIGPROF to that thread after first_ns of
 * its CPU time, disabled until sys_perf_refresh(). Returns the fd or a negative errno. */
int sys_perf_open_task_clock(pid_t tid, uint64_t first_ns);

/* Sets the event's period for the overflows after the next one. Async-signal-safe. */
int sys_perf_set_period(int fd, uint64_t period_ns);

/* Enables the event for one more overflow. Async-signal-safe. Returns 0 or -errno, errno kept. */
int sys_perf_refresh(int fd);

/* Creates a POSIX timer on tid's CPU-time clock that sends SIGPROF to tid after first_ns and then
 * every period_ns. Returns 0 and the timer in *out, or a negative errno. */
int sys_thread_timer_create(pid_t tid, int64_t first_ns, int64_t period_ns, timer_t *out);
int sys_thread_timer_delete(timer_t t);

/* The process-wide ITIMER_PROF; period_ns 0 disarms. */
int sys_itimer_prof(int64_t period_ns);

/* ------------------------------------------------------------ files ------------------------ */

/* Raw open/read/close that leave errno alone. Async-signal-safe. */
int sys_open_ro(const char *path);
ssize_t sys_read(int fd, void *buf, size_t len);
void sys_close(int fd);

/* Writes all of buf, retrying on EINTR and short writes. 0 or -errno. */
int sys_write_all(int fd, const void *buf, size_t len);

/* Anonymous memory from the kernel, zeroed; NULL on failure. */
void *sys_map(size_t len);
void sys_unmap(void *p, size_t len);

/* Whether /proc/self/task/<tid> still exists. */
int sys_thread_alive(pid_t tid);

/* Sends sig to thread tid of process pid. 0 or -errno (-ESRCH: no such thread), errno kept. */
int sys_tgkill(pid_t pid, pid_t tid, int sig);

/* Copies len bytes of this process's memory at addr into buf without ever faulting: an address
 * that is not mapped (a thread's stack unmapped meanwhile) gives a short count or -EFAULT. The
 * count, or -errno; errno kept. Async-signal-safe. */
ssize_t sys_read_self_mem(void *buf, uintptr_t addr, size_t len);

/* Reads up to len - 1 bytes of the file at path into buf, NUL-terminated. The length, or -errno. */
ssize_t sys_read_file(const char *path, char *buf, size_t len);

#endif /* CPROF_RUNTIME_SYS_H */
