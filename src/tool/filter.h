/*
 * filter.h — pprof's profile filters and reshaping: focus/ignore/hide/show, show_from,
 * prune_from, drop_frames (RemoveUninteresting), tag filters and the tag show/hide, Aggregate
 * (granularity), and the numeric label units table.
 *
 * Each function changes the profile in place with the meaning of the pprof function named in
 * its comment, and returns whether its expressions matched, for the "matched no samples" notes.
 */
#ifndef CPROF_TOOL_FILTER_H
#define CPROF_TOOL_FILTER_H

#include <stdbool.h>

#include "tool/model.h"
#include "tool/regex.h"

/* FilterSamplesByName: any of the regexps may be NULL. */
void filter_by_name(tprof_t *p, regex_pat_t *focus, regex_pat_t *ignore, regex_pat_t *hide, regex_pat_t *show, bool *fm,
                    bool *im, bool *hm, bool *hnm);

/* ShowFrom: drops frames above the highest matching one; samples without a match go. */
bool filter_show_from(tprof_t *p, regex_pat_t *show_from);

/* PruneFrom: drops frames below (callees of) the first match. */
void filter_prune_from(tprof_t *p, regex_pat_t *rx);

/* RemoveUninteresting: applies the profile's drop_frames/keep_frames. -1 with err when they do
 * not compile. */
int filter_drop_frames(tprof_t *p, char *err, size_t errlen);

/* The units of numeric label keys (pprof's NumLabelUnits), and notes about conflicting ones. */
typedef struct num_units {
  const char **key, **unit;
  size_t n;
} num_units_t;
void filter_num_units(const tprof_t *p, num_units_t *u, void (*note)(const char *msg));
const char *num_units_get(const num_units_t *u, const char *key);

/* A compiled -tagfocus/-tagignore. */
typedef struct tag_filter tag_filter_t;
/* NULL and no error when value is empty; NULL with err set when it does not compile. Prints
 * pprof's "Interpreted ... as range" note through note. */
tag_filter_t *filter_tag_compile(const char *name, const char *value, const num_units_t *units,
                                 void (*note)(const char *msg), char *err, size_t errlen,
                                 bool *failed);
void filter_tag_free(tag_filter_t *f);

/* FilterSamplesByTag. */
void filter_by_tag(tprof_t *p, tag_filter_t *focus, tag_filter_t *ignore, bool *fm, bool *im);

/* FilterTagsByName: removes labels whose key does not match show or matches hide. */
void filter_tags_by_name(tprof_t *p, regex_pat_t *show, regex_pat_t *hide, bool *sm, bool *hm);

/* Aggregate: keeps only the information of the granularity. */
void filter_aggregate(tprof_t *p, bool inline_frame, bool function, bool filename, bool linenumber,
                      bool address);

/* pprof's simplifyFunc: the name cut before its argument list. */
const char *filter_simplify_func(const char *name, char *buf, size_t n);

#endif /* CPROF_TOOL_FILTER_H */
