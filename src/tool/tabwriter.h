/*
 * tabwriter.h — Go's text/tabwriter, enough of it for pprof's tables: cells end at tabs, the
 * text after a line's last tab is not aligned, a column's cells are padded to the widest of its
 * block of consecutive lines (width in runes plus padding), right-aligned when asked.
 */
#ifndef CPROF_TOOL_TABWRITER_H
#define CPROF_TOOL_TABWRITER_H

#include <stdbool.h>

#include "tool/util.h"

/* Formats the tab-separated text in into out. */
void tabwriter_format(const char *in, size_t len, int minwidth, int padding, bool align_right,
                      sbuf_t *out);

#endif /* CPROF_TOOL_TABWRITER_H */
