/*
 * cpu_work.c — the CPU-bound workload of the CPU-profile benchmark (bench/cpu_bench.py).
 *
 * Two threads each do the same fixed amount of integer hashing, so the CPU time of a run depends
 * only on the machine and on whatever a profiler adds; nothing is timed or adaptive. The work is
 * split 60/30/10 over three leaf functions (work_hot, work_warm, work_cold), and every leaf call is
 * made from the bottom of a 14-deep mutual recursion through four functions (step_a .. step_d), so
 * a sampled stack is ~20 frames deep: clone, start_thread, worker, run_round, 14 steps, the leaf.
 * The file is built with -O2 and without frame pointers, which is what most distribution code
 * looks like, so a profiler has to unwind with CFI (or fail to) and pays for the depth.
 *
 * Invariants: the steps and leaves are noinline/noclone and use their callee's result after the
 * call, so the compiler can neither fold them away nor turn the calls into jumps (which would
 * flatten the stack). The checksum printed on stdout is the same on every run with the same
 * arguments; the driver compares it across runs to catch a profiler that perturbs the program's
 * result.
 *
 * Usage: cpu_work [rounds]   (rounds per thread; the default takes ~1.2 s of CPU per thread on the
 * 2-vCPU benchmark machine; 0 does no work and measures a profiler's fixed costs).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define NOINL __attribute__((noinline, noclone))

enum {
  WORK_DEPTH = 14,   /* recursion depth of the step chain above every leaf call */
  WORK_ITERS = 4000, /* hash iterations per leaf call (~2 us) */
  WORK_THREADS = 2,
  WORK_ROUNDS_DEFAULT = 11000,
};

/* One xorshift-multiply hash step; a chain of these cannot be vectorised or precomputed. */
static inline uint64_t work_mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 29;
  return x;
}

NOINL static uint64_t work_hot(uint64_t seed) {
  for (int i = 0; i < WORK_ITERS; i++)
    seed = work_mix(seed + (uint64_t)i);
  return seed;
}

NOINL static uint64_t work_warm(uint64_t seed) {
  for (int i = 0; i < WORK_ITERS; i++)
    seed = work_mix(seed ^ (uint64_t)i);
  return seed;
}

NOINL static uint64_t work_cold(uint64_t seed) {
  for (int i = 0; i < WORK_ITERS; i++)
    seed = work_mix(seed - (uint64_t)i);
  return seed;
}

/* The leaf chosen by kind: 0 hot, 1 warm, 2 cold. */
NOINL static uint64_t work_leaf(int kind, uint64_t seed) {
  uint64_t r;
  if (kind == 0)
    r = work_hot(seed);
  else if (kind == 1)
    r = work_warm(seed);
  else
    r = work_cold(seed);
  return r + (uint64_t)kind;
}

NOINL static uint64_t step_a(int depth, int kind, uint64_t seed);

/* The four steps call each other round-robin until depth reaches 0; each uses the result of its
 * callee so the call is not a tail call and keeps its frame. */
NOINL static uint64_t step_d(int depth, int kind, uint64_t seed) {
  uint64_t r = depth > 0 ? step_a(depth - 1, kind, seed + 4) : work_leaf(kind, seed);
  return r * 7 + (uint64_t)depth;
}

NOINL static uint64_t step_c(int depth, int kind, uint64_t seed) {
  uint64_t r = depth > 0 ? step_d(depth - 1, kind, seed + 3) : work_leaf(kind, seed);
  return r * 5 + (uint64_t)depth;
}

NOINL static uint64_t step_b(int depth, int kind, uint64_t seed) {
  uint64_t r = depth > 0 ? step_c(depth - 1, kind, seed + 2) : work_leaf(kind, seed);
  return r * 3 + (uint64_t)depth;
}

NOINL static uint64_t step_a(int depth, int kind, uint64_t seed) {
  uint64_t r = depth > 0 ? step_b(depth - 1, kind, seed + 1) : work_leaf(kind, seed);
  return r * 11 + (uint64_t)depth;
}

/* One round: 6 hot, 3 warm and 1 cold leaf calls, each at the bottom of the step chain. */
NOINL static uint64_t run_round(uint64_t seed) {
  static const int kinds[10] = {0, 1, 0, 2, 0, 1, 0, 0, 1, 0};
  for (int i = 0; i < 10; i++)
    seed = step_a(WORK_DEPTH - 1, kinds[i], seed);
  return seed;
}

struct work_arg {
  long rounds;
  uint64_t seed;
  uint64_t result;
};

static void *worker(void *p) {
  struct work_arg *a = p;
  uint64_t s = a->seed;
  for (long i = 0; i < a->rounds; i++)
    s = run_round(s);
  a->result = s;
  return NULL;
}

int main(int argc, char **argv) {
  long rounds = WORK_ROUNDS_DEFAULT;
  if (argc > 1) {
    char *end;
    rounds = strtol(argv[1], &end, 10);
    if (*argv[1] == '\0' || *end != '\0' || rounds < 0) {
      fprintf(stderr, "usage: cpu_work [rounds]\n");
      return 2;
    }
  }
  struct work_arg args[WORK_THREADS];
  pthread_t th[WORK_THREADS];
  for (int t = 0; t < WORK_THREADS; t++) {
    args[t] =
        (struct work_arg){.rounds = rounds, .seed = 0x9e3779b97f4a7c15ULL * (uint64_t)(t + 1)};
    int err = pthread_create(&th[t], NULL, worker, &args[t]);
    if (err != 0) {
      fprintf(stderr, "cpu_work: pthread_create: error %d\n", err);
      return 1;
    }
  }
  uint64_t sum = 0;
  for (int t = 0; t < WORK_THREADS; t++) {
    pthread_join(th[t], NULL);
    sum ^= args[t].result;
  }
  printf("cpu_work rounds=%ld threads=%d checksum=%016llx\n", rounds, WORK_THREADS,
         (unsigned long long)sum);
  return 0;
}
