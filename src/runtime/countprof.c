/*
 * countprof.c — count-profile snapshots and their writing (see countprof.h).
 *
 * Records are kept in one array in the snapshot's arena; finishing sorts them by (stack, labels,
 * pseudo-frame) and folds neighbours with the same key, so a finished snapshot is a sorted set,
 * and the difference of two is a merge. The proto's samples are ordered as Go orders its count
 * profiles (count descending), ties broken by the key, so the same counts give the same bytes.
 *
 * The pseudo-frames are real functions of the core, each with a body of its own so that the
 * compiler cannot fold two into one address. Nothing calls them; their addresses stand in a
 * stack's place in the text forms.
 */
#define _GNU_SOURCE
#include "runtime/countprof.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/heap.h"
#include "runtime/labels.h"
#include "runtime/sys.h"
#include "runtime/tables.h"
#include "runtime/threads.h"

/* ------------------------------------------------------------ pseudo-frames --------------- */

static volatile int count_pseudo_sink;

/* Never called: their addresses and names stand for a stack that could not be taken. */
__attribute__((noinline)) void cprof_thread_signals_blocked(void) { count_pseudo_sink = 1; }
__attribute__((noinline)) void cprof_thread_no_answer(void) { count_pseudo_sink = 2; }
__attribute__((noinline)) void cprof_thread_stopped(void) { count_pseudo_sink = 3; }
__attribute__((noinline)) void cprof_thread_exited(void) { count_pseudo_sink = 4; }
__attribute__((noinline)) void cprof_thread_profiler(void) { count_pseudo_sink = 5; }
__attribute__((noinline)) void cprof_thread_sigprof_taken(void) { count_pseudo_sink = 6; }
__attribute__((noinline)) void cprof_lost_profile_event(void) { count_pseudo_sink = 7; }
__attribute__((noinline)) void cprof_thread_unreadable(void) { count_pseudo_sink = 8; }
__attribute__((noinline)) void cprof_thread_runnable(void) { count_pseudo_sink = 9; }

static const struct {
  const char *name, *why;
  void (*fn)(void);
} count_pseudos[COUNT_PSEUDO_N] = {
    [COUNT_PSEUDO_SIGNALS_BLOCKED] = {"cprof_thread_signals_blocked", "the thread blocks SIGPROF",
                                      cprof_thread_signals_blocked},
    [COUNT_PSEUDO_NO_ANSWER] = {"cprof_thread_no_answer", "the thread did not answer in time",
                                cprof_thread_no_answer},
    [COUNT_PSEUDO_STOPPED] = {"cprof_thread_stopped", "the thread is stopped",
                              cprof_thread_stopped},
    [COUNT_PSEUDO_EXITED] = {"cprof_thread_exited", "the thread has exited", cprof_thread_exited},
    [COUNT_PSEUDO_PROFILER] = {"cprof_thread_profiler", "one of cprof's own threads",
                               cprof_thread_profiler},
    [COUNT_PSEUDO_SIGPROF_TAKEN] = {"cprof_thread_sigprof_taken", "SIGPROF belongs to the program",
                                    cprof_thread_sigprof_taken},
    [COUNT_PSEUDO_LOST] = {"cprof_lost_profile_event", "the stack was empty",
                           cprof_lost_profile_event},
    [COUNT_PSEUDO_UNREADABLE] = {"cprof_thread_unreadable", "it could not be read from /proc",
                                 cprof_thread_unreadable},
    [COUNT_PSEUDO_RUNNABLE] = {"cprof_thread_runnable", "it waited for a CPU all through the dump",
                               cprof_thread_runnable},
};

const char *count_pseudo_name(count_pseudo_t p) { return count_pseudos[p].name; }
const char *count_pseudo_why(count_pseudo_t p) { return count_pseudos[p].why; }
uintptr_t count_pseudo_pc(count_pseudo_t p) { return (uintptr_t)count_pseudos[p].fn + 1; }

/* ------------------------------------------------------------ stacks ---------------------- */

#define COUNT_HERE_EXTRA 8 /* room for libcprof's own frames above from */

__attribute__((noinline)) int count_stack_here(uintptr_t *pcs, int max, uintptr_t from) {
  uintptr_t buf[COUNT_MAX_DEPTH + COUNT_HERE_EXTRA];
  int room = max + COUNT_HERE_EXTRA;
  if (room > (int)(sizeof buf / sizeof buf[0]))
    room = (int)(sizeof buf / sizeof buf[0]);
  unwind_stack_bounds_t bounds;
  threads_stack_bounds((uintptr_t)__builtin_frame_address(0), &bounds);
  const unwind_set_t *set = tables_enter();
  int depth = set != NULL ? unwind_here(set, &bounds, buf, room) : 0;
  tables_exit();
  int start = 0;
  while (start < depth && buf[start] != from)
    start++;
  if (start == depth) /* from is not on the stack (or no walk): from the top */
    start = 0;
  if (depth == 0 && from != 0 && max > 0) {
    pcs[0] = from;
    return 1;
  }
  int n = depth - start < max ? depth - start : max;
  for (int i = 0; i < n; i++)
    pcs[i] = buf[start + i];
  return n > 0 ? n : 0;
}

/* ------------------------------------------------------------ snapshots ------------------- */

count_snap_t *count_snap_new(const char *name, size_t cap) {
  arena_t a = {0};
  count_snap_t *s = arena_alloc(&a, sizeof *s);
  count_rec_t *recs = s != NULL ? arena_alloc(&a, (cap + 1) * sizeof *recs) : NULL;
  size_t len = strlen(name);
  char *copy = recs != NULL ? arena_alloc(&a, len + 1) : NULL;
  if (copy == NULL) {
    arena_reset(&a);
    return NULL;
  }
  memcpy(copy, name, len + 1);
  s->name = copy;
  s->recs = recs;
  s->cap = cap;
  s->time_nanos = sys_now_real();
  s->mono_nanos = sys_now_mono();
  s->arena = a; /* last: the arena's state after the allocations above */
  return s;
}

void *count_snap_alloc(count_snap_t *s, size_t size) { return arena_alloc(&s->arena, size); }

static int count_rec_push(count_snap_t *s, count_rec_t r) {
  if (s->nrecs >= s->cap)
    return -ENOSPC;
  s->recs[s->nrecs++] = r;
  return 0;
}

int count_snap_add(count_snap_t *s, const uintptr_t *pcs, uint32_t depth, uint32_t labels,
                   int64_t count) {
  if (depth > COUNT_MAX_DEPTH)
    depth = COUNT_MAX_DEPTH;
  if (depth == 0)
    return count_snap_add_pseudo(s, COUNT_PSEUDO_LOST, labels, count);
  uintptr_t *copy = arena_alloc(&s->arena, depth * sizeof *copy);
  if (copy == NULL)
    return -ENOMEM;
  memcpy(copy, pcs, depth * sizeof *copy);
  return count_rec_push(s, (count_rec_t){copy, depth, labels, NULL, count});
}

int count_snap_add_pseudo(count_snap_t *s, count_pseudo_t p, uint32_t labels, int64_t count) {
  static uintptr_t pcs[COUNT_PSEUDO_N];
  pcs[p] = count_pseudo_pc(p); /* the same value from every thread that writes it */
  return count_rec_push(s, (count_rec_t){&pcs[p], 1, labels, count_pseudos[p].name, count});
}

/* By stack (leaf first, then outwards), then labels, then pseudo-frame. */
static int count_key_cmp(const count_rec_t *a, const count_rec_t *b) {
  uint32_t n = a->depth < b->depth ? a->depth : b->depth;
  for (uint32_t i = 0; i < n; i++)
    if (a->pcs[i] != b->pcs[i])
      return a->pcs[i] < b->pcs[i] ? -1 : 1;
  if (a->depth != b->depth)
    return a->depth < b->depth ? -1 : 1;
  if (a->labels != b->labels)
    return a->labels < b->labels ? -1 : 1;
  if (a->synthetic != b->synthetic)
    return a->synthetic == NULL   ? -1
           : b->synthetic == NULL ? 1
                                  : strcmp(a->synthetic, b->synthetic);
  return 0;
}

static int count_rec_qsort_cmp(const void *a, const void *b) { return count_key_cmp(a, b); }

void count_snap_finish(count_snap_t *s) {
  qsort(s->recs, s->nrecs, sizeof *s->recs, count_rec_qsort_cmp);
  size_t n = 0;
  for (size_t i = 0; i < s->nrecs; i++) {
    if (n > 0 && count_key_cmp(&s->recs[n - 1], &s->recs[i]) == 0)
      s->recs[n - 1].count += s->recs[i].count;
    else
      s->recs[n++] = s->recs[i];
  }
  s->nrecs = n;
}

void count_snap_free(count_snap_t *s) {
  if (s == NULL)
    return;
  arena_t a = s->arena;
  arena_reset(&a);
}

int64_t count_snap_total(const count_snap_t *s) {
  int64_t t = 0;
  for (size_t i = 0; i < s->nrecs; i++)
    t += s->recs[i].count;
  return t;
}

/* ------------------------------------------------------------ writing --------------------- */

/* snap minus base into out (room for both): a merge of two sorted sets; zero counts left out. */
static size_t count_delta(const count_snap_t *snap, const count_snap_t *base, count_rec_t *out) {
  size_t i = 0, j = 0, n = 0, nb = base != NULL ? base->nrecs : 0;
  while (i < snap->nrecs || j < nb) {
    int c = i >= snap->nrecs ? 1 : j >= nb ? -1 : count_key_cmp(&snap->recs[i], &base->recs[j]);
    count_rec_t r;
    if (c < 0) {
      r = snap->recs[i++];
    } else if (c > 0) {
      r = base->recs[j++];
      r.count = -r.count;
    } else {
      r = snap->recs[i++];
      r.count -= base->recs[j++].count;
    }
    if (r.count != 0)
      out[n++] = r;
  }
  return n;
}

/* Go's order: count descending, then the key. */
static int count_rec_write_cmp(const void *pa, const void *pb) {
  const count_rec_t *a = pa, *b = pb;
  if (a->count != b->count)
    return a->count > b->count ? -1 : 1;
  return count_key_cmp(a, b);
}

static const rt_label_t *count_labels(uint32_t id, size_t *n) {
  *n = 0;
  return id != 0 ? labels_of(id, n) : NULL;
}

static int count_write_proto(const ext_api_t *ext, int fd, const count_snap_t *snap,
                             const count_snap_t *base, const count_rec_t *rows, size_t n,
                             arena_t *a) {
  rt_sample_t *samples = arena_alloc(a, (n + 1) * sizeof *samples);
  if (samples == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    samples[i] = (rt_sample_t){.pcs = rows[i].pcs,
                               .depth = rows[i].depth,
                               .values = {rows[i].count},
                               .synthetic = rows[i].synthetic};
    samples[i].labels = count_labels(rows[i].labels, &samples[i].nlabels);
  }
  rt_profile_desc_t d = {
      .sample_type = {{snap->name, "count"}},
      .nvalues = 1,
      .period_type = {snap->name, "count"},
      .period = 1,
      .time_nanos = snap->time_nanos,
      .duration_nanos = base != NULL ? snap->mono_nanos - base->mono_nanos : 0,
      .leaf_is_exact = false,
      .comments = {snap->note},
      .samples = samples,
      .nsamples = n,
  };
  return ext->profile_write(fd, &d);
}

static int count_write_text(const ext_api_t *ext, int fd, const count_snap_t *snap,
                            const count_rec_t *rows, size_t n, arena_t *a) {
  if (ext->size < offsetof(ext_api_t, count_text_write) + sizeof ext->count_text_write ||
      ext->count_text_write == NULL)
    return -ENOSYS;
  rt_count_record_t *recs = arena_alloc(a, (n + 1) * sizeof *recs);
  if (recs == NULL)
    return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    recs[i] = (rt_count_record_t){.pcs = rows[i].pcs,
                                  .depth = rows[i].depth,
                                  .count = rows[i].count,
                                  .synthetic = rows[i].synthetic};
    recs[i].labels = count_labels(rows[i].labels, &recs[i].nlabels);
  }
  rt_count_text_t t = {.name = snap->name, .records = recs, .nrecords = n, .note = snap->note};
  return ext->count_text_write(fd, &t);
}

static int count_write_dump(const ext_api_t *ext, int fd, const count_snap_t *snap) {
  if (ext->size < offsetof(ext_api_t, threads_text_write) + sizeof ext->threads_text_write ||
      ext->threads_text_write == NULL)
    return -ENOSYS;
  rt_thread_dump_t d = {.threads = snap->threads, .nthreads = snap->nthreads, .note = snap->note};
  return ext->threads_text_write(fd, &d);
}

static int count_write_guarded(int fd, const count_snap_t *snap, const count_snap_t *base,
                               int debug) {
  const ext_api_t *ext = ext_get();
  if (ext == NULL)
    return -ENOENT;
  if (debug >= 2 && snap->threads != NULL && base == NULL)
    return count_write_dump(ext, fd, snap);
  arena_t a = {0};
  count_rec_t *rows = arena_alloc(&a, (snap->nrecs + (base ? base->nrecs : 0) + 1) * sizeof *rows);
  int rc = -ENOMEM;
  if (rows != NULL) {
    size_t n = count_delta(snap, base, rows);
    qsort(rows, n, sizeof *rows, count_rec_write_cmp);
    rc = debug >= 1 ? count_write_text(ext, fd, snap, rows, n, &a)
                    : count_write_proto(ext, fd, snap, base, rows, n, &a);
  }
  arena_reset(&a);
  return rc;
}

int count_write(int fd, const count_snap_t *snap, const count_snap_t *base, int debug) {
  if (snap == NULL || fd < 0)
    return -EINVAL;
  heap_guard_enter(); /* what the extension allocates to write is not in the heap profile */
  int rc = count_write_guarded(fd, snap, base, debug);
  heap_guard_exit();
  return rc;
}
