/*
 * exec_target.c — the program forkexec.c execs: waits for EOF on stdin (its parent has exited),
 * then works in target_work and prints a checksum.
 *
 * Usage: exec_target UNITS
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "work.h"

WORK_NOFOLD uint64_t target_work(uint64_t x, long n)
{
	return work_spin(x ^ 0x7a, n);
}

int main(int argc, char **argv)
{
	char c;
	uint64_t x;

	if (argc != 2) {
		fprintf(stderr, "usage: exec_target UNITS\n");
		return 2;
	}
	while (read(0, &c, 1) > 0)
		;
	x = target_work(4, atol(argv[1]));
	WORK_KEEP_FRAME();
	printf("target checksum=%016llx\n", (unsigned long long)x);
	return 0;
}
