/*
 * heap_edge.c — the corners of the malloc family, exercised so that any difference the heap
 * profiler makes shows up in the output.
 *
 * Each step prints what the allocator answered (NULL or not, errno, alignment, whether data
 * survived a move), never an address, so the output of a run without the profiler is the
 * reference for a run with it, whatever allocator is underneath. Steps: realloc growing and
 * shrinking big blocks (contents kept), realloc(NULL, n), realloc(p, 0), free(NULL); every
 * alignment function with good and bad alignments; calloc zeroing and overflow; malloc and
 * reallocarray of impossible sizes (NULL and ENOMEM); errno left alone by successful calls;
 * malloc_usable_size; fork while another thread allocates, the child allocating, freeing and
 * exiting; threads that allocate, free some blocks and exit, the rest freed by the main thread.
 * At the end realloc_keep() holds one block of 3 MiB reached by realloc (1 MiB -> 5 MiB ->
 * 3 MiB), so a heap profile at exit must show exactly that block in use at that site.
 *
 * Usage: heap_edge [no-pvalloc]
 * no-pvalloc leaves pvalloc out, for allocators that do not define it (jemalloc): glibc's pvalloc
 * would then hand out a block that the preloaded allocator's free cannot take.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1UL << 20)

static volatile size_t huge = (size_t)-1 / 2; /* volatile: no compile-time size warnings */
static void *volatile sink;
static void *kept;
static int skip_pvalloc;

static void say(const char *what, const void *p, int err)
{
	printf("%-40s %s errno=%s\n", what, p ? "ptr " : "NULL", err == 0 ? "0" : strerror(err));
}

static int aligned(const void *p, size_t a)
{
	return p != NULL && ((uintptr_t)p % a) == 0;
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i += 511)
		p[i] = (unsigned char)(i * 7 + seed);
}

static int same(const unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i += 511)
		if (p[i] != (unsigned char)(i * 7 + seed))
			return 0;
	return 1;
}

__attribute__((noinline)) void realloc_keep(void)
{
	unsigned char *p = malloc(1 * MIB);
	fill(p, 1 * MIB, 1);
	p = realloc(p, 5 * MIB);
	printf("realloc 1->5 MiB keeps data: %d\n", p && same(p, 1 * MIB, 1));
	fill(p, 5 * MIB, 2);
	p = realloc(p, 3 * MIB);
	printf("realloc 5->3 MiB keeps data: %d\n", p && same(p, 3 * MIB, 2));
	kept = p;
}

__attribute__((noinline)) void realloc_steps(void)
{
	unsigned char *p = malloc(2 * MIB);
	fill(p, 2 * MIB, 3);
	for (size_t n = 2 * MIB; n <= 16 * MIB; n *= 2) { /* grow */
		p = realloc(p, n);
		if (!p || !same(p, 2 * MIB, 3))
			printf("realloc grow to %zu lost data\n", n);
	}
	for (size_t n = 8 * MIB; n >= 64; n /= 4) { /* shrink below the mmap threshold */
		p = realloc(p, n);
		if (!p || !same(p, n < 2 * MIB ? n : 2 * MIB, 3))
			printf("realloc shrink to %zu lost data\n", n);
	}
	free(p);
	p = realloc(NULL, 1000);
	say("realloc(NULL, 1000)", p, 0);
	errno = 0;
	sink = p; /* laundered: p stays valid when realloc fails, which the compiler cannot know */
	void *q = realloc(sink, huge);
	say("realloc(p, huge)", q, errno);
	if (q != NULL)
		p = q;
	p = realloc(p, 0);
	say("realloc(p, 0)", p, 0);
	free(p);
	free(NULL);
	printf("free(NULL) returns\n");
	errno = 0;
	q = reallocarray(NULL, huge, 4);
	say("reallocarray(NULL, huge, 4)", q, errno);
	q = reallocarray(NULL, 100, 40);
	say("reallocarray(NULL, 100, 40)", q, 0);
	free(q);
}

static void try_posix_memalign(size_t align, size_t size)
{
	void *p = NULL;
	char what[64];
	int rc = posix_memalign(&p, align, size);
	snprintf(what, sizeof what, "posix_memalign(%zu, %zu)", align, size);
	printf("%-40s rc=%s aligned=%d\n", what, rc ? strerror(rc) : "0", rc == 0 && aligned(p, align));
	if (rc == 0)
		free(p);
}

static void try_aligned(const char *fn, size_t align, size_t size)
{
	char what[64];
	void *p;
	errno = 0;
	if (strcmp(fn, "aligned_alloc") == 0)
		p = aligned_alloc(align, size);
	else
		p = memalign(align, size);
	int err = errno;
	snprintf(what, sizeof what, "%s(%zu, %zu)", fn, align, size);
	say(what, p, p ? 0 : err);
	if (p && align != 0 && (align & (align - 1)) == 0)
		printf("  aligned to %zu: %d\n", align, aligned(p, align));
	else if (p) /* what it is aligned to then depends on the allocator and the heap's state */
		printf("  usable >= %zu: %d\n", size, malloc_usable_size(p) >= size);
	free(p);
}

__attribute__((noinline)) void alignments(void)
{
	static const size_t good[] = { 8, 16, 64, 4096, 65536, 1 << 21 };
	static const size_t bad[] = { 0, 1, 3, 4, 24, 100, (size_t)1 << 63 };
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		try_posix_memalign(good[i], 100);
		try_posix_memalign(good[i], 3 * MIB);
		try_aligned("aligned_alloc", good[i], 4 * good[i]);
		try_aligned("memalign", good[i], 100);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		try_posix_memalign(bad[i], 100);
		try_aligned("memalign", bad[i], 100);
	}
	try_posix_memalign(64, huge);
	try_aligned("memalign", 64, huge);
	long page = sysconf(_SC_PAGESIZE);
	void *v = valloc(100);
	printf("valloc(100) page aligned: %d\n", aligned(v, (size_t)page));
	free(v);
	if (!skip_pvalloc) {
		void *pv = pvalloc(100);
		printf("pvalloc(100) page aligned: %d usable >= page: %d\n", aligned(pv, (size_t)page),
		       pv != NULL && malloc_usable_size(pv) >= (size_t)page);
		free(pv);
	}
	errno = 0;
	v = valloc(huge);
	say("valloc(huge)", v, errno);
}

__attribute__((noinline)) void sizes(void)
{
	unsigned char *p = malloc(MIB);
	memset(p, 0xff, MIB);
	free(p);
	p = calloc(1024, 1024);
	size_t nonzero = 0;
	for (size_t i = 0; p && i < MIB; i++)
		nonzero += p[i] != 0;
	printf("calloc(1024, 1024) zeroed: %d\n", p != NULL && nonzero == 0);
	free(p);
	p = calloc(1, 40);
	printf("calloc(1, 40) zeroed: %d usable >= 40: %d\n", p && p[0] == 0 && p[39] == 0,
	       p && malloc_usable_size(p) >= 40);
	free(p);
	errno = 0;
	sink = calloc(huge, 4);
	say("calloc(huge, 4) (overflow)", sink, errno);
	errno = 0;
	sink = calloc(huge / 2, 1);
	say("calloc(huge / 2, 1)", sink, errno);
	errno = 0;
	sink = malloc(huge);
	say("malloc(huge)", sink, errno);
	errno = 0;
	sink = malloc(huge * 2 + 1 - 64);
	say("malloc(SIZE_MAX - 64)", sink, errno);
	errno = 0;
	sink = malloc((size_t)1 << 46);
	say("malloc(64 TiB)", sink, errno);
	errno = 12345;
	p = malloc(100);
	free(p);
	p = calloc(10, 10);
	p = realloc(p, 5000);
	free(p);
	printf("errno after successful calls: %d\n", errno);
	errno = 0;
	sink = malloc(0);
	printf("malloc(0) usable: %d\n", sink == NULL || malloc_usable_size(sink) < 64);
	free(sink);
}

static volatile int stop_allocating;

static void *allocate_loop(void *arg)
{
	(void)arg;
	unsigned long n = 0;
	while (!stop_allocating) {
		void *p = malloc(64 + (n % 4000));
		free(p);
		n++;
	}
	return NULL;
}

__attribute__((noinline)) void forks(void)
{
	pthread_t t;
	pthread_create(&t, NULL, allocate_loop, NULL);
	int ok = 0;
	for (int i = 0; i < 20; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			void *blocks[1000];
			for (int k = 0; k < 1000; k++)
				blocks[k] = malloc(32 + k * 8);
			for (int k = 0; k < 1000; k += 2)
				free(blocks[k]);
			blocks[1] = realloc(blocks[1], 100000);
			exit(blocks[1] != NULL ? 7 : 1); /* exit, not _exit: atexit handlers run */
		}
		int status;
		if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 7)
			ok++;
	}
	stop_allocating = 1;
	pthread_join(t, NULL);
	printf("forks: %d of 20 children exited 7\n", ok);
}

#define NTHREADS 8
#define PER_THREAD 2000

static void *thread_allocates(void *arg)
{
	void **left = arg;
	for (int k = 0; k < PER_THREAD; k++) {
		void *p = malloc(16 + (size_t)k * 24);
		if (k % 2)
			free(p);
		else
			left[k / 2] = p;
	}
	return NULL;
}

__attribute__((noinline)) void threads(void)
{
	static void *left[NTHREADS][PER_THREAD / 2];
	int freed = 0;
	for (int round = 0; round < 5; round++) {
		pthread_t t[NTHREADS];
		for (int i = 0; i < NTHREADS; i++)
			pthread_create(&t[i], NULL, thread_allocates, left[i]);
		for (int i = 0; i < NTHREADS; i++)
			pthread_join(t[i], NULL);
		for (int i = 0; i < NTHREADS; i++)
			for (int k = 0; k < PER_THREAD / 2; k++, freed++)
				free(left[i][k]);
	}
	printf("threads: %d blocks freed by main after their threads exited\n", freed);
}

int main(int argc, char **argv)
{
	skip_pvalloc = argc > 1 && strcmp(argv[1], "no-pvalloc") == 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	realloc_steps();
	alignments();
	sizes();
	forks();
	threads();
	realloc_keep();
	printf("heap_edge done\n");
	return 0;
}
