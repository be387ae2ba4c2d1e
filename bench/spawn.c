/*
 * spawn.c — times process start-up for the start-up benchmark (bench/startup_bench.py).
 *
 * Runs one program N times in a row with posix_spawn and waits for each before starting the next,
 * so what is measured is the whole life of a short process: exec, the dynamic loader mapping and
 * relocating every library (including an LD_PRELOADed one), constructors, main, exit and reaping.
 * The child's environment is ours plus the NAME=VALUE pairs given with -e; nothing is preloaded
 * into spawn itself. Wall time comes from CLOCK_MONOTONIC around the whole loop, CPU time from
 * getrusage(RUSAGE_CHILDREN) before and after (user+sys of every reaped child).
 *
 * Output, one line on stdout:  n=<N> wall_ns=<total> cpu_ns=<total children user+sys>
 * Exit status 0 only if every child ran and exited 0; the loop stops at the first failure.
 *
 * Usage: spawn -n N [-e NAME=VALUE]... -- program [args...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

enum { SPAWN_MAX_EXTRA = 16 };

static long long spawn_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static long long spawn_children_cpu_ns(void) {
  struct rusage ru;
  getrusage(RUSAGE_CHILDREN, &ru);
  return (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
         (long long)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
}

/* Builds the child's environment: ours, minus any variable named in extra, plus extra. The array
 * is allocated once and lives until exit. Returns NULL on allocation failure. */
static char **spawn_env_build(char **extra, int nextra) {
  size_t n = 0;
  while (environ[n] != NULL)
    n++;
  char **env = calloc(n + (size_t)nextra + 1, sizeof *env);
  if (env == NULL)
    return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    int overridden = 0;
    for (int j = 0; j < nextra; j++) {
      size_t len = (size_t)(strchr(extra[j], '=') - extra[j]) + 1;
      if (strncmp(environ[i], extra[j], len) == 0)
        overridden = 1;
    }
    if (!overridden)
      env[k++] = environ[i];
  }
  for (int j = 0; j < nextra; j++)
    env[k++] = extra[j];
  env[k] = NULL;
  return env;
}

static int spawn_usage(void) {
  fprintf(stderr, "usage: spawn -n N [-e NAME=VALUE]... -- program [args...]\n");
  return 2;
}

/* Spawns argv[0] n times in sequence; returns 0, or 1 after printing why a child failed. */
static int spawn_loop(long n, char **argv, char **env) {
  for (long i = 0; i < n; i++) {
    pid_t pid;
    int err = posix_spawn(&pid, argv[0], NULL, NULL, argv, env);
    if (err != 0) {
      fprintf(stderr, "spawn: %s: %s\n", argv[0], strerror(err));
      return 1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0) {
      if (errno != EINTR) {
        perror("spawn: waitpid");
        return 1;
      }
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "spawn: %s: child %ld failed (status 0x%x)\n", argv[0], i, status);
      return 1;
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  long n = 0;
  char *extra[SPAWN_MAX_EXTRA];
  int nextra = 0;
  int i = 1;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) {
      i++;
      break;
    } else if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
      n = strtol(argv[++i], NULL, 10);
    } else if (strcmp(argv[i], "-e") == 0 && i + 1 < argc && nextra < SPAWN_MAX_EXTRA &&
               strchr(argv[i + 1], '=') != NULL) {
      extra[nextra++] = argv[++i];
    } else {
      return spawn_usage();
    }
  }
  if (n <= 0 || i >= argc)
    return spawn_usage();
  char **env = spawn_env_build(extra, nextra);
  if (env == NULL) {
    perror("spawn");
    return 1;
  }
  long long cpu0 = spawn_children_cpu_ns();
  long long t0 = spawn_now_ns();
  int rc = spawn_loop(n, argv + i, env);
  long long t1 = spawn_now_ns();
  long long cpu1 = spawn_children_cpu_ns();
  if (rc != 0)
    return rc;
  printf("n=%ld wall_ns=%lld cpu_ns=%lld\n", n, t1 - t0, cpu1 - cpu0);
  return 0;
}
