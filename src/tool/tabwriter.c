/*
 * tabwriter.c — Go's text/tabwriter column algorithm (see tabwriter.h).
 *
 * The text is cut into lines and cells; a column block is a run of consecutive lines that all
 * have a cell in that column (the last cell of a line does not count); its width is the widest
 * cell plus padding. Blocks nest: inside a block the next column forms its own blocks.
 */
#include "tool/tabwriter.h"

#include <stdlib.h>
#include <string.h>

#include "tool/mem.h"

typedef struct cell {
  const char *s;
  size_t size;
  int width;
} cell_t;

typedef struct line {
  cell_t *c;
  size_t n;
} line_t;

typedef struct tw {
  line_t *lines;
  size_t nlines;
  int *widths;
  size_t nwidths;
  int minwidth, padding;
  bool right;
  sbuf_t *out;
} tw_t;

static int runes(const char *s, size_t n) {
  int r = 0;
  for (size_t i = 0; i < n; i++)
    r += ((unsigned char)s[i] & 0xc0) != 0x80;
  return r;
}

static void pad(tw_t *t, int n) {
  for (int i = 0; i < n; i++)
    sb_putc(t->out, ' ');
}

static void write_lines(tw_t *t, size_t l0, size_t l1) {
  for (size_t i = l0; i < l1; i++) {
    line_t *ln = &t->lines[i];
    for (size_t j = 0; j < ln->n; j++) {
      cell_t *c = &ln->c[j];
      if (c->size == 0) {
        if (j < t->nwidths)
          pad(t, t->widths[j] - c->width);
        continue;
      }
      if (!t->right) {
        sb_putn(t->out, c->s, c->size);
        if (j < t->nwidths)
          pad(t, t->widths[j] - c->width);
      } else {
        if (j < t->nwidths)
          pad(t, t->widths[j] - c->width);
        sb_putn(t->out, c->s, c->size);
      }
    }
    if (i + 1 < t->nlines)
      sb_putc(t->out, '\n');
  }
}

static void format(tw_t *t, size_t l0, size_t l1) {
  size_t column = t->nwidths;
  for (size_t th = l0; th < l1; th++) {
    if (column + 1 >= t->lines[th].n)
      continue;
    write_lines(t, l0, th);
    l0 = th;
    int width = t->minwidth;
    for (; th < l1; th++) {
      line_t *ln = &t->lines[th];
      if (column + 1 >= ln->n)
        break;
      int w = ln->c[column].width + t->padding;
      if (w > width)
        width = w;
    }
    t->widths = xrealloc(t->widths, (t->nwidths + 1) * sizeof *t->widths);
    t->widths[t->nwidths++] = width;
    format(t, l0, th);
    t->nwidths--;
    l0 = th; /* line th has no cell in this column: the loop's increment may skip it */
  }
  write_lines(t, l0, l1);
}

void tabwriter_format(const char *in, size_t len, int minwidth, int padding, bool align_right,
                      sbuf_t *out) {
  tw_t t = {.minwidth = minwidth, .padding = padding, .right = align_right, .out = out};
  size_t cap = 0;
  const char *p = in, *end = in + len;
  while (p <= end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *le = nl ? nl : end;
    if (t.nlines == cap) {
      cap = cap ? cap * 2 : 16;
      t.lines = xrealloc(t.lines, cap * sizeof *t.lines);
    }
    line_t *ln = &t.lines[t.nlines++];
    ln->c = NULL;
    ln->n = 0;
    const char *c = p;
    for (;;) {
      const char *tab = memchr(c, '\t', (size_t)(le - c));
      const char *ce = tab ? tab : le;
      ln->c = xrealloc(ln->c, (ln->n + 1) * sizeof *ln->c);
      ln->c[ln->n++] = (cell_t){c, (size_t)(ce - c), runes(c, (size_t)(ce - c))};
      if (!tab)
        break;
      c = tab + 1;
    }
    if (!nl)
      break;
    p = nl + 1;
  }
  format(&t, 0, t.nlines);
  for (size_t i = 0; i < t.nlines; i++)
    free(t.lines[i].c);
  free(t.lines);
  free(t.widths);
}
