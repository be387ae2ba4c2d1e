/*
 * keysort.c — the shell sort of snapshot entries by their leading pointer (keysort.h).
 */
#include "runtime/keysort.h"

#include <stdint.h>
#include <string.h>

static uintptr_t key_of(const unsigned char *entry) {
  uintptr_t k;
  memcpy(&k, entry, sizeof k);
  return k;
}

void keysort_by_ptr(void *base, size_t n, size_t size) {
  static const size_t gaps[] = {1750, 701, 301, 132, 57, 23, 10, 4, 1};
  unsigned char *e = base, t[KEYSORT_MAX_ENTRY];
  if (size > sizeof t)
    return; /* (the callers' static assertions rule it out) */
  for (size_t g = 0; g < sizeof gaps / sizeof gaps[0]; g++) {
    size_t gap = gaps[g];
    for (size_t i = gap; i < n; i++) {
      memcpy(t, e + i * size, size);
      uintptr_t k = key_of(t);
      size_t j = i;
      for (; j >= gap && key_of(e + (j - gap) * size) > k; j -= gap)
        memcpy(e + j * size, e + (j - gap) * size, size);
      memcpy(e + j * size, t, size);
    }
  }
}
