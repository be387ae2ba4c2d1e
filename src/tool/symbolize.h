/*
 * symbolize.h — the part of pprof's symbolization that applies to profiles read from files:
 * parsing -symbolize and demangling function names (C++ names simplified to "ns::Class::method"
 * as pprof prints them by default). Symbolizing raw addresses from binaries is not done yet.
 */
#ifndef CPROF_TOOL_SYMBOLIZE_H
#define CPROF_TOOL_SYMBOLIZE_H

#include "tool/model.h"

/* pprof's Symbolize for a profile without remote sources: mode as -symbolize's value. */
void symbolize_profile(tprof_t *p, const char *mode);

/* pprof's removeMatching: nested start..end groups cut out of name, into buf. */
const char *symbolize_remove_matching(const char *name, char start, char end, char *buf, size_t n);

#endif /* CPROF_TOOL_SYMBOLIZE_H */
