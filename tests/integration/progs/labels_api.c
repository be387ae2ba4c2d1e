/*
 * labels_api.c — thread labels (cprof_label_push/pop, cprof_do, cprof_label_get), linked in.
 *
 * Three modes, each printing what the test compares with the profiles:
 *
 *   cpu ALT THREADS UNITS   Two CPU profiles at 100 Hz. ALT: one thread alternates between
 *                           tenant=a and tenant=b, in rounds of irregular length (so that the
 *                           sampling period cannot lock onto them) where a does 7 parts of the work
 *                           and b 3; UNITS units in all. THREADS: the same split between two
 *                           threads, one created after a push of tenant=a, which it inherits, the
 *                           other created inside cprof_do({tenant=b}). All the work is done by one
 *                           function, burn(), so the labels are the only way to tell a from b.
 *                           Prints "cpu a=<units> b=<units>".
 *   heap DIV                Allocations under tenant=a and tenant=b, profiled by CPROF_HEAP (and
 *                           CPROF_MEM_RATE) from the environment: churn() allocates and frees 4 KiB
 *                           blocks (alloc_space only), hold() keeps 8 MiB blocks (inuse_space
 *                           too). a: churn in two parts and 8 big blocks, 4 of which are freed
 *                           later with no labels in force (a free is charged to the labels of its
 *                           allocation); b: in a thread created inside cprof_do({tenant=b}), churn
 *                           and 12 big blocks kept. Then shared_site() keeps 100 blocks of
 *                           1000 B under a, and 100 more, from the same call site, under b. DIV
 *                           divides the churn (a faster run at rate 1). Prints "heap a
 *                           alloc_objects=.. alloc_space=.. inuse_objects=.. inuse_space=.." and
 *                           the same for b: the exact truth. With TEXT, writes the heap profile's
 *                           debug=1 text there at the end.
 *   api                     cprof_do restores labels, a child thread inherits them, tokens: one
 *                           "name: value" line per observation.
 *
 * Usage: labels_api cpu ALT.pb.gz THREADS.pb.gz UNITS | labels_api heap DIV [TEXT] |
 *        labels_api api
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cprof.h"
#include "work.h"

#define OPAQUE(p) __asm__ volatile("" : : "r"(p) : "memory")

static uint64_t sink;

WORK_NOFOLD uint64_t burn(uint64_t x, long units)
{
	uint64_t r = work_spin(x, units);
	WORK_KEEP_FRAME();
	return r;
}

/* ------------------------------------------------------------ cpu ----------------------- */

static int open_out(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		perror(path);
	return fd;
}

/*
 * Round lengths, 150 to 350 units: a small linear congruential sequence, the same every run.
 * Rounds of irregular length keep the sampling period from locking onto them; long rounds keep
 * the boundaries few, and each boundary costs up to a sample of error either way.
 */
static unsigned lcg = 12345;

static long next_k(void)
{
	lcg = lcg * 1103515245u + 12345u;
	return 15 + (long)((lcg >> 16) % 21); /* 15..35 */
}

static void cpu_alternate(long units, long *ua, long *ub)
{
	long done = 0;

	while (done < units) {
		long k = next_k();

		if (done + 10 * k > units)
			k = (units - done + 9) / 10;
		int t = cprof_label_push("tenant", "a");
		sink += burn(sink + 1, 7 * k);
		cprof_label_pop(t);
		t = cprof_label_push("tenant", "b");
		sink += burn(sink + 2, 3 * k);
		cprof_label_pop(t);
		*ua += 7 * k;
		*ub += 3 * k;
		done += 10 * k;
	}
}

typedef struct job {
	long units;
	uint64_t out;
	pthread_t th;
} job_t;

static void *job_main(void *p)
{
	job_t *j = p;

	j->out = burn(j->units, j->units);
	return NULL;
}

static void start_job_b(void *p)
{
	job_t *j = p;

	pthread_create(&j->th, NULL, job_main, j);
}

static void cpu_threads(long units, long *ua, long *ub)
{
	job_t a = {.units = units * 7 / 10}, b = {.units = units * 3 / 10};
	const char *kv[] = {"tenant", "b"};

	int t = cprof_label_push("tenant", "a");
	pthread_create(&a.th, NULL, job_main, &a);
	cprof_label_pop(t);
	cprof_do(kv, 1, start_job_b, &b);
	pthread_join(a.th, NULL);
	pthread_join(b.th, NULL);
	sink += a.out + b.out;
	*ua += a.units;
	*ub += b.units;
}

static int cpu_mode(const char *alt, const char *threads, long units)
{
	long ua = 0, ub = 0;

	for (int phase = 0; phase < 2; phase++) {
		int fd = open_out(phase == 0 ? alt : threads);

		if (fd < 0)
			return 1;
		int rc = cprof_start_cpu_profile(fd);
		if (rc != 0) {
			fprintf(stderr, "start: %s\n", strerror(-rc));
			return 1;
		}
		if (phase == 0)
			cpu_alternate(units, &ua, &ub);
		else
			cpu_threads(units, &ua, &ub);
		rc = cprof_stop_cpu_profile();
		close(fd);
		if (rc != 0) {
			fprintf(stderr, "stop: %s\n", strerror(-rc));
			return 1;
		}
		printf("cpu %s a=%ld b=%ld\n", phase == 0 ? "alternate" : "threads", ua, ub);
		ua = ub = 0;
	}
	printf("checksum %llx\n", (unsigned long long)sink);
	return 0;
}

/* ------------------------------------------------------------ heap ---------------------- */

#define SMALL 4096
#define BIG (8L << 20)
#define SHARED 1000

typedef struct truth {
	long alloc_objects, alloc_space, inuse_objects, inuse_space;
} truth_t;

__attribute__((noinline)) void churn(long n, truth_t *t)
{
	for (long i = 0; i < n; i++) {
		void *p = malloc(SMALL);
		OPAQUE(p);
		free(p);
	}
	t->alloc_objects += n;
	t->alloc_space += n * SMALL;
}

/* One call site used under both labels: the proto keeps a sample per label, the debug=1 text one
 * record for both. */
__attribute__((noinline)) void shared_site(void **blocks, int n, truth_t *t)
{
	for (int i = 0; i < n; i++) {
		blocks[i] = malloc(SHARED);
		OPAQUE(blocks[i]);
	}
	t->alloc_objects += n;
	t->alloc_space += n * SHARED;
	t->inuse_objects += n;
	t->inuse_space += n * SHARED;
}

__attribute__((noinline)) void hold(void **blocks, int n, truth_t *t)
{
	for (int i = 0; i < n; i++) {
		blocks[i] = malloc(BIG);
		OPAQUE(blocks[i]);
	}
	t->alloc_objects += n;
	t->alloc_space += n * BIG;
	t->inuse_objects += n;
	t->inuse_space += n * BIG;
}

typedef struct heap_b {
	long churn;
	void *blocks[12];
	truth_t truth;
	pthread_t th;
} heap_b_t;

static void *heap_b_main(void *p)
{
	heap_b_t *b = p;

	churn(b->churn, &b->truth);
	hold(b->blocks, 12, &b->truth);
	return NULL;
}

static void start_heap_b(void *p)
{
	heap_b_t *b = p;

	pthread_create(&b->th, NULL, heap_b_main, b);
}

static void print_truth(const char *name, const truth_t *t)
{
	printf("heap %s alloc_objects=%ld alloc_space=%ld inuse_objects=%ld inuse_space=%ld\n", name,
	       t->alloc_objects, t->alloc_space, t->inuse_objects, t->inuse_space);
}

/* Writes the heap profile's debug=1 text to path. */
static int write_text(const char *path)
{
	int fd = open_out(path);

	if (fd < 0)
		return 1;
	int rc = cprof_write_profile("heap", fd, 1);
	close(fd);
	if (rc != 0)
		fprintf(stderr, "heap text: %s\n", strerror(-rc));
	return rc != 0;
}

static int heap_mode(long div, const char *text)
{
	static void *a_blocks[8], *shared[2][100];
	static heap_b_t b;
	truth_t a = {0};
	const char *kv[] = {"tenant", "b"};

	b.churn = 40960 / div;
	int t = cprof_label_push("tenant", "a");
	churn(73728 / div, &a);
	hold(a_blocks, 8, &a);
	cprof_label_pop(t);
	cprof_do(kv, 1, start_heap_b, &b);
	pthread_join(b.th, NULL);
	t = cprof_label_push("tenant", "a");
	churn(73728 / div, &a);
	cprof_label_pop(t);
	for (int i = 0; i < 4; i++) { /* freed with no labels in force: still a's */
		free(a_blocks[i]);
		a.inuse_objects--;
		a.inuse_space -= BIG;
	}
	static volatile int rounds = 2; /* a loop the compiler cannot unroll: one call site */
	for (int i = 0; i < rounds; i++) {
		t = cprof_label_push("tenant", i == 0 ? "a" : "b");
		shared_site(shared[i], 100, i == 0 ? &a : &b.truth);
		cprof_label_pop(t);
	}
	print_truth("a", &a);
	print_truth("b", &b.truth);
	return text != NULL ? write_text(text) : 0;
}

/* ------------------------------------------------------------ api ----------------------- */

static void show(const char *what)
{
	const char *t = cprof_label_get("tenant"), *j = cprof_label_get("job");

	printf("%s: tenant=%s job=%s\n", what, t ? t : "(none)", j ? j : "(none)");
}

static void *child_main(void *unused)
{
	show("child");
	return NULL;
}

static void in_do(void *unused)
{
	pthread_t th;

	show("in do");
	pthread_create(&th, NULL, child_main, NULL);
	pthread_join(th, NULL);
	cprof_label_push("job", "leaked"); /* not popped: cprof_do undoes it */
}

static int api_mode(void)
{
	const char *kv[] = {"tenant", "x", "job", "y"};

	show("before");
	int t = cprof_label_push("tenant", "outer");
	show("pushed");
	printf("token: %d\n", t);
	printf("do: %d\n", cprof_do(kv, 2, in_do, NULL));
	show("after do");
	printf("pop: %d\n", cprof_label_pop(t));
	printf("pop again: %d\n", cprof_label_pop(t));
	show("after pop");
	printf("push NULL key: %d\n", cprof_label_push(NULL, "v"));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && strcmp(argv[1], "cpu") == 0)
		return cpu_mode(argv[2], argv[3], atol(argv[4]));
	if (argc >= 3 && strcmp(argv[1], "heap") == 0)
		return heap_mode(atol(argv[2]) > 0 ? atol(argv[2]) : 1, argc >= 4 ? argv[3] : NULL);
	if (argc >= 2 && strcmp(argv[1], "api") == 0)
		return api_mode();
	fprintf(stderr, "usage: labels_api cpu ALT THREADS UNITS | heap DIV [TEXT] | api\n");
	return 2;
}
