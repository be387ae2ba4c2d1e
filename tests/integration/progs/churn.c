/*
 * churn.c — threads created and joined by the thousand while sampled.
 *
 * A background thread works in background_work for the whole run; the main thread creates
 * batches of 8 short threads (short_task, a fraction of a millisecond each) and joins them, so
 * threads are born and die all the time while SIGPROF timers fire. Every thread's result goes
 * into the checksum, so a lost or corrupted thread shows in the output.
 *
 * Usage: churn NTHREADS
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "work.h"

#define BATCH 8

static volatile int churn_done;

WORK_NOFOLD uint64_t short_task(uint64_t x)
{
	x = x * 0x9E3779B97F4A7C15ull + 1;
	for (int i = 0; i < 20000; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
	return x;
}

WORK_NOFOLD uint64_t background_work(uint64_t x)
{
	return work_spin(x, 1);
}

static void *short_thread(void *arg)
{
	uint64_t *io = arg;

	*io = short_task(*io);
	return NULL;
}

static void *background_thread(void *arg)
{
	uint64_t *io = arg;

	while (!churn_done)
		*io = background_work(*io);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t bg, tids[BATCH];
	uint64_t vals[BATCH], sum = 0, bgval = 1;
	long n;

	if (argc != 2) {
		fprintf(stderr, "usage: churn NTHREADS\n");
		return 2;
	}
	n = atol(argv[1]);
	if (pthread_create(&bg, NULL, background_thread, &bgval) != 0) {
		perror("pthread_create");
		return 1;
	}
	for (long done = 0; done < n; done += BATCH) {
		for (int i = 0; i < BATCH; i++) {
			vals[i] = (uint64_t)(done + i + 1);
			if (pthread_create(&tids[i], NULL, short_thread, &vals[i]) != 0) {
				perror("pthread_create");
				return 1;
			}
		}
		for (int i = 0; i < BATCH; i++) {
			pthread_join(tids[i], NULL);
			sum = sum * 31 + vals[i];
		}
	}
	churn_done = 1;
	pthread_join(bg, NULL);
	printf("churn threads=%ld checksum=%016llx\n", n, (unsigned long long)sum);
	return 0;
}
