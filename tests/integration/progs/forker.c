/*
 * forker.c — fork while being profiled; the child outlives the parent.
 *
 * The parent starts a thread (parent_thread_work), forks in the middle of its own work
 * (parent_work), finishes, prints its checksum and exits normally, which is when an attached
 * profiler writes CPROF_CPU. The child first waits for the parent to be gone (EOF on a pipe whose
 * only writer is the parent), then works in child_work on two threads (exercising the
 * pthread_create hook after fork), prints its checksum and exits normally too. So if the child
 * wrote the profile file at its exit, it would overwrite the parent's after the fact, which the
 * test can see. The child's pid goes to stderr so that stdout stays deterministic.
 *
 * Usage: forker UNITS
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "work.h"

static long units;

WORK_NOFOLD uint64_t parent_work(uint64_t x, long n)
{
	return work_spin(x ^ 0xa1, n);
}

WORK_NOFOLD uint64_t parent_thread_work(uint64_t x, long n)
{
	return work_spin(x ^ 0xa2, n);
}

WORK_NOFOLD uint64_t child_work(uint64_t x, long n)
{
	return work_spin(x ^ 0xc1, n);
}

static void *parent_thread(void *arg)
{
	uint64_t *out = arg;

	*out = parent_thread_work(1, units);
	return NULL;
}

static void *child_thread(void *arg)
{
	uint64_t *out = arg;

	*out = child_work(*out, units / 2);
	return NULL;
}

static int child_main(int rfd)
{
	char c;
	pthread_t tids[2];
	uint64_t r[2] = { 5, 6 };

	while (read(rfd, &c, 1) > 0)
		;
	for (int i = 0; i < 2; i++)
		if (pthread_create(&tids[i], NULL, child_thread, &r[i]) != 0) {
			perror("child pthread_create");
			return 1;
		}
	for (int i = 0; i < 2; i++)
		pthread_join(tids[i], NULL);
	printf("child checksum=%016llx\n", (unsigned long long)(r[0] ^ r[1]));
	return 0;
}

int main(int argc, char **argv)
{
	pthread_t tid;
	uint64_t t = 0, x;
	int fds[2];
	pid_t pid;

	if (argc != 2) {
		fprintf(stderr, "usage: forker UNITS\n");
		return 2;
	}
	units = atol(argv[1]);
	if (pipe(fds) != 0 || pthread_create(&tid, NULL, parent_thread, &t) != 0) {
		perror("forker setup");
		return 1;
	}
	x = parent_work(2, units / 2);
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		close(fds[1]);
		exit(child_main(fds[0]));
	}
	close(fds[0]);
	fprintf(stderr, "forker: parent %d child %d\n", (int)getpid(), (int)pid);
	x = parent_work(x, units - units / 2);
	pthread_join(tid, NULL);
	printf("parent checksum=%016llx\n", (unsigned long long)(x ^ t));
	return 0;
}
