/*
 * report.c — messages to the user (see report.h).
 *
 * A message is formatted into a fixed buffer (no allocation, so it is safe from the allocation
 * hooks) and written to stderr with one write(2), so lines from several threads do not interleave.
 * CPROF_QUIET=1 silences stderr; cprof_last_error() still sees the message.
 */
#include "runtime/report.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cprof.h"
#include "runtime/sys.h"

static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
static char report_last[512];
static char report_copy[512];

void report(const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  if ((size_t)n > sizeof line - 2)
    n = (int)sizeof line - 2;
  pthread_mutex_lock(&report_lock);
  memcpy(report_last, line, (size_t)n + 1);
  pthread_mutex_unlock(&report_lock);
  const char *quiet = getenv("CPROF_QUIET");
  if (quiet && *quiet && *quiet != '0')
    return;
  char out[540];
  int m = snprintf(out, sizeof out, "cprof: %s\n", line);
  if (m > 0)
    sys_write_all(2, out, (size_t)m < sizeof out ? (size_t)m : sizeof out - 1);
}

CPROF_API const char *cprof_last_error(void) {
  pthread_mutex_lock(&report_lock);
  memcpy(report_copy, report_last, sizeof report_copy);
  pthread_mutex_unlock(&report_lock);
  return report_copy;
}
