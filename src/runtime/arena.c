/*
 * arena.c — bump allocation over mmap'd chunks (see arena.h).
 *
 * Chunks are at least ARENA_CHUNK bytes; a request larger than that gets a chunk of its own. Each
 * chunk begins with its header, which links it to the previous chunk.
 */
#include "runtime/arena.h"

#include <stdint.h>

#include "runtime/sys.h"

#define ARENA_CHUNK (1u << 20)
#define ARENA_ALIGN 16

struct arena_chunk {
  arena_chunk_t *prev;
  size_t size; /* mapped bytes, header included */
  unsigned char data[] __attribute__((aligned(ARENA_ALIGN)));
};

void *arena_alloc(arena_t *a, size_t size) {
  if (size > SIZE_MAX / 2)
    return NULL;
  size = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
  arena_chunk_t *c = a->chunks;
  if (c == NULL || a->used + size > c->size - sizeof *c) {
    size_t want = size + sizeof *c;
    if (want < ARENA_CHUNK)
      want = ARENA_CHUNK;
    c = sys_map(want);
    if (c == NULL)
      return NULL;
    c->prev = a->chunks;
    c->size = want;
    a->chunks = c;
    a->used = 0;
    a->total += want;
  }
  void *p = c->data + a->used;
  a->used += size;
  return p;
}

void arena_reset(arena_t *a) {
  arena_chunk_t *c = a->chunks;
  while (c) {
    arena_chunk_t *prev = c->prev;
    sys_unmap(c, c->size);
    c = prev;
  }
  a->chunks = NULL;
  a->used = 0;
  a->total = 0;
}
