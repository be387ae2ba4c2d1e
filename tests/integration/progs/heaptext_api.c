/*
 * heaptext_api.c — libcprof's heap profile as Go's debug=1 text, linked in (-lcprof).
 *
 * Sets the sampling rate to argv[3] bytes, allocates from three functions (text_keep_small keeps
 * 3000 blocks of 64 B, text_keep_big 40 blocks of 64 KiB, text_churn allocates and frees 2000
 * blocks of 4 KiB), then writes the heap profile as text (cprof_write_profile("heap", fd, 1)) to
 * argv[1] and the allocs profile as text to argv[2]. tests/integration/test_legacy.py reads both
 * with prof_parse and with go tool pprof: the text ends with libcprof's "--- Memory map: ---"
 * section, which both must turn into the same mappings.
 *
 * Usage: heaptext_api HEAP_TEXT ALLOCS_TEXT RATE
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cprof.h"

static void *small[3000], *big[40];
static void *volatile sink;

__attribute__((noinline)) void text_keep_small(void)
{
	for (int i = 0; i < 3000; i++)
		small[i] = malloc(64);
}

__attribute__((noinline)) void text_keep_big(void)
{
	for (int i = 0; i < 40; i++)
		big[i] = malloc(65536);
}

__attribute__((noinline)) void text_churn(void)
{
	for (int i = 0; i < 2000; i++) {
		sink = malloc(4096);
		free(sink);
	}
}

static int write_text(const char *path, const char *name)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -errno;
	int rc = cprof_write_profile(name, fd, 1);
	close(fd);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: heaptext_api HEAP_TEXT ALLOCS_TEXT RATE\n");
		return 2;
	}
	int rc = cprof_set_mem_profile_rate(atol(argv[3]));
	printf("set rate: %d\n", rc);
	text_keep_small();
	text_keep_big();
	text_churn();
	printf("heap: %d\n", write_text(argv[1], "heap"));
	printf("allocs: %d\n", write_text(argv[2], "allocs"));
	return 0;
}
