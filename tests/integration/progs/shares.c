/*
 * shares.c — the known-shares workload: three threads whose work splits 50/30/20 between three
 * functions.
 *
 * Each thread runs `rounds` rounds; a round calls caller_of_fifty() for 5 units of work,
 * caller_of_thirty() for 3 and caller_of_twenty() for 2. Each caller calls exactly one worker,
 * so a correct profile shows the workers' flat shares at 50/30/20 % and each caller's cum equal to
 * its worker's flat. work_twenty is static (only the ELF .symtab names it) and is reached through
 * a function pointer. Built with -O2 and without frame pointers, so only a CFI unwinder finds
 * the callers.
 *
 * Usage: shares ROUNDS    (a round is about 10 ms of CPU per thread; 0 = run until killed)
 * Prints a checksum that depends only on ROUNDS.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "work.h"

#define NTHREADS 3

WORK_NOFOLD uint64_t work_fifty(uint64_t x, long units)
{
	return work_spin(x ^ 0x50, units);
}

WORK_NOFOLD uint64_t work_thirty(uint64_t x, long units)
{
	return work_spin(x ^ 0x30, units);
}

WORK_NOFOLD static uint64_t work_twenty(uint64_t x, long units)
{
	return work_spin(x ^ 0x20, units);
}

/* volatile so that the compiler cannot see through the pointer and call work_twenty directly. */
static uint64_t (*volatile twenty_ptr)(uint64_t, long);

WORK_NOFOLD uint64_t caller_of_fifty(uint64_t x)
{
	uint64_t r = work_fifty(x, 5);

	WORK_KEEP_FRAME();
	return r + 1;
}

WORK_NOFOLD uint64_t caller_of_thirty(uint64_t x)
{
	uint64_t r = work_thirty(x, 3);

	WORK_KEEP_FRAME();
	return r + 3;
}

WORK_NOFOLD uint64_t caller_of_twenty(uint64_t x)
{
	uint64_t r = twenty_ptr(x, 2);

	WORK_KEEP_FRAME();
	return r + 7;
}

struct job {
	long rounds;
	uint64_t seed;
	uint64_t result;
};

static void *shares_thread(void *arg)
{
	struct job *job = arg;
	uint64_t x = job->seed;

	for (long r = 0; job->rounds == 0 || r < job->rounds; r++) {
		x = caller_of_fifty(x);
		x = caller_of_thirty(x);
		x = caller_of_twenty(x);
	}
	job->result = x;
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t tids[NTHREADS];
	struct job jobs[NTHREADS];
	uint64_t sum = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: shares ROUNDS\n");
		return 2;
	}
	twenty_ptr = work_twenty;
	for (int i = 0; i < NTHREADS; i++) {
		jobs[i] = (struct job){ .rounds = atol(argv[1]), .seed = 1000 + i };
		if (pthread_create(&tids[i], NULL, shares_thread, &jobs[i]) != 0) {
			perror("pthread_create");
			return 1;
		}
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(tids[i], NULL);
		sum = sum * 31 + jobs[i].result;
	}
	printf("shares checksum=%016llx\n", (unsigned long long)sum);
	return 0;
}
