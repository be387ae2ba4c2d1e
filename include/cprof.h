/*
 * cprof.h — the public API of libcprof, the runtime/pprof of C.
 *
 * libcprof profiles the process it is loaded into and writes Go's profile.proto (gzipped), which
 * `go tool pprof` and `cprof` read. It can be linked in (-lcprof, see `pkg-config cprof`) or attached
 * to an unmodified program with LD_PRELOAD and the CPROF_* environment variables (README.md).
 *
 * Every function here is safe to call from any thread, never aborts the host process and reports
 * failure as a negative errno value (0 on success). None of them may be called from a signal handler.
 */
#ifndef CPROF_H
#define CPROF_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CPROF_API __attribute__((visibility("default")))

#define CPROF_VERSION_MAJOR 0
#define CPROF_VERSION_MINOR 1

/* ---------------------------------------------------------------- CPU profile ---------------- */

/*
 * Starts a CPU profile that will be written to fd, gzipped profile.proto, when it stops. Every
 * thread of the process is sampled in proportion to the CPU time it uses, at the rate set by
 * cprof_set_cpu_profile_rate() (default 100 Hz, or CPROF_HZ). fd stays owned by the caller and
 * must stay open until cprof_stop_cpu_profile() returns.
 *
 * Errors: -EBUSY a CPU profile is already running; -EBADF fd is not open for writing;
 * -EBUSY also when SIGPROF is owned by the host (a handler other than ours is installed);
 * -ENOMEM; -ENOSYS no timer could be armed.
 */
CPROF_API int cprof_start_cpu_profile(int fd);

/*
 * Stops the running CPU profile, writes it to the fd given at start and returns when the write is
 * complete. Errors: -ENOENT no profile is running; a write error (-EIO, -ENOSPC, -EPIPE, ...) from
 * writing the profile, which is then lost but the profiler is stopped all the same.
 */
CPROF_API int cprof_stop_cpu_profile(void);

/*
 * Sets the CPU sampling rate in samples per second of CPU time per thread. Takes effect at the next
 * cprof_start_cpu_profile(). Errors: -EINVAL hz outside 1..10000; -EBUSY a profile is running.
 */
CPROF_API int cprof_set_cpu_profile_rate(int hz);

/* The rate the next CPU profile will use. */
CPROF_API int cprof_cpu_profile_rate(void);

/*
 * How CPU samples are triggered in this process: "perf_event" (a per-thread task-clock event, the
 * default: exact at any rate, but each sample is a timer interrupt of its own), "timer_create"
 * (per-thread POSIX CPU-time timers: nearly free, but they fire only on kernel ticks, so at most
 * one sample per tick, with the periods missed weighted in), "setitimer" (one process-wide timer;
 * the last resort), or "none" before the first profile and after the program took SIGPROF for
 * itself. CPROF_TIMER=perf|timer|setitimer forces a kind.
 */
CPROF_API const char *cprof_cpu_timer_kind(void);

/* --------------------------------------------------------------- heap profile ----------------- */

/*
 * The heap profile samples allocations (the malloc family, and C++ new/delete through them) as Go
 * does: on average one sample every `rate` bytes allocated, each recording its call stack; a
 * sampled block's free is recorded too, so the profile shows both what was allocated over the run
 * (alloc_objects, alloc_space) and what is still in use (inuse_objects, inuse_space), scaled up to
 * estimate all allocations. Sampling is off until something will read it: CPROF_HEAP,
 * CPROF_MEM_RATE or CPROF_HTTP in the environment, cprof_http_start(), or a call to
 * cprof_set_mem_profile_rate(). Allocations made before that are not in the profile.
 */

/*
 * Sets the mean number of bytes between samples and turns sampling on: 524288 (Go's
 * MemProfileRate, the default), 1 for every allocation, 0 for off. Set it early, before the
 * allocations you want to see. Errors: -EINVAL rate < 0; -ENOENT the extension could not be
 * loaded (stacks need its unwind tables).
 */
CPROF_API int cprof_set_mem_profile_rate(long rate);

/* The current rate in bytes (0 while sampling is off). */
CPROF_API long cprof_mem_profile_rate(void);

/*
 * Writes the heap profile as of now to fd, gzipped profile.proto with Go's heap sample types
 * (inuse_space is the default one). Errors: -ENOENT the extension could not be loaded; a write
 * error (-EIO, -ENOSPC, -EBADF, ...).
 */
CPROF_API int cprof_write_heap_profile(int fd);

/* ------------------------------------------------------- block and mutex profiles ------------- */

/*
 * Go's two contention profiles, for pthreads. The block profile records where threads wait and for
 * how long: pthread_mutex_lock and the rwlock locks when the lock was contended (and their timed
 * forms), pthread_cond_wait and timedwait, sem_wait and timedwait when they had to wait,
 * pthread_join, pthread_barrier_wait. The mutex profile records the stacks of the threads that
 * released a contended mutex or rwlock (their unlock, or the pthread_cond_wait that released the
 * mutex), with the time the waiters had waited for it. Both are off by default; with them off, a
 * lock costs a load and a jump more than libc's, and with them on an uncontended lock costs no
 * more than that. Read them with cprof_write_profile("block" or "mutex", ...) or over HTTP
 * (/debug/pprof/block, /debug/pprof/mutex). Sample types contentions/count and delay/nanoseconds.
 */

/*
 * Go's runtime.SetBlockProfileRate: a wait of at least rate_ns nanoseconds is always recorded,
 * a shorter one with probability delay/rate_ns (and then counted as rate_ns/delay waits, so that
 * the totals stay unbiased); 1 records every wait; <= 0 turns the profile off. Errors: -ENOENT
 * the extension could not be loaded (stacks need its unwind tables); -ENOMEM.
 */
CPROF_API int cprof_set_block_profile_rate(int64_t rate_ns);

/* The current block profile rate in nanoseconds (0: off). */
CPROF_API int64_t cprof_block_profile_rate(void);

/*
 * Go's runtime.SetMutexProfileFraction: on average one contention event in rate is recorded (and
 * counted rate times); 1 records every one; 0 turns the profile off; rate < 0 only reads the
 * current value. Returns the previous fraction (>= 0), or a negative errno when turning the
 * profile on failed (-ENOENT, -ENOMEM, as above).
 */
CPROF_API int cprof_set_mutex_profile_fraction(int rate);

/* ------------------------------------------------------------ named profiles ----------------- */

/*
 * Writes the profile called name to fd, as Go's pprof.Lookup(name).WriteTo(fd, debug): "heap",
 * "allocs" (the heap profile with alloc_space as its default sample type), "block", "mutex", and
 * the other profiles named in this header. debug 0 writes gzipped profile.proto, 1 Go's legacy
 * text form. Errors: -ENOENT no profile of that name; -EINVAL a NULL name, fd < 0 or debug < 0;
 * a write error.
 */
CPROF_API int cprof_write_profile(const char *name, int fd, int debug);

/* --------------------------------------------------------------- HTTP endpoint ---------------- */

/*
 * Serves Go's /debug/pprof/ endpoints on addr, "host:port" or ":port" (host defaults to
 * 127.0.0.1), from a thread of its own. A host other than loopback is refused unless token is set;
 * with a token, every request must carry "Authorization: Bearer <token>" or "?token=<token>".
 * token may be NULL. Errors: -EALREADY already serving; -EINVAL bad address; -EACCES non-loopback
 * address without a token; -EADDRINUSE the port is taken; -ENOENT the library's extension
 * (libcprof-ext.so) could not be loaded.
 */
CPROF_API int cprof_http_start(const char *addr, const char *token);

/* The TCP port being served, or -ENOENT when not serving. Useful with port 0. */
CPROF_API int cprof_http_port(void);

/* Stops serving; waits for requests in flight. -ENOENT when not serving. */
CPROF_API int cprof_http_stop(void);

/* -------------------------------------------------------------------- errors ---------------- */

/*
 * The last error message the library produced for this process (for instance why the extension
 * could not be loaded), or "" when there is none. The string stays valid until the next call.
 */
CPROF_API const char *cprof_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* CPROF_H */
