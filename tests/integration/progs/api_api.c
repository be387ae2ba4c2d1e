/*
 * api_api.c — the public CPU-profile API of include/cprof.h, linked in (no LD_PRELOAD).
 *
 * Checks every documented return code of cprof_set_cpu_profile_rate, cprof_start_cpu_profile and
 * cprof_stop_cpu_profile, then profiles api_work at 500 Hz into FILE1, and a second, shorter
 * profile (api_work_again) into FILE2 to show that a profile can be started again after a stop.
 * Prints one "ok"/"FAIL" line per check and the timer kind; exits 1 if any check failed.
 *
 * Usage: api_api FILE1 FILE2 UNITS
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cprof.h"
#include "work.h"

static int failures;

static void check_rc(const char *what, int got, int want)
{
	int ok = got == want;

	printf("%s %s: got %d (%s), want %d (%s)\n", ok ? "ok" : "FAIL", what, got,
	       got < 0 ? strerror(-got) : "success", want, want < 0 ? strerror(-want) : "success");
	failures += !ok;
}

WORK_NOFOLD uint64_t api_work(uint64_t x, long units)
{
	return work_spin(x ^ 0xab, units);
}

WORK_NOFOLD uint64_t api_work_again(uint64_t x, long units)
{
	return work_spin(x ^ 0xcd, units);
}

static int open_out(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		perror(path);
	return fd;
}

static void check_errors_before_start(void)
{
	int rdfd = open("/dev/null", O_RDONLY);

	printf("timer kind before any profile: %s\n", cprof_cpu_timer_kind());
	check_rc("set rate 0", cprof_set_cpu_profile_rate(0), -EINVAL);
	check_rc("set rate 100000", cprof_set_cpu_profile_rate(100000), -EINVAL);
	check_rc("set rate -5", cprof_set_cpu_profile_rate(-5), -EINVAL);
	check_rc("stop without start", cprof_stop_cpu_profile(), -ENOENT);
	check_rc("start on fd -1", cprof_start_cpu_profile(-1), -EBADF);
	check_rc("start on a read-only fd", cprof_start_cpu_profile(rdfd), -EBADF);
	check_rc("stop after failed starts", cprof_stop_cpu_profile(), -ENOENT);
	close(rdfd);
	check_rc("set rate 500", cprof_set_cpu_profile_rate(500), 0);
	check_rc("rate reads back", cprof_cpu_profile_rate(), 500);
}

int main(int argc, char **argv)
{
	uint64_t x;
	int fd1, fd2;

	if (argc != 4) {
		fprintf(stderr, "usage: api_api FILE1 FILE2 UNITS\n");
		return 2;
	}
	check_errors_before_start();
	if ((fd1 = open_out(argv[1])) < 0 || (fd2 = open_out(argv[2])) < 0)
		return 1;
	check_rc("start", cprof_start_cpu_profile(fd1), 0);
	check_rc("second start", cprof_start_cpu_profile(fd2), -EBUSY);
	check_rc("set rate while running", cprof_set_cpu_profile_rate(100), -EBUSY);
	printf("timer kind while profiling: %s\n", cprof_cpu_timer_kind());
	x = api_work(1, atol(argv[3]));
	check_rc("stop", cprof_stop_cpu_profile(), 0);
	check_rc("second stop", cprof_stop_cpu_profile(), -ENOENT);
	close(fd1);

	check_rc("rate still 500 after stop", cprof_cpu_profile_rate(), 500);
	check_rc("restart", cprof_start_cpu_profile(fd2), 0);
	x = api_work_again(x, atol(argv[3]) / 4);
	check_rc("stop restarted profile", cprof_stop_cpu_profile(), 0);
	close(fd2);
	printf("api checksum=%016llx\n", (unsigned long long)x);
	printf("%d checks failed\n", failures);
	return failures ? 1 : 0;
}
