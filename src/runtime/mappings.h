/*
 * mappings.h — the process's executable mappings, as Go lists them in a profile.
 *
 * map_list_read() takes the executable lines of /proc/self/maps (" (deleted)" trimmed, anonymous
 * lines skipped, [vdso] and [vsyscall] kept) with each file's GNU build ID in hex. The main
 * executable's first mapping is moved to the front (pprof names the profile after mapping[0]);
 * the rest stay in address order, so map_list_find() can binary-search them.
 *
 * Runs in an ordinary thread (never a signal handler); allocates with malloc.
 */
#ifndef CPROF_RUNTIME_MAPPINGS_H
#define CPROF_RUNTIME_MAPPINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAP_BUILD_ID_MAX 64 /* bytes; GNU build IDs are 20 (SHA-1) or 16 (MD5) */

typedef struct map_entry {
  uint64_t start, limit, offset;
  char *path;                              /* never NULL; "[vdso]" for the vdso */
  char build_id[2 * MAP_BUILD_ID_MAX + 1]; /* lowercase hex, "" when unknown */
} map_entry_t;

typedef struct map_list {
  map_entry_t *v; /* v[0] is the main executable when it was found; v[1..n) sorted by start */
  size_t n;
} map_list_t;

/* Reads the current mappings into out (which it overwrites). 0 or a negative errno. */
int map_list_read(map_list_t *out);
void map_list_free(map_list_t *l);

/* The index of the mapping holding addr, or -1. */
long map_list_find(const map_list_t *l, uint64_t addr);

/* A deep copy of src into dst (which it overwrites). 0 or -ENOMEM (dst is then empty). */
int map_list_copy(map_list_t *dst, const map_list_t *src);

/* Whether two entries are the same file mapped at the same place (range, offset, path, build ID).
 */
bool map_entry_same(const map_entry_t *a, const map_entry_t *b);

/* Whether two lists hold the same entries in the same order. */
bool map_list_same(const map_list_t *a, const map_list_t *b);

/* Parses one /proc/self/maps line; exposed for tests. 1 when it is an executable mapping worth
 * keeping (then *e holds it, with e->path malloc'd), 0 when skipped, negative errno on failure. */
int map_line_parse(const char *line, map_entry_t *e);

#endif /* CPROF_RUNTIME_MAPPINGS_H */
