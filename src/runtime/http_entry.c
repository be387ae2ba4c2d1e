/*
 * http_entry.c — the HTTP plugin's entry point (libcprof-http.so; see ext.h for why it is a
 * plugin of its own). The extension, which the plugin is linked against, is loaded and set up
 * before this is called, so ext_core is already the core's table.
 */
#include "runtime/ext.h"
#include "runtime/http.h"

static const http_api_t http_table = {
    .size = sizeof(http_api_t),
    .start = http_start,
    .port = http_port,
    .stop = http_stop,
};

__attribute__((visibility("default"))) const http_api_t *cprof_http_init(const core_api_t *core) {
  if (core == NULL || core->size < sizeof(core_api_t) || ext_core != core)
    return NULL;
  return &http_table;
}
