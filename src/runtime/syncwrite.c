/*
 * syncwrite.c — writing a block or mutex snapshot as Go writes those profiles.
 *
 * A snapshot (synctab.c) holds every record's count and delay, sorted by record address; a delta
 * (a base snapshot given) is a merge of two such arrays, a record missing from the base counting
 * from zero, and records that did not change are left out (as pprof's merge drops all-zero
 * samples). Each record becomes one sample with Go's two values: contentions (the unbiased count,
 * truncated, and 1 rather than 0, as Go's BlockProfileRecord) and delay in nanoseconds. The
 * period type is contentions/count with period 1, as Go writes for both profiles. Samples are in
 * Go's order, by delay descending (ties by stack, so the same data gives the same bytes). debug >=
 * 1 hands the same rows to the extension's writer of Go's legacy text, with the mutex fraction for
 * the mutex profile's "sampling period" line.
 *
 * The whole write runs under the heap guard: what the extension allocates to symbolize, encode and
 * compress is not sampled. Working memory comes from an arena.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>

#include "runtime/arena.h"
#include "runtime/ext.h"
#include "runtime/heap.h"
#include "runtime/sync.h"

typedef struct sync_row {
  const sync_rec_t *rec;
  int64_t count, delay;
} sync_row_t;

/* snap minus base, merged by record address; rows with no change are left out. */
static size_t rows_delta(const sync_snap_t *snap, const sync_snap_t *base, sync_row_t *out) {
  size_t i = 0, j = 0, n = 0, nb = base ? base->n : 0;
  while (i < snap->n || j < nb) {
    const sync_snap_entry_t *s = i < snap->n ? &snap->e[i] : NULL;
    const sync_snap_entry_t *b = j < nb ? &base->e[j] : NULL;
    sync_row_t r;
    if (b == NULL || (s != NULL && (uintptr_t)s->rec < (uintptr_t)b->rec)) {
      r = (sync_row_t){s->rec, sync_count_of(s->count), s->delay};
      i++;
    } else if (s == NULL || (uintptr_t)b->rec < (uintptr_t)s->rec) {
      r = (sync_row_t){b->rec, -sync_count_of(b->count), -b->delay};
      j++;
    } else {
      r = (sync_row_t){s->rec, sync_count_of(s->count) - sync_count_of(b->count),
                       s->delay - b->delay};
      i++;
      j++;
    }
    if (r.count != 0 || r.delay != 0)
      out[n++] = r;
  }
  return n;
}

/* Delay descending (Go's order), then by stack: deterministic output. */
static int row_cmp(const void *pa, const void *pb) {
  const sync_row_t *x = pa, *y = pb;
  if (x->delay != y->delay)
    return x->delay > y->delay ? -1 : 1;
  if (x->count != y->count)
    return x->count > y->count ? -1 : 1;
  const sync_rec_t *a = x->rec, *b = y->rec;
  uint32_t n = a->depth < b->depth ? a->depth : b->depth;
  for (uint32_t i = 0; i < n; i++)
    if (a->pcs[i] != b->pcs[i])
      return a->pcs[i] < b->pcs[i] ? -1 : 1;
  return a->depth < b->depth ? -1 : a->depth > b->depth;
}

static int write_text(const ext_api_t *ext, int fd, const sync_row_t *rows, size_t n,
                      const sync_snap_t *snap, arena_t *a) {
  if (ext->size < offsetof(ext_api_t, sync_text_write) + sizeof ext->sync_text_write ||
      ext->sync_text_write == NULL)
    return -ENOSYS;
  rt_sync_record_t *recs = arena_alloc(a, (n + 1) * sizeof *recs);
  if (recs == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < n; i++)
    recs[i] = (rt_sync_record_t){.pcs = rows[i].rec->pcs,
                                 .depth = rows[i].rec->depth,
                                 .cycles = rows[i].delay,
                                 .count = rows[i].count};
  rt_sync_text_t text = {
      .mutex = snap->which == SYNC_MUTEX,
      .cycles_per_second = 1000000000,
      .period = snap->fraction,
      .records = recs,
      .nrecords = n,
  };
  return ext->sync_text_write(fd, &text);
}

static int write_proto(const ext_api_t *ext, int fd, const sync_row_t *rows, size_t n,
                       const sync_snap_t *snap, const sync_snap_t *base, arena_t *a) {
  rt_sample_t *samples = arena_alloc(a, (n + 1) * sizeof *samples);
  if (samples == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < n; i++)
    samples[i] = (rt_sample_t){.pcs = rows[i].rec->pcs,
                               .depth = rows[i].rec->depth,
                               .values = {rows[i].count, rows[i].delay}};
  rt_profile_desc_t d = {
      .sample_type = {{"contentions", "count"}, {"delay", "nanoseconds"}},
      .nvalues = 2,
      .period_type = {"contentions", "count"},
      .period = 1,
      .time_nanos = snap->time_nanos,
      .duration_nanos = base != NULL ? snap->mono_nanos - base->mono_nanos : 0,
      .leaf_is_exact = false,
      .samples = samples,
      .nsamples = n,
  };
  return ext->profile_write(fd, &d);
}

int sync_write(int fd, const void *snapv, const void *basev, int debug) {
  const sync_snap_t *snap = snapv, *base = basev;
  if (snap == NULL || (base != NULL && base->which != snap->which))
    return -EINVAL;
  heap_guard_enter();
  const ext_api_t *ext = ext_get();
  arena_t a = {0};
  size_t room = snap->n + (base ? base->n : 0);
  sync_row_t *rows = arena_alloc(&a, (room + 1) * sizeof *rows);
  int rc;
  if (ext == NULL) {
    rc = -ENOENT;
  } else if (rows == NULL) {
    rc = -ENOMEM;
  } else {
    size_t n = rows_delta(snap, base, rows);
    qsort(rows, n, sizeof *rows, row_cmp);
    rc = debug >= 1 ? write_text(ext, fd, rows, n, snap, &a)
                    : write_proto(ext, fd, rows, n, snap, base, &a);
  }
  arena_reset(&a);
  heap_guard_exit();
  return rc;
}
