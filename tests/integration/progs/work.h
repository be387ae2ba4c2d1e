/*
 * work.h — deterministic CPU burners shared by the integration test programs.
 *
 * Every workload program spends its time in work_spin(), a xorshift loop whose iterations each
 * depend on the previous one, so the compiler can neither vectorize it nor compute it in closed
 * form, and whose cost per iteration is the same wherever it is expanded. It is a macro, so the
 * CPU time lands in the named (noinline) function that uses it: that is what lets a test read
 * "function X did N% of the work" off a profile. The result feeds a checksum that the programs
 * print, so a test can compare the output of a run under the profiler with a run without it.
 *
 * WORK_UNIT iterations take roughly a millisecond on current x86_64 machines.
 */
#ifndef IT_WORK_H
#define IT_WORK_H

#include <stdint.h>

#define WORK_UNIT 400000L

/* Keeps GCC's identical-code folding from merging functions whose bodies are the same. */
#if defined(__GNUC__) && !defined(__clang__)
#define WORK_NOFOLD __attribute__((noinline, noclone, no_icf))
#else
#define WORK_NOFOLD __attribute__((noinline))
#endif

/* A macro, not an inline function: DWARF would record an inlined work_spin frame, and pprof
 * would give the flat time to "work_spin (inline)" instead of the function that called it. */
#define work_spin(seed, units)                                                              \
	({                                                                                  \
		uint64_t ws_x = (seed);                                                     \
		long ws_n = (units) * WORK_UNIT;                                            \
		if (ws_x == 0)                                                              \
			ws_x = 0x9E3779B97F4A7C15ull;                                        \
		for (long ws_i = 0; ws_i < ws_n; ws_i++) {                                  \
			ws_x ^= ws_x << 13;                                                 \
			ws_x ^= ws_x >> 7;                                                  \
			ws_x ^= ws_x << 17;                                                 \
		}                                                                           \
		ws_x;                                                                       \
	})

/* A compiler barrier after a call keeps the call from becoming a tail call (which would drop the
 * caller from the stack and make the callers test meaningless). */
#define WORK_KEEP_FRAME() __asm__ volatile("" ::: "memory")

#endif /* IT_WORK_H */
