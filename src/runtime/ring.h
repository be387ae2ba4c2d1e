/*
 * ring.h — the sample ring between the SIGPROF handler and the drain thread.
 *
 * A bounded multi-producer, single-consumer queue of fixed-size slots in memory mapped once when
 * the first profile starts (Dmitry Vyukov's sequence-numbered design). Each slot carries a sequence
 * number: a producer claims the slot whose sequence equals the position it reserved with one
 * compare-and-swap, fills it and publishes it by bumping the sequence; the consumer takes slots in
 * order as they become published. Producers never wait: when the ring is full the sample is
 * dropped and its weight added to a counter that the profile reports. No locks, no allocation, so
 * producers may run in signal handlers.
 */
#ifndef CPROF_RUNTIME_RING_H
#define CPROF_RUNTIME_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define RING_MAX_DEPTH 64

typedef struct ring_slot {
  _Atomic uint64_t seq;
  uint32_t depth;
  uint32_t weight;
  uint32_t labels; /* the sampled thread's label set (labels.h) */
  uintptr_t pcs[RING_MAX_DEPTH];
} ring_slot_t;

typedef struct ring {
  ring_slot_t *slots;
  size_t nslots; /* a power of two */
  _Atomic uint64_t head; /* next position to reserve */
  uint64_t tail;         /* next position to consume (the consumer's alone) */
  _Atomic uint64_t dropped_weight;
  _Atomic uint64_t dropped_samples;
} ring_t;

/* Maps nslots (rounded up to a power of two) slots. 0 or -ENOMEM. */
int ring_init(ring_t *r, size_t nslots);
void ring_destroy(ring_t *r);

/* Empties the ring and its drop counters; only while no producer runs. */
void ring_reset(ring_t *r);

/* Reserves a slot, or returns NULL (and counts weight as dropped) when the ring is full.
 * Async-signal-safe. */
ring_slot_t *ring_reserve(ring_t *r, uint32_t weight, uint64_t *pos);

/* Publishes a reserved slot. Async-signal-safe. */
void ring_commit(ring_t *r, ring_slot_t *s, uint64_t pos);

/* The oldest published slot, or NULL when none is ready. Consumer only. */
ring_slot_t *ring_peek(ring_t *r);

/* Releases the slot returned by ring_peek. Consumer only. */
void ring_pop(ring_t *r, ring_slot_t *s);

#endif /* CPROF_RUNTIME_RING_H */
