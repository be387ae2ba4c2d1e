/*
 * heap_api.c — the heap profile's API, linked in (-lcprof), no environment variables.
 *
 * Checks and prints, one result a line: the rate before anything turned sampling on (0); a
 * negative rate refused with -EINVAL; rate 1 set and read back; api_keep() allocates 1000 blocks
 * of 1000 B and frees every other one; the heap profile written to argv[1]; a bad fd refused with
 * a negative errno; sampling turned off (rate 0), then api_after_off() allocates 1000 more
 * blocks, which the profile written to argv[2] must not show; the default rate set again.
 *
 * Usage: heap_api PROFILE1 PROFILE2
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cprof.h"

#define N 1000

static void *blocks[N];
static void *later[N];

__attribute__((noinline)) void api_keep(void)
{
	for (int i = 0; i < N; i++)
		blocks[i] = malloc(1000);
	for (int i = 0; i < N; i += 2) {
		free(blocks[i]);
		blocks[i] = NULL;
	}
}

__attribute__((noinline)) void api_after_off(void)
{
	for (int i = 0; i < N; i++)
		later[i] = malloc(1000);
}

/* Profile 1 through cprof_write_heap_profile, profile 2 through cprof_write_profile("allocs"). */
static int write_profile(const char *path, int which)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -errno;
	int rc = which == 1 ? cprof_write_heap_profile(fd) : cprof_write_profile("allocs", fd, 0);
	close(fd);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: heap_api PROFILE1 PROFILE2\n");
		return 2;
	}
	printf("initial rate %ld\n", cprof_mem_profile_rate());
	printf("set -1: %s\n", cprof_set_mem_profile_rate(-1) == -EINVAL ? "EINVAL" : "other");
	int rc = cprof_set_mem_profile_rate(1);
	printf("set 1: %d, rate %ld\n", rc, cprof_mem_profile_rate());
	api_keep();
	printf("write 1: %d\n", write_profile(argv[1], 1));
	int bad = cprof_write_heap_profile(-1);
	printf("write to fd -1: %s\n", bad < 0 ? "negative errno" : "accepted");
	printf("write profile nosuch: %s\n",
	       cprof_write_profile("nosuch", 1, 0) == -ENOENT ? "ENOENT" : "other");
	rc = cprof_set_mem_profile_rate(0);
	printf("set 0: %d, rate %ld\n", rc, cprof_mem_profile_rate());
	api_after_off();
	printf("write 2: %d\n", write_profile(argv[2], 2));
	rc = cprof_set_mem_profile_rate(524288);
	printf("set default: %d, rate %ld\n", rc, cprof_mem_profile_rate());
	return 0;
}
