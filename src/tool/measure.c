/*
 * measure.c — pprof's units and value formatting (see measure.h).
 *
 * A unit name is "sniffed" as pprof does: lower-cased, a trailing 's' dropped when the name is
 * longer than two characters, then looked up among each family's aliases.
 */
#include "tool/measure.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct unit {
  const char *name;
  const char *alias[4];
  double factor;
} unit_t;

typedef struct family {
  unit_t units[10];
  int n;
  unit_t dflt;
} family_t;

static const family_t families[] = {
    {{{"B", {"b", "byte"}, 1},
      {"kB", {"kb", "kbyte", "kilobyte"}, 1024.0},
      {"MB", {"mb", "mbyte", "megabyte"}, 1048576.0},
      {"GB", {"gb", "gbyte", "gigabyte"}, 1073741824.0},
      {"TB", {"tb", "tbyte", "terabyte"}, 1099511627776.0},
      {"PB", {"pb", "pbyte", "petabyte"}, 1125899906842624.0}},
     6,
     {"B", {"b", "byte"}, 1}},
    {{{"ns", {"ns", "nanosecond"}, 1},
      {"us", {"\xce\xbcs", "us", "microsecond"}, 1e3},
      {"ms", {"ms", "millisecond"}, 1e6},
      {"s", {"s", "sec", "second"}, 1e9},
      {"hrs", {"hour", "hr"}, 3600e9}},
     5,
     {"s", {NULL}, 1e9}},
    {{{"n*GCU", {"nanogcu"}, 1e-9},
      {"u*GCU", {"microgcu"}, 1e-6},
      {"m*GCU", {"milligcu"}, 1e-3},
      {"GCU", {"gcu"}, 1},
      {"k*GCU", {"kilogcu"}, 1e3},
      {"M*GCU", {"megagcu"}, 1e6},
      {"G*GCU", {"gigagcu"}, 1e9},
      {"T*GCU", {"teragcu"}, 1e12},
      {"P*GCU", {"petagcu"}, 1e15}},
     9,
     {"GCU", {NULL}, 1.0}},
};
#define NFAM (sizeof families / sizeof *families)

static const unit_t *sniff(const family_t *f, const char *unit) {
  char low[64];
  size_t n = strlen(unit);
  if (n >= sizeof low)
    return NULL;
  for (size_t i = 0; i < n; i++)
    low[i] = (char)tolower((unsigned char)unit[i]); /* ASCII; "μ" passes through as bytes */
  low[n] = '\0';
  /* Go's ToLower counts runes for the length check; "μs" is 2 runes, 3 bytes. */
  size_t runes = 0;
  for (size_t i = 0; i < n; i++)
    runes += ((unsigned char)low[i] & 0xc0) != 0x80;
  if (runes > 2 && n > 0 && low[n - 1] == 's')
    low[--n] = '\0';
  for (int i = 0; i < f->n; i++)
    for (int j = 0; j < 4 && f->units[i].alias[j]; j++)
      if (strcmp(low, f->units[i].alias[j]) == 0)
        return &f->units[i];
  return NULL;
}

bool measure_known_unit(const char *unit) {
  for (size_t i = 0; i < NFAM; i++)
    if (sniff(&families[i], unit))
      return true;
  return false;
}

static bool convert(const family_t *f, int64_t value, const char *from, const char *to, double *out,
                    const char **unit) {
  const unit_t *fu = sniff(f, from);
  if (!fu)
    return false;
  double v = (double)value * fu->factor;
  if (strcmp(to, "minimum") == 0 || strcmp(to, "auto") == 0) {
    double best = 0;
    const char *bn = NULL;
    for (int i = 0; i < f->n; i++)
      if (f->units[i].factor >= best && v / f->units[i].factor >= 1.0) {
        best = f->units[i].factor;
        bn = f->units[i].name;
      }
    if (best != 0) {
      *out = v / best;
      *unit = bn;
      return true;
    }
    *out = v / f->dflt.factor;
    *unit = f->dflt.name;
    return true;
  }
  const unit_t *tu = sniff(f, to);
  if (!tu) {
    *out = v / f->dflt.factor;
    *unit = f->dflt.name;
    return true;
  }
  *out = v / tu->factor;
  *unit = tu->name;
  return true;
}

double measure_scale(int64_t value, const char *from, const char *to, const char **unit) {
  const char *u;
  if (!unit)
    unit = &u;
  if (value < 0 && value != INT64_MIN) {
    double v = measure_scale(-value, from, to, unit);
    return -v;
  }
  for (size_t i = 0; i < NFAM; i++) {
    double v;
    if (convert(&families[i], value, from, to, &v, unit))
      return v;
  }
  if (!strcmp(to, "count") || !strcmp(to, "sample") || !strcmp(to, "unit") ||
      !strcmp(to, "minimum") || !strcmp(to, "auto"))
    *unit = "";
  else
    *unit = to;
  return (double)value;
}

char *measure_label(char *buf, size_t n, int64_t value, const char *from, const char *to) {
  const char *u;
  double v = measure_scale(value, from, to, &u);
  char num[64];
  snprintf(num, sizeof num, "%.2f", v);
  size_t l = strlen(num);
  if (l >= 3 && strcmp(num + l - 3, ".00") == 0)
    num[l - 3] = '\0';
  if (strcmp(num, "0") == 0 || strcmp(num, "-0") == 0) {
    snprintf(buf, n, "0");
    return buf;
  }
  snprintf(buf, n, "%s%s", num, u);
  return buf;
}

char *measure_fmt_g(char *buf, size_t n, double v, int prec) {
  /* C's %g and Go's %g agree for finite values once the precision is given: both drop trailing
   * zeros and use an exponent of at least two digits. */
  snprintf(buf, n, "%.*g", prec, v);
  return buf;
}

char *measure_pct(char *buf, size_t n, int64_t value, int64_t total) {
  double ratio = 0;
  if (total != 0)
    ratio = fabs((double)value / (double)total) * 100;
  if (fabs(ratio) >= 99.95 && fabs(ratio) <= 100.05)
    snprintf(buf, n, "  100%%");
  else if (fabs(ratio) >= 1.0)
    snprintf(buf, n, "%5.2f%%", ratio);
  else
    snprintf(buf, n, "%5.2g%%", ratio);
  return buf;
}

bool measure_compatible(const char *t1, const char *u1, const char *t2, const char *u2) {
  size_t l1 = strlen(t1), l2 = strlen(t2);
  if (l1 && t1[l1 - 1] == 's')
    l1--;
  if (l2 && t2[l2 - 1] == 's')
    l2--;
  if (l1 != l2 || memcmp(t1, t2, l1) != 0)
    return false;
  if (strcmp(u1, u2) == 0)
    return true;
  for (size_t i = 0; i < NFAM; i++)
    if (sniff(&families[i], u1) && sniff(&families[i], u2))
      return true;
  return false;
}
