/*
 * symbolize.h — turning addresses of this process into functions, files and lines (libdw).
 *
 * A sym_t is one look at the process: it reads /proc/self/maps when made, so libraries loaded
 * with dlopen before that are covered, and it opens each module's ELF and debug info lazily, the
 * first time an address in it is asked for. Make one per profile and free it afterwards.
 *
 * sym_lookup() gives the frames at one address, inner-most inlined function first and the
 * physical function last, as profile.proto's Line[] wants them. With DWARF every frame has a
 * name, declaring file, line and start line; without it the ELF symbol tables give the name only;
 * an address in no symbol gives no frames.
 *
 * Not thread-safe: one sym_t belongs to one thread at a time. Never for signal handlers.
 */
#ifndef CPROF_RUNTIME_SYMBOLIZE_H
#define CPROF_RUNTIME_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sym sym_t;

/* One frame. The strings stay valid until the next sym_lookup() or sym_free(). */
typedef struct sym_frame {
  const char *name;        /* demangled when C++ */
  const char *system_name; /* the linkage (mangled) name, or name */
  const char *file;        /* "" when unknown */
  int64_t line;            /* 0 when unknown */
  int64_t start_line;      /* DW_AT_decl_line of the function; 0 when unknown */
} sym_frame_t;

enum {
  SYM_FROM_DWARF = 1, /* the frames came from debug info, inlined calls included */
};

/* A symbolizer over the process as it is mapped now. NULL when libdw cannot be set up. */
sym_t *sym_new(void);
void sym_free(sym_t *s);

/*
 * Fills up to max frames for addr (inner-most first) and returns how many; 0 when nothing is
 * known. *flags gets SYM_* bits.
 */
size_t sym_lookup(sym_t *s, uint64_t addr, sym_frame_t *frames, size_t max, unsigned *flags);

/* The demangled (C++) form of a linkage name, pprof's default simplification applied (no
 * parameters, no template arguments), malloc'd; NULL when name is not mangled or no demangler is
 * loaded in the process. Exposed for tests. */
char *sym_demangle(const char *name);

#endif /* CPROF_RUNTIME_SYMBOLIZE_H */
