/*
 * demo.c — the classic Go pprof example, in C: a busy program that serves /debug/pprof/.
 *
 * The first thing main does is cprof_http_start("127.0.0.1:6060", NULL), as a Go program would
 * `import _ "net/http/pprof"` and ListenAndServe; then three threads do recognisable work until
 * the program is killed (or for --seconds N):
 *   - mandelbrot_render / mandelbrot_escape: renders a Mandelbrot set, row by row;
 *   - sort_records / rle_compress: fills an array with pseudo-random records, merge-sorts it and
 *     run-length-encodes the sorted bytes;
 *   - hash_strings / fnv1a_hash / sha_mix: builds strings and hashes them twice.
 * All three are hand-written (no dependencies), so a profile of this program shows functions
 * whose names say what they do. examples/demo.sh fetches a CPU profile from it.
 *
 * Usage: demo [--seconds N] [--addr host:port]
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cprof.h"

static volatile int demo_stop;
static volatile uint64_t demo_sink;

/* ------------------------------------------------------------------------- mandelbrot ------ */

#define MANDEL_W 320
#define MANDEL_H 240
#define MANDEL_ITER 500

static __attribute__((noinline)) int mandelbrot_escape(double cr, double ci)
{
	double zr = 0, zi = 0;
	int i;

	for (i = 0; i < MANDEL_ITER && zr * zr + zi * zi <= 4.0; i++) {
		double t = zr * zr - zi * zi + cr;

		zi = 2 * zr * zi + ci;
		zr = t;
	}
	return i;
}

static __attribute__((noinline)) uint64_t mandelbrot_render(unsigned char *image)
{
	uint64_t total = 0;

	for (int y = 0; y < MANDEL_H; y++)
		for (int x = 0; x < MANDEL_W; x++) {
			int n = mandelbrot_escape(-2.0 + 3.0 * x / MANDEL_W, -1.2 + 2.4 * y / MANDEL_H);

			image[y * MANDEL_W + x] = (unsigned char)n;
			total += (uint64_t)n;
		}
	return total;
}

static void *mandelbrot_thread(void *arg)
{
	static unsigned char image[MANDEL_W * MANDEL_H];

	while (!demo_stop)
		demo_sink += mandelbrot_render(image);
	return arg;
}

/* ------------------------------------------------------------------ sort and compress ------ */

#define RECORDS 200000

static uint32_t demo_random(uint32_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 17;
	*state ^= *state << 5;
	return *state;
}

static __attribute__((noinline)) void merge_runs(uint32_t *a, uint32_t *tmp, size_t lo, size_t mid,
						 size_t hi)
{
	size_t i = lo, j = mid, k = lo;

	while (i < mid && j < hi)
		tmp[k++] = a[i] <= a[j] ? a[i++] : a[j++];
	while (i < mid)
		tmp[k++] = a[i++];
	while (j < hi)
		tmp[k++] = a[j++];
	memcpy(a + lo, tmp + lo, (hi - lo) * sizeof(*a));
}

static __attribute__((noinline)) void sort_records(uint32_t *a, uint32_t *tmp, size_t n)
{
	for (size_t width = 1; width < n; width *= 2)
		for (size_t lo = 0; lo < n - width; lo += 2 * width) {
			size_t hi = lo + 2 * width < n ? lo + 2 * width : n;

			merge_runs(a, tmp, lo, lo + width, hi);
		}
}

/* Run-length encodes src into dst as (count, byte) pairs; returns the encoded length. */
static __attribute__((noinline)) size_t rle_compress(const unsigned char *src, size_t n,
						     unsigned char *dst)
{
	size_t out = 0;

	for (size_t i = 0; i < n;) {
		size_t run = 1;

		while (i + run < n && run < 255 && src[i + run] == src[i])
			run++;
		dst[out++] = (unsigned char)run;
		dst[out++] = src[i];
		i += run;
	}
	return out;
}

static void *sort_compress_thread(void *arg)
{
	uint32_t *a = malloc(RECORDS * sizeof(*a)), *tmp = malloc(RECORDS * sizeof(*a));
	unsigned char *packed = malloc(RECORDS * sizeof(*a) * 2);
	uint32_t state = 2463534242u;

	if (a == NULL || tmp == NULL || packed == NULL)
		return NULL;
	while (!demo_stop) {
		for (size_t i = 0; i < RECORDS; i++)
			a[i] = demo_random(&state) % 100000;
		sort_records(a, tmp, RECORDS);
		demo_sink += rle_compress((unsigned char *)a, RECORDS * sizeof(*a), packed);
	}
	free(a);
	free(tmp);
	free(packed);
	return arg;
}

/* ------------------------------------------------------------------------- hashing ------ */

static __attribute__((noinline)) uint64_t fnv1a_hash(const char *s, size_t n)
{
	uint64_t h = 14695981039346656037ull;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

/* A slow mixing hash: 16 rounds of rotate-multiply over every 8-byte word. */
static __attribute__((noinline)) uint64_t sha_mix(const char *s, size_t n)
{
	uint64_t h = 0x6a09e667f3bcc908ull;

	for (size_t i = 0; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, s + i, 8);
		for (int r = 0; r < 16; r++) {
			h = (h ^ w) * 0x9E3779B97F4A7C15ull;
			h = (h << 23) | (h >> 41);
		}
	}
	return h;
}

static __attribute__((noinline)) uint64_t hash_strings(char *buf, size_t size, uint64_t seed)
{
	uint64_t acc = 0;

	for (int k = 0; k < 2000; k++) {
		int n = snprintf(buf, size, "user-%llu-session-%d-payload-%llx",
				 (unsigned long long)seed, k, (unsigned long long)(acc * 31 + k));

		acc += fnv1a_hash(buf, (size_t)n) ^ sha_mix(buf, (size_t)n);
	}
	return acc;
}

static void *hash_thread(void *arg)
{
	char buf[128];
	uint64_t seed = 1;

	while (!demo_stop)
		demo_sink += hash_strings(buf, sizeof(buf), seed++);
	return arg;
}

/* ---------------------------------------------------------------------------- main ------ */

int main(int argc, char **argv)
{
	void *(*bodies[3])(void *) = { mandelbrot_thread, sort_compress_thread, hash_thread };
	const char *addr = "127.0.0.1:6060";
	long seconds = 0;
	pthread_t tids[3];
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
			seconds = atol(argv[++i]);
		} else if (strcmp(argv[i], "--addr") == 0 && i + 1 < argc) {
			addr = argv[++i];
		} else {
			fprintf(stderr, "usage: demo [--seconds N] [--addr host:port]\n");
			return 2;
		}
	}
	rc = cprof_http_start(addr, NULL);
	if (rc != 0) {
		fprintf(stderr, "demo: cannot serve /debug/pprof/ on %s: %s%s\n", addr, strerror(-rc),
			rc == -EADDRINUSE ? " (the port is busy: stop whatever listens there)" : "");
		if (rc == -ENOENT) /* the extension did not load: the library says why */
			fprintf(stderr, "demo: %s\n", cprof_last_error());
		return 1;
	}
	printf("demo: serving http://%s/debug/pprof/ (port %d); working on 3 threads\n", addr,
	       cprof_http_port());
	fflush(stdout);
	for (int i = 0; i < 3; i++)
		if (pthread_create(&tids[i], NULL, bodies[i], NULL) != 0) {
			fprintf(stderr, "demo: pthread_create failed\n");
			return 1;
		}
	if (seconds > 0) {
		struct timespec ts = { .tv_sec = seconds };

		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		demo_stop = 1;
		for (int i = 0; i < 3; i++)
			pthread_join(tids[i], NULL);
		printf("demo: done (%llx)\n", (unsigned long long)demo_sink);
		return 0;
	}
	for (int i = 0; i < 3; i++)
		pthread_join(tids[i], NULL);
	return 0;
}
