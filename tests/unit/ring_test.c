/*
 * ring_test.c — the sample ring and the stack table, under concurrency and when full.
 *
 * Producers in several threads push numbered samples while the consumer drains; every sample must
 * arrive exactly once or be counted as dropped, with its weight. The stack table must merge equal
 * stacks, keep distinct ones (and one stack under distinct label sets) apart across growth, and
 * sort deterministically.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/ring.h"
#include "runtime/stacktab.h"
#include "test.h"

#define PRODUCERS 4
#define PER_PRODUCER 200000

static ring_t ring;
static _Atomic int producers_done;

static void *produce(void *arg) {
  uintptr_t id = (uintptr_t)arg;
  for (uintptr_t i = 0; i < PER_PRODUCER; i++) {
    uint64_t pos;
    ring_slot_t *s = ring_reserve(&ring, 3, &pos);
    if (s == NULL)
      continue;
    s->depth = 2;
    s->weight = 3;
    s->pcs[0] = id;
    s->pcs[1] = i;
    ring_commit(&ring, s, pos);
  }
  atomic_fetch_add(&producers_done, 1);
  return NULL;
}

static void test_ring_concurrent(void) {
  CHECK(ring_init(&ring, 1000) == 0, "ring_init");
  CHECK(ring.nslots == 1024, "rounded to a power of two: %zu", ring.nslots);
  static uint8_t seen[PRODUCERS][PER_PRODUCER];
  memset(seen, 0, sizeof seen);
  pthread_t t[PRODUCERS];
  for (uintptr_t i = 0; i < PRODUCERS; i++)
    pthread_create(&t[i], NULL, produce, (void *)i);
  uint64_t got = 0, dup = 0, bad = 0;
  for (;;) {
    ring_slot_t *s = ring_peek(&ring);
    if (s == NULL) {
      if (atomic_load(&producers_done) == PRODUCERS && ring_peek(&ring) == NULL)
        break;
      continue;
    }
    if (s->depth != 2 || s->weight != 3 || s->pcs[0] >= PRODUCERS || s->pcs[1] >= PER_PRODUCER)
      bad++;
    else if (seen[s->pcs[0]][s->pcs[1]]++)
      dup++;
    got++;
    ring_pop(&ring, s);
  }
  for (int i = 0; i < PRODUCERS; i++)
    pthread_join(t[i], NULL);
  uint64_t dropped = atomic_load(&ring.dropped_samples);
  CHECK(bad == 0, "%llu corrupt slots", (unsigned long long)bad);
  CHECK(dup == 0, "%llu duplicated samples", (unsigned long long)dup);
  CHECK(got + dropped == (uint64_t)PRODUCERS * PER_PRODUCER, "got %llu + dropped %llu != %d",
        (unsigned long long)got, (unsigned long long)dropped, PRODUCERS * PER_PRODUCER);
  CHECK(atomic_load(&ring.dropped_weight) == dropped * 3, "dropped weight counts the weights");
  ring_destroy(&ring);
}

static void test_ring_full(void) {
  CHECK(ring_init(&ring, 4) == 0, "ring_init");
  uint64_t pos;
  for (int i = 0; i < 4; i++) {
    ring_slot_t *s = ring_reserve(&ring, 1, &pos);
    CHECK(s != NULL, "slot %d free", i);
    if (s) {
      s->depth = 1;
      ring_commit(&ring, s, pos);
    }
  }
  CHECK(ring_reserve(&ring, 7, &pos) == NULL, "a full ring refuses");
  CHECK(atomic_load(&ring.dropped_weight) == 7, "and counts the weight");
  ring_slot_t *s = ring_peek(&ring);
  CHECK(s != NULL, "the consumer sees the oldest");
  ring_pop(&ring, s);
  CHECK(ring_reserve(&ring, 1, &pos) != NULL, "a popped slot is reusable");
  ring_destroy(&ring);
}

static void test_stacktab(void) {
  stacktab_t t;
  memset(&t, 0, sizeof t);
  uintptr_t a[3] = {1, 2, 3}, b[3] = {1, 2, 4}, c[2] = {1, 2};
  int64_t one = 1, two = 2;
  CHECK(stacktab_add(&t, a, 3, &one, 1) == 0, "add a");
  CHECK(stacktab_add(&t, b, 3, &one, 1) == 0, "add b");
  CHECK(stacktab_add(&t, a, 3, &two, 1) == 0, "add a again");
  CHECK(stacktab_add(&t, c, 2, &one, 1) == 0, "add c (a prefix of a)");
  CHECK(t.nentries == 3, "three distinct stacks: %zu", t.nentries);
  /* Enough distinct stacks to force several doublings. */
  for (uintptr_t i = 0; i < 50000; i++) {
    uintptr_t s[2] = {100 + i, i % 7};
    stacktab_add(&t, s, 2, &one, 1);
  }
  CHECK(t.nentries == 50003, "entries after growth: %zu", t.nentries);
  stacktab_entry_t **all = malloc(t.nentries * sizeof *all);
  stacktab_sorted(&t, all);
  CHECK(all[0]->depth == 2 && all[0]->pcs[1] == 2, "shorter prefix sorts first");
  CHECK(all[1]->pcs[2] == 3 && all[1]->values[0] == 3, "a merged: %lld",
        (long long)all[1]->values[0]);
  CHECK(all[2]->pcs[2] == 4 && all[2]->values[0] == 1, "b alone");
  int sorted = 1;
  for (size_t i = 1; i < t.nentries; i++)
    if (all[i - 1]->pcs[0] > all[i]->pcs[0])
      sorted = 0;
  CHECK(sorted, "sorted by leaf pc");
  free(all);
  stacktab_reset(&t);
  CHECK(t.nentries == 0 && t.arena.total == 0, "reset returns the memory");

  /* The same stack under different label sets stays apart, sorted by set after the stack. */
  CHECK(stacktab_add_labeled(&t, 7, a, 3, &one, 1) == 0, "add a under labels 7");
  CHECK(stacktab_add_labeled(&t, 3, a, 3, &two, 1) == 0, "add a under labels 3");
  CHECK(stacktab_add(&t, a, 3, &one, 1) == 0, "add a without labels");
  CHECK(stacktab_add_labeled(&t, 7, a, 3, &two, 1) == 0, "add a under labels 7 again");
  CHECK(t.nentries == 3, "three entries: %zu", t.nentries);
  stacktab_entry_t *three[3];
  stacktab_sorted(&t, three);
  CHECK(three[0]->labels == 0 && three[0]->values[0] == 1, "no labels first");
  CHECK(three[1]->labels == 3 && three[1]->values[0] == 2, "then 3");
  CHECK(three[2]->labels == 7 && three[2]->values[0] == 3, "then 7, merged");
  stacktab_reset(&t);
}

int main(void) {
  test_ring_concurrent();
  test_ring_full();
  test_stacktab();
  return TEST_DONE("ring_test");
}
