/*
 * heaptext.c — the heap profile as Go's heap?debug=1 text (runtime/pprof writeHeapInternal).
 *
 * The text is produced in two passes, the way Go produces it. The first prints what Go's fmt calls
 * print into a memory buffer:
 *
 *   heap profile: <inuse objs>: <inuse bytes> [<alloc objs>: <alloc bytes>] @ heap/<2*rate>
 *   <inuse objs>: <inuse bytes> [<alloc objs>: <alloc bytes>] @ 0x<ret pc> 0x<ret pc> ...
 *   #\t0x<pc-1>\t<function>+0x<pc-1 - entry>\t<file>:<line>      one per frame, inlined expanded
 *   (blank line)
 *   ...
 *   (blank line)
 *   # cprof.MallocStats        where Go writes "# runtime.MemStats"
 *   # <mallinfo2 field> = N    arena, ordblks, hblks, hblkhd, uordblks, fordblks, keepcost
 *   # RSS = N                  /proc/self/statm, bytes
 *   # MaxRSS = N               getrusage ru_maxrss * 1024, as Go's addMaxRSS
 *   (blank line)
 *   --- Memory map: ---        the executable mappings, in pprof's "brief" maps format
 *   <start>-<limit> r-xp <path> (@<offset>) <build id>
 *
 * Records are sorted by in-use bytes, largest first (Go's sort.Slice is not stable; ties here are
 * broken by alloc bytes, then the counts, then the stack, so the same data gives the same bytes).
 * The header's totals are sums over the records, and when total in-use bytes equal total alloc
 * bytes the header's alloc bytes are one more (Go's guard against pprof reading a 2-column
 * profile). Counts are the raw sampled ones; pprof unbiases them itself ("heap/<2R>" means v2
 * sampling at rate R).
 *
 * The second pass is Go's text/tabwriter as writeHeapInternal configures it (minwidth 1, tabwidth
 * 8, padding 1, padchar '\t', no flags): each line is cut into cells at its tabs, the last cell of
 * a line being outside every column; consecutive lines with a cell in column k form a block whose
 * width is its widest cell plus one, and every cell of the block is followed by as many tabs as it
 * takes to reach that width rounded up to a multiple of 8. Only the "#" frame lines have tabs, so
 * only they are realigned, record by record.
 *
 * The comment lines follow Go's printStackRecord for the frames of a return address: the address
 * printed and symbolized is pc - 1 (the call), inlined functions come first and the physical
 * function last, every frame of one address printing the same address and the same offset (from
 * the physical function's entry, as Go's Frame.Entry: the start of the ELF symbol holding the
 * address, sym_frame_t.entry). An address nothing knows prints "#\t0x..".
 *
 * The memory map is not in Go's text (Go binaries are rarely position-independent and their
 * profiles are read with the binary); pprof's legacy parser skips every "#" line, stops reading
 * samples at "--- Memory map: ---" and reads the mappings after it, so it can symbolize a PIE
 * program and its libraries from this text alone.
 *
 * Runs in an ordinary thread, never a signal handler; allocates with malloc. The symbolizer is
 * held only while the text is built in memory, and released before anything is written to fd.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "runtime/ext.h"
#include "runtime/gotext.h"
#include "runtime/mappings.h"
#include "runtime/symbolize.h"

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#define HT_HAVE_MALLINFO2 1
#endif

/* ------------------------------------------------------------ allocator statistics -------- */

/* What stands in for Go's runtime.MemStats, read before anything else so that the writer's own
 * allocations do not show (as Go reads MemStats first). -1: not available. */
typedef struct ht_stats {
  long long mi[7];
  long long rss, maxrss;
} ht_stats_t;

static const char *const ht_mi_names[7] = {"arena",    "ordblks",  "hblks",   "hblkhd",
                                           "uordblks", "fordblks", "keepcost"};

static long long ht_rss_read(void) {
  char buf[128];
  long long size = 0, resident = -1;
  long page = sysconf(_SC_PAGESIZE);
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
  if (fd >= 0)
    close(fd);
  if (n <= 0 || page <= 0)
    return -1;
  buf[n] = '\0';
  if (sscanf(buf, "%lld %lld", &size, &resident) != 2)
    return -1;
  return resident * page;
}

static void ht_stats_read(ht_stats_t *st) {
  struct rusage ru;
#ifdef HT_HAVE_MALLINFO2
  struct mallinfo2 m = mallinfo2();
  const size_t v[7] = {m.arena, m.ordblks, m.hblks, m.hblkhd, m.uordblks, m.fordblks, m.keepcost};
  for (int i = 0; i < 7; i++)
    st->mi[i] = (long long)v[i];
#else
  for (int i = 0; i < 7; i++)
    st->mi[i] = -1;
#endif
  st->rss = ht_rss_read();
  st->maxrss = getrusage(RUSAGE_SELF, &ru) == 0 ? (long long)ru.ru_maxrss * 1024 : -1;
}

/* The text's two ends (gotext_form_t's ctx). */
typedef struct ht_ctx {
  const rt_heap_text_t *t;
  const ht_stats_t *st;
} ht_ctx_t;

static void ht_stats_print(FILE *f, const void *ctxv) {
  const ht_stats_t *st = ((const ht_ctx_t *)ctxv)->st;
  fputs("\n# cprof.MallocStats\n", f);
  for (int i = 0; i < 7; i++)
    if (st->mi[i] >= 0)
      fprintf(f, "# %s = %lld\n", ht_mi_names[i], st->mi[i]);
  if (st->rss >= 0)
    fprintf(f, "# RSS = %lld\n", st->rss);
  if (st->maxrss >= 0) /* Go's addMaxRSS leaves the line out when getrusage fails */
    fprintf(f, "# MaxRSS = %lld\n", st->maxrss);
}

/* ------------------------------------------------------------ records --------------------- */

static int ht_cmp_i64(int64_t a, int64_t b) { return a > b ? -1 : a < b ? 1 : 0; } /* descending */

/* In-use bytes descending (Go's order), then a total order of everything else for determinism. */
static int ht_record_cmp(const void *pa, const void *pb) {
  const rt_heap_record_t *a = *(const rt_heap_record_t *const *)pa;
  const rt_heap_record_t *b = *(const rt_heap_record_t *const *)pb;
  int c = ht_cmp_i64(a->inuse_bytes, b->inuse_bytes);
  if (c == 0)
    c = ht_cmp_i64(a->alloc_bytes, b->alloc_bytes);
  if (c == 0)
    c = ht_cmp_i64(a->inuse_objects, b->inuse_objects);
  if (c == 0)
    c = ht_cmp_i64(a->alloc_objects, b->alloc_objects);
  for (uint32_t i = 0; c == 0 && i < a->depth && i < b->depth; i++)
    c = a->pcs[i] < b->pcs[i] ? -1 : a->pcs[i] > b->pcs[i];
  if (c == 0)
    c = a->depth < b->depth ? -1 : a->depth > b->depth;
  return c;
}

/* The header: totals over every record, with Go's +1 on alloc bytes when they equal in-use. */
static void ht_header_print(FILE *f, const void *ctxv) {
  const rt_heap_text_t *t = ((const ht_ctx_t *)ctxv)->t;
  int64_t io = 0, ib = 0, ao = 0, ab = 0;
  for (size_t i = 0; i < t->nrecords; i++) {
    io += t->records[i].inuse_objects;
    ib += t->records[i].inuse_bytes;
    ao += t->records[i].alloc_objects;
    ab += t->records[i].alloc_bytes;
  }
  if (ib == ab)
    ab++;
  fprintf(f,
          "heap profile: %" PRId64 ": %" PRId64 " [%" PRId64 ": %" PRId64 "] @ heap/%" PRId64 "\n",
          io, ib, ao, ab, 2 * t->rate);
}

static void ht_record_print(FILE *f, sym_t *sym, const void *rec) {
  const rt_heap_record_t *r = *(const rt_heap_record_t *const *)rec;
  fprintf(f, "%" PRId64 ": %" PRId64 " [%" PRId64 ": %" PRId64 "] @", r->inuse_objects,
          r->inuse_bytes, r->alloc_objects, r->alloc_bytes);
  for (uint32_t i = 0; i < r->depth; i++)
    fprintf(f, " 0x%" PRIxPTR, r->pcs[i]);
  fputc('\n', f);
  gotext_stack_print(f, sym, r->pcs, r->depth);
}

int heaptext_write(int fd, const rt_heap_text_t *text) {
  ht_stats_t st;
  if (text == NULL || (text->nrecords > 0 && text->records == NULL) || fd < 0)
    return -EINVAL;
  ht_stats_read(&st);
  const rt_heap_record_t **order = malloc((text->nrecords + 1) * sizeof *order);
  if (order == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < text->nrecords; i++)
    order[i] = &text->records[i];
  qsort(order, text->nrecords, sizeof *order, ht_record_cmp);
  ht_ctx_t ctx = {text, &st};
  gotext_form_t form = {.records = order,
                        .nrecords = text->nrecords,
                        .size = sizeof *order,
                        .header = ht_header_print,
                        .record = ht_record_print,
                        .trailer = ht_stats_print,
                        .ctx = &ctx};
  int err = gotext_write_form(fd, &form);
  free(order);
  return err;
}
