/*
 * gotext.h — the pieces of Go's debug=1 text forms that every profile's text shares (extension
 * side: they symbolize). heaptext.c writes the heap's; the count profiles (goroutine,
 * threadcreate, custom) and the contention profiles (block, mutex) write theirs with these.
 */
#ifndef CPROF_RUNTIME_GOTEXT_H
#define CPROF_RUNTIME_GOTEXT_H

#include <stdint.h>
#include <stdio.h>

#include "runtime/ext.h"
#include "runtime/mappings.h"
#include "runtime/symbolize.h"

/*
 * Go's printStackRecord for a stack of return addresses (leaf first), then a blank line: per
 * address, "#\t0x<pc-1>\t<function>+0x<off>\t<file>:<line>", inlined frames first and the physical
 * function last, all with the same address and the offset from the physical function's entry;
 * "#\t0x<pc-1>" for an address nothing knows. sym may be NULL (every line is then the bare form).
 */
void gotext_stack_print(FILE *f, sym_t *sym, const uintptr_t *pcs, uint32_t depth);

/* pprof's "--- Memory map: ---" trailer (brief format, build ID last), which its legacy parser
 * reads to symbolize a PIE program and its libraries from the text alone. Nothing when empty. */
void gotext_maps_print(FILE *f, const map_list_t *maps);

/* Runs text (lines ending in '\n') through Go's text/tabwriter(1, 8, 1, '\t', 0) into out.
 * 0 or -ENOMEM. */
int gotext_tabwrite(const char *text, size_t len, FILE *out);

/* Writes len bytes to fd, retrying on EINTR and short writes. 0 or a negative errno. */
int gotext_write_all(int fd, const char *p, size_t len);

/* s as Go's %q (strconv.Quote) writes it: double quotes, \a \b \f \n \r \t \v \\ \" escaped, other
 * control bytes and invalid UTF-8 as \x.., printable ASCII and valid UTF-8 as they are. */
void gotext_quote(FILE *f, const char *s);

/* Labels as Go's labelMap.String writes them: {"k":"v", ...}, each pair %q:%q (a number label
 * in decimal), the pairs sorted as strings and joined by ", ". 0 or -ENOMEM. */
int gotext_labels_print(FILE *f, const rt_label_t *labels, size_t n);

/* One of Go's debug=1 texts, as they are all written: a header, the records in the order given
 * (each printed with the symbolizer, NULL when none could be had), a trailer, pprof's memory map,
 * all through Go's tabwriter. records is an array of nrecords elements of size bytes; record is
 * called with a pointer to each; trailer may be NULL. */
typedef struct gotext_form {
  const void *records;
  size_t nrecords, size;
  void (*header)(FILE *f, const void *ctx);
  void (*record)(FILE *f, sym_t *sym, const void *rec);
  void (*trailer)(FILE *f, const void *ctx);
  const void *ctx;
} gotext_form_t;

/* Builds the form's text and writes it to fd. 0 or a negative errno. */
int gotext_write_form(int fd, const gotext_form_t *form);

#endif /* CPROF_RUNTIME_GOTEXT_H */
