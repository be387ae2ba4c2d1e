/*
 * arena.h — the runtime's own memory, taken from the kernel rather than from malloc.
 *
 * The runtime must never recurse into the allocator it profiles, and must not disturb the host's
 * heap, so its long-lived tables live in arenas: chunks mapped with mmap, handed out by bumping a
 * pointer, and returned all at once by arena_reset(). An arena is not thread-safe; each belongs to
 * one owner (for the CPU profile, the drain thread and then the writer, one after the other under
 * the profile's lock).
 */
#ifndef CPROF_RUNTIME_ARENA_H
#define CPROF_RUNTIME_ARENA_H

#include <stddef.h>

typedef struct arena_chunk arena_chunk_t;

typedef struct arena {
  arena_chunk_t *chunks;
  size_t used;  /* bytes used in the newest chunk */
  size_t total; /* bytes mapped, for accounting */
} arena_t;

/* size bytes, 16-byte aligned and zeroed; NULL when the kernel refuses memory or size overflows. */
void *arena_alloc(arena_t *a, size_t size);

/* Returns every chunk to the kernel; the arena is empty and reusable. */
void arena_reset(arena_t *a);

#endif /* CPROF_RUNTIME_ARENA_H */
