/*
 * legacy.h — what the legacy profile readers of src/format/ share (internal to the format layer).
 *
 * pprof reads, besides profile.proto, the formats profilers wrote before it: gperftools' binary
 * CPU profile, and the text profiles of heap, growth, contention, threads and Go's count profiles,
 * each optionally followed by a process memory map. prof_parse (parse.c) tries the readers in
 * pprof's order; each says whether the input is its format (LG_UNRECOGNIZED when not, so the next
 * one may try), and if it is, either builds the profile or fails with a reason.
 *
 * The readers follow pprof's profile package rule for rule, so that a file read here equals what
 * pprof reads (its sample order, location and mapping ids included), and they read text the way Go
 * does: lines as bufio.Scanner splits them (a trailing \r dropped; a line of 64 KiB or more is an
 * error), Go's strings.TrimSpace (Unicode spaces too), Go's strconv integer syntax, and Go's
 * regular expressions (rx.h).
 *
 * The pieces:
 *  - lg_scan_t (legacy.c): the line scanner.
 *  - go_* (legacy.c): Go's string and number helpers the readers rely on.
 *  - lg_t (legacy.c): a profile under construction, in pprof's own terms — locations deduplicated
 *    by address in order of creation, samples holding location indexes, mappings with their file
 *    names — and its conversion to a prof_t (lg_finish).
 *  - maps.c: the memory map (pprof's ParseMemoryMap and what it does to locations and mappings).
 *  - legacy_cpu.c, legacy_text.c: the readers.
 */
#ifndef CPROF_FORMAT_LEGACY_H
#define CPROF_FORMAT_LEGACY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "format/profile.h"
#include "format/rx.h"

/* A reader's answer besides 0 and a negative errno: the input is not its format. */
#define LG_UNRECOGNIZED 1

/* The longest line bufio.Scanner returns (its buffer is 64 KiB, newline included). */
#define LG_MAX_LINE 65535

/* ------------------------------------------------------------------ lines -------------------- */

typedef struct lg_scan {
  const char *data;
  size_t len, pos;
  const char *line; /* the current line, not NUL-terminated; "" after a failed lg_scan_next */
  size_t line_len;
  size_t lineno; /* 1-based number of the current line */
  bool done;
  bool too_long; /* the scan stopped at a line of more than LG_MAX_LINE bytes */
} lg_scan_t;

void lg_scan_init(lg_scan_t *s, const char *data, size_t len);

/* Advances to the next line as bufio.Scanner.Scan does; false at the end or at a too-long line. */
bool lg_scan_next(lg_scan_t *s);

/* ------------------------------------------------------------ Go's helpers ------------------- */

/* A byte range of some text. */
typedef struct lg_str {
  const char *s;
  size_t n;
} lg_str_t;

/* strings.TrimSpace: without leading and trailing Unicode white space. */
lg_str_t go_trim_space(lg_str_t s);

/* isSpaceOrComment: empty after trimming, or starting with '#' after trimming. */
bool go_space_or_comment(lg_str_t s);

bool go_has_prefix(lg_str_t s, const char *prefix);
bool go_contains(lg_str_t s, const char *sub);
bool go_str_eq(lg_str_t a, lg_str_t b);

/* strconv.ParseUint(s, base, 64) and ParseInt(s, base, 64), base 0 (Go's prefixes, underscores),
 * 10 or 16. 0 or -1 on any error (syntax or range). */
int go_parse_uint(lg_str_t s, int base, uint64_t *out);
int go_parse_int(lg_str_t s, int base, int64_t *out);

/* Go's int64(f) on amd64: truncation, and INT64_MIN for NaN and values out of range. */
int64_t go_f2i(double f);

/* The memory-map sentinels: "--- Memory map: ---" or "MAPPED_LIBRARIES:" anywhere in the line. */
bool lg_is_map_sentinel(lg_str_t line);

/* ------------------------------------------------------------ the profile -------------------- */

typedef struct lg_loc {
  uint64_t addr;
  uint32_t map; /* mapping index + 1; 0 for none */
} lg_loc_t;

typedef struct lg_sample {
  size_t off, n; /* its location indexes: lg_t.stk[off, off + n), leaf first */
  int64_t v[4];
  bool has_bytes; /* a numeric label "bytes" = bytes (heap profiles) */
  int64_t bytes;
} lg_sample_t;

typedef struct lg_map {
  uint64_t start, limit, offset;
  char *file, *build_id; /* malloc'd, NUL-terminated, but may hold NUL bytes: use the lengths */
  size_t file_len, build_id_len;
} lg_map_t;

typedef struct lg {
  lg_loc_t *loc; /* every location, in order of creation; after lg_maps_apply, in pprof's order */
  size_t nloc, loc_cap;
  uint32_t *slot; /* address index: location index + 1, open addressing */
  size_t nslot;
  uint32_t *stk; /* every sample's location indexes */
  size_t nstk, stk_cap;
  lg_sample_t *smp;
  size_t nsmp, smp_cap;
  lg_map_t *map;
  size_t nmap, map_cap;

  const char *type[4][2]; /* sample types (type, unit): static strings, or owned_type */
  char *owned_type;       /* a type name taken from the input (count profiles) */
  size_t ntypes;
  const char *period_type[2];
  int64_t period;
  int64_t duration_nanos;

  rx_scratch_t rx; /* the matcher's memory, for every regular expression of the parse */
  char *err;
  size_t errlen;
} lg_t;

void lg_init(lg_t *g, char *err, size_t errlen);
void lg_free(lg_t *g);

/* Writes "not a profile: <what>" into the error buffer and returns rc. */
int lg_fail(lg_t *g, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The location index for addr, a new location when the address is new; -1 when out of memory. */
int64_t lg_loc(lg_t *g, uint64_t addr);

/* Appends a sample with nv values and no locations (then lg_push_loc adds them); NULL on ENOMEM. */
lg_sample_t *lg_sample_new(lg_t *g, const int64_t *v, size_t nv);

/* Appends location index li to the last sample; 0 or -ENOMEM. */
int lg_push_loc(lg_t *g, uint32_t li);

/* Location address addr appended to the last sample (found or created); 0 or -ENOMEM. */
int lg_push_addr(lg_t *g, uint64_t addr);

/* Appends a mapping with copies of the file and build id; NULL when out of memory. */
lg_map_t *lg_map_add(lg_t *g, lg_str_t file, lg_str_t build_id);

/* pprof's cleanupDuplicateLocations: drops a second frame whose address is the leaf's - 1. */
void lg_drop_duplicate_leaf(lg_t *g);

/* The finished profile, with the drop/keep frame expressions pprof gives legacy profiles. */
int lg_finish(lg_t *g, prof_t **out);

/*
 * A pattern compiled on its first use and then shared by every parse (the compiling is guarded by
 * a lock, so parses in several threads are safe). Define one as
 * `static lg_rx_t name = LG_RX("pattern");`.
 */
typedef struct lg_rx {
  const char *pattern;
  int state; /* 0 not compiled yet, 1 compiled, -1 bad pattern; read with acquire */
  rx_t rx;
} lg_rx_t;
#define LG_RX(p)                                                                                   \
  { .pattern = (p) }

/* Runs the pattern over a line; 1 with cap filled, 0, or a negative errno reported into g. */
int lg_find(lg_t *g, lg_rx_t *rx, lg_str_t line, size_t *cap);

/* Group k of the last lg_find on line ("" when unset). */
lg_str_t lg_group(lg_str_t line, const size_t *cap, int k);

/* ---------------------------------------------------------------- maps.c -------------------- */

/*
 * Reads the memory map from the scanner's next line on (pprof's ParseMemoryMapFromScanner) and
 * applies it: mappings merged and ordered, locations renumbered in order of use and given their
 * mappings. 0, or a negative errno with the reason in g's error.
 */
int lg_maps_read(lg_t *g, lg_scan_t *s);

/* pprof's parseAdditionalSections: skips to a memory-map sentinel, then lg_maps_read. */
int lg_maps_after_sentinel(lg_t *g, lg_scan_t *s);

/* ---------------------------------------------------------------- the readers --------------- */

/* Each: 0 with the profile in g, LG_UNRECOGNIZED, or a negative errno with a reason. */
int lg_parse_cpu(lg_t *g, const uint8_t *data, size_t len);
int lg_parse_heap(lg_t *g, const char *data, size_t len);
int lg_parse_count(lg_t *g, const char *data, size_t len);
int lg_parse_thread(lg_t *g, const char *data, size_t len);
int lg_parse_contention(lg_t *g, const char *data, size_t len);

#endif /* CPROF_FORMAT_LEGACY_H */
