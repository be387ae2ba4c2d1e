/*
 * measure.h — units and the way pprof prints values (its internal/measurement package).
 *
 * Three unit families are known: memory (B, kB, MB, GB, TB, PB in powers of 1024), time (ns, us,
 * ms, s, hrs) and Google Compute Units. A value in a known unit scales to another unit of its
 * family, or, for "minimum" and "auto", to the largest unit in which it is at least 1. Values
 * print as %.2f with a trailing ".00" cut; percentages as pprof's Percentage. Unknown units pass
 * through unchanged (and "count", "sample", "unit", "minimum", "auto" print without a unit).
 */
#ifndef CPROF_TOOL_MEASURE_H
#define CPROF_TOOL_MEASURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * value in from_unit scaled to to_unit: the number, and in *unit the canonical name of the unit
 * it is now in (a static string, or to_unit itself, or "").
 */
double measure_scale(int64_t value, const char *from_unit, const char *to_unit, const char **unit);

/* pprof's ScaledLabel: "1.50MB", "10ms", "0", "123". Writes into buf, returns buf. */
char *measure_label(char *buf, size_t n, int64_t value, const char *from_unit, const char *to_unit);

/* pprof's Percentage: "%5.2f%%", "%5.2g%%" below 1, "  100%" at 100 +- 0.05. */
char *measure_pct(char *buf, size_t n, int64_t value, int64_t total);

/* Whether two value types can be merged (same type name up to a trailing 's', units of one
 * family). Returns false on a mismatch. */
bool measure_compatible(const char *t1, const char *u1, const char *t2, const char *u2);

/* Whether unit belongs to a known family. */
bool measure_known_unit(const char *unit);

/* Go's %g with a precision, as fmt prints it (shortest of %e/%f rules, exponent >= 2 digits). */
char *measure_fmt_g(char *buf, size_t n, double v, int prec);

#endif /* CPROF_TOOL_MEASURE_H */
