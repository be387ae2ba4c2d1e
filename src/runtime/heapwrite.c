/*
 * heapwrite.c — writing a heap snapshot as Go writes its heap and allocs profiles.
 *
 * A snapshot (heap.c) holds every bucket's four counters (objects and requested bytes, allocated
 * and freed), sorted by bucket address; a delta (a base snapshot given) is a merge of two such
 * arrays, a bucket missing on one side counting from zero. Each bucket (a stack, a size class and
 * a label set) becomes one sample whose values are Go's four heap columns (alloc_objects,
 * alloc_space, inuse_objects, inuse_space), taken from the counters, so the bytes are exactly what
 * was requested; every (objects, bytes) pair is unbiased as Go does for the Poisson sampling, with
 * its own average object size. Its labels are the numeric "bytes", Go's blockSize, the record's
 * average allocation (alloc bytes / alloc objects): the block size for a site that allocates one
 * size; and, which Go's heap profile lacks, the allocating thread's labels (labels.h) as string
 * labels. Samples are sorted by stack, class and label set, so the same counts give the same
 * bytes. debug >= 1 hands the raw counts and bytes to the extension's writer of Go's legacy text
 * instead, which has no labels: there the rows of one stack and class under different labels are
 * added together, so the text is the one the same allocations would give without labels.
 *
 * The whole write runs under the heap guard: what the extension allocates to symbolize, encode and
 * compress is not sampled. Working memory comes from an arena, not from the host's heap.
 *
 * The core links libc only, so the two transcendental functions the sampler and the unbiasing need
 * are here: ln by range reduction to [1/sqrt2, sqrt2) and the atanh series, and 1 - exp(-x) by its
 * own series for small x (no cancellation) and by range reduction with ln 2 otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/arena.h"
#include "runtime/ext.h"
#include "runtime/heap.h"
#include "runtime/labels.h"

#define LN2 0.693147180559945309417232121458
#define SQRT2 1.41421356237309504880168872421

/* ------------------------------------------------------------ math ------------------------- */

typedef union {
  double d;
  uint64_t u;
} bits_t;

double heap_ln(double x) {
  if (!(x > 0))
    return -1e308;
  int e = 0;
  bits_t v = {.d = x};
  if (((v.u >> 52) & 0x7ff) == 0) { /* subnormal: scale into the normal range */
    v.d *= 18014398509481984.0;     /* 2^54 */
    e = -54;
  }
  e += (int)((v.u >> 52) & 0x7ff) - 1023;
  v.u = (v.u & ((1ull << 52) - 1)) | (1023ull << 52); /* mantissa in [1, 2) */
  double m = v.d;
  if (m > SQRT2) {
    m /= 2;
    e++;
  }
  double s = (m - 1) / (m + 1), s2 = s * s, term = s, sum = 0;
  for (int k = 1; k < 40; k += 2) { /* |s| <= 0.172: 12 terms reach 1e-18 */
    sum += term / k;
    term *= s2;
  }
  return e * LN2 + 2 * sum;
}

/* exp(-x) for x >= 0. */
static double exp_neg(double x) {
  if (x > 700)
    return 0;
  int k = (int)(x / LN2);
  double r = x - k * LN2, term = 1, sum = 1; /* r in [0, ln 2) */
  for (int i = 1; i < 22; i++) {
    term *= -r / i;
    sum += term;
  }
  bits_t scale = {.u = (uint64_t)(1023 - k) << 52}; /* 2^-k, k <= 1010 */
  return sum * scale.d;
}

double heap_one_minus_exp_neg(double x) {
  if (!(x > 0))
    return 0;
  if (x >= 0.5)
    return 1 - exp_neg(x);
  double term = x, sum = x;
  for (int k = 2; k < 24; k++) {
    term *= -x / k;
    sum += term;
  }
  return sum;
}

/* Go's scaleHeapSample: an object of average size avg was sampled with probability
 * 1 - exp(-avg/rate), so each sampled one stands for 1/that. */
void heap_scale(int64_t *count, int64_t *bytes, long rate) {
  if (*count == 0 || *bytes == 0) {
    *count = 0;
    *bytes = 0;
    return;
  }
  if (rate <= 1)
    return;
  double avg = (double)*bytes / (double)*count;
  double scale = 1 / heap_one_minus_exp_neg(avg / (double)rate);
  *count = (int64_t)((double)*count * scale);
  *bytes = (int64_t)((double)*bytes * scale);
}

/* ------------------------------------------------------------ rows ------------------------- */

typedef struct heap_row {
  const heap_bucket_t *b;
  int64_t allocs, frees, alloc_bytes, free_bytes;
} heap_row_t;

/* snap minus base, merged by bucket address; rows with no change at all are left out. */
static size_t rows_delta(const heap_snap_t *snap, const heap_snap_t *base, heap_row_t *out) {
  size_t i = 0, j = 0, n = 0, nb = base ? base->n : 0;
  while (i < snap->n || j < nb) {
    const heap_snap_entry_t *s = i < snap->n ? &snap->e[i] : NULL;
    const heap_snap_entry_t *b = j < nb ? &base->e[j] : NULL;
    heap_row_t r;
    if (b == NULL || (s != NULL && (uintptr_t)s->bucket < (uintptr_t)b->bucket)) {
      r = (heap_row_t){s->bucket, s->allocs, s->frees, s->alloc_bytes, s->free_bytes};
      i++;
    } else if (s == NULL || (uintptr_t)b->bucket < (uintptr_t)s->bucket) {
      r = (heap_row_t){b->bucket, -b->allocs, -b->frees, -b->alloc_bytes, -b->free_bytes};
      j++;
    } else {
      r = (heap_row_t){s->bucket, s->allocs - b->allocs, s->frees - b->frees,
                       s->alloc_bytes - b->alloc_bytes, s->free_bytes - b->free_bytes};
      i++;
      j++;
    }
    if (base == NULL && r.frees > r.allocs)
      r.frees = r.allocs; /* counts read while frees raced ahead */
    if (base == NULL && r.free_bytes > r.alloc_bytes)
      r.free_bytes = r.alloc_bytes;
    if (r.allocs != 0 || r.frees != 0)
      out[n++] = r;
  }
  return n;
}

/* By stack (leaf first, then outwards), then by size class: 0 when both are the same. */
static int bucket_cmp(const heap_bucket_t *a, const heap_bucket_t *b) {
  uint32_t n = a->depth < b->depth ? a->depth : b->depth;
  for (uint32_t i = 0; i < n; i++)
    if (a->pcs[i] != b->pcs[i])
      return a->pcs[i] < b->pcs[i] ? -1 : 1;
  if (a->depth != b->depth)
    return a->depth < b->depth ? -1 : 1;
  return a->cls < b->cls ? -1 : a->cls > b->cls;
}

/* By stack, size class, then label set: deterministic output. */
static int row_cmp(const void *pa, const void *pb) {
  const heap_bucket_t *a = ((const heap_row_t *)pa)->b, *b = ((const heap_row_t *)pb)->b;
  int c = bucket_cmp(a, b);
  if (c != 0)
    return c;
  return a->labels < b->labels ? -1 : a->labels > b->labels;
}

/* Go's blockSize: the record's average allocation. A delta row with frees only (no allocation
 * in the interval) takes its frees' average instead of Go's 0, so that the label still says which
 * size the row is about. */
static int64_t row_block_size(const heap_row_t *r) {
  if (r->allocs > 0)
    return r->alloc_bytes / r->allocs;
  return r->frees > 0 ? r->free_bytes / r->frees : 0;
}

/* ------------------------------------------------------------ writing ---------------------- */

static int write_text(const ext_api_t *ext, int fd, const heap_row_t *rows, size_t n, long rate,
                      arena_t *a) {
  rt_heap_record_t *recs = arena_alloc(a, (n + 1) * sizeof *recs);
  if (recs == NULL)
    return -ENOMEM;
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    const heap_row_t *r = &rows[i];
    rt_heap_record_t *rec = &recs[m];
    if (m > 0 && bucket_cmp(rows[i - 1].b, r->b) == 0) {
      rec = &recs[m - 1]; /* the same stack and class under other labels (rows are sorted) */
    } else {
      *rec = (rt_heap_record_t){.pcs = r->b->pcs, .depth = r->b->depth};
      m++;
    }
    rec->inuse_objects += r->allocs - r->frees;
    rec->inuse_bytes += r->alloc_bytes - r->free_bytes;
    rec->alloc_objects += r->allocs;
    rec->alloc_bytes += r->alloc_bytes;
  }
  rt_heap_text_t text = {.records = recs, .nrecords = m, .rate = rate};
  return ext->heap_text_write(fd, &text);
}

static int write_proto(const ext_api_t *ext, int fd, const heap_row_t *rows, size_t n,
                       const heap_snap_t *snap, const heap_snap_t *base, bool allocs, arena_t *a) {
  rt_sample_t *samples = arena_alloc(a, (n + 1) * sizeof *samples);
  if (samples == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    const heap_row_t *r = &rows[i];
    int64_t v[4] = {r->allocs, r->alloc_bytes, r->allocs - r->frees,
                    r->alloc_bytes - r->free_bytes};
    heap_scale(&v[0], &v[1], snap->rate);
    heap_scale(&v[2], &v[3], snap->rate);
    size_t nl;
    const rt_label_t *set = labels_of(r->b->labels, &nl);
    rt_label_t *labels = arena_alloc(a, (nl + 1) * sizeof *labels);
    if (labels == NULL)
      return -ENOMEM;
    labels[0] = (rt_label_t){.key = "bytes", .num = row_block_size(r)};
    if (nl > 0)
      memcpy(&labels[1], set, nl * sizeof *set);
    samples[i] = (rt_sample_t){
        .pcs = rows[i].b->pcs,
        .depth = rows[i].b->depth,
        .values = {v[0], v[1], v[2], v[3]},
        .labels = labels,
        .nlabels = nl + 1,
    };
  }
  rt_profile_desc_t d = {
      .sample_type = {{"alloc_objects", "count"},
                      {"alloc_space", "bytes"},
                      {"inuse_objects", "count"},
                      {"inuse_space", "bytes"}},
      .nvalues = 4,
      .period_type = {"space", "bytes"},
      .period = snap->rate,
      .time_nanos = snap->time_nanos,
      .duration_nanos = base != NULL ? snap->mono_nanos - base->mono_nanos : 0,
      .default_sample_type = allocs ? "alloc_space" : NULL,
      .leaf_is_exact = false,
      .samples = samples,
      .nsamples = n,
  };
  return ext->profile_write(fd, &d);
}

int heap_write(int fd, const void *snapv, const void *basev, int debug, bool allocs) {
  const heap_snap_t *snap = snapv, *base = basev;
  if (snap == NULL)
    return -EINVAL;
  heap_guard_enter();
  const ext_api_t *ext = ext_get();
  arena_t a = {0};
  size_t room = snap->n + (base ? base->n : 0);
  heap_row_t *rows = arena_alloc(&a, (room + 1) * sizeof *rows);
  int rc;
  if (ext == NULL) {
    rc = -ENOENT;
  } else if (rows == NULL) {
    rc = -ENOMEM;
  } else {
    size_t n = rows_delta(snap, base, rows);
    qsort(rows, n, sizeof *rows, row_cmp);
    rc = debug >= 1 ? write_text(ext, fd, rows, n, snap->rate, &a)
                    : write_proto(ext, fd, rows, n, snap, base, allocs, &a);
  }
  arena_reset(&a);
  heap_guard_exit();
  return rc;
}
