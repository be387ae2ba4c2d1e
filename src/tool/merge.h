/*
 * merge.h — combining profiles as pprof does: Merge (which also compacts a single profile),
 * ScaleProfiles (common units before a merge), Scale/ScaleN, Normalize and the compatibility
 * check.
 */
#ifndef CPROF_TOOL_MERGE_H
#define CPROF_TOOL_MERGE_H

#include "tool/model.h"

/*
 * pprof's Merge: one profile holding the samples of all srcs, equal samples added together,
 * locations, functions and mappings deduplicated and renumbered in first-use order, unused ones
 * dropped, samples whose values are all zero dropped. The sources are consumed (their objects are
 * reused). NULL with a message in err when the profiles are not compatible.
 */
tprof_t *merge_profiles(tprof_t **srcs, size_t n, char *err, size_t errlen);

/* pprof's measurement.ScaleProfiles: brings the period and sample units of all profiles to the
 * finest common unit. -1 with a message when types are incompatible. */
int merge_scale_units(tprof_t **ps, size_t n, char *err, size_t errlen);

/* Multiplies each value by ratio[i] (rounded); samples whose scaled values are all 0 go. */
void merge_scale_n(tprof_t *p, const double *ratio);
void merge_scale(tprof_t *p, double ratio);

/* pprof's Normalize: scales p so its totals equal base's. */
int merge_normalize(tprof_t *p, const tprof_t *base, char *err, size_t errlen);

/* pprof's compatible(): same period type and sample types. */
int merge_compatible(const tprof_t *a, const tprof_t *b, char *err, size_t errlen);

#endif /* CPROF_TOOL_MERGE_H */
