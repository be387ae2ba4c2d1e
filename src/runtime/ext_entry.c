/*
 * ext_entry.c — the extension's entry point: gathers its modules into the table the core calls.
 *
 * In libcprof-ext.so this is the only exported symbol; the core finds it with dlsym. In libcprof.a
 * the core calls it directly.
 */
#include "runtime/ext.h"

/* Exported from libcprof-ext.so: the HTTP plugin, linked against it, uses it too. */
__attribute__((visibility("default"))) const core_api_t *ext_core;

static const ext_api_t ext_table = {
    .size = sizeof(ext_api_t),
    .profile_write = builder_profile_write,
    .unwind_build = cfi_build,
    .unwind_free = cfi_free,
    .heap_text_write = heaptext_write,
    .count_text_write = counttext_write,
    .threads_text_write = threadtext_write,
    .sync_text_write = synctext_write,
};

__attribute__((visibility("default"))) const ext_api_t *cprof_ext_init(const core_api_t *core) {
  if (core == NULL || core->size < sizeof(core_api_t))
    return NULL;
  ext_core = core;
  return &ext_table;
}
