/*
 * heap_live.c — a known live set for the heap profile: what is held, by whom, and what was only
 * passing through.
 *
 * keep_big() allocates 40 blocks of 1 MiB and keeps them, keep_small() 100 000 blocks of 200 B and
 * keeps them, churn() allocates CHURN_MIB MiB in 4 KiB blocks, each freed right after it is
 * allocated, so its site has a large alloc_space and (almost) nothing in use. Every pointer goes
 * through a volatile global, so the compiler can neither drop the allocations nor pair a malloc
 * with its free. The kept blocks stay live until exit, so a profile written at exit (CPROF_HEAP)
 * shows them in use.
 *
 * With "wait" the program then prints "ready" and reads commands from stdin, one a line:
 * "churn BYTES" makes churn_later() allocate and free BYTES in 4 KiB blocks and prints "done";
 * end of input ends the program. That lets a test allocate a known amount while it holds a
 * /debug/pprof/allocs?seconds=N request open.
 *
 * Usage: heap_live CHURN_MIB [wait]
 * Prints a line that depends only on the arguments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NBIG 40
#define BIG_SIZE (1 << 20)
#define NSMALL 100000
#define SMALL_SIZE 200
#define CHURN_SIZE 4096

static void *big[NBIG];
static void *small[NSMALL];
static void *volatile sink;

__attribute__((noinline)) void keep_big(void)
{
	for (int i = 0; i < NBIG; i++) {
		big[i] = malloc(BIG_SIZE);
		if (big[i] == NULL)
			abort();
		((char *)big[i])[0] = (char)i;
	}
}

__attribute__((noinline)) void keep_small(void)
{
	for (int i = 0; i < NSMALL; i++) {
		small[i] = malloc(SMALL_SIZE);
		if (small[i] == NULL)
			abort();
		((char *)small[i])[0] = (char)i;
	}
}

/* Defines a function that allocates and frees `bytes` in CHURN_SIZE blocks and returns a checksum
 * of what it wrote: one body, several names, since the name is the allocation site the test
 * looks for. */
#define DEFINE_CHURN(name)                                                                  \
	__attribute__((noinline)) unsigned long name(unsigned long long bytes)              \
	{                                                                                   \
		unsigned long sum = 0;                                                      \
		for (unsigned long long done = 0; done < bytes; done += CHURN_SIZE) {       \
			sink = malloc(CHURN_SIZE);                                          \
			char *p = sink;                                                     \
			if (p == NULL)                                                      \
				abort();                                                    \
			p[0] = (char)(done >> 12);                                          \
			sum += (unsigned char)p[0];                                         \
			free(sink);                                                         \
		}                                                                           \
		return sum;                                                                 \
	}

DEFINE_CHURN(churn)
/* What the test allocates during a delta profile. */
DEFINE_CHURN(churn_later)

static void serve_commands(void)
{
	char line[128];
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof line, stdin) != NULL) {
		unsigned long long bytes;
		if (sscanf(line, "churn %llu", &bytes) == 1) {
			unsigned long sum = churn_later(bytes);
			printf("done %lu\n", sum);
		} else {
			printf("unknown command\n");
		}
		fflush(stdout);
	}
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: heap_live CHURN_MIB [wait]\n");
		return 2;
	}
	unsigned long long churn_bytes = strtoull(argv[1], NULL, 10) << 20;
	keep_big();
	keep_small();
	unsigned long sum = churn(churn_bytes);
	unsigned long check = 0;
	for (int i = 0; i < NBIG; i++)
		check += (unsigned char)((char *)big[i])[0];
	for (int i = 0; i < NSMALL; i++)
		check += (unsigned char)((char *)small[i])[0];
	printf("heap_live kept %d x %d + %d x %d, churned %llu bytes, sums %lu %lu\n", NBIG, BIG_SIZE,
	       NSMALL, SMALL_SIZE, churn_bytes, check, sum);
	fflush(stdout);
	if (argc > 2 && strcmp(argv[2], "wait") == 0)
		serve_commands();
	return 0;
}
