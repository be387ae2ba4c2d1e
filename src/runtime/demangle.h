/*
 * demangle.h — C++ names as pprof shows them (demangle.c).
 */
#ifndef CPROF_RUNTIME_DEMANGLE_H
#define CPROF_RUNTIME_DEMANGLE_H

#include <stddef.h>

/* __cxa_demangle's type. */
typedef char *(*demangle_fn)(const char *mangled, char *buf, size_t *len, int *status);

/* The process's __cxa_demangle, or NULL when no C++ runtime is loaded. */
demangle_fn demangle_find(void);

/* The demangled and simplified form of a mangled name, malloc'd; NULL when name is not mangled
 * (or fn is NULL, or the name does not demangle). */
char *demangle_with(demangle_fn fn, const char *name);

#endif /* CPROF_RUNTIME_DEMANGLE_H */
