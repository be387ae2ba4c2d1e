/*
 * api.c — the public calls that the HTTP plugin carries out (cprof.h's HTTP section).
 *
 * Serving HTTP means someone will read /debug/pprof/heap, so starting the server turns heap
 * sampling on at Go's default rate, unless the user chose a rate (even 0) before; and someone may
 * read the threads' stacks, so it turns on the wait states the sync hooks keep (what each thread is
 * blocked in, and since when), which costs an uncontended lock a few nanoseconds.
 */
#include <errno.h>

#include "cprof.h"
#include "runtime/ext.h"
#include "runtime/heap.h"
#include "runtime/sync.h"

CPROF_API int cprof_http_start(const char *addr, const char *token) {
  const http_api_t *http = http_get();
  if (http == NULL)
    return -ENOENT;
  heap_guard_enter(); /* the server's threads are created inside the guard and stay in it */
  int rc = http->start(addr, token);
  heap_guard_exit();
  if (rc == 0) {
    heap_enable_default(); /* should that fail, /heap serves an empty profile */
    sync_track_waits(true);
  }
  return rc;
}

CPROF_API int cprof_http_port(void) {
  const http_api_t *http = http_get();
  return http ? http->port() : -ENOENT;
}

CPROF_API int cprof_http_stop(void) {
  const http_api_t *http = http_get();
  return http ? http->stop() : -ENOENT;
}
