/*
 * api.c — the public calls that the extension carries out (cprof.h's HTTP section).
 */
#include <errno.h>

#include "cprof.h"
#include "runtime/ext.h"

CPROF_API int cprof_http_start(const char *addr, const char *token) {
  const ext_api_t *ext = ext_get();
  return ext ? ext->http_start(addr, token) : -ENOENT;
}

CPROF_API int cprof_http_port(void) {
  const ext_api_t *ext = ext_get();
  return ext ? ext->http_port() : -ENOENT;
}

CPROF_API int cprof_http_stop(void) {
  const ext_api_t *ext = ext_get();
  return ext ? ext->http_stop() : -ENOENT;
}
