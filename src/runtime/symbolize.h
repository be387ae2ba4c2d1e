/*
 * symbolize.h — turning addresses of this process into functions, files and lines (libdw).
 *
 * The extension keeps one symbolizer for the life of the process, shared by every profile write:
 * libdw's view of each module and the frames of every address already asked for stay from one
 * profile to the next. DWARF is read only from a module's own file; a module whose debug info is
 * in a separate file (libc6-dbg: compressed, some ten megabytes inflated, tens of milliseconds of
 * CPU) gets names from that file's symbol table, unless CPROF_DEBUGINFO=full (symbolize.c). sym_acquire() locks it and brings it up to date with the
 * executable mappings the caller read: when a library was loaded or unloaded since the last call,
 * the modules gone are dropped with the addresses cached in them, the new ones are added, and
 * everything else is kept. Modules' ELF files and debug info are opened lazily, on the first
 * address in them.
 *
 * sym_lookup() gives the frames at one address, inner-most inlined function first and the
 * physical function last, as profile.proto's Line[] wants them. With DWARF every frame has a
 * name, declaring file, line and start line; without it the ELF symbol tables give the name only;
 * an address in no symbol gives no frames.
 *
 * Thread-safe through sym_acquire/sym_release (one mutex: two writers take turns). Never for
 * signal handlers.
 */
#ifndef CPROF_RUNTIME_SYMBOLIZE_H
#define CPROF_RUNTIME_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "runtime/mappings.h"

typedef struct sym sym_t;

#define SYM_MAX_FRAMES 64 /* inlined frames kept per address, the inner-most ones */

/* One frame. The strings stay valid until sym_release(). */
typedef struct sym_frame {
  const char *name;        /* demangled when C++ */
  const char *system_name; /* the linkage (mangled) name, or name */
  const char *file;        /* "" when unknown */
  int64_t line;            /* 0 when unknown */
  int64_t start_line;      /* DW_AT_decl_line of the function; 0 when unknown */
  uint64_t entry; /* start of the ELF symbol holding the address (the same for every frame of
                     one address, for "func+0x.." offsets); 0 when no symbol holds it */
} sym_frame_t;

enum {
  SYM_FROM_DWARF = 1, /* the frames came from debug info, inlined calls included */
};

/*
 * The process's symbolizer, locked for the caller and up to date with maps (the executable
 * mappings as map_list_read() gave them just before). NULL when libdw cannot be set up; nothing
 * is held then. Every non-NULL result must be given back with sym_release().
 */
sym_t *sym_acquire(const map_list_t *maps);
void sym_release(sym_t *s);

/*
 * The frames at addr (at most SYM_MAX_FRAMES, inner-most first); their number goes to *n and
 * SYM_* bits to *flags. NULL with *n == 0 when nothing is known. Valid until sym_release().
 */
const sym_frame_t *sym_lookup(sym_t *s, uint64_t addr, size_t *n, unsigned *flags);

/* What the shared symbolizer has done since the process started; for tests and tuning. */
typedef struct sym_stats {
  uint64_t lookups;     /* sym_lookup calls */
  uint64_t misses;      /* of which symbolized afresh (not cached) */
  uint64_t refreshes;   /* module lists re-read because the mappings changed (the first included) */
  uint64_t rebuilds;    /* of which started over with nothing kept */
  uint64_t dwarf_opens; /* modules whose debug info was opened */
  size_t cached;        /* addresses cached now */
} sym_stats_t;

void sym_stats(sym_stats_t *out);


#endif /* CPROF_RUNTIME_SYMBOLIZE_H */
