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

static void st_record_print(FILE *f, sym_t *sym, const void *rec) {
  const rt_sync_record_t *r = *(const rt_sync_record_t *const *)rec;
  fprintf(f, "%" PRId64 " %" PRId64 " @", r->cycles, r->count);
  for (uint32_t i = 0; i < r->depth; i++)
    fprintf(f, " 0x%" PRIxPTR, r->pcs[i]);
  fputc('\n', f);
  gotext_stack_print(f, sym, r->pcs, r->depth);
}

/* The header: the kind, the unit of cycles, and the mutex profile's sampling period. */
static void st_header_print(FILE *f, const void *ctx) {
  const rt_sync_text_t *t = ctx;
  fprintf(f, "--- %s:\ncycles/second=%" PRId64 "\n", t->mutex ? "mutex" : "contention",
          t->cycles_per_second);
  if (t->mutex)
    fprintf(f, "sampling period=%" PRId64 "\n", t->period);
}

int synctext_write(int fd, const rt_sync_text_t *text) {
  if (text == NULL || (text->nrecords > 0 && text->records == NULL) || fd < 0)
    return -EINVAL;
  const rt_sync_record_t **order = malloc((text->nrecords + 1) * sizeof *order);
  if (order == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < text->nrecords; i++)
    order[i] = &text->records[i];
  qsort(order, text->nrecords, sizeof *order, st_record_cmp);
  gotext_form_t form = {.records = order,
                        .nrecords = text->nrecords,
                        .size = sizeof *order,
                        .header = st_header_print,
                        .record = st_record_print,
                        .ctx = text};
  int err = gotext_write_form(fd, &form);
  free(order);
  return err;
}
