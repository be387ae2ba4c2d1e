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

#include <stddef.h>
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

/* -------------------------------------------------------------------- labels ---------------- */

/*
 * Labels are key/value strings a thread carries, like Go's profiler labels (pprof.Labels, Do,
 * SetGoroutineLabels): every sample the thread produces — CPU, and, unlike Go, heap and allocs —
 * carries the labels in force when it was taken, so a profile can be split by request, tenant or
 * job with `go tool pprof -tagfocus=tenant=acme`. A thread starts with the labels of the thread
 * that created it (as a goroutine does) and changes them with push and pop, or with cprof_do.
 *
 * Strings are copied (callers may free theirs) and kept for the life of the process, so labels
 * are for values with few distinct instances (a tenant, an endpoint, a job kind), not for one per
 * request. The number of distinct label sets is bounded (65536, and 64 MiB of strings): once it
 * is reached, a push that would make a new set keeps the thread's current labels instead and
 * still succeeds (said once on stderr), so the program behaves the same. A push replaces nothing
 * in the heap's existing samples: an allocation keeps the labels of the thread that made it.
 */

/*
 * Adds the label key=value to the calling thread's labels, replacing the value of a label with
 * the same key, until the matching cprof_label_pop. Returns a token (> 0) to pass to
 * cprof_label_pop, or -EINVAL (key NULL or "", value NULL) or -E2BIG (the thread would have more
 * than 64 labels) with nothing changed. Pushes nest: the token is the number of pushes in force.
 * Past 32 nested pushes the labels stop changing (said once), but tokens and pops stay correct.
 * An empty value is a value for cprof_label_get, but, as in Go, profiles do not show it:
 * profile.proto cannot tell an empty string label from none.
 */
CPROF_API int cprof_label_push(const char *key, const char *value);

/*
 * Restores the calling thread's labels to what they were before the push that returned token,
 * undoing that push and every later one not popped yet (so a forgotten pop further in is undone
 * too). -EINVAL, with nothing changed, when token is not a push in force on this thread: already
 * popped, from another thread, or an error a push returned (so `cprof_label_pop(t)` after a
 * failed push is harmless).
 */
CPROF_API int cprof_label_pop(int token);

/*
 * Calls fn(arg) with the npairs labels of kv added to the calling thread's labels (kv holds
 * npairs keys and values alternately: {"tenant", "acme", "route", "/api"}; a later pair overrides
 * an earlier one with the same key), then restores the labels the thread had before, whatever fn
 * pushed or popped, as Go's pprof.Do. Returns 0 after fn returned, or -EINVAL (fn NULL, a key NULL
 * or "", a value NULL) or -E2BIG (more than 64 labels) without calling fn.
 */
CPROF_API int cprof_do(const char *const *kv, size_t npairs, void (*fn)(void *), void *arg);

/*
 * The value of the calling thread's label key, or NULL when it has none (Go's pprof.Label). The
 * string stays valid for the life of the process.
 */
CPROF_API const char *cprof_label_get(const char *key);

/* ------------------------------------------------------- block and mutex profiles ------------- */

/*
 * Go's two contention profiles, for pthreads. The block profile records where threads wait and for
 * how long: pthread_mutex_lock and the rwlock locks when the lock was contended (and their timed
 * forms), pthread_cond_wait and timedwait, sem_wait and timedwait when they had to wait,
 * pthread_join, pthread_barrier_wait. The mutex profile records the stacks of the threads that
 * released a contended mutex or rwlock (their unlock, or the pthread_cond_wait that released the
 * mutex), with the time the waiters had waited for it. Both are off by default; with them off, a
 * lock costs a load and a jump more than libc's; with them on, an uncontended lock/unlock pair
 * costs about 4 ns more than libc's (the lock tries glibc's trylock first; only a contended lock
 * reads the clock and records). Read them with cprof_write_profile("block" or "mutex", ...) or over HTTP
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
 * "allocs" (the heap profile with alloc_space as its default sample type), "block", "mutex",
 * "goroutine" or its alias "threads" (every thread's stack now: goroutine/count samples, the
 * calling thread's stack beginning at the call), "threadcreate" (the stack of every pthread_create the program made), the
 * user-defined profiles (cprof_profile_new) and the other profiles named in this header. debug 0
 * writes gzipped profile.proto, 1 Go's legacy text form; 2, for goroutine and threads, one block
 * per thread with its name, state, wait and stack, laid out after Go's goroutine dump (README.md).
 * Errors: -ENOENT no profile of that name; -EINVAL a NULL name, fd < 0 or debug < 0; a write error.
 */
CPROF_API int cprof_write_profile(const char *name, int fd, int debug);

/* ------------------------------------------------------- user-defined profiles ---------------- */

/*
 * A profile of your own, as Go's pprof.NewProfile: a set of keys, each recorded with the stack
 * that added it, written as a count profile (how many of the keys still there were added from each
 * stack). The classic use is a leak detector for some resource: add when a file, a connection or
 * a lock is acquired, remove when it is released, and the profile shows where the ones still held
 * were acquired. Profiles live as long as the process. They are written by
 * cprof_write_profile(name, fd, debug) (sample type <name>/count; debug=1 Go's count text), served
 * at /debug/pprof/<name> and listed with their count on the index page. Every call here is
 * thread-safe; none may be called from a signal handler.
 */
typedef struct cprof_profile cprof_profile_t;

/*
 * Creates the profile called name. By Go's convention a name is "import/path.name", such as
 * "myapp/db.connections"; it must not be empty, be longer than 128 bytes, or hold spaces, control
 * characters, '?' or '#' (it is a URL path and a word in the text form). Returns NULL with errno
 * set: EINVAL a bad name; EEXIST a profile of that name exists already, or the name is one of the
 * built-in profiles (goroutine, threads, threadcreate, heap, allocs, block, mutex) or endpoints
 * (profile, cmdline, symbol, trace); ENOMEM.
 */
CPROF_API cprof_profile_t *cprof_profile_new(const char *name);

/* The user-defined profile called name, or NULL with errno ENOENT. Built-in profiles are not
 * returned (they have no keys to add): write them with cprof_write_profile(). */
CPROF_API cprof_profile_t *cprof_profile_lookup(const char *name);

/*
 * Records the calling thread's stack under key, any value that names the thing (typically its
 * address). skip 0 begins the stack at the function that calls cprof_profile_add, 1 at that
 * function's caller, and so on, as Go's Add. Errors: -EEXIST key is in the profile already (Go
 * panics); -EINVAL p is NULL or skip < 0; -ENOMEM.
 */
CPROF_API int cprof_profile_add(cprof_profile_t *p, const void *key, int skip);

/* Removes key. -ENOENT when it is not in the profile (Go's Remove then does nothing: the error is
 * for callers who care); -EINVAL p is NULL. */
CPROF_API int cprof_profile_remove(cprof_profile_t *p, const void *key);

/* The number of keys in the profile, or -EINVAL when p is NULL. */
CPROF_API long cprof_profile_count(const cprof_profile_t *p);

/* The profile's name, or NULL when p is NULL. */
CPROF_API const char *cprof_profile_name(const cprof_profile_t *p);

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
