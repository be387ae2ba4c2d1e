/*
 * legacy_cpu.c — gperftools' binary CPU profile (also what Go wrote before Go 1.9), read as pprof
 * reads it.
 *
 * The file is a sequence of machine words, then text. The words: a header 0, 3, 0, the sampling
 * period in microseconds, 0; then records "count, depth, depth addresses" (leaf first); then the
 * end marker 0, 1, 0. The text after the marker is the process's /proc/self/maps. The word size and
 * byte order are those of the profiled machine: pprof tries 32-bit little-endian, 32-bit
 * big-endian, 64-bit little-endian and 64-bit big-endian, in that order, and takes the first that
 * reads a valid header (a third header word of 1 means a Java profile, which is not read here).
 *
 * What pprof makes of it, reproduced rule for rule: sample types samples/count and cpu/nanoseconds,
 * period type cpu/nanoseconds, period = the header's period x 1000, each record a sample of
 * (count, count x period); every address but the leaf moved back by one to land on its call;
 * locations shared by address. A record whose depth exceeds a quarter of the bytes left is not this
 * format; a record cut short by the end of the file reads its missing words as 0, and the file may
 * end without the marker. Then, twice: if all samples but at most one in 32 have the same second
 * frame, that frame is the signal handler's and is removed from every sample that has it. Then the
 * memory map (maps.c), and last, a second frame equal to the leaf minus one (the leaf seen twice,
 * from the signal context and by the unwinder) is dropped.
 *
 * Arithmetic on the words wraps around as Go's int64 does.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "format/legacy.h"

typedef struct words {
  const uint8_t *p;
  size_t n;
  bool nil; /* a read ran past the end: Go's slice became nil, every later read is 0 */
  int size;
  bool big;
} words_t;

static uint64_t word(words_t *w) {
  if (w->nil || w->n < (size_t)w->size) {
    w->nil = true;
    w->n = 0;
    return 0;
  }
  uint64_t v = 0;
  for (int i = 0; i < w->size; i++) {
    int k = w->big ? i : w->size - 1 - i;
    v = v << 8 | w->p[k];
  }
  w->p += w->size;
  w->n -= (size_t)w->size;
  return v;
}

/* Removes the second frame of every sample when nearly all of them share it (twice at most). */
static int strip_handler_frames(lg_t *g) {
  size_t margin = g->nsmp / 32;
  size_t *count = calloc(g->nloc ? g->nloc : 1, sizeof *count);
  if (!count)
    return -ENOMEM;
  for (int iter = 0; iter < 2; iter++) {
    memset(count, 0, g->nloc * sizeof *count);
    size_t found = SIZE_MAX;
    for (size_t i = 0; i < g->nsmp; i++)
      if (g->smp[i].n > 1)
        count[g->stk[g->smp[i].off + 1]]++;
    for (size_t li = 0; li < g->nloc && found == SIZE_MAX; li++)
      if (count[li] && count[li] >= g->nsmp - margin)
        found = li;
    if (found == SIZE_MAX)
      continue;
    for (size_t i = 0; i < g->nsmp; i++) {
      lg_sample_t *s = &g->smp[i];
      uint32_t *k = s->n > 1 ? g->stk + s->off : NULL;
      if (k && k[1] == found) {
        memmove(k + 1, k + 2, (s->n - 2) * sizeof *k);
        s->n--;
      }
    }
  }
  free(count);
  return 0;
}

/* The records after the header; LG_UNRECOGNIZED, 0, or -ENOMEM. w is left at the text. */
static int read_records(lg_t *g, words_t *w) {
  while (w->n > 0) {
    uint64_t count = word(w), depth = word(w);
    if (w->nil || depth > w->n / 4)
      return LG_UNRECOGNIZED;
    if (count == 0 && depth == 1) {
      words_t peek = *w;
      if (word(&peek) == 0) {
        *w = peek; /* the end marker */
        break;
      }
    }
    int64_t v[2] = {(int64_t)count, (int64_t)(count * (uint64_t)g->period)};
    if (!lg_sample_new(g, v, 2))
      return -ENOMEM;
    for (uint64_t i = 0; i < depth; i++) {
      uint64_t a = word(w);
      if (lg_push_addr(g, i > 0 ? a - 1 : a) < 0)
        return -ENOMEM;
    }
  }
  return 0;
}

static int cpu_profile(lg_t *g, words_t *w, uint64_t period_us) {
  g->period = (int64_t)(period_us * 1000);
  g->period_type[0] = "cpu", g->period_type[1] = "nanoseconds";
  g->type[0][0] = "samples", g->type[0][1] = "count";
  g->type[1][0] = "cpu", g->type[1][1] = "nanoseconds";
  g->ntypes = 2;
  int rc = read_records(g, w);
  if (rc == -ENOMEM || (rc == 0 && strip_handler_frames(g) < 0))
    return lg_fail(g, -ENOMEM, "out of memory");
  if (rc != 0)
    return rc;
  lg_scan_t s;
  lg_scan_init(&s, (const char *)w->p, w->nil ? 0 : w->n);
  if ((rc = lg_maps_read(g, &s)) < 0)
    return rc;
  lg_drop_duplicate_leaf(g);
  return 0;
}

int lg_parse_cpu(lg_t *g, const uint8_t *data, size_t len) {
  static const struct {
    int size;
    bool big;
  } fmt[] = {{4, false}, {4, true}, {8, false}, {8, true}};
  for (size_t f = 0; f < sizeof fmt / sizeof *fmt; f++) {
    words_t w = {.p = data, .n = len, .size = fmt[f].size, .big = fmt[f].big};
    uint64_t h[5];
    for (int i = 0; i < 5; i++)
      h[i] = word(&w);
    if (w.nil || h[0] != 0 || h[1] != 3 || h[3] == 0 || h[4] != 0)
      continue;
    if (h[2] == 0)
      return cpu_profile(g, &w, h[3]);
    if (h[2] == 1)
      return lg_fail(g, -EINVAL, "a Java CPU profile (%d-bit %s-endian words), which is not read",
                     fmt[f].size * 8, fmt[f].big ? "big" : "little");
  }
  return LG_UNRECOGNIZED;
}
