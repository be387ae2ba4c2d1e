/*
 * threads_api.c — the threads, threadcreate and user-defined profiles, linked in (-lcprof), for
 * test_threads.py.
 *
 * Serves /debug/pprof/ on 127.0.0.1:PORT (before it creates any thread, so that the unwind tables
 * exist when the threads are created), then:
 *   - creates and joins 3 threads from tc_three() and 5 from tc_five() (threadcreate: exact counts);
 *   - starts named threads that stay: "sleeper" waits on a condition variable in sleeper_wait();
 *     "blocker" blocks every signal and waits in blocked_wait(); "spinner" burns CPU in
 *     spin_forever(); four "pool" threads wait in pool_wait(); "napper", with the label
 *     role=napper, sleeps 2 s at a time in nap_wait() (nanosleep), and "poller" 2 s at a time in
 *     poll_wait() (poll); each of their calls is timed with CLOCK_MONOTONIC and counted as cut
 *     short when it returns early or with EINTR;
 *   - runs the user-defined profile API and prints each result on a line ("new empty: EINVAL",
 *     ...): profile "myapp/files" with 3 keys added from files_open_a() (through acquire(), with
 *     skip 1), 1 from files_open_b() (two added, one removed) and 1 from files_open_c() (skip 0);
 *   - prints "ready" and reads commands from stdin, one a line:
 *       write DIR   writes goroutine (debug 0, 1, 2), threads (debug 1), threadcreate (0, 1) and
 *                   myapp/files (0, 1) with cprof_write_profile into DIR; prints "written"
 *       spawn       creates 2 threads from tc_two() and joins them; prints "spawned"
 *       (end of input) stops the threads, prints "blocking calls: N, cut short: M" and exits 0.
 * With the argument "ownsig" it first installs a SIGPROF handler of its own, so that the threads
 * profile must do without the signal, and prints at the end how many SIGPROFs its handler got
 * ("SIGPROF received: N").
 *
 * Usage: threads_api PORT [ownsig]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cprof.h"
#include "work.h"

#define POOL 4

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int quit;
static int waiting; /* threads inside pthread_cond_wait (counted under mu before they wait) */
static volatile int spinning;

/* Waits on cv until quit; the caller is the thread's named function. */
static void wait_until_quit(void)
{
	pthread_mutex_lock(&mu);
	waiting++;
	while (!quit)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
}

WORK_NOFOLD void sleeper_wait(void)
{
	wait_until_quit();
	WORK_KEEP_FRAME();
}

WORK_NOFOLD void blocked_wait(void)
{
	wait_until_quit();
	WORK_KEEP_FRAME();
}

WORK_NOFOLD void pool_wait(void)
{
	wait_until_quit();
	WORK_KEEP_FRAME();
}

WORK_NOFOLD uint64_t spin_forever(void)
{
	uint64_t x = 1;
	spinning = 1;
	while (!__atomic_load_n(&quit, __ATOMIC_RELAXED))
		x = work_spin(x, 1);
	return x;
}

static void *sleeper_main(void *arg)
{
	pthread_setname_np(pthread_self(), "sleeper");
	sleeper_wait();
	WORK_KEEP_FRAME();
	return arg;
}

static void *blocker_main(void *arg)
{
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_setname_np(pthread_self(), "blocker");
	blocked_wait();
	WORK_KEEP_FRAME();
	return arg;
}

static void *spinner_main(void *arg)
{
	pthread_setname_np(pthread_self(), "spinner");
	uint64_t x = spin_forever();
	WORK_KEEP_FRAME();
	return (void *)(uintptr_t)(x & 1);
}

static void *pool_main(void *arg)
{
	pthread_setname_np(pthread_self(), "pool");
	pool_wait();
	WORK_KEEP_FRAME();
	return arg;
}

/* ------------------------------------------------------------ blocking calls -------------- */

#define CALL_NS 2000000000LL

static int blocking;       /* threads that entered their first blocking call (under mu) */
static int calls, cut_short; /* atomic */

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Counts one blocking call that began at t0 and returned rc. */
static void count_call(int64_t t0, int rc)
{
	if (rc < 0 || mono_ns() - t0 < CALL_NS)
		__atomic_add_fetch(&cut_short, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
}

static void entered(void)
{
	pthread_mutex_lock(&mu);
	blocking++;
	pthread_mutex_unlock(&mu);
}

WORK_NOFOLD void nap_wait(void)
{
	for (int first = 1; !__atomic_load_n(&quit, __ATOMIC_RELAXED); first = 0) {
		struct timespec ts = {CALL_NS / 1000000000, 0};
		if (first)
			entered();
		int64_t t0 = mono_ns();
		count_call(t0, nanosleep(&ts, NULL));
	}
	WORK_KEEP_FRAME();
}

WORK_NOFOLD void poll_wait(void)
{
	for (int first = 1; !__atomic_load_n(&quit, __ATOMIC_RELAXED); first = 0) {
		if (first)
			entered();
		int64_t t0 = mono_ns();
		count_call(t0, poll(NULL, 0, (int)(CALL_NS / 1000000)));
	}
	WORK_KEEP_FRAME();
}

static void *napper_main(void *arg)
{
	pthread_setname_np(pthread_self(), "napper");
	cprof_label_push("role", "napper");
	nap_wait();
	WORK_KEEP_FRAME();
	return arg;
}

static void *poller_main(void *arg)
{
	pthread_setname_np(pthread_self(), "poller");
	poll_wait();
	WORK_KEEP_FRAME();
	return arg;
}

static void *short_main(void *arg) { return arg; }

/* Creates n threads that return at once, and joins them. */
static void spawn(int n)
{
	pthread_t t[8];
	for (int i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, short_main, NULL) != 0)
			abort();
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

WORK_NOFOLD void tc_three(void)
{
	spawn(3);
	WORK_KEEP_FRAME();
}

WORK_NOFOLD void tc_five(void)
{
	spawn(5);
	WORK_KEEP_FRAME();
}

WORK_NOFOLD void tc_two(void)
{
	spawn(2);
	WORK_KEEP_FRAME();
}

/* ------------------------------------------------------------ the user-defined profile ----- */

static int keys[8];

static const char *err_name(long rc)
{
	switch (rc) {
	case 0: return "0";
	case -EINVAL: return "EINVAL";
	case -EEXIST: return "EEXIST";
	case -ENOENT: return "ENOENT";
	case -ENOMEM: return "ENOMEM";
	default: return "other";
	}
}

/* Adds key with the stack of acquire's caller (skip 1). */
WORK_NOFOLD int acquire(cprof_profile_t *p, const void *key)
{
	int rc = cprof_profile_add(p, key, 1);
	WORK_KEEP_FRAME();
	return rc;
}

WORK_NOFOLD void files_open_a(cprof_profile_t *p)
{
	for (int i = 0; i < 3; i++)
		acquire(p, &keys[i]);
	WORK_KEEP_FRAME();
}

WORK_NOFOLD void files_open_b(cprof_profile_t *p)
{
	acquire(p, &keys[3]);
	acquire(p, &keys[4]);
	printf("add duplicate: %s\n", err_name(acquire(p, &keys[3])));
	printf("remove: %s\n", err_name(cprof_profile_remove(p, &keys[4])));
	printf("remove again: %s\n", err_name(cprof_profile_remove(p, &keys[4])));
	WORK_KEEP_FRAME();
}

WORK_NOFOLD void files_open_c(cprof_profile_t *p)
{
	printf("add skip 0: %s\n", err_name(cprof_profile_add(p, &keys[5], 0)));
	WORK_KEEP_FRAME();
}

static void custom_profile(void)
{
	errno = 0;
	printf("new empty: %s\n", cprof_profile_new("") == NULL && errno == EINVAL ? "EINVAL" : "other");
	printf("new space: %s\n",
	       cprof_profile_new("a b") == NULL && errno == EINVAL ? "EINVAL" : "other");
	printf("new heap: %s\n", cprof_profile_new("heap") == NULL && errno == EEXIST ? "EEXIST" : "other");
	printf("new goroutine: %s\n",
	       cprof_profile_new("goroutine") == NULL && errno == EEXIST ? "EEXIST" : "other");
	cprof_profile_t *p = cprof_profile_new("myapp/files");
	printf("new: %s\n", p != NULL ? "ok" : strerror(errno));
	if (p == NULL)
		exit(1);
	printf("new again: %s\n",
	       cprof_profile_new("myapp/files") == NULL && errno == EEXIST ? "EEXIST" : "other");
	printf("lookup: %s\n", cprof_profile_lookup("myapp/files") == p ? "same" : "other");
	printf("lookup missing: %s\n",
	       cprof_profile_lookup("myapp/none") == NULL && errno == ENOENT ? "ENOENT" : "other");
	printf("name: %s\n", cprof_profile_name(p));
	printf("add NULL profile: %s\n", err_name(cprof_profile_add(NULL, &keys[0], 0)));
	printf("add negative skip: %s\n", err_name(cprof_profile_add(p, &keys[0], -1)));
	files_open_a(p);
	files_open_b(p);
	files_open_c(p);
	printf("count: %ld\n", cprof_profile_count(p));
	printf("count NULL: %s\n", err_name(cprof_profile_count(NULL)));
	printf("write nosuch: %s\n", err_name(cprof_write_profile("myapp/none", 1, 0)));
}

/* ------------------------------------------------------------ main ------------------------- */

static int write_one(const char *dir, const char *name, int debug, const char *file)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -errno;
	int rc = cprof_write_profile(name, fd, debug);
	close(fd);
	if (rc != 0)
		fprintf(stderr, "writing %s debug=%d: %s\n", name, debug, strerror(-rc));
	return rc;
}

WORK_NOFOLD int write_all(const char *dir)
{
	int rc = 0;
	rc |= write_one(dir, "goroutine", 0, "goroutine.pb.gz");
	rc |= write_one(dir, "goroutine", 1, "goroutine.txt");
	rc |= write_one(dir, "goroutine", 2, "goroutine2.txt");
	rc |= write_one(dir, "threads", 1, "threads.txt");
	rc |= write_one(dir, "threadcreate", 0, "threadcreate.pb.gz");
	rc |= write_one(dir, "threadcreate", 1, "threadcreate.txt");
	rc |= write_one(dir, "myapp/files", 0, "files.pb.gz");
	rc |= write_one(dir, "myapp/files", 1, "files.txt");
	WORK_KEEP_FRAME();
	return rc;
}

static volatile sig_atomic_t prof_signals;

static void on_prof(int sig)
{
	(void)sig;
	prof_signals++;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: threads_api PORT [ownsig]\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 2 && strcmp(argv[2], "ownsig") == 0)
		signal(SIGPROF, on_prof);
	char addr[64];
	snprintf(addr, sizeof addr, "127.0.0.1:%s", argv[1]);
	int rc = cprof_http_start(addr, NULL);
	if (rc != 0) {
		fprintf(stderr, "cprof_http_start: %s\n", strerror(-rc));
		return 1;
	}
	tc_three();
	tc_five();
	pthread_t t[5 + POOL];
	pthread_create(&t[0], NULL, sleeper_main, NULL);
	pthread_create(&t[1], NULL, blocker_main, NULL);
	pthread_create(&t[2], NULL, spinner_main, NULL);
	pthread_create(&t[3], NULL, napper_main, NULL);
	pthread_create(&t[4], NULL, poller_main, NULL);
	for (int i = 0; i < POOL; i++)
		pthread_create(&t[5 + i], NULL, pool_main, NULL);
	custom_profile();
	for (;;) { /* every waiter inside its wait, the spinner spinning */
		pthread_mutex_lock(&mu);
		int w = waiting, b = blocking;
		pthread_mutex_unlock(&mu);
		if (w == 2 + POOL && b == 2 && spinning)
			break;
		usleep(1000);
	}
	usleep(50000); /* the napper and the poller inside their first call */
	printf("ready\n");
	char line[4096];
	while (fgets(line, sizeof line, stdin) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "write ", 6) == 0) {
			printf("%s\n", write_all(line + 6) == 0 ? "written" : "write failed");
		} else if (strcmp(line, "spawn") == 0) {
			tc_two();
			printf("spawned\n");
		}
	}
	pthread_mutex_lock(&mu);
	__atomic_store_n(&quit, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < 5 + POOL; i++)
		pthread_join(t[i], NULL);
	printf("blocking calls: %d, cut short: %d\n", calls, cut_short);
	printf("SIGPROF received: %d\n", (int)prof_signals);
	return 0;
}
