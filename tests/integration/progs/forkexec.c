/*
 * forkexec.c — fork and exec another program that inherits the environment (LD_PRELOAD and the
 * CPROF_* variables included); the exec'd child outlives the parent.
 *
 * The child's stdin is a pipe whose only writer is the parent, and exec_target starts its work
 * only at EOF there, i.e. after the parent has exited and written its profile. A child that wrote
 * a CPROF_CPU without %p would therefore replace the parent's file, which the test detects by the
 * function names in it (parent_work versus target_work). The pids go to stderr ("forkexec: parent
 * P child C") for the %p test; stdout stays deterministic.
 *
 * Usage: forkexec UNITS PATH-OF-exec_target
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "work.h"

WORK_NOFOLD uint64_t parent_work(uint64_t x, long n)
{
	return work_spin(x ^ 0xe1, n);
}

int main(int argc, char **argv)
{
	int fds[2];
	pid_t pid;
	uint64_t x;

	if (argc != 3) {
		fprintf(stderr, "usage: forkexec UNITS EXEC_TARGET\n");
		return 2;
	}
	x = parent_work(3, atol(argv[1]) / 2);
	if (pipe(fds) != 0) {
		perror("pipe");
		return 1;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		dup2(fds[0], 0);
		close(fds[0]);
		close(fds[1]);
		execl(argv[2], argv[2], argv[1], (char *)NULL);
		perror("execl");
		_exit(127);
	}
	close(fds[0]);
	fprintf(stderr, "forkexec: parent %d child %d\n", (int)getpid(), (int)pid);
	x = parent_work(x, atol(argv[1]) - atol(argv[1]) / 2);
	printf("parent checksum=%016llx\n", (unsigned long long)x);
	return 0;
}
