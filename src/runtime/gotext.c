/*
 * gotext.c — what every Go debug=1 text form shares (see gotext.h): printStackRecord's "#" lines
 * for a stack, pprof's memory-map trailer, Go's text/tabwriter as runtime/pprof configures it,
 * writing a buffer out whole, and Go's %q and label sets (the count profiles' "# labels:" line).
 *
 * The tabwriter: each line is cut into cells at its tabs, the last cell of a line being outside
 * every column; consecutive lines with a cell in column k form a block whose width is its widest
 * cell plus one, and every cell of the block is followed by as many tabs as it takes to reach that
 * width rounded up to a multiple of 8 (minwidth 1, tabwidth 8, padding 1, padchar '\t', no flags).
 *
 * Runs in ordinary threads, never a signal handler; allocates with malloc.
 */
#define _GNU_SOURCE
#include "runtime/gotext.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* text/tabwriter.NewWriter(w, 1, 8, 1, '\t', 0), as runtime/pprof makes it. */
#define GT_TW_MINWIDTH 1
#define GT_TW_TABWIDTH 8
#define GT_TW_PADDING 1

void gotext_stack_print(FILE *f, sym_t *sym, const uintptr_t *pcs, uint32_t depth) {
  for (uint32_t i = 0; i < depth; i++) {
    uintptr_t pc = pcs[i] > 0 ? pcs[i] - 1 : 0; /* the call, not the return address */
    size_t n = 0;
    unsigned flags = 0;
    const sym_frame_t *fr = sym != NULL ? sym_lookup(sym, pc, &n, &flags) : NULL;
    if (fr == NULL || n == 0) {
      fprintf(f, "#\t0x%" PRIxPTR "\n", pc);
      continue;
    }
    uintptr_t off = pc - (uintptr_t)fr[n - 1].entry;
    for (size_t k = 0; k < n; k++) {
      if (fr[k].name == NULL || fr[k].name[0] == '\0') /* Go's line for a frame with no name */
        fprintf(f, "#\t0x%" PRIxPTR "\n", pc);
      else
        fprintf(f, "#\t0x%" PRIxPTR "\t%s+0x%" PRIxPTR "\t%s:%" PRId64 "\n", pc, fr[k].name, off,
                fr[k].file != NULL ? fr[k].file : "", fr[k].line);
    }
  }
  fputc('\n', f);
}

void gotext_maps_print(FILE *f, const map_list_t *maps) {
  if (maps->n == 0)
    return;
  fputs("\n--- Memory map: ---\n", f);
  for (size_t i = 0; i < maps->n; i++) {
    const map_entry_t *m = &maps->v[i];
    fprintf(f, "%" PRIx64 "-%" PRIx64 " r-xp %s (@%" PRIx64 ")%s%s\n", m->start, m->limit, m->path,
            m->offset, m->build_id[0] != '\0' ? " " : "", m->build_id);
  }
}

/* ------------------------------------------------------------ Go's tabwriter -------------- */

typedef struct gt_cell {
  const char *p;
  size_t len, width; /* width in runes, as utf8.RuneCount */
} gt_cell_t;

typedef struct gt_tw {
  gt_cell_t *cells;
  size_t *first; /* line i is cells[first[i] .. first[i+1]) */
  size_t nlines;
  size_t *widths; /* the column widths of the enclosing blocks */
  size_t nwidths;
  FILE *out;
} gt_tw_t;

static size_t gt_runes(const char *p, size_t len) {
  size_t n = 0;
  for (size_t i = 0; i < len; i++)
    n += ((unsigned char)p[i] & 0xc0) != 0x80;
  return n;
}

static size_t gt_tw_ncells(const gt_tw_t *tw, size_t line) {
  return tw->first[line + 1] - tw->first[line];
}

/* tabwriter.writeLines: every terminated cell padded with tabs to its column's width. */
static void gt_tw_write_lines(gt_tw_t *tw, size_t line0, size_t line1) {
  for (size_t i = line0; i < line1; i++) {
    size_t nc = gt_tw_ncells(tw, i);
    for (size_t j = 0; j < nc; j++) {
      const gt_cell_t *c = &tw->cells[tw->first[i] + j];
      fwrite(c->p, 1, c->len, tw->out);
      if (j < tw->nwidths) {
        size_t cellw = (tw->widths[j] + GT_TW_TABWIDTH - 1) / GT_TW_TABWIDTH * GT_TW_TABWIDTH;
        for (size_t pad = (cellw - c->width + GT_TW_TABWIDTH - 1) / GT_TW_TABWIDTH; pad > 0; pad--)
          fputc('\t', tw->out);
      }
    }
    if (i + 1 < tw->nlines)
      fputc('\n', tw->out);
  }
}

/* tabwriter.format: finds the blocks of column nwidths within [line0, line1) and recurses. */
static void gt_tw_format(gt_tw_t *tw, size_t line0, size_t line1) {
  size_t column = tw->nwidths;
  for (size_t ln = line0; ln < line1; ln++) {
    if (column + 1 >= gt_tw_ncells(tw, ln))
      continue;
    gt_tw_write_lines(tw, line0, ln);
    line0 = ln;
    size_t width = GT_TW_MINWIDTH;
    for (; ln < line1 && column + 1 < gt_tw_ncells(tw, ln); ln++) {
      size_t w = tw->cells[tw->first[ln] + column].width + GT_TW_PADDING;
      if (w > width)
        width = w;
    }
    tw->widths[tw->nwidths++] = width;
    gt_tw_format(tw, line0, ln);
    tw->nwidths--;
    line0 = ln;
  }
  gt_tw_write_lines(tw, line0, line1);
}

int gotext_tabwrite(const char *text, size_t len, FILE *out) {
  size_t ncells = 1, nlines = 1, maxcells = 1, cur = 1;
  for (size_t i = 0; i < len; i++) {
    ncells += text[i] == '\t' || text[i] == '\n';
    cur = text[i] == '\n' ? 1 : cur + (text[i] == '\t');
    nlines += text[i] == '\n';
    maxcells = cur > maxcells ? cur : maxcells;
  }
  gt_tw_t tw = {.cells = malloc(ncells * sizeof(gt_cell_t)),
                .first = malloc((nlines + 1) * sizeof(size_t)),
                .widths = malloc(maxcells * sizeof(size_t)),
                .out = out};
  int err = 0;
  if (tw.cells == NULL || tw.first == NULL || tw.widths == NULL) {
    err = -ENOMEM;
    goto out;
  }
  size_t nc = 0, start = 0;
  tw.first[0] = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i < len && text[i] != '\t' && text[i] != '\n')
      continue;
    tw.cells[nc++] = (gt_cell_t){text + start, i - start, gt_runes(text + start, i - start)};
    start = i + 1;
    if (i == len || text[i] == '\n')
      tw.first[++tw.nlines] = nc;
  }
  gt_tw_format(&tw, 0, tw.nlines);
out:
  free(tw.cells);
  free(tw.first);
  free(tw.widths);
  return err;
}

/* ------------------------------------------------------------ writing --------------------- */

int gotext_write_all(int fd, const char *p, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return n < 0 ? -errno : -EIO;
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* ------------------------------------------------------------ Go's %q and labels ---------- */

/* The length of the valid UTF-8 sequence at p (at most n bytes), or 0 when it is not one. */
static size_t gt_utf8_len(const unsigned char *p, size_t n) {
  size_t len = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 ? 2 : 0;
  if (p[0] > 0xf4 || len == 0 || len > n)
    return 0;
  for (size_t i = 1; i < len; i++)
    if ((p[i] & 0xc0) != 0x80)
      return 0;
  if ((len == 3 && p[0] == 0xe0 && p[1] < 0xa0) || (len == 4 && p[0] == 0xf0 && p[1] < 0x90) ||
      (len == 4 && p[0] == 0xf4 && p[1] >= 0x90) || (len == 3 && p[0] == 0xed && p[1] >= 0xa0))
    return 0; /* overlong, beyond U+10FFFF, or a surrogate */
  return len;
}

/* s as Go's strconv.Quote writes it: in double quotes, with \a \b \f \n \r \t \v \\ \" escaped,
 * other control bytes and invalid UTF-8 as \x.., and everything else (printable ASCII and valid
 * multi-byte UTF-8, which Go shows as is when printable) unchanged. */
void gotext_quote(FILE *f, const char *s) {
  static const char esc_from[] = "\a\b\f\n\r\t\v\\\"";
  static const char esc_to[] = "abfnrtv\\\"";
  const unsigned char *p = (const unsigned char *)s;
  size_t n = strlen(s);
  fputc('"', f);
  for (size_t i = 0; i < n;) {
    const char *e = p[i] != 0 ? strchr(esc_from, p[i]) : NULL;
    if (e != NULL) {
      fputc('\\', f);
      fputc(esc_to[e - esc_from], f);
      i++;
    } else if (p[i] >= 0x20 && p[i] < 0x7f) {
      fputc(p[i++], f);
    } else if (p[i] >= 0x80 && gt_utf8_len(p + i, n - i) > 0) {
      size_t len = gt_utf8_len(p + i, n - i);
      fwrite(p + i, 1, len, f);
      i += len;
    } else {
      fprintf(f, "\\x%02x", p[i++]);
    }
  }
  fputc('"', f);
}

static int gt_str_cmp(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int gotext_labels_print(FILE *f, const rt_label_t *labels, size_t n) {
  char **pairs = calloc(n ? n : 1, sizeof *pairs);
  int err = pairs == NULL ? -ENOMEM : 0;
  for (size_t i = 0; i < n && err == 0; i++) {
    size_t len = 0;
    FILE *m = open_memstream(&pairs[i], &len);
    if (m == NULL) {
      err = -ENOMEM;
      break;
    }
    char num[32];
    if (labels[i].str == NULL)
      snprintf(num, sizeof num, "%" PRId64, labels[i].num);
    gotext_quote(m, labels[i].key);
    fputc(':', m);
    gotext_quote(m, labels[i].str != NULL ? labels[i].str : num);
    if (fclose(m) != 0)
      err = -ENOMEM;
  }
  if (err == 0) {
    qsort(pairs, n, sizeof *pairs, gt_str_cmp);
    fputc('{', f);
    for (size_t i = 0; i < n; i++)
      fprintf(f, "%s%s", i > 0 ? ", " : "", pairs[i]);
    fputc('}', f);
  }
  for (size_t i = 0; pairs != NULL && i < n; i++)
    free(pairs[i]);
  free(pairs);
  return err;
}

/* The text before the tabwriter: header, records, trailer, memory map. */
static int gotext_form_build(const gotext_form_t *form, char **raw, size_t *len) {
  map_list_t maps;
  FILE *f = open_memstream(raw, len);
  if (f == NULL)
    return -ENOMEM;
  if (map_list_read(&maps) < 0)
    maps = (map_list_t){0}; /* then no names and no memory map, but the numbers still */
  sym_t *sym = form->nrecords > 0 ? sym_acquire(&maps) : NULL;
  form->header(f, form->ctx);
  for (size_t i = 0; i < form->nrecords; i++)
    form->record(f, sym, (const char *)form->records + i * form->size);
  if (sym != NULL)
    sym_release(sym);
  if (form->trailer != NULL)
    form->trailer(f, form->ctx);
  gotext_maps_print(f, &maps);
  map_list_free(&maps);
  bool bad = ferror(f) != 0;
  if (fclose(f) != 0 || bad)
    return -ENOMEM;
  return 0;
}

int gotext_write_form(int fd, const gotext_form_t *form) {
  char *raw = NULL, *done = NULL;
  size_t rawlen = 0, donelen = 0;
  int err = gotext_form_build(form, &raw, &rawlen);
  if (err == 0) {
    FILE *f = open_memstream(&done, &donelen);
    err = f == NULL ? -ENOMEM : gotext_tabwrite(raw, rawlen, f);
    if (f != NULL && fclose(f) != 0 && err == 0)
      err = -ENOMEM;
  }
  if (err == 0)
    err = gotext_write_all(fd, done, donelen);
  free(raw);
  free(done);
  return err;
}
