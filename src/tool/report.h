/*
 * report.h — pprof's reports (its internal/report package) on top of the graph.
 *
 * A report_t is a prepared profile with the options of one report: which value, which units,
 * how much to trim, which functions (list, peek). report_new computes the total the percentages
 * are relative to, from the samples as they are then (pprof computes it before focusing unless
 * -relative_percentages). report_generate writes the report's text into an sbuf_t.
 */
#ifndef CPROF_TOOL_REPORT_H
#define CPROF_TOOL_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "tool/filter.h"
#include "tool/graph.h"
#include "tool/model.h"
#include "tool/regex.h"
#include "tool/util.h"

enum report_format {
  R_CALLGRIND,
  R_COMMENTS,
  R_DIS,
  R_DOT,
  R_LIST,
  R_PROTO,
  R_RAW,
  R_TAGS,
  R_TEXT,
  R_TOPPROTO,
  R_TRACES,
  R_TREE,
  R_WEBLIST,
};

typedef struct report_opts {
  int format;
  bool cum_sort, call_tree, drop_negative, compact_labels;
  double ratio; /* 1 / divide_by */
  const char *title;
  const char **active_filters;
  size_t nfilters;
  const num_units_t *units;
  int nodecount;
  double node_fraction, edge_fraction;
  int sample_index; /* the value reported */
  int mean_index;   /* -1, or 0 with -mean */
  const char *sample_type, *sample_unit;
  const char *output_unit;
  regex_pat_t *symbol; /* list, peek, disasm */
  const char *source_path, *trim_path;
} report_opts_t;

typedef struct report {
  tprof_t *prof;
  int64_t total;
  report_opts_t o;
  bool prepared; /* newGraph's one-time changes to the profile are done */
} report_t;

report_t *report_new(tprof_t *p, const report_opts_t *o);

/* Writes the report into out; -1 with a message in err (e.g. "no matches found for regexp"). */
int report_generate(report_t *r, sbuf_t *out, char *err, size_t errlen);

/* ---- shared by the report files ---- */

/* The report's formatted value (pprof's rpt.formatValue). */
const char *report_value(report_t *r, int64_t v, char *buf, size_t n);
/* The graph of the report's profile, trimmed as pprof's newTrimmedGraph. */
graph_t *report_trimmed_graph(report_t *r, size_t *orig_count, size_t *dropped_nodes,
                              size_t *dropped_edges);
/* pprof's newGraph without trimming. */
graph_t *report_graph(report_t *r);
/* pprof's selectOutputUnit. */
void report_select_unit(report_t *r, const graph_t *g);
/* pprof's ProfileLabels and reportLabels, each line appended to lines. */
void report_profile_labels(report_t *r, sbuf_t *out);
void report_labels(report_t *r, const graph_t *g, size_t orig, size_t dropped_nodes,
                   size_t dropped_edges, bool full, sbuf_t *out);
/* pprof's trimPath. */
const char *report_trim_path(const char *path, const char *trim, const char *search, char *buf,
                             size_t n);

int report_text(report_t *r, sbuf_t *out, char *err, size_t errlen);
int report_tree(report_t *r, sbuf_t *out, char *err, size_t errlen);
int report_traces(report_t *r, sbuf_t *out, char *err, size_t errlen);
int report_tags(report_t *r, sbuf_t *out, char *err, size_t errlen);
int report_comments(report_t *r, sbuf_t *out, char *err, size_t errlen);
int report_raw(report_t *r, sbuf_t *out, char *err, size_t errlen);
int report_callgrind(report_t *r, sbuf_t *out, char *err, size_t errlen);
int report_proto(report_t *r, sbuf_t *out, char *err, size_t errlen);
int report_topproto(report_t *r, sbuf_t *out, char *err, size_t errlen);
int report_list(report_t *r, sbuf_t *out, char *err, size_t errlen);
int report_dot(report_t *r, sbuf_t *out, char *err, size_t errlen);

#endif /* CPROF_TOOL_REPORT_H */
