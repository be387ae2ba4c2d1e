/*
 * threadtext.c — the threads profile's debug=2 form: every thread with its state and its
 * symbolized stack, laid out after Go's goroutine dump (runtime.Stack(all), which
 * goroutine?debug=2 serves):
 *
 *   # <note>                                                  only when the core has one
 *   thread <tid> "<name>" [<state>[, <wait> 0x<obj>, <for how long>][, no stack: <why>]
 *                         [, labels {"k":"v", ...}]]:
 *   <function>()                                              one pair of lines per frame,
 *   \t<file>:<line> +0x<offset>                                leaf first
 *   created by <function> in thread <tid>                     threads made by pthread_create
 *   \t<file>:<line> +0x<offset>
 *   (blank line)
 *
 * The thread that asked comes first (its state is "running", as Go's current goroutine), then
 * the others in the order the core gives (by tid). "<name>" is the name quoted as Go's %q quotes
 * a string. <state> is /proc's, in words: running,
 * sleeping, disk (uninterruptible), stopped, tracing stop, zombie, dead, idle, parked. <wait> is
 * the profiled primitive the thread is blocked in ("mutex", "rwlock", "cond", "sem", "join",
 * "barrier"; threads_wait_begin) with the object's address and the time since the wait began, in
 * Go's "N minutes" from one minute on and in seconds with milliseconds below. A thread whose stack
 * could not be taken shows one pseudo-frame (cprof_thread_signals_blocked and friends) and why.
 *
 * A frame's function line is the function's name followed by "()" (C has no argument values to
 * show; a C++ name that already ends in its parameter list is left as it is). Inlined calls come
 * first, each with its own location line, and the function they were inlined into last; only that
 * last line carries the "+0x" offset, from the function's entry to the return address (to the
 * interrupted instruction for the leaf of a thread stopped by the signal), as Go prints it. A
 * frame without debug info shows "<module path>+0x<offset in the file>" as its location, and one
 * that nothing knows "??()".
 *
 * Runs in an ordinary thread; allocates with malloc. The symbolizer is held while the text is
 * built in memory and released before it is written.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/ext.h"
#include "runtime/gotext.h"
#include "runtime/mappings.h"
#include "runtime/symbolize.h"

static void tt_function_print(FILE *f, const char *name) {
  size_t n = strlen(name);
  fprintf(f, "%s%s\n", name, n > 0 && name[n - 1] == ')' ? "" : "()");
}

/* The location of an address with no file: its module and offset in the module's file. */
static void tt_module_print(FILE *f, const map_list_t *maps, uintptr_t pc) {
  long m = map_list_find(maps, pc);
  if (m < 0) {
    fprintf(f, "\t?? +0x%" PRIxPTR "\n", pc);
    return;
  }
  const map_entry_t *e = &maps->v[m];
  fprintf(f, "\t%s+0x%" PRIx64 "\n", e->path, (uint64_t)pc - e->start + e->offset);
}

/* One frame: ret is a return address (or the interrupted pc + 1 when interrupted is set). */
static void tt_frame_print(FILE *f, sym_t *sym, const map_list_t *maps, uintptr_t ret,
                           bool interrupted) {
  uintptr_t pc = ret > 0 ? ret - 1 : 0; /* the call, or the interrupted instruction */
  size_t n = 0;
  unsigned flags = 0;
  const sym_frame_t *fr = sym != NULL ? sym_lookup(sym, pc, &n, &flags) : NULL;
  if (fr == NULL || n == 0) {
    fputs("?\?()\n", f);
    tt_module_print(f, maps, pc);
    return;
  }
  uintptr_t off = (interrupted ? pc : ret) - (uintptr_t)fr[n - 1].entry;
  for (size_t k = 0; k < n; k++) {
    tt_function_print(f, fr[k].name != NULL && fr[k].name[0] != '\0' ? fr[k].name : "??");
    if (fr[k].file == NULL || fr[k].file[0] == '\0')
      tt_module_print(f, maps, pc);
    else if (k + 1 < n)
      fprintf(f, "\t%s:%" PRId64 "\n", fr[k].file, fr[k].line);
    else
      fprintf(f, "\t%s:%" PRId64 " +0x%" PRIxPTR "\n", fr[k].file, fr[k].line, off);
  }
}

/* "created by <function> in thread <tid>" and the location of the call. */
static void tt_created_print(FILE *f, sym_t *sym, const map_list_t *maps,
                             const rt_thread_info_t *t) {
  uintptr_t pc = t->created_pc - 1;
  size_t n = 0;
  unsigned flags = 0;
  const sym_frame_t *fr = sym != NULL ? sym_lookup(sym, pc, &n, &flags) : NULL;
  const char *name = fr != NULL && n > 0 && fr[0].name != NULL && fr[0].name[0] ? fr[0].name : "??";
  fprintf(f, "created by %s in thread %d\n", name, t->created_tid);
  if (fr == NULL || n == 0 || fr[0].file == NULL || fr[0].file[0] == '\0')
    tt_module_print(f, maps, pc);
  else
    fprintf(f, "\t%s:%" PRId64 " +0x%" PRIxPTR "\n", fr[0].file, fr[0].line,
            t->created_pc - (uintptr_t)fr[n - 1].entry);
}

static void tt_wait_print(FILE *f, const rt_thread_info_t *t) {
  fprintf(f, ", %s 0x%" PRIxPTR, t->wait, t->wait_obj);
  if (t->wait_ns >= 60 * INT64_C(1000000000))
    fprintf(f, ", %" PRId64 " minutes", t->wait_ns / (60 * INT64_C(1000000000)));
  else
    fprintf(f, ", %.3f seconds", (double)(t->wait_ns > 0 ? t->wait_ns : 0) / 1e9);
}

static int tt_thread_print(FILE *f, sym_t *sym, const map_list_t *maps, const rt_thread_info_t *t) {
  int err = 0;
  fprintf(f, "thread %d ", t->tid);
  gotext_quote(f, t->name != NULL ? t->name : "");
  fprintf(f, " [%s", t->state != NULL ? t->state : "unknown");
  if (t->wait != NULL)
    tt_wait_print(f, t);
  if (t->synthetic != NULL && t->why != NULL)
    fprintf(f, ", no stack: %s", t->why);
  if (t->nlabels > 0) {
    fputs(", labels ", f);
    err = gotext_labels_print(f, t->labels, t->nlabels);
  }
  fputs("]:\n", f);
  if (t->synthetic != NULL)
    tt_function_print(f, t->synthetic);
  else
    for (uint32_t i = 0; i < t->depth; i++)
      tt_frame_print(f, sym, maps, t->pcs[i], i == 0 && t->leaf_interrupted);
  if (t->created_pc != 0)
    tt_created_print(f, sym, maps, t);
  fputc('\n', f);
  return err;
}

int threadtext_write(int fd, const rt_thread_dump_t *dump) {
  char *text = NULL;
  size_t len = 0;
  map_list_t maps;
  if (dump == NULL || (dump->nthreads > 0 && dump->threads == NULL) || fd < 0)
    return -EINVAL;
  FILE *f = open_memstream(&text, &len);
  if (f == NULL)
    return -ENOMEM;
  if (map_list_read(&maps) < 0)
    maps = (map_list_t){0};
  sym_t *sym = dump->nthreads > 0 ? sym_acquire(&maps) : NULL;
  int err = 0;
  if (dump->note != NULL)
    fprintf(f, "# %s\n\n", dump->note);
  for (size_t i = 0; i < dump->nthreads && err == 0; i++)
    err = tt_thread_print(f, sym, &maps, &dump->threads[i]);
  if (sym != NULL)
    sym_release(sym);
  map_list_free(&maps);
  bool bad = ferror(f) != 0;
  if (fclose(f) != 0 || bad)
    err = err ? err : -ENOMEM;
  if (err == 0)
    err = gotext_write_all(fd, text, len);
  free(text);
  return err;
}
