/*
 * api.c — the public calls that the extension carries out (cprof.h's HTTP section).
 *
 * Serving HTTP means someone will read /debug/pprof/heap, so starting the server turns heap
 * sampling on at Go's default rate, unless the user chose a rate (even 0) before.
 */
#include <errno.h>

#include "cprof.h"
#include "runtime/ext.h"
#include "runtime/heap.h"

CPROF_API int cprof_http_start(const char *addr, const char *token) {
  const ext_api_t *ext = ext_get();
  if (ext == NULL)
    return -ENOENT;
  heap_guard_enter(); /* the server's threads are created inside the guard and stay in it */
  int rc = ext->http_start(addr, token);
  heap_guard_exit();
  if (rc == 0)
    heap_enable_default(); /* should that fail, /heap serves an empty profile */
  return rc;
}

CPROF_API int cprof_http_port(void) {
  const ext_api_t *ext = ext_get();
  return ext ? ext->http_port() : -ENOENT;
}

CPROF_API int cprof_http_stop(void) {
  const ext_api_t *ext = ext_get();
  return ext ? ext->http_stop() : -ENOENT;
}
