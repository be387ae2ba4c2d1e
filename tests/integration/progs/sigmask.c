/*
 * sigmask.c — threads that block SIGPROF next to one that does not.
 *
 * masked_work0 and masked_work1 run on threads that block SIGPROF with pthread_sigmask for their
 * whole work and unblock it just before they exit (so a pending SIGPROF is delivered then);
 * open_work runs on a thread that never blocks it. The program must compute the same result
 * with the profiler attached, and the profile must show open_work.
 *
 * Usage: sigmask UNITS
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "work.h"

static long units;

WORK_NOFOLD uint64_t masked_work0(uint64_t x)
{
	return work_spin(x ^ 0x10, units);
}

WORK_NOFOLD uint64_t masked_work1(uint64_t x)
{
	return work_spin(x ^ 0x11, units);
}

WORK_NOFOLD uint64_t open_work(uint64_t x)
{
	return work_spin(x ^ 0x12, units);
}

struct job {
	int masked;
	uint64_t (*fn)(uint64_t);
	uint64_t result;
};

static void *sigmask_thread(void *arg)
{
	struct job *job = arg;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGPROF);
	if (job->masked)
		pthread_sigmask(SIG_BLOCK, &set, NULL);
	job->result = job->fn(job->result);
	WORK_KEEP_FRAME();
	if (job->masked)
		pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	return NULL;
}

int main(int argc, char **argv)
{
	struct job jobs[3] = { { 1, masked_work0, 100 }, { 1, masked_work1, 200 }, { 0, open_work, 300 } };
	pthread_t tids[3];

	if (argc != 2) {
		fprintf(stderr, "usage: sigmask UNITS\n");
		return 2;
	}
	units = atol(argv[1]);
	for (int i = 0; i < 3; i++)
		if (pthread_create(&tids[i], NULL, sigmask_thread, &jobs[i]) != 0) {
			perror("pthread_create");
			return 1;
		}
	for (int i = 0; i < 3; i++)
		pthread_join(tids[i], NULL);
	printf("sigmask checksum=%016llx %016llx %016llx\n", (unsigned long long)jobs[0].result,
	       (unsigned long long)jobs[1].result, (unsigned long long)jobs[2].result);
	return 0;
}
