/*
 * sync_api.c — known waits for the block and mutex profiles (test_sync.py).
 *
 * Two scenes run at once, each on named threads:
 *   - holder() takes a mutex and keeps it HOLD_MS, ROUNDS times, while two mutex_waiter() threads
 *     block in pthread_mutex_lock on it; after each round all three meet at a barrier (in
 *     round_sync(), a function of its own, so that its waits are not the waiters').
 *   - cond_waiter() waits COND_MS on a condition variable, COND_ROUNDS times, signalled by
 *     cond_signaler().
 * The program measures the truth itself and prints it: "waiters <ns> <calls>" (the time the two
 * waiters spent in pthread_mutex_lock, and how many calls), "holder <ns>" (the time those waiters
 * had been waiting when holder() released the lock: what the mutex profile charges to holder),
 * "cond <ns> <calls>" (the time cond_waiter spent in pthread_cond_wait, and how many calls).
 *
 * Usage: sync_api <dir>   runs both scenes and writes <dir>/block.pb.gz, mutex.pb.gz, block.txt,
 *                         mutex.txt with cprof_write_profile.
 *        sync_api serve   reads commands on stdin: "run" runs both scenes, "cond N" runs the
 *                         condition scene N rounds; each answers with its truth lines and "done".
 * The rates come from CPROF_BLOCK_RATE and CPROF_MUTEX_FRACTION.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cprof.h"

#define ROUNDS 8
#define HOLD_MS 200
#define COND_ROUNDS 6
#define COND_MS 150

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) != 0) {
  }
}

/* ------------------------------------------------------------ the mutex scene -------------- */

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t start_b, end_b;
static _Atomic int64_t waiter_ns, waiter_calls, holder_ns;
static _Atomic int64_t wait_start[2]; /* this round's start of each waiter's lock call */

/* Not a tail call (the asm after it), so that its waits have round_sync as their leaf. */
__attribute__((noinline)) static void round_sync(pthread_barrier_t *b) {
  pthread_barrier_wait(b);
  __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void *mutex_waiter(void *arg) {
  int me = (int)(intptr_t)arg;
  pthread_setname_np(pthread_self(), me ? "waiter-b" : "waiter-a");
  for (int r = 0; r < ROUNDS; r++) {
    round_sync(&start_b); /* the holder has the lock */
    int64_t t0 = now_ns();
    atomic_store(&wait_start[me], t0);
    pthread_mutex_lock(&m);
    atomic_fetch_add(&waiter_ns, now_ns() - t0);
    atomic_fetch_add(&waiter_calls, 1);
    pthread_mutex_unlock(&m);
    round_sync(&end_b);
  }
  return NULL;
}

__attribute__((noinline)) static void *holder(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "holder");
  for (int r = 0; r < ROUNDS; r++) {
    pthread_mutex_lock(&m);
    round_sync(&start_b);
    sleep_ms(HOLD_MS);
    int64_t t = now_ns();
    holder_ns += (t - atomic_load(&wait_start[0])) + (t - atomic_load(&wait_start[1]));
    pthread_mutex_unlock(&m);
    round_sync(&end_b);
  }
  return NULL;
}

/* ------------------------------------------------------------ the condition scene ---------- */

static pthread_mutex_t cm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int ready;
static int64_t cond_ns, cond_calls;

__attribute__((noinline)) static void *cond_waiter(void *arg) {
  int rounds = (int)(intptr_t)arg;
  pthread_setname_np(pthread_self(), "cond-waiter");
  for (int r = 0; r < rounds; r++) {
    pthread_mutex_lock(&cm);
    while (!ready) {
      int64_t t0 = now_ns();
      pthread_cond_wait(&cv, &cm);
      cond_ns += now_ns() - t0;
      cond_calls++;
    }
    ready = 0;
    pthread_mutex_unlock(&cm);
  }
  return NULL;
}

__attribute__((noinline)) static void *cond_signaler(void *arg) {
  int rounds = (int)(intptr_t)arg;
  pthread_setname_np(pthread_self(), "cond-signaler");
  for (int r = 0; r < rounds; r++) {
    sleep_ms(COND_MS);
    pthread_mutex_lock(&cm);
    ready = 1;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&cm);
  }
  return NULL;
}

/* ------------------------------------------------------------ running ---------------------- */

static void run(bool mutex_scene, int cond_rounds) {
  pthread_t t[5];
  int n = 0;
  waiter_ns = waiter_calls = holder_ns = 0;
  cond_ns = cond_calls = 0;
  if (mutex_scene) {
    pthread_barrier_init(&start_b, NULL, 3);
    pthread_barrier_init(&end_b, NULL, 3);
    pthread_create(&t[n++], NULL, holder, NULL);
    pthread_create(&t[n++], NULL, mutex_waiter, (void *)(intptr_t)0);
    pthread_create(&t[n++], NULL, mutex_waiter, (void *)(intptr_t)1);
  }
  pthread_create(&t[n++], NULL, cond_waiter, (void *)(intptr_t)cond_rounds);
  pthread_create(&t[n++], NULL, cond_signaler, (void *)(intptr_t)cond_rounds);
  for (int i = 0; i < n; i++)
    pthread_join(t[i], NULL);
  if (mutex_scene) {
    pthread_barrier_destroy(&start_b);
    pthread_barrier_destroy(&end_b);
    printf("waiters %lld %lld\nholder %lld\n", (long long)waiter_ns, (long long)waiter_calls,
           (long long)holder_ns);
  }
  printf("cond %lld %lld\n", (long long)cond_ns, (long long)cond_calls);
  fflush(stdout);
}

static int write_profile(const char *dir, const char *name, const char *file, int debug) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    perror(path);
    return 1;
  }
  int rc = cprof_write_profile(name, fd, debug);
  close(fd);
  if (rc != 0) {
    fprintf(stderr, "cprof_write_profile(%s, %d): %s\n", name, debug, strerror(-rc));
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: sync_api <dir> | serve\n");
    return 2;
  }
  if (strcmp(argv[1], "serve") == 0) {
    char line[128];
    printf("ready\n");
    fflush(stdout);
    while (fgets(line, sizeof line, stdin) != NULL) {
      int k;
      if (strcmp(line, "run\n") == 0)
        run(true, COND_ROUNDS);
      else if (sscanf(line, "cond %d", &k) == 1)
        run(false, k);
      else
        break;
      printf("done\n");
      fflush(stdout);
    }
    return 0;
  }
  run(true, COND_ROUNDS);
  printf("rates %lld %d\n", (long long)cprof_block_profile_rate(),
         cprof_set_mutex_profile_fraction(-1));
  int bad = write_profile(argv[1], "block", "block.pb.gz", 0);
  bad |= write_profile(argv[1], "mutex", "mutex.pb.gz", 0);
  bad |= write_profile(argv[1], "block", "block.txt", 1);
  bad |= write_profile(argv[1], "mutex", "mutex.txt", 1);
  return bad;
}
