/*
 * counttext.c — a count profile as Go's debug=1 text (runtime/pprof printCountProfile): the
 * goroutine (threads) profile, threadcreate and the user-defined profiles.
 *
 *   <name> profile: total <N>
 *   # <note>                                  only when the core has one (cprof's addition)
 *   <count> @ 0x<ret pc> 0x<ret pc> ...
 *   # labels: {"key":"value", ...}            only for records with labels
 *   #\t0x<pc-1>\t<function>+0x<off>\t<file>:<line>      one per frame (gotext_stack_print)
 *   (blank line)
 *   ...
 *   --- Memory map: ---                       the executable mappings (gotext_maps_print)
 *
 * N is the number of things counted (the sum of the records' counts: threads, thread creations,
 * keys added). Go groups its records by a key, the text "@ 0x.. 0x.." followed, when the record
 * has labels, by "\n# labels: {...}"; records are sorted by count, largest first, then by that key
 * as a string, and so are ours (the core has grouped them already; the key is rebuilt here only to
 * sort). The label line is Go's labelMap.String: each pair as %q:%q, the pairs sorted as strings,
 * joined by ", " in braces. A pseudo-frame record (rt_count_record_t.synthetic) prints the one
 * address it carries and a frame line with its name, offset 0 and no file.
 *
 * The memory map is not in Go's text, as in heaptext.c: pprof's parser of count profiles stops
 * reading records at the first "---" line and reads the mappings after it, so it can symbolize a
 * PIE program and its libraries from the text alone.
 *
 * Everything passes through Go's tabwriter (gotext_tabwrite), as Go writes it. Runs in an ordinary
 * thread; allocates with malloc.
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

/* ------------------------------------------------------------ records --------------------- */

typedef struct ct_rec {
  const rt_count_record_t *r;
  char *key; /* Go's grouping key, for sorting */
} ct_rec_t;

/* The record's key as Go builds it: "@ 0x.. 0x.." and, with labels, "\n# labels: {...}". */
static char *ct_key(const rt_count_record_t *r) {
  char *key = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&key, &len);
  if (f == NULL)
    return NULL;
  fputc('@', f);
  for (uint32_t i = 0; i < r->depth; i++)
    fprintf(f, " 0x%" PRIxPTR, r->pcs[i]);
  int err = 0;
  if (r->nlabels > 0) {
    fputs("\n# labels: ", f);
    err = gotext_labels_print(f, r->labels, r->nlabels);
  }
  if (fclose(f) != 0 || err != 0) {
    free(key);
    return NULL;
  }
  return key;
}

/* Count descending, then key ascending (Go's keysByCount). */
static int ct_rec_cmp(const void *pa, const void *pb) {
  const ct_rec_t *a = pa, *b = pb;
  if (a->r->count != b->r->count)
    return a->r->count > b->r->count ? -1 : 1;
  return strcmp(a->key, b->key);
}

static void ct_record_print(FILE *f, sym_t *sym, const void *rec) {
  const ct_rec_t *c = rec;
  fprintf(f, "%" PRId64 " %s\n", c->r->count, c->key);
  if (c->r->synthetic == NULL) {
    gotext_stack_print(f, sym, c->r->pcs, c->r->depth);
    return;
  }
  uintptr_t pc = c->r->depth > 0 ? c->r->pcs[0] - 1 : 0;
  fprintf(f, "#\t0x%" PRIxPTR "\t%s+0x0\t:0\n\n", pc, c->r->synthetic);
}

/* The header (gotext_form_t's ctx). */
typedef struct ct_ctx {
  const rt_count_text_t *t;
  int64_t total;
} ct_ctx_t;

static void ct_header_print(FILE *f, const void *ctxv) {
  const ct_ctx_t *c = ctxv;
  fprintf(f, "%s profile: total %" PRId64 "\n", c->t->name, c->total);
  if (c->t->note != NULL)
    fprintf(f, "# %s\n", c->t->note);
}

int counttext_write(int fd, const rt_count_text_t *text) {
  if (text == NULL || text->name == NULL || (text->nrecords > 0 && text->records == NULL) || fd < 0)
    return -EINVAL;
  ct_rec_t *recs = calloc(text->nrecords + 1, sizeof *recs);
  ct_ctx_t ctx = {text, 0};
  int err = recs == NULL ? -ENOMEM : 0;
  for (size_t i = 0; i < text->nrecords && err == 0; i++) {
    recs[i].r = &text->records[i];
    recs[i].key = ct_key(&text->records[i]);
    ctx.total += text->records[i].count;
    if (recs[i].key == NULL)
      err = -ENOMEM;
  }
  if (err == 0) {
    qsort(recs, text->nrecords, sizeof *recs, ct_rec_cmp);
    gotext_form_t form = {.records = recs,
                          .nrecords = text->nrecords,
                          .size = sizeof *recs,
                          .header = ct_header_print,
                          .record = ct_record_print,
                          .ctx = &ctx};
    err = gotext_write_form(fd, &form);
  }
  for (size_t i = 0; recs != NULL && i < text->nrecords; i++)
    free(recs[i].key);
  free(recs);
  return err;
}
