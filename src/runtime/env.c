/*
 * env.c — attaching without code: the constructor that reads the CPROF_* variables.
 *
 * The constructor runs in every process that loads libcprof, most of which (under LD_PRELOAD, a
 * shell's or a build's children) profile nothing, so it does nothing but a few getenv calls unless
 * a variable asks for work. Heavy libraries are loaded only when a profile starts (ext_load.c).
 *
 * Children inherit LD_PRELOAD and CPROF_*. A path with %p names a file per process. A path
 * without %p belongs to the first process that saw it: that process records its pid in
 * CPROF_OWNER_PID, and descendants that find another pid there do not profile to files or serve
 * HTTP (they would clobber the parent's file or fight for its port). A fork child stops the CPU
 * profile it inherited and writes nothing.
 *
 * Heap sampling is turned on, at Go's default rate, by CPROF_HEAP and CPROF_HTTP (both will read
 * it); CPROF_MEM_RATE sets the rate itself, 0 included, and wins over that default. The block and
 * mutex profiles are off unless CPROF_BLOCK_RATE or CPROF_MUTEX_FRACTION turns them on (as Go's).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cprof.h"
#include "runtime/cpu.h"
#include "runtime/heap.h"
#include "runtime/report.h"
#include "runtime/sync.h"
#include "runtime/sys.h"

static char env_cpu_path[PATH_MAX]; /* absolute, %p expanded; "" when unset */
static pid_t env_owner;            /* the pid that writes env_cpu_path */
static char env_heap_path[PATH_MAX]; /* as env_cpu_path, for CPROF_HEAP */
static pid_t env_heap_owner;

/* Expands %p to the pid and makes the path absolute (the program may chdir before exit). */
static int expand_path(const char *in, char *out, size_t outlen) {
  char buf[PATH_MAX];
  size_t n = 0;
  for (const char *p = in; *p && n < sizeof buf - 16; p++) {
    if (p[0] == '%' && p[1] == 'p') {
      n += (size_t)snprintf(buf + n, sizeof buf - n, "%d", (int)getpid());
      p++;
    } else {
      buf[n++] = *p;
    }
  }
  buf[n] = '\0';
  if (buf[0] == '/')
    return snprintf(out, outlen, "%s", buf) < (int)outlen ? 0 : -ENAMETOOLONG;
  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof cwd) == NULL)
    return -errno;
  return snprintf(out, outlen, "%s/%s", cwd, buf) < (int)outlen ? 0 : -ENAMETOOLONG;
}

/* Whether this process owns the un-%p'd outputs (see the file comment). */
static int claim_ownership(void) {
  const char *owner = getenv("CPROF_OWNER_PID");
  if (owner && *owner && atoi(owner) != (int)getpid())
    return 0;
  char pid[24];
  snprintf(pid, sizeof pid, "%d", (int)getpid());
  setenv("CPROF_OWNER_PID", pid, 1);
  return 1;
}

/* Writes a profile with write_fn to a temporary file beside path, then renames it into place, so
 * a reader never sees half a profile. 0 or a negative errno. */
static int write_via_tmp(const char *path, int (*write_fn)(int fd)) {
  char tmp[PATH_MAX + 32];
  snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return -errno;
  int rc = write_fn(fd);
  if (close(fd) != 0 && rc == 0)
    rc = -errno;
  if (rc == 0 && rename(tmp, path) != 0)
    rc = -errno;
  if (rc != 0)
    unlink(tmp);
  return rc;
}

static void write_cpu_at_exit(void) {
  if (env_cpu_path[0] == '\0' || getpid() != env_owner || !cpu_running())
    return;
  int rc = write_via_tmp(env_cpu_path, cpu_stop_into);
  if (rc != 0) {
    report("CPU profile not written to %s: %s", env_cpu_path, strerror(-rc));
    if (cpu_running())
      cpu_stop_into(-1); /* the file could not even be opened */
  }
}

static void write_heap_at_exit(void) {
  if (env_heap_path[0] == '\0' || getpid() != env_heap_owner)
    return;
  int rc = write_via_tmp(env_heap_path, cprof_write_heap_profile);
  if (rc != 0)
    report("heap profile not written to %s: %s", env_heap_path, strerror(-rc));
}

static int parse_hz(const char *s) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end != '\0' || v < 1 || v > 10000) {
    report("CPROF_HZ=%s is not a rate between 1 and 10000: using %d", s, cprof_cpu_profile_rate());
    return 0;
  }
  return (int)v;
}

static void parse_timer_kind(const char *s) {
  if (strcmp(s, "perf") == 0)
    cpu_set_timer_kind(CPUTIMER_PERF);
  else if (strcmp(s, "timer") == 0)
    cpu_set_timer_kind(CPUTIMER_TIMER);
  else if (strcmp(s, "setitimer") == 0)
    cpu_set_timer_kind(CPUTIMER_ITIMER);
  else
    report("CPROF_TIMER=%s is not one of perf, timer, setitimer: ignored", s);
}

static void start_cpu_from_env(const char *path) {
  int rc = expand_path(path, env_cpu_path, sizeof env_cpu_path);
  if (rc != 0) {
    report("CPROF_CPU=%s: %s", path, strerror(-rc));
    env_cpu_path[0] = '\0';
    return;
  }
  /* The fd is opened at exit; until then /dev/null stands in, since start wants a writable fd
   * (it stays open for the process's life: the profile keeps it as its start fd). */
  env_owner = getpid();
  int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  rc = devnull < 0 ? -errno : cpu_start(devnull);
  if (rc != 0) {
    if (devnull >= 0)
      close(devnull);
    report("CPU profile not started: %s", strerror(-rc));
    env_cpu_path[0] = '\0';
    return;
  }
  atexit(write_cpu_at_exit);
}

static void start_heap_from_env(const char *path) {
  int rc = expand_path(path, env_heap_path, sizeof env_heap_path);
  if (rc != 0) {
    report("CPROF_HEAP=%s: %s", path, strerror(-rc));
    env_heap_path[0] = '\0';
    return;
  }
  env_heap_owner = getpid();
  if ((rc = heap_enable_default()) != 0)
    report("heap profile not started: %s", strerror(-rc)); /* the file will be empty */
  atexit(write_heap_at_exit);
}

static void set_mem_rate_from_env(const char *s) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end != '\0' || v < 0) {
    report("CPROF_MEM_RATE=%s is not a number of bytes >= 0: using %ld", s, HEAP_DEFAULT_RATE);
    v = HEAP_DEFAULT_RATE;
  }
  int rc = heap_set_rate(v, true);
  if (rc != 0)
    report("CPROF_MEM_RATE=%s: heap profile not started: %s", s, strerror(-rc));
}

/* A non-negative integer for variable name, or -1 (reported) when s is not one. */
static long long parse_count(const char *name, const char *s) {
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno || end == s || *end != '\0' || v < 0) {
    report("%s=%s is not a number >= 0: ignored", name, s);
    return -1;
  }
  return v;
}

static void set_block_rate_from_env(const char *s) {
  long long v = parse_count("CPROF_BLOCK_RATE", s);
  int rc = v >= 0 ? sync_set_block_rate(v) : 0;
  if (rc != 0)
    report("CPROF_BLOCK_RATE=%s: block profile not started: %s", s, strerror(-rc));
}

static void set_mutex_fraction_from_env(const char *s) {
  long long v = parse_count("CPROF_MUTEX_FRACTION", s);
  if (v > INT_MAX) {
    report("CPROF_MUTEX_FRACTION=%s is too large: ignored", s);
    return;
  }
  int64_t rc = v >= 0 ? sync_set_mutex_fraction(v) : 0;
  if (rc < 0)
    report("CPROF_MUTEX_FRACTION=%s: mutex profile not started: %s", s, strerror((int)-rc));
}

__attribute__((constructor)) static void cprof_env_init(void) {
  const char *cpu = getenv("CPROF_CPU");
  const char *http = getenv("CPROF_HTTP");
  const char *hz = getenv("CPROF_HZ");
  const char *timer = getenv("CPROF_TIMER");
  const char *heap = getenv("CPROF_HEAP");
  const char *mem_rate = getenv("CPROF_MEM_RATE");
  const char *block_rate = getenv("CPROF_BLOCK_RATE");
  const char *mutex_fraction = getenv("CPROF_MUTEX_FRACTION");
  if (!cpu && !http && !hz && !timer && !heap && !mem_rate && !block_rate && !mutex_fraction)
    return;
  if (hz) {
    int v = parse_hz(hz);
    if (v)
      cprof_set_cpu_profile_rate(v);
  }
  if (timer)
    parse_timer_kind(timer);
  int owner = (cpu && !strstr(cpu, "%p")) || (heap && !strstr(heap, "%p")) || http
                  ? claim_ownership()
                  : 1;
  if (mem_rate && *mem_rate)
    set_mem_rate_from_env(mem_rate);
  if (block_rate && *block_rate)
    set_block_rate_from_env(block_rate);
  if (mutex_fraction && *mutex_fraction)
    set_mutex_fraction_from_env(mutex_fraction);
  if (heap && *heap && (owner || strstr(heap, "%p")))
    start_heap_from_env(heap);
  if (cpu && *cpu && (owner || strstr(cpu, "%p")))
    start_cpu_from_env(cpu);
  if (http && *http && owner) {
    int rc = cprof_http_start(http, getenv("CPROF_HTTP_TOKEN"));
    if (rc != 0)
      report("CPROF_HTTP=%s: not serving: %s", http, strerror(-rc));
  }
}
