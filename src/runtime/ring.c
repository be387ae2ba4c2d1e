/*
 * ring.c — the lock-free sample ring (see ring.h for the design).
 *
 * Invariant: slot i of position p (i = p mod nslots) has seq == p when it is free for a producer at
 * p, seq == p + 1 when a producer published it, and the consumer sets seq = p + nslots when it is
 * done, which makes it free for the producer one lap later.
 */
#include "runtime/ring.h"

#include <errno.h>

#include "runtime/sys.h"

static size_t round_pow2(size_t n) {
  size_t p = 1;
  while (p < n)
    p <<= 1;
  return p;
}

int ring_init(ring_t *r, size_t nslots) {
  nslots = round_pow2(nslots < 2 ? 2 : nslots);
  ring_slot_t *s = sys_map(nslots * sizeof *s);
  if (s == NULL)
    return -ENOMEM;
  r->slots = s;
  r->nslots = nslots;
  ring_reset(r);
  return 0;
}

void ring_destroy(ring_t *r) {
  sys_unmap(r->slots, r->nslots * sizeof *r->slots);
  r->slots = NULL;
  r->nslots = 0;
}

void ring_reset(ring_t *r) {
  for (size_t i = 0; i < r->nslots; i++)
    atomic_store_explicit(&r->slots[i].seq, i, memory_order_relaxed);
  atomic_store(&r->head, 0);
  r->tail = 0;
  atomic_store(&r->dropped_weight, 0);
  atomic_store(&r->dropped_samples, 0);
}

/* Async-signal-safe. */
ring_slot_t *ring_reserve(ring_t *r, uint32_t weight, uint64_t *pos) {
  uint64_t p = atomic_load_explicit(&r->head, memory_order_relaxed);
  for (;;) {
    ring_slot_t *s = &r->slots[p & (r->nslots - 1)];
    uint64_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
    int64_t diff = (int64_t)(seq - p);
    if (diff == 0) {
      if (atomic_compare_exchange_weak_explicit(&r->head, &p, p + 1, memory_order_relaxed,
                                                memory_order_relaxed)) {
        *pos = p;
        return s;
      }
    } else if (diff < 0) {
      atomic_fetch_add_explicit(&r->dropped_weight, weight, memory_order_relaxed);
      atomic_fetch_add_explicit(&r->dropped_samples, 1, memory_order_relaxed);
      return NULL;
    } else {
      p = atomic_load_explicit(&r->head, memory_order_relaxed);
    }
  }
}

/* Async-signal-safe. */
void ring_commit(ring_t *r, ring_slot_t *s, uint64_t pos) {
  (void)r;
  atomic_store_explicit(&s->seq, pos + 1, memory_order_release);
}

ring_slot_t *ring_peek(ring_t *r) {
  ring_slot_t *s = &r->slots[r->tail & (r->nslots - 1)];
  uint64_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
  return seq == r->tail + 1 ? s : NULL;
}

void ring_pop(ring_t *r, ring_slot_t *s) {
  atomic_store_explicit(&s->seq, r->tail + r->nslots, memory_order_release);
  r->tail++;
}
