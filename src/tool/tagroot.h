/*
 * tagroot.h — pprof's -tagroot/-tagleaf: label values as pseudo frames at the root or the leaf.
 */
#ifndef CPROF_TOOL_TAGROOT_H
#define CPROF_TOOL_TAGROOT_H

#include <stdbool.h>

#include "tool/model.h"

/* Adds the pseudo frames for the comma-separated label keys; rootm and leafm tell whether any
 * sample had a value for them. unit is -unit's value. */
void tagroot_add(tprof_t *p, const char *roots, const char *leaves, const char *unit, bool *rootm,
                 bool *leafm);

#endif /* CPROF_TOOL_TAGROOT_H */
