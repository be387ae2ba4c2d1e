/*
 * exceptions.cc — C++ exceptions thrown and caught in a loop, on two threads, while sampled.
 *
 * Each iteration throws from the bottom of a short recursion (thrower) and catches in
 * catch_loop; every 16th throw is a std::runtime_error caught by reference to its base class.
 * The C++ unwinder (libgcc's _Unwind_RaiseException, dl_iterate_phdr) and a SIGPROF arriving in
 * the middle of it must not interfere: the output is the same with or without the profiler.
 *
 * Usage: exceptions ITERATIONS    (per thread; about 1-2 us each)
 */
#include <pthread.h>
#include <stdexcept>
#include <cstdio>
#include <cstdlib>

struct Boom {
	long v;
};

__attribute__((noinline)) long thrower(int depth, long v)
{
	if (depth == 0) {
		if ((v & 15) == 0)
			throw std::runtime_error("boom");
		throw Boom{ v };
	}
	long r = thrower(depth - 1, v) + 1;
	__asm__ volatile("" ::: "memory");
	return r;
}

__attribute__((noinline)) long catch_loop(long iterations)
{
	long sum = 0;

	for (long i = 0; i < iterations; i++) {
		try {
			sum += thrower(int(i % 6), i);
		} catch (const Boom &b) {
			sum += b.v % 7;
		} catch (const std::exception &e) {
			sum += 100;
		}
	}
	return sum;
}

static void *exc_thread(void *arg)
{
	long *io = static_cast<long *>(arg);

	*io = catch_loop(*io);
	return nullptr;
}

int main(int argc, char **argv)
{
	pthread_t tids[2];
	long res[2];

	if (argc != 2) {
		std::fprintf(stderr, "usage: exceptions ITERATIONS\n");
		return 2;
	}
	for (int i = 0; i < 2; i++) {
		res[i] = std::atol(argv[1]);
		if (pthread_create(&tids[i], nullptr, exc_thread, &res[i]) != 0) {
			std::perror("pthread_create");
			return 1;
		}
	}
	for (int i = 0; i < 2; i++)
		pthread_join(tids[i], nullptr);
	std::printf("exceptions checksum=%ld %ld\n", res[0], res[1]);
	return 0;
}
