/*
 * heap_work.c — the allocation-heavy workload of the heap-profiling benchmark (heap_bench.py).
 *
 * Two threads, each running ROUNDS rounds over a fixed pseudo-random sequence (xorshift, seeded
 * per thread), so every run makes the same calls in the same order and prints the same checksum.
 * A thread keeps:
 *   - 2000 long-lived blocks of 4 KiB, allocated first and freed at the end (8 MiB);
 *   - a ring of 16384 medium-lived blocks; each round frees a random slot and refills it with a
 *     block whose size is small (16-512 B, 85%), medium (512 B-8 KiB, 14%) or large (8-64 KiB,
 *     1%), so the ring holds ~20 MiB that turn over all the time;
 *   - 8 short-lived small blocks per round (16-128 B), allocated, written and freed;
 *   - a buffer grown with realloc by 256 B-2 KiB every 8th round up to 32 KiB, then freed.
 * Every block is written (its first bytes and one byte per page) and a little work is done on
 * it, so the memory is really touched (RSS is the live set) and allocation is not the only cost.
 * Built -O2 without frame pointers, like cpu_work. A round allocates ~3.8 KB (a realloc counts
 * as an allocation of its new size), so 500k rounds on two threads allocate ~3.8 GB.
 *
 * Usage: heap_work ROUNDS    (per thread; 500k rounds take ~0.5 s of CPU per thread with glibc)
 * Prints "heap_work checksum=<hex> allocated=<bytes requested> calls=<allocation calls>", which
 * depend only on ROUNDS.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NTHREADS 2
#define NLONG 2000
#define RING 16384
#define NSHORT 8
#define GROW_MAX 32768

struct thread_arg {
	long rounds;
	uint64_t seed;
	uint64_t sum;
	uint64_t bytes; /* requested, a realloc counting its new size */
	uint64_t calls; /* malloc, calloc and realloc calls */
};

static inline uint64_t next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static size_t pick_size(uint64_t r)
{
	unsigned pct = (unsigned)(r % 100);
	r >>= 8;
	if (pct < 85)
		return 16 + r % 497;
	if (pct < 99)
		return 512 + r % (8192 - 512);
	return 8192 + r % (65536 - 8192);
}

/* Writes the block (first bytes and one byte a page) and folds it into the checksum. */
static uint64_t touch(unsigned char *p, size_t n, uint64_t v)
{
	memset(p, (int)(v & 0xff), n < 32 ? n : 32);
	for (size_t i = 4096; i < n; i += 4096)
		p[i] = (unsigned char)v;
	uint64_t h = v;
	for (size_t i = 0; i < (n < 32 ? n : 32); i++)
		h = h * 31 + p[i];
	return h;
}

__attribute__((noinline)) static void **keep_long(uint64_t *sum)
{
	void **blocks = malloc(NLONG * sizeof *blocks); /* counted by the caller */
	for (int i = 0; i < NLONG; i++) {
		blocks[i] = malloc(4096);
		*sum += touch(blocks[i], 4096, (uint64_t)i);
	}
	return blocks;
}

static __thread uint64_t *asked; /* the running thread's byte count */

__attribute__((noinline)) static uint64_t ring_step(void **ring, uint64_t *s)
{
	uint64_t r = next(s);
	size_t slot = r % RING;
	free(ring[slot]);
	size_t n = pick_size(next(s));
	*asked += n;
	ring[slot] = malloc(n);
	return touch(ring[slot], n, r);
}

__attribute__((noinline)) static uint64_t short_lived(uint64_t *s)
{
	void *tmp[NSHORT];
	uint64_t h = 0;
	for (int i = 0; i < NSHORT; i++) {
		size_t n = 16 + next(s) % 113;
		*asked += n;
		tmp[i] = malloc(n);
		h += touch(tmp[i], n, (uint64_t)i);
	}
	for (int i = 0; i < NSHORT; i++)
		free(tmp[i]);
	return h;
}

__attribute__((noinline)) static uint64_t grow(unsigned char **buf, size_t *len, uint64_t *s)
{
	size_t add = 256 + next(s) % 1793;
	if (*len + add > GROW_MAX) {
		free(*buf);
		*buf = NULL;
		*len = 0;
	}
	*buf = realloc(*buf, *len + add);
	*asked += *len + add;
	uint64_t h = touch(*buf + *len, add, *len);
	*len += add;
	return h;
}

static void *worker(void *p)
{
	struct thread_arg *a = p;
	uint64_t s = a->seed, sum = 0;
	uint64_t my_bytes = (uint64_t)NLONG * (4096 + sizeof(void *)) + RING * sizeof(void *);
	asked = &my_bytes;
	void **longs = keep_long(&sum);
	void **ring = calloc(RING, sizeof *ring);
	unsigned char *buf = NULL;
	size_t len = 0;
	for (long i = 0; i < a->rounds; i++) {
		sum += ring_step(ring, &s);
		sum += short_lived(&s);
		if ((i & 7) == 0)
			sum += grow(&buf, &len, &s);
	}
	a->bytes = my_bytes;
	a->calls = NLONG + 2 + (uint64_t)a->rounds * (1 + NSHORT) + ((uint64_t)a->rounds + 7) / 8;
	free(buf);
	for (int i = 0; i < RING; i++)
		free(ring[i]);
	free(ring);
	for (int i = 0; i < NLONG; i++)
		free(longs[i]);
	free(longs);
	a->sum = sum;
	return NULL;
}

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? atol(argv[1]) : 1000000;
	pthread_t t[NTHREADS];
	struct thread_arg args[NTHREADS];
	for (int i = 0; i < NTHREADS; i++) {
		args[i] = (struct thread_arg){ .rounds = rounds, .seed = 0x9E3779B97F4A7C15ull * (i + 1) };
		if (pthread_create(&t[i], NULL, worker, &args[i]) != 0) {
			fprintf(stderr, "heap_work: pthread_create failed\n");
			return 1;
		}
	}
	uint64_t sum = 0, bytes = 0, calls = 0;
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(t[i], NULL);
		sum ^= args[i].sum;
		bytes += args[i].bytes;
		calls += args[i].calls;
	}
	printf("heap_work checksum=%016llx allocated=%llu calls=%llu\n", (unsigned long long)sum,
	       (unsigned long long)bytes, (unsigned long long)calls);
	return 0;
}
