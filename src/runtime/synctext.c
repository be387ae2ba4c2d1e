/*
 * synctext.c — the block and mutex profiles as Go's debug=1 text (runtime/pprof
 * writeProfileInternal).
 *
 *   --- contention:                 the block profile ("--- mutex:" for the mutex profile)
 *   cycles/second=1000000000        we count nanoseconds, so a cycle is one
 *   sampling period=<fraction>      the mutex profile only: SetMutexProfileFraction's value
 *   <cycles> <count> @ 0x<ret pc> 0x<ret pc> ...
 *   #\t0x<pc-1>\t<function>+0x<off>\t<file>:<line>      one per frame, inlined expanded
 *   (blank line)
 *   ...
 *   --- Memory map: ---             the executable mappings, in pprof's "brief" maps format
 *
 * Records are sorted by cycles, largest first (ties broken by count, then stack, so the same data
 * gives the same bytes); the counts and cycles are the unbiased ones the proto has, as Go writes
 * them. The text goes through Go's tabwriter, which realigns only the "#" frame lines. The memory
 * map is not in Go's text; pprof's legacy contention parser reads it after the records, so that it
 * can symbolize a PIE program and its libraries from the text alone (as the heap text does).
 *
 * Runs in an ordinary thread, never a signal handler; allocates with malloc. The symbolizer is
 * held only while the text is built in memory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "runtime/ext.h"
#include "runtime/gotext.h"
#include "runtime/mappings.h"
#include "runtime/symbolize.h"

static int st_cmp_i64(int64_t a, int64_t b) { return a > b ? -1 : a < b ? 1 : 0; } /* descending */

static int st_record_cmp(const void *pa, const void *pb) {
  const rt_sync_record_t *a = *(const rt_sync_record_t *const *)pa;
  const rt_sync_record_t *b = *(const rt_sync_record_t *const *)pb;
  int c = st_cmp_i64(a->cycles, b->cycles);
  if (c == 0)
    c = st_cmp_i64(a->count, b->count);
  for (uint32_t i = 0; c == 0 && i < a->depth && i < b->depth; i++)
    c = a->pcs[i] < b->pcs[i] ? -1 : a->pcs[i] > b->pcs[i];
  if (c == 0)
    c = a->depth < b->depth ? -1 : a->depth > b->depth;
  return c;
}

static void st_record_print(FILE *f, sym_t *sym, const rt_sync_record_t *r) {
  fprintf(f, "%" PRId64 " %" PRId64 " @", r->cycles, r->count);
  for (uint32_t i = 0; i < r->depth; i++)
    fprintf(f, " 0x%" PRIxPTR, r->pcs[i]);
  fputc('\n', f);
  gotext_stack_print(f, sym, r->pcs, r->depth);
}

/* The text before the tabwriter. */
static int st_raw_build(const rt_sync_text_t *t, char **raw, size_t *len) {
  const rt_sync_record_t **order = malloc((t->nrecords + 1) * sizeof *order);
  map_list_t maps;
  FILE *f;
  *raw = NULL;
  *len = 0;
  if (order == NULL || (f = open_memstream(raw, len)) == NULL) {
    free(order);
    return -ENOMEM;
  }
  for (size_t i = 0; i < t->nrecords; i++)
    order[i] = &t->records[i];
  qsort(order, t->nrecords, sizeof *order, st_record_cmp);
  if (map_list_read(&maps) < 0)
    maps = (map_list_t){0}; /* then no names and no memory map, but the numbers still */
  sym_t *sym = t->nrecords > 0 ? sym_acquire(&maps) : NULL;
  fprintf(f, "--- %s:\ncycles/second=%" PRId64 "\n", t->mutex ? "mutex" : "contention",
          t->cycles_per_second);
  if (t->mutex)
    fprintf(f, "sampling period=%" PRId64 "\n", t->period);
  for (size_t i = 0; i < t->nrecords; i++)
    st_record_print(f, sym, order[i]);
  if (sym != NULL)
    sym_release(sym);
  gotext_maps_print(f, &maps);
  map_list_free(&maps);
  free(order);
  bool bad = ferror(f) != 0;
  if (fclose(f) != 0 || bad) {
    free(*raw);
    *raw = NULL;
    return -ENOMEM;
  }
  return 0;
}

int synctext_write(int fd, const rt_sync_text_t *text) {
  char *raw = NULL;
  size_t rawlen = 0;
  if (text == NULL || (text->nrecords > 0 && text->records == NULL) || fd < 0)
    return -EINVAL;
  int err = st_raw_build(text, &raw, &rawlen);
  return gotext_emit(fd, err, raw, rawlen);
}
