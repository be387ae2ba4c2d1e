/*
 * readfile.h — a whole file read into memory, for tests only.
 *
 * Header-only, shared by tests/unit/builder_test.c, format_test.c, legacy_test.c and
 * tests/tools/prof_dump.c, which read profiles, goldens and /proc files whole.
 */
#ifndef CPROF_TEST_READFILE_H
#define CPROF_TEST_READFILE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* path's bytes in a malloc'd buffer, their count in *len; NULL when it cannot be opened or
 * memory runs out. */
static inline uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  size_t cap = 1 << 16, n = 0, r;
  uint8_t *b = malloc(cap);
  while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
    n += r;
    if (n == cap) {
      uint8_t *nb = realloc(b, cap *= 2);
      if (!nb)
        free(b);
      b = nb;
    }
  }
  fclose(f);
  *len = n;
  return b;
}

#endif /* CPROF_TEST_READFILE_H */
